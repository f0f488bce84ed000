"""Can `train`'s validation score prefer realistic samples to a flat image? The score that picks a
run's best generator and that `patience` stops on (adversarial.py: the mean Parzen
log-likelihood of the section's validation rows, σ from the paper's grid) given sample sets a
generator might draw: real training images, the same shrunk towards zero, a constant image (zeros,
the training mean), and the mean with independent noise in every pixel. Written for CIFAR-10 in
GCN space, where the generators of the runs so far score best at σ = 1, the grid's edge
(docs/results.md); a second column scores on a grid reaching σ = 10^1.5.

    python -m bench.selection [--dataset cifar10_conv] [--n 10000] [--seed 0]

Needs data/processed/<dataset>.npz (`dvc repro preprocess@<dataset>`).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from pipeline import params as P
from pipeline import parzen_window
from pipeline.artifacts import load_processed

WIDE = np.logspace(-1, 1.5, 26)


def candidates(train: torch.Tensor, n: int, seed: int) -> dict[str, torch.Tensor]:
    """n 'samples' per set, every random draw from one seeded generator."""
    rng = torch.Generator().manual_seed(seed)
    real = train[torch.randperm(len(train), generator=rng)[:n]]
    mean, sd = train.mean(0), train.std(0)
    noise = torch.randn(real.shape, generator=rng)
    return {
        f"{n:,} training images": real,
        "the same × 0.5": real * 0.5,
        "the same × 0.25": real * 0.25,
        "zeros": torch.zeros_like(real),
        "the training mean": mean.expand_as(real),
        "the mean + noise of the data's SD per pixel": mean + sd * noise,
        "the mean + noise of 0.1 × that SD": mean + 0.1 * sd * noise,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.selection", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--dataset", default="cifar10_conv")
    parser.add_argument("--n", type=int, default=10_000, help="samples per set")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    ds = P.load("params.yaml", datasets=[args.dataset]).dataset(args.dataset)
    data = load_processed(args.dataset)
    valid = torch.from_numpy(data.valid(0)[: ds.parzen.valid])
    train = torch.from_numpy(data.train)
    norm = float(train.norm(dim=1).mean())
    low, high = parzen_window.sigmas(ds.parzen)[[0, -1]]
    print(f"{args.dataset}: {len(valid)} validation rows, {len(train):,} training images "
          f"(mean norm {norm:.1f}); the paper's grid: σ from {low:.3g} to {high:.3g}")  # fmt: skip
    print("| samples | validation score, paper's grid (σ) | grid to 10^1.5 (σ) |")
    print("|---|---|---|")
    for name, samples in candidates(train, args.n, args.seed).items():
        paper = parzen_window.select_sigma(valid, samples, ds.parzen)
        wide = parzen_window.select_sigma(valid, samples, ds.parzen, grid=WIDE)
        print(f"| {name} | {paper.valid_ll.max():.1f} ({paper.sigma:.3g}) "
              f"| {wide.valid_ll.max():.1f} ({wide.sigma:.3g}) |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
