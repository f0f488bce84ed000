"""Benchmarks, measured side by side in one run on this machine; prints ratios, asserts nothing.

1. Training: one epoch of the paper's MNIST nets (k = 1, simultaneous update), achieved GFLOP/s
   (matrix-multiply FLOPs of every forward and backward product the update needs) against the
   plain matrix-multiply GFLOP/s of the same GEMM shapes at the same batch size.
2. Parzen: scoring test points against 10,000 samples in 784 dimensions with our code against
   scikit-learn's KernelDensity in its exact setting (one leaf holding every sample), same sigma:
   the largest absolute difference and how many times faster.

Usage: python bench/bench.py [--steps N] [--parzen-test N]   (needs `dvc repro` data, or runs
the preprocess stage's reader on the mirror/official files already in data/raw/mnist)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from pipeline import params as P
from pipeline import parzen
from pipeline.preprocess import load
from pipeline.train import Trainer


def gemm_shapes(ds: P.DatasetParams, d: int) -> list[tuple[int, int, int]]:
    """(m, k, n) of every matrix product in one simultaneous update with k = 1.

    Per linear layer (in -> out) at batch B: forward B x in x out; weight gradient in x B x out;
    input gradient B x out x in. G: forward, weight grads, input grads of all but its first layer.
    D: forward on real and fake; for D's loss weight grads on both and input grads above the first
    layer; for G's loss input grads through every D layer of the fake branch."""
    B = ds.train.batch_size
    g_dims = [ds.model.noise_dim, *ds.model.generator.hidden, d]
    units, pieces = ds.model.discriminator.units, ds.model.discriminator.pieces
    d_in = [d, *units]
    d_out = [u * pieces for u in units] + [1]
    G = list(zip(g_dims, g_dims[1:], strict=False))
    D = list(zip(d_in, d_out, strict=True))
    shapes = []
    for i, (a, b) in enumerate(G):
        shapes += [(B, a, b), (a, B, b)] + ([(B, b, a)] if i > 0 else [])
    for i, (a, b) in enumerate(D):
        shapes += 2 * [(B, a, b), (a, B, b)] + (2 * [(B, b, a)] if i > 0 else [])
        shapes += [(B, b, a)]  # G's loss: input gradient through D on the fake branch
    return shapes


def flops(shapes) -> float:
    return sum(2.0 * m * k * n for m, k, n in shapes)


def matmul_rate(shapes, seconds: float = 3.0) -> float:
    """GFLOP/s of torch.mm on exactly these shapes, back to back, as a training step issues them."""
    mats = [(torch.rand(m, k), torch.rand(k, n), torch.empty(m, n)) for m, k, n in shapes]
    for a, b, c in mats:
        torch.mm(a, b, out=c)
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for a, b, c in mats:
            torch.mm(a, b, out=c)
        reps += 1
    return reps * flops(shapes) / (time.perf_counter() - start) / 1e9


def bench_training(p: P.Params, ds: P.DatasetParams, data, steps: int | None) -> None:
    train = torch.from_numpy(data["train"])
    if steps is not None:
        train = train[: steps * ds.train.batch_size]
    trainer = Trainer(p, ds, train, "cpu", (28, 28))
    n_steps = len(train) // ds.train.batch_size
    start = time.perf_counter()
    trainer.epoch(1)
    seconds = time.perf_counter() - start
    shapes = gemm_shapes(ds, train.shape[1])
    achieved = n_steps * flops(shapes) / seconds / 1e9
    roofline = matmul_rate(shapes)
    print(
        f"training  {n_steps} steps in {seconds:.2f} s"
        f" ({n_steps * ds.train.batch_size / seconds:,.0f} images/s,"
        f" {1000 * seconds / n_steps:.1f} ms/step)"
    )
    print(
        f"training  achieved {achieved:.1f} GFLOP/s; same-shape matmul {roofline:.1f} GFLOP/s;"
        f" ratio {achieved / roofline:.2f}x of the matmul roofline"
    )


def bench_parzen(data, n_test: int, sigma: float = 0.2) -> None:
    from sklearn.neighbors import KernelDensity

    samples = data["train"][:10000].astype(np.float64)  # real digits standing in for G's samples
    test = data["test_0"][:n_test].astype(np.float64)
    start = time.perf_counter()
    ours = parzen.log_likelihood(torch.from_numpy(test), torch.from_numpy(samples), [sigma])[0]
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    kde = KernelDensity(bandwidth=sigma, leaf_size=len(samples)).fit(samples)  # exact: one leaf
    theirs = kde.score_samples(test)
    t_sk = time.perf_counter() - start
    diff = np.abs(ours.numpy() - theirs).max()
    print(
        f"parzen    {n_test} test x {len(samples)} samples x 784 d, sigma {sigma}:"
        f" ours {t_ours:.2f} s,"
        f" scikit-learn exact {t_sk:.2f} s; {t_sk / t_ours:.0f}x faster;"
        f" max |difference| {diff:.2e} nats"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="train steps (default: 1 epoch)")
    parser.add_argument("--parzen-test", type=int, default=10000, help="test points to score")
    args = parser.parse_args()
    p = P.load("params.yaml")
    ds = p.dataset("mnist")
    data = load("mnist")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, fp32")
    bench_training(p, ds, data, args.steps)
    bench_parzen(data, args.parzen_test)


if __name__ == "__main__":
    main()
