"""The stopping rules: when a run is collapsed (params ``<dataset>.train.collapse``) and when it
has stopped improving (``<dataset>.train.patience`` and ``plateau``), and whether either stops it.

Both decide only *when a run stops* and how it is labelled, never what an epoch computes, and so
does the collapse rule's third use, model selection (``better``), so this module is not part of
the code a checkpoint must share with the run that resumes it (stages/train.NOT_COMPUTING): a
run stopped by either resumes, under other rules, from where it stopped.

Collapse. The released MNIST recipe sometimes collapses in its first epochs (docs/results.md,
"Seeds and collapse"): D wins outright, G's sigmoid outputs saturate, every sample looks alike
and the validation Parzen score falls by hundreds of nats. The rule: a run is collapsed from
the first evaluated epoch e at which, for each of the last ``epochs`` evaluated epochs up to e,

- the validation Parzen score (the one that selects the generator) is below
  ``valid_parzen_below`` (null: not asked; on CIFAR-10 the score does not tell a collapsed run
  from a learning one: docs/results.md), and
- the samples' spread, the mean over pixels of their standard deviation across the samples
  divided by the same for the validation images (1: as varied as the data; 0: one image), is
  below ``spread_below``;

and it stays collapsed while both hold. The thresholds come from the collapse study: they
separate the collapsed epochs from every other seed's. A collapse is not always the end: the
one seed of the study that collapsed, continued without a rule, came back 23 epochs later and
trained on normally. So ``stop`` (stop the run at its first collapse, saving hours) is off by
default, and a seed counts as collapsed in the results when it is collapsed at the end of its
run (or was stopped). Every collapsed stretch is recorded.

Selection. The generator kept is the one with the best validation Parzen score (adversarial.fit),
except that a generator which does not look collapsed at its epoch always beats one that does:
on CIFAR-10 the score, whose cross-validated sigma sits at the grid's edge, rewards a blur near
the mean over varied samples (docs/results.md), and without this the best epoch of a run that
came back would still be one of its collapsed ones. Where no epoch looks collapsed, or every
one does, the score alone decides, as before.

Patience. The release ran until stopped by hand; its configs carry, commented out, Pylearn2's
``MonitorBased`` termination criterion on the validation objective with ``prop_decrease: 0``
and ``N: 100``: stop once N epochs in a row bring no improvement. Here the monitored value is
the validation Parzen score that selects the generator (adversarial.fit), counted in
evaluations (``eval_every``) of the last phase, and the schedule's epochs are the most a run
may train.

Plateau. The release trained MNIST and CIFAR-10 until someone stopped it; its learning rate
reaches its floor only near epoch 5,750 (the release schedule's most epochs). On MNIST the
validation score still rises 11-15 nats per doubling of epochs at epoch 1,300 (docs/results.md,
"Training length"), about 1.3 nats per 100 epochs, under its per-epoch noise of about 2 nats: a
patience rule stops such a run on noise. The rule fits a line to the validation score against
log2(epoch) over the last doubling of epochs (n/2 < e <= n) and stops once its slope, the gain
a further doubling would bring at that pace, is below ``gain_below`` nats; it looks at no run
shorter than ``after`` epochs (early curves are steep and noisy).
"""

from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path

from pipeline.params import CollapseSpec, PlateauSpec, TrainSpec


def spells(history: list[dict], spec: CollapseSpec | None) -> list[tuple[int, int]]:
    """The collapsed stretches of `history` (one dict of stats per epoch, counted from 1): for
    each, the epoch at which the rule first held and the last epoch it held (a later epoch
    without a validation score neither breaks nor extends one)."""
    if spec is None:
        return []
    found: list[tuple[int, int]] = []
    run = 0  # evaluated epochs in a row with both signals low
    for step, stats in enumerate(history, 1):
        if "valid_parzen" not in stats:
            continue
        run = run + 1 if looks_collapsed(stats, spec) else 0
        if run == spec.epochs:
            found.append((step, step))
        elif run > spec.epochs:
            found[-1] = (found[-1][0], step)
    return found


