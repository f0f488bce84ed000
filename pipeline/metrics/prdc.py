"""Precision and recall (Kynkäänniemi et al., 2019), density and coverage (Naeem et al., 2020),
with k nearest neighbours: the authors' ``prdc`` package."""

from __future__ import annotations

import contextlib
import io

import numpy as np

from pipeline.metrics import Metric


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    from prdc import compute_prdc

    with contextlib.redirect_stdout(io.StringIO()):  # it prints the set sizes
        found = compute_prdc(real_features=real, fake_features=fake, nearest_k=k)
    return {key: float(value) for key, value in found.items()}


METRIC = Metric(
    compute=lambda s: precision_recall(s.real.numpy(), s.feats.numpy(), s.spec.nearest_k),
    columns={name: name for name in ("precision", "recall", "density", "coverage")},
)
