"""The Parzen-window protocol of Table 1 (recipe, "The Parzen-window evaluation"), shared by the
stages that score sets of samples (`parzen`, `references`, `quality`): sigma chosen on validation
data over ``logspace(-1, 0, 10)``, then the mean test log-likelihood; one fold (MNIST, CIFAR-10)
or TFD's folds (TFD, LFW), as pipeline/parzen.py describes.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from pipeline.artifacts import Processed
from pipeline.params import DatasetParams, ParzenSpec
from pipeline.parzen_window import log_likelihood, mean_and_se, select_sigma, sigmas


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


def evaluate_fold(samples: Tensor, valid: Tensor, test: Tensor, spec: ParzenSpec, fine: bool):
    """The paper's score, the fine-grid diagnostic (when `fine`), and the validation curve."""
    paper, curve = score(samples, valid, test, spec, sigmas(spec))
    finer = None
    if fine:
        grid = np.logspace(*spec.sigma_range, 10 * (spec.sigma_num - 1) + 1)
        finer, _ = score(samples, valid, test, spec, grid)
    return {**paper, "n_test": len(test), "n_valid": len(valid)}, finer, curve


def evaluate(samples: Tensor, data: Processed, ds: DatasetParams, fine: bool = True):
    """`samples` scored by the dataset's protocol (one fold, or TFD's folds), with the fine-grid
    diagnostic when `fine`; and the validation curve of every fold."""
    results = [
        evaluate_fold(
            samples,
            torch.from_numpy(data.valid(f)[: ds.parzen.valid]),
            torch.from_numpy(data.test(f)),
            ds.parzen,
            fine,
        )
        for f in range(ds.folds)
    ]
    folds, finer, curves = (list(part) for part in zip(*results, strict=True))
    if ds.folds == 1:
        result = {**folds[0], **({"fine_sigma": finer[0]} if fine else {})}
    else:
        result = {**across_folds(folds), "folds": folds}
        if fine:
            result["fine_sigma"] = {**across_folds(finer), "sigma": [s["sigma"] for s in finer]}
        else:
            result["sigma"] = [s["sigma"] for s in folds]
    return result, curves


BY_N_FIELDS = ["n", "test_ll", "test_se"]  # the score against N (a DVC plot)


def by_n(samples: Tensor, sizes: tuple[int, ...], data: Processed, ds: DatasetParams) -> list[dict]:
    """The first n of `samples` scored for every n in `sizes` that they reach: the estimator's
    dependence on the number of samples (Theis, van den Oord & Bethge, 2016)."""
    rows = []
    for n in (n for n in sizes if n <= len(samples)):
        result, _ = evaluate(samples[:n], data, ds, fine=False)
        rows.append({"n": n, "test_ll": result["test_ll"], "test_se": result["test_se"]})
    return rows
