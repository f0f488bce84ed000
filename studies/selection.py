"""Can `train`'s validation score prefer realistic samples to a flat image? The score that picks a
run's best generator and that `patience` stops on (adversarial.py: the mean Parzen
log-likelihood of the section's validation rows, σ from the paper's grid) given sample sets a
generator might draw: real training images, the same shrunk towards zero, a constant image (zeros,
the training mean), the mean with independent noise in every pixel, and any saved generators
(`--generator`, drawing from its `eval` stream as `train` does, so its row repeats the score
`train` logged). Written for CIFAR-10 in GCN space, where the generators of the runs so far score
best at σ = 1, the grid's edge (docs/results.md). Each score comes with its standard error over
the validation rows and its difference from the training mean's on the same rows (paired, ± SE):
how far apart two scores must be to tell them apart. A last column scores on a grid reaching
σ = 10^1.5.

    python -m studies.selection [--dataset cifar10_conv] [--n 10000] [--seed 0]
        [--generator checkpoints/cifar10_conv/seed-0/generator_best.pt ...]

Needs data/processed/<dataset>.npz (`dvc repro preprocess@<dataset>`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from pipeline import checkpoints, parzen_window, streams
from pipeline import params as P
from pipeline.artifacts import load_processed
from pipeline.models import draw_samples, load_generator

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


def generated(
    path: str, ds: P.DatasetParams, image_shape: tuple[int, ...]
) -> tuple[str, torch.Tensor]:
    """A saved generator's validation samples as `train` draws them (its seed's `eval` stream)."""
    rerun = "train it first (`dvc repro train@<dataset>`)"
    meta = checkpoints.load(Path(path), rerun)
    G = load_generator(Path(path), ds.model, image_shape, rerun)
    rng = streams.generator(meta["seed"], "eval")
    samples = draw_samples(G, ds.model, ds.parzen.samples, rng).reshape(ds.parzen.samples, -1)
    return f"generator of seed {meta['seed']}, epoch {meta['epoch']} ({path})", samples


def scored(
    valid: torch.Tensor, samples: torch.Tensor, spec: P.ParzenSpec
) -> tuple[float, torch.Tensor]:
    """σ chosen on the paper's grid as `train` chooses it, and each validation row's
    log-likelihood at that σ."""
    grid = parzen_window.sigmas(spec)
    ll = parzen_window.log_likelihood(valid, samples, grid, spec.batch)
    best = int(ll.mean(1).argmax())
    return float(grid[best]), ll[best]


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m studies.selection", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--dataset", default="cifar10_conv")
    parser.add_argument("--n", type=int, default=10_000, help="samples per set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--generator",
        action="append",
        default=[],
        help="a saved generator_best.pt to score beside the sets",
    )
    args = parser.parse_args()
    ds = P.load("params.yaml", datasets=[args.dataset]).dataset(args.dataset)
    data = load_processed(args.dataset)
    valid = torch.from_numpy(data.valid(0)[: ds.parzen.valid])
    train = torch.from_numpy(data.train)
    norm = float(train.norm(dim=1).mean())
    low, high = parzen_window.sigmas(ds.parzen)[[0, -1]]
    print(
        f"{args.dataset}: {len(valid)} validation rows, {len(train):,} training images "
        f"(mean norm {norm:.1f}); the paper's grid: σ from {low:.3g} to {high:.3g}"
    )
    sets = candidates(train, args.n, args.seed)
    sets.update(generated(path, ds, data.image_shape) for path in args.generator)
    scores = {name: scored(valid, samples, ds.parzen) for name, samples in sets.items()}
    flat = scores["the training mean"][1]
    print(
        "| samples | validation score ± SE (σ) | − the training mean's, paired "
        "| grid to 10^1.5 (σ) |"
    )
    print("|---|---|---|---|")
    for name, (sigma, ll) in scores.items():
        mean, se = parzen_window.mean_and_se(ll)
        diff, diff_se = parzen_window.mean_and_se(ll - flat)
        wide = parzen_window.select_sigma(valid, sets[name], ds.parzen, grid=WIDE)
        print(
            f"| {name} | {mean:.1f} ± {se:.1f} ({sigma:.3g}) | {diff:+.1f} ± {diff_se:.1f} "
            f"| {wide.valid_ll.max():.1f} ({wide.sigma:.3g}) |",
            flush=True,
        )


if __name__ == "__main__":
    main()
