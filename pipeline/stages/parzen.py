"""Stage `parzen`: choose sigma on validation data, score the test set (parzen_ll.py).

sigma from ``logspace(-1, 0, 10)`` maximising the mean validation log-likelihood, then the mean
test log-likelihood (recipe, "The Parzen-window evaluation"):

- one fold (MNIST, CIFAR-10): sigma on the validation slice (MNIST: rows 50,000-50,999 of the
  training file), test mean +- std/sqrt(N) over the test examples;
- TFD's protocol (TFD, LFW): per fold f, sigma on fold f's whole valid split and the mean LL of
  its test split; reported as the mean over folds +- the standard error across folds,
  std(fold means)/sqrt(F) with the population std as parzen_ll.py uses, and every fold's numbers.

Every seed's samples are scored so; Table 1's number is the mean over the seeds that did not
collapse (train's run record), with their standard deviation, and each seed's score is kept
beside it (``seeds``). Writes the numbers as DVC metrics and each seed's sigma-vs-validation-LL
curve as a DVC plot. A diagnostic sits beside the paper's number (it never replaces it),
computed the same way: ``fine_sigma``, a 10x finer grid over the same range, to show how much of
the score depends on the grid's resolution. The estimator's own reference rows (training images
as samples, and more) are stage `references`'.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from pipeline.artifacts import load_processed, load_samples, read_run, survivors
from pipeline.params import DatasetParams, Params
from pipeline.parzen_protocol import evaluate
from pipeline.parzen_window import sigmas
from pipeline.paths import Paths
from pipeline.plumbing.files import outputs, put


def over_seeds(scores: dict[str, dict], alive: list[int]) -> dict:
    """Table 1's number from the surviving seeds: one seed, its test LL +- SE; several, their
    mean, their standard deviation (ddof 1, `seed_std`) and the standard error of the mean
    (`test_se` = seed_std / sqrt(n)); none, nulls."""
    lls = np.array([scores[str(s)]["test_ll"] for s in alive])
    if len(lls) == 0:
        return {"test_ll": None, "test_se": None, "seed_std": None}
    if len(lls) == 1:
        return {
            "test_ll": float(lls[0]),
            "test_se": scores[str(alive[0])]["test_se"],
            "seed_std": None,
        }
    std = float(lls.std(ddof=1))
    return {"test_ll": float(lls.mean()), "test_se": std / math.sqrt(len(lls)), "seed_std": std}


def write_curve(path: Path, grid: np.ndarray, curves: list[np.ndarray]) -> None:
    """sigma, the validation LL (mean over folds) and, with folds, each fold's."""
    mean_curve = np.mean(curves, axis=0)
    folds = len(curves)
    header = "sigma,valid_ll" + "".join(f",fold_{f}" for f in range(folds) if folds > 1)
    rows = []
    for i, s in enumerate(grid):
        per_fold = "".join(f",{c[i]:.6f}" for c in curves) if folds > 1 else ""
        rows.append(f"{s:.6g},{mean_curve[i]:.6f}{per_fold}\n")
    put(path, header + "\n" + "".join(rows))


def run(params: Params, ds: DatasetParams) -> None:
    paths = Paths(ds.name)
    data = load_processed(ds.name)
    trained = read_run(ds.name)
    alive = [s for s in survivors(trained) if s in ds.seeds]
    scores, curves = {}, {}
    for seed in ds.seeds:
        samples = torch.from_numpy(load_samples(ds.name, seed))
        result, curves[seed] = evaluate(samples, data, ds)
        scores[str(seed)] = {**result, "collapsed": seed not in alive}
    summary = {
        **over_seeds(scores, alive),
        "n_seeds": len(ds.seeds),
        "survived": len(alive),
        "collapsed": len(ds.seeds) - len(alive),
        "n_samples": len(samples),
        "n_folds": ds.folds,
        "note": data.note,
        **({"deviation": ds.deviation} if ds.deviation else {}),
        "seeds": scores,
    }
    with outputs() as out:  # the curves and the summary replaced together, or none
        folder = out.folder(paths.parzen_curves)
        for seed, seed_curves in curves.items():
            write_curve(folder / f"seed-{seed}.csv", sigmas(ds.parzen), seed_curves)
        out.text(paths.parzen, json.dumps(summary, indent=2) + "\n")