def looks_collapsed(stats: dict, spec: CollapseSpec | None) -> bool:
    """Whether one evaluated epoch's stats meet the rule's signals: the spread below
    ``spread_below`` and, where the rule asks, the score below ``valid_parzen_below``."""
    if spec is None or "valid_parzen" not in stats:
        return False
    below = spec.valid_parzen_below
    low = below is None or stats["valid_parzen"] < below
    return low and stats.get("spread", float("inf")) < spec.spread_below


def better(stats: dict, best: dict | None, spec: CollapseSpec | None) -> bool:
    """Whether an evaluated epoch's generator (`stats`) replaces the best so far (`best`, that
    epoch's stats; None: none yet): one that does not look collapsed beats one that does;
    between like ones the higher validation score wins."""
    theirs = best is not None and looks_collapsed(best, spec)
    if best is not None and looks_collapsed(stats, spec) != theirs:
        return theirs
    return stats["valid_parzen"] > (best["valid_parzen"] if best else -math.inf)


def collapsed(history: list[dict], spec: CollapseSpec | None) -> int | None:
    """The epoch at which the run stops for collapse, when the rule says stop: the last of
    `history` if the run is collapsed there (a run trained on, then given a stopping rule, stops
    where it is, not back at its first collapse); else None."""
    stop = spec is not None and spec.stop and at_end(history, spec)
    return len(history) if stop else None


def at_end(history: list[dict], spec: CollapseSpec | None) -> bool:
    """Whether the run ends collapsed (the last evaluated epoch is in a collapsed stretch)."""
    found = spells(history, spec)
    evaluated = [step for step, s in enumerate(history, 1) if "valid_parzen" in s]
    return bool(found and evaluated and found[-1][1] == evaluated[-1])


def read_log(folder: Path, signals=("valid_parzen", "spread", "loss_d", "acc_fake")) -> list[dict]:
    """One dict per epoch of a seed's log as `train` writes it (<signal>.tsv with a step column),
    from `folder` or its live/plots/metrics/ (a checkpoint folder)."""
    if not (folder / "valid_parzen.tsv").is_file():
        folder = folder / "live" / "plots" / "metrics"
    epochs: dict[int, dict] = {}
    for name in signals:
        path = folder / f"{name}.tsv"
        if path.is_file():
            with open(path) as f:
                for row in csv.DictReader(f, delimiter="\t"):
                    epochs.setdefault(int(row["step"]), {})[name] = float(row[name])
    return [epochs.get(step, {}) for step in range(1, max(epochs, default=0) + 1)]


def plateaued(in_final: list[dict], best_epoch: int, patience: int | None) -> int | None:
    """The epoch at which the run stops: the last of `in_final` (one dict of stats per epoch,
    counted from 1, empty outside the last phase) when `patience` evaluations have come after
    the best one, `best_epoch` (0: none yet), without beating it; else None."""
    if patience is None or best_epoch == 0:
        return None
    since = sum("valid_parzen" in stats for stats in in_final[best_epoch:])
    return len(in_final) if since >= patience else None


def gain_per_doubling(in_final: list[dict]) -> float | None:
    """The least-squares slope of the validation score against log2(epoch) over the last
    doubling of `in_final` (one dict of stats per epoch, counted from 1): nats a doubling of
    epochs gains at the recent pace; None with fewer than 3 evaluated epochs there."""
    n = len(in_final)
    points = [
        (math.log2(e), stats["valid_parzen"])
        for e, stats in enumerate(in_final, 1)
        if e > n / 2 and "valid_parzen" in stats
    ]
    if len(points) < 3:
        return None
    return statistics.linear_regression(*zip(*points, strict=True)).slope


def flattened(in_final: list[dict], spec: PlateauSpec | None) -> int | None:
    """The epoch at which the run stops for the plateau rule: the last of `in_final` when it is
    at least ``spec.after`` epochs long and its gain per doubling is below ``spec.gain_below``;
    else None."""
    if spec is None or len(in_final) < spec.after:
        return None
    gain = gain_per_doubling(in_final)
    return len(in_final) if gain is not None and gain < spec.gain_below else None


def no_improvement(in_final: list[dict], best_epoch: int, train: TrainSpec) -> int | None:
    """The epoch at which the run stops because its score stopped rising, by the patience rule
    or the plateau rule, whichever holds; else None."""
    return plateaued(in_final, best_epoch, train.patience) or flattened(in_final, train.plateau)
