"""Stage `parzen`: choose sigma on the validation slice, score the test set (parzen_ll.py).

sigma from ``logspace(-1, 0, 10)`` maximising the mean validation log-likelihood (MNIST: rows
50,000-50,999 of the training file); then the mean test log-likelihood +- std/sqrt(N). Writes the
numbers as DVC metrics and the sigma-vs-validation-LL curve as a DVC plot.

Two diagnostics sit beside the paper's number (they never replace it):
- ``fine_sigma``: the same procedure on a 10x finer grid over the same range, to show how much of
  the score depends on the grid's resolution;
- ``training_set``: the first m training images used as the "samples" (Theis, van den Oord &
  Bethge, 2016), a reference for what the estimator gives a model that memorised the data.
"""

from __future__ import annotations

import json

import numpy as np
import torch
from torch import Tensor

from pipeline.params import DatasetParams, Params, ParzenSpec
from pipeline.parzen import log_likelihood, mean_and_se, select_sigma, sigmas
from pipeline.paths import Paths, write_text
from pipeline.preprocess import load


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


def run(params: Params, ds: DatasetParams) -> None:
    paths = Paths(ds.name)
    data = load(ds.name)
    samples = torch.from_numpy(np.load(paths.samples))
    valid = torch.from_numpy(data["valid"][: ds.parzen.valid])
    test = torch.from_numpy(data["test"])
    grid = sigmas(ds.parzen)
    fine = np.logspace(*ds.parzen.sigma_range, 10 * (ds.parzen.sigma_num - 1) + 1)
    memorised = torch.from_numpy(data["train"][: len(samples)])

    paper, curve = score(samples, valid, test, ds.parzen, grid)
    finer, _ = score(samples, valid, test, ds.parzen, fine)
    reference, _ = score(memorised, valid, test, ds.parzen, grid)
    result = {
        **paper,
        "n_test": len(test),
        "n_valid": len(valid),
        "n_samples": len(samples),
        "fine_sigma": finer,
        "training_set": reference,
    }
    rows = "".join(f"{s:.6g},{v:.6f}\n" for s, v in zip(grid, curve, strict=True))
    write_text(paths.parzen_curve, "sigma,valid_ll\n" + rows)
    write_text(paths.parzen, json.dumps(result, indent=2) + "\n")
