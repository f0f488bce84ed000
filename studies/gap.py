"""The gap budget: the paper's 225 nats on MNIST against this project's multi-seed mean, factor by
factor, each measured on the committed runs.

    python -m studies.gap [--redraws 5] [--long DIR] [--long-generator FILE]
        [--long-baseline FILE] [--prior FILE] [--plot PNG]

Reads metrics/datasets/mnist/ (parzen.json, train.json, train/seed-<n>/valid_parzen.tsv) and,
for the redraws, the surviving seeds' generators in models/mnist/ (`dvc pull` or `dvc repro`
first). Prints one row per factor:

- σ-grid resolution: each surviving seed's test LL with σ chosen on the 91-value grid over the
  same range (`fine_sigma`) minus its paper-grid score;
- checkpoint choice: the best validation score over every epoch minus the best over every 5th
  (the release saved a generator every epoch; validation nats, the test set is not used);
- seed-to-seed spread: the survivors' standard deviation, and the best seed minus their mean;
- redrawing the 10,000 samples: the standard deviation of the test LL over `--redraws` fresh
  draws from each surviving seed's generator (the seed's `samples` stream, continued), σ chosen
  again each time;
- more epochs: with `--long`, a folder of a seed's log (valid_parzen.tsv) continued past the
  committed schedule: the best validation score there minus the best up to the committed epochs;
  with `--long-generator`, that run's best generator (its generator_best.pt) drawn and scored on
  the test set exactly as the `sample` and `parzen` stages score a seed's, minus that seed's
  committed test LL — the gain in Table 1's own terms; with `--long-baseline`, minus the score of
  the same run's best generator at the end of the schedule instead (for a run retrained on
  another CPU, whose rounding gives the seed another trajectory);
- the prior: with `--prior`, the parzen.json of a run with the other prior (`noise: gaussian`),
  its test LL minus the same seed's here;
- the ceiling: the training images used as samples (Theis et al., 2016).

With `--plot`, the validation curves of the surviving seeds and of the continued seed against
the epoch on a log axis, where a curve still rising at the schedule's end shows as a straight
climb.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from pipeline import checkpoints, streams
from pipeline import params as P
from pipeline.artifacts import load_processed
from pipeline.models import draw_samples, load_generator
from pipeline.parzen_protocol import evaluate
from pipeline.paths import Paths

PAPER = 225.0


def valid_curve(path: Path) -> dict[int, float]:
    with open(path) as f:
        return {int(r["step"]): float(r["valid_parzen"]) for r in csv.DictReader(f, delimiter="\t")}


@torch.no_grad()
def draws(ds: P.DatasetParams, path: Path, seed: int, fine: bool) -> Iterator[dict]:
    """Test scores (the paper's σ grid; the 91-value one too when `fine`) of successive sets of
    samples from the generator at `path`, drawn from `seed`'s `samples` stream as the `sample`
    stage draws them: the first is the set the stages score."""
    data = load_processed(ds.name)
    rerun = "run `dvc repro train@mnist` or `dvc pull`"
    G = load_generator(path, ds.model, data.image_shape, rerun)
    rng = streams.generator(seed, "samples")
    while True:
        samples = draw_samples(G, ds.model, ds.parzen.samples, rng)
        yield evaluate(samples, data, ds, fine)[0]


def redraw_sd(ds: P.DatasetParams, seed: int, redraws: int) -> float:
    """SD of the test LL over `redraws` fresh sets of samples from one seed's best generator."""
    scores = draws(ds, Paths(ds.name).seed_models(seed) / "generator_best.pt", seed, fine=False)
    next(scores)  # the committed draw
    return statistics.stdev(next(scores)["test_ll"] for _ in range(redraws))


def recorded(path: Path) -> tuple[int, int]:
    """Seed and epoch that a run's generator_best.pt records."""
    meta = checkpoints.load(path, "pass a run's generator_best.pt")
    return meta["seed"], meta["epoch"]


def scores_of(ds: P.DatasetParams, path: Path, seed: int) -> dict:
    """Test scores (both σ grids) of a generator, drawn as the `sample` stage draws `seed`'s
    samples."""
    return next(draws(ds, path, seed, fine=True))


def continued(
    ds: P.DatasetParams, path: Path, committed: dict, baseline: Path | None
) -> tuple[str, str, str]:
    """The budget row of a seed's run continued past the schedule: its best generator (`path`,
    which records its seed and epoch) against the committed seed's score, or against the same
    run's best generator at the end of the schedule (`baseline`)."""
    seed, epoch = recorded(path)
    if baseline is None:
        before, whose = committed["seeds"][str(seed)], f"seed {seed}"
    else:
        other, at = recorded(baseline)  # checked before anything is scored
        if other != seed:
            sys.exit(f"{baseline}: seed {other}, but {path} is seed {seed}; pass the same run's")
        before = scores_of(ds, baseline, seed)
        whose = f"seed {seed} (rerun; best of the schedule at epoch {at})"
    score = scores_of(ds, path, seed)
    return (
        f"more epochs: test LL of the best of them (epoch {epoch})",
        f"{score['test_ll'] - before['test_ll']:+.1f}",
        f"{whose}: {before['test_ll']:.1f} → {score['test_ll']:.1f} ± "
        f"{score['test_se']:.1f}; 91-σ grid {before['fine_sigma']['test_ll']:.1f} → "
        f"{score['fine_sigma']['test_ll']:.1f}",
    )


def continued_label(seeds: dict[str, dict[int, float]], curve: dict[int, float]) -> str:
    """The label "seed s, continued" when the continued log repeats committed seed s's epochs
    exactly (its line then hides that seed's), else "continued"."""
    for label, seed in seeds.items():
        if seed.items() <= curve.items():
            return f"{label}, continued"
    return "continued"


def plot(curves: dict[str, dict[int, float]], epochs: int, path: Path) -> None:
    """Validation Parzen score against the epoch (log axis), one line per curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, curve in curves.items():
        steps = sorted(e for e in curve if curve[e] > 0)  # the log-likelihood once it is positive
        ax.plot(steps, [curve[e] for e in steps], label=label, lw=1)
    ax.axvline(epochs, color="grey", ls=":", lw=1)
    ax.axhline(PAPER, color="black", ls="--", lw=1, label=f"paper ({PAPER:.0f}, test)")
    ax.set_xscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation Parzen log-likelihood (nats)")
    ax.set_title(
        f"MNIST: validation score against epochs (dotted: the {epochs}-epoch schedule)", fontsize=10
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m studies.gap", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--redraws", type=int, default=5, help="fresh sample sets per seed (0: skip)"
    )
    parser.add_argument("--long", type=Path, help="a seed's log folder continued past the schedule")
    parser.add_argument(
        "--long-generator", type=Path, help="that run's generator_best.pt, scored on the test set"
    )
    parser.add_argument(
        "--long-baseline",
        type=Path,
        help="the same run's generator_best.pt at the end of the schedule (default: the committed "
        "seed's score)",
    )
    parser.add_argument("--prior", type=Path, help="parzen.json of a run with the other prior")
    parser.add_argument("--plot", type=Path, help="PNG of the validation curves, log epochs")
    args = parser.parse_args()
    paths = Paths("mnist")
    score = json.loads(paths.parzen.read_text())
    run = json.loads(paths.train_record.read_text())
    alive = [s for s, r in score["seeds"].items() if not r["collapsed"]]
    if not alive:
        sys.exit(f"{paths.parzen}: every seed collapsed; nothing to budget")
    lls = [score["seeds"][s]["test_ll"] for s in alive]
    rows = [("paper (Table 1)", f"{PAPER:.0f}", "")]
    rows.append(
        (
            "this project, mean of surviving seeds",
            f"{score['test_ll']:.1f}",
            f"{len(alive)} of {score['n_seeds']} seeds, {run['epochs']} epochs",
        )
    )
    fine = [
        score["seeds"][s]["fine_sigma"]["test_ll"] - score["seeds"][s]["test_ll"] for s in alive
    ]
    rows.append(
        (
            "σ-grid resolution (91 values instead of 10)",
            f"+{np.mean(fine):.1f}",
            f"per seed {', '.join(f'{d:+.1f}' for d in fine)}",
        )
    )
    every, fifth, curves = [], [], {}
    for s in alive:
        curve = valid_curve(paths.train_log / f"seed-{s}" / "valid_parzen.tsv")
        curves[f"seed {s}"] = curve
        every.append(max(curve.values()))
        fifth.append(max(v for e, v in curve.items() if e % 5 == 0))
    gain = np.mean(np.subtract(every, fifth))
    rows.append(("checkpoint every epoch instead of every 5th", f"+{gain:.1f}", "validation nats"))
    if len(lls) > 1:
        spread = f"{statistics.stdev(lls):.1f}; +{max(lls) - statistics.mean(lls):.1f}"
        rows.append(
            ("seed-to-seed spread (SD; best seed − mean)", spread, f"seeds {', '.join(alive)}")
        )
    if args.redraws > 1 or args.long_generator:  # these two draw samples
        ds = P.load("params.yaml", datasets=["mnist"]).dataset("mnist")
    if args.redraws > 1:
        sds = [redraw_sd(ds, int(s), args.redraws) for s in alive]
        each = ", ".join(f"{v:.1f}" for v in sds)
        rows.append(
            (
                f"redrawing the {ds.parzen.samples:,} samples (SD of {args.redraws})",
                f"{np.mean(sds):.1f}",
                f"per seed {each}",
            )
        )
    if args.long:
        curve = valid_curve(args.long / "valid_parzen.tsv")
        curves[continued_label(curves, curve)] = curve
        base = max(v for e, v in curve.items() if e <= run["epochs"])
        more = f"+{max(curve.values()) - base:.1f}"
        rows.append(
            (
                f"more epochs ({max(curve)} instead of {run['epochs']})",
                more,
                "validation nats, one seed",
            )
        )
    if args.long_generator:
        rows.append(continued(ds, args.long_generator, score, args.long_baseline))
    if args.prior:
        other = json.loads(args.prior.read_text())
        seed = next(iter(other["seeds"]))
        delta = other["seeds"][seed]["test_ll"] - score["seeds"][seed]["test_ll"]
        rows.append(("Gaussian prior instead of uniform", f"{delta:+.1f}", f"seed {seed}"))
    ceiling = json.loads(paths.references.read_text())["training_set"]["test_ll"]
    rows.append(("ceiling: training images as samples", f"{ceiling:.1f}", "Theis et al., 2016"))
    if args.plot:
        plot(curves, run["epochs"], args.plot)
    print("| factor | nats | measured on |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
