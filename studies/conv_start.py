"""Why does CIFAR-10's convolutional D sit at log 2? The first steps of a section's training,
measured: per layer, the gradient norm and the relative size of one update (lr·|g| / |W|), and
the scale of D's output logit on real and generated images.

    python -m studies.conv_start [--dataset cifar10_conv] [--rounds 3] [--steps 20] [--seed 0]
                               [--state checkpoints/cifar10_conv/seed-0/state.pt]

Runs the pipeline's own `Trainer` (the released config's nets, init, dropout and update) on the
first rounds × steps minibatches of the section's training set; each round is `steps` steps.
Gradient norms come from hooks on the parameters, so the step measured is the step trained.
Pylearn2's "irange" init (weights ~ U(-r, r)) with r = 0.005 in every layer of D shrinks a
signal by about sqrt(fan_in)·r/sqrt(3) per layer, and a layer's gradient is the product of the
other layers' scales: with five such layers (three maxout conv, a maxout and the sigmoid unit)
D starts far nearer the saddle at zero than MNIST's three-layer D (``--dataset mnist``).
``--state`` starts the steps from a training checkpoint instead of the init (a run that has
left the saddle: how fast does G move then?).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict
from pathlib import Path

import torch

from pipeline import checkpoints
from pipeline import params as P
from pipeline.adversarial import Trainer, learning_rate_at
from pipeline.artifacts import load_processed


def layer_names(net: torch.nn.Module) -> dict[torch.nn.Parameter, str]:
    return {p: name for name, p in net.named_parameters() if name.endswith("weight")}


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m studies.conv_start", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--dataset", default="cifar10_conv")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20, help="steps per round")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--state", type=Path, help="a train checkpoint (state.pt) to start from")
    args = parser.parse_args()
    params = P.load()
    ds = params.dataset(args.dataset)
    data = load_processed(ds.name)
    B = ds.train.batch_size
    train = torch.from_numpy(data.train[: args.steps * B])
    trainer = Trainer(params, ds, train, "cpu", data.image_shape, args.seed)
    if args.state is not None:
        saved = checkpoints.load(args.state, "give a state.pt written by `pipeline train`")
        trainer.load_state_dict(saved["trainer"])
        print(f"from {args.state}, after epoch {saved['done']}")
    norms: dict[str, list[float]] = defaultdict(list)
    for net, tag in ((trainer.D, "D"), (trainer.G, "G")):
        for p, name in layer_names(net).items():
            key = f"{tag} {name}"
            p.register_hook(lambda g, key=key: norms[key].append(float(g.norm())))
    real = torch.from_numpy(data.valid(0)[:500])
    print(f"{ds.name}: batch {B}, lr {ds.train.lr}, D irange {ds.model.discriminator.irange}")
    print(
        "| after step | loss D | D logit on real (mean ± SD) | on generated | layer | |W| "
        "| |grad| (mean of round) | lr·|grad|/|W| |\n" + "|---" * 8 + "|"
    )
    for r in range(args.rounds):
        norms.clear()
        stats = trainer.epoch(1)
        trainer.D.eval()
        with torch.no_grad():
            on_real = trainer.D(real)
            on_fake = trainer.D(trainer.G(trainer.noise(500)))
        lr = learning_rate_at(trainer.opt_d.steps, ds.train)
        weights = {
            f"{t} {n}": p.detach()
            for net, t in ((trainer.D, "D"), (trainer.G, "G"))
            for p, n in layer_names(net).items()
        }
        first = True
        for key, values in norms.items():
            w = float(weights[key].norm())
            g = sum(values) / len(values)
            head = " | | |"
            if first:
                head = (
                    f"{(r + 1) * args.steps} | {stats['loss_d']:.6f} | "
                    f"{on_real.mean():.3g} ± {on_real.std():.2g} | "
                    f"{on_fake.mean():.3g} ± {on_fake.std():.2g}"
                )
            print(f"| {head} | {key} | {w:.3g} | {g:.3g} | {lr * g / w:.2g} |")
            first = False
    scale = math.prod(
        math.sqrt(p.shape[1:].numel()) * ds.model.discriminator.irange / math.sqrt(3)
        for p in layer_names(trainer.D)
    )
    print(
        f"\nD's gain at init, the product over its layers of sqrt(fan_in)·irange/sqrt(3): "
        f"{scale:.2g}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
