"""Stage `parzen`: choose sigma on validation data, score the test set (parzen_ll.py).

sigma from ``logspace(-1, 0, 10)`` maximising the mean validation log-likelihood, then the mean
test log-likelihood (recipe, "The Parzen-window evaluation"):

- one fold (MNIST, CIFAR-10): sigma on the validation slice (MNIST: rows 50,000-50,999 of the
  training file), test mean +- std/sqrt(N) over the test examples;
- TFD's protocol (TFD, LFW): per fold f, sigma on fold f's whole valid split and the mean LL of
  its test split; reported as the mean over folds +- the standard error across folds,
  std(fold means)/sqrt(F) with the population std as parzen_ll.py uses, and every fold's numbers.

Writes the numbers as DVC metrics and the sigma-vs-validation-LL curve as a DVC plot. Two
diagnostics sit beside the paper's number (they never replace it), computed the same way:
- ``fine_sigma``: a 10x finer grid over the same range, to show how much of the score depends on
  the grid's resolution;
- ``training_set``: the first m training images used as the "samples" (Theis, van den Oord &
  Bethge, 2016), a reference for what the estimator gives a model that memorised the data.
"""

from __future__ import annotations

import json
import math

import numpy as np
import torch
from torch import Tensor

from pipeline.artifacts import load_processed, load_samples
from pipeline.params import DatasetParams, Params, ParzenSpec
from pipeline.parzen_window import log_likelihood, mean_and_se, select_sigma, sigmas
from pipeline.paths import Paths, write_text


def score(samples: Tensor, valid: Tensor, test: Tensor, spec: ParzenSpec, grid):
    """sigma chosen on `valid` over `grid`; the test mean and its standard error. Returns those
    numbers and the validation curve over `grid`."""
    chosen = select_sigma(valid, samples, spec, grid)
    mean, se = mean_and_se(log_likelihood(test, samples, [chosen.sigma], spec.batch)[0])
    valid_ll = float(chosen.valid_ll.max())
    return {
        "test_ll": mean,
        "test_se": se,
        "sigma": chosen.sigma,
        "valid_ll": valid_ll,
    }, chosen.valid_ll


def across_folds(scores: list[dict]) -> dict:
    """TFD's report: the mean of the folds' test LL +- std/sqrt(F) across folds (ddof = 0)."""
    means = np.array([s["test_ll"] for s in scores])
    return {
        "test_ll": float(means.mean()),
        "test_se": float(means.std() / math.sqrt(len(means))),
        "valid_ll": float(np.mean([s["valid_ll"] for s in scores])),
    }


def evaluate_fold(samples: Tensor, memorised: Tensor, valid: Tensor, test: Tensor, spec):
    """The paper's score, the fine-grid and training-set diagnostics, and the validation curve."""
    grid = sigmas(spec)
    fine = np.logspace(*spec.sigma_range, 10 * (spec.sigma_num - 1) + 1)
    paper, curve = score(samples, valid, test, spec, grid)
    finer, _ = score(samples, valid, test, spec, fine)
    reference, _ = score(memorised, valid, test, spec, grid)
    fold = {**paper, "n_test": len(test), "n_valid": len(valid)}
    return fold, finer, reference, curve


def run(params: Params, ds: DatasetParams) -> None:
    paths = Paths(ds.name)
    data = load_processed(ds.name)
    samples = torch.from_numpy(load_samples(ds.name))
    memorised = torch.from_numpy(data.train[: len(samples)])
    results = [
        evaluate_fold(
            samples,
            memorised,
            torch.from_numpy(data.valid(f)[: ds.parzen.valid]),
            torch.from_numpy(data.test(f)),
            ds.parzen,
        )
        for f in range(ds.folds)
    ]
    folds, finer, reference, curves = (list(part) for part in zip(*results, strict=True))
    note = data.note
    if ds.folds == 1:
        result = {**folds[0], "fine_sigma": finer[0], "training_set": reference[0]}
    else:
        result = {
            **across_folds(folds),
            "folds": folds,
            "fine_sigma": {**across_folds(finer), "sigma": [s["sigma"] for s in finer]},
            "training_set": {
                **across_folds(reference),
                "sigma": [s["sigma"] for s in reference],
            },
        }
    result.update(n_samples=len(samples), n_folds=ds.folds, note=note)
    if ds.deviation:
        result["deviation"] = ds.deviation
    grid = sigmas(ds.parzen)
    mean_curve = np.mean(curves, axis=0)
    header = "sigma,valid_ll" + "".join(f",fold_{f}" for f in range(ds.folds) if ds.folds > 1)
    rows = []
    for i, s in enumerate(grid):
        per_fold = "".join(f",{c[i]:.6f}" for c in curves) if ds.folds > 1 else ""
        rows.append(f"{s:.6g},{mean_curve[i]:.6f}{per_fold}\n")
    write_text(paths.parzen_curve, header + "\n" + "".join(rows))
    write_text(paths.parzen, json.dumps(result, indent=2) + "\n")
