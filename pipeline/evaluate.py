"""Stage `parzen`: choose sigma on the validation slice, score the test set (parzen_ll.py).

sigma from ``logspace(-1, 0, 10)`` maximising the mean validation log-likelihood (MNIST: rows
50,000-50,999 of the training file); then the mean test log-likelihood +- std/sqrt(N). Writes the
numbers as DVC metrics and the sigma-vs-validation-LL curve as a DVC plot.
"""

from __future__ import annotations

import json

import numpy as np
import torch

from pipeline.params import DatasetParams, Params
from pipeline.parzen import log_likelihood, mean_and_se, select_sigma, sigmas
from pipeline.paths import Paths, write_text
from pipeline.preprocess import load


def run(params: Params, ds: DatasetParams) -> None:
    paths = Paths(ds.name)
    data = load(ds.name)
    samples = torch.from_numpy(np.load(paths.samples))
    valid = torch.from_numpy(data["valid"][: ds.parzen.valid])
    chosen = select_sigma(valid, samples, ds.parzen)
    test_ll = log_likelihood(
        torch.from_numpy(data["test"]), samples, [chosen.sigma], ds.parzen.batch
    )
    mean, se = mean_and_se(test_ll[0])
    result = {
        "test_ll": mean,
        "test_se": se,
        "sigma": chosen.sigma,
        "valid_ll": float(chosen.valid_ll.max()),
        "n_test": int(test_ll.shape[1]),
        "n_valid": int(len(valid)),
        "n_samples": int(len(samples)),
    }
    curve = "sigma,valid_ll\n" + "".join(
        f"{s:.6g},{v:.6f}\n" for s, v in zip(sigmas(ds.parzen), chosen.valid_ll, strict=True)
    )
    write_text(paths.parzen_curve, curve)
    write_text(paths.parzen, json.dumps(result, indent=2) + "\n")
