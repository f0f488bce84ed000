"""Several seeds in one process, every product batched over the seeds, against one process per
seed (issue 40, item 4).

    python -m bench.batched_seeds [--seeds 2] [--steps 300] [--rounds 2]

MNIST's nets for S seeds are stacked into one set of tensors (weights S x in x out; every product
a bmm over the seeds) and train `--steps` simultaneous-update steps in one process with S
threads: the pipeline's arithmetic (maxout, dropout on each D layer's input, the momentum update
with lr inside the velocity), written for stacks. Against it, S processes with one thread each
train one seed with the pipeline's own step, started together (bench.parallel's workers; the
layout `train` uses). Prints images per second of both and their ratio, per round. The stacked
step is a measurement, not a training path.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.parallel import side_by_side
from pipeline import params as P


def stack(S: int, shapes: list[tuple[int, int]], irange: float) -> list[Tensor]:
    """Weights (S, in, out) ~ U(-irange, irange) and biases (S, 1, out) at 0, per layer."""
    out = []
    for a, b in shapes:
        out += [torch.empty(S, a, b).uniform_(-irange, irange), torch.zeros(S, 1, b)]
    return [t.requires_grad_() for t in out]


class Stacked:
    """MNIST's G and D for S seeds at once (params.yaml's mnist.model)."""

    def __init__(self, ds: P.DatasetParams, S: int) -> None:
        m = ds.model
        g_dims = [m.noise_dim, *m.generator.hidden, 784]
        d = m.discriminator
        self.units, self.pieces, self.keep = d.units, d.pieces, d.keep
        d_dims = list(zip([784, *d.units], [u * d.pieces for u in d.units] + [1], strict=True))
        self.G = stack(S, list(zip(g_dims, g_dims[1:], strict=False)), m.generator.irange)
        self.D = stack(S, d_dims, d.irange)
        self.S, self.spec, self.noise_dim = S, ds.train, m.noise_dim
        self.velocity = [torch.zeros_like(t) for t in self.G + self.D]

    def generator(self, z: Tensor) -> Tensor:
        h = z
        for i in range(0, len(self.G), 2):
            h = torch.baddbmm(self.G[i + 1], h, self.G[i])
            h = torch.sigmoid(h) if i == len(self.G) - 2 else torch.relu(h)
        return h

    def discriminator(self, x: Tensor) -> Tensor:
        h = x
        for i, keep in enumerate(self.keep):
            h = F.dropout(h, 1 - keep, True)
            h = torch.baddbmm(self.D[2 * i + 1], h, self.D[2 * i])
            if i < len(self.units):
                h = h.unflatten(-1, (self.units[i], self.pieces)).amax(-1)
        return h.squeeze(-1)

    def step(self, x: Tensor, lr: float, momentum: float) -> None:
        B = x.shape[1]
        fake = self.generator(torch.randn(self.S, B, self.noise_dim))
        real, fk = self.discriminator(x), self.discriminator(fake)
        loss_d = 0.5 * (F.softplus(-real).mean(1) + F.softplus(fk).mean(1)).sum()
        grads_d = torch.autograd.grad(loss_d, self.D, retain_graph=True)
        grads_g = torch.autograd.grad(F.softplus(-fk).mean(1).sum(), self.G)
        with torch.no_grad():
            torch._foreach_mul_(self.velocity, momentum)
            torch._foreach_add_(self.velocity, [*grads_g, *grads_d], alpha=-lr)
            torch._foreach_add_(self.G + self.D, self.velocity)


def batched_rate(ds: P.DatasetParams, S: int, steps: int) -> float:
    """Images per second of S seeds stacked in this process (S threads)."""
    torch.set_num_threads(S)
    nets = Stacked(ds, S)
    B = ds.train.batch_size
    data = torch.rand(S, steps * B, 784)
    nets.step(data[:, :B], ds.train.lr, ds.train.momentum[0])  # warm-up
    start = time.perf_counter()
    for i in range(steps):
        nets.step(data[:, i * B : (i + 1) * B], ds.train.lr, ds.train.momentum[0])
    return S * steps * B / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.batched_seeds", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seeds", type=int, default=2, help="seeds (and threads)")
    parser.add_argument("--steps", type=int, default=300, help="training steps per seed")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    ds = P.load("params.yaml", datasets=["mnist"]).dataset("mnist")
    print("| round | one process per seed, 1 thread each | seeds batched, one process | × |")
    print("|---|---|---|---|")
    for r in range(1, args.rounds + 1):
        apart = side_by_side("mnist", args.steps, 1, args.seeds)
        together = batched_rate(ds, args.seeds, args.steps)
        print(
            f"| {r} | {apart:,.0f} images/s | {together:,.0f} images/s | {together / apart:.2f}x |"
        )


if __name__ == "__main__":
    main()
