"""Metrics beyond the Parzen window, in the feature space of the in-pipeline classifier (stage
`quality`; Inception-v3 cannot be fetched offline). One module per metric, each defining
``METRIC``; registry.py lists them, in the order quality.json and the second table show them
(StyleGAN2-ADA's metric registry). A new metric is one module and one entry there; each is
checked against a direct computation in tests/test_fidelity.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from torch import Tensor

from pipeline.params import QualitySpec


@dataclass(frozen=True)
class Samples:
    """One set of images in the classifier's feature space, and what it is scored against."""

    feats: Tensor  # the set's penultimate-layer features
    logits: Tensor  # the set's class logits
    real: Tensor  # the real test images' features
    class_share: np.ndarray  # each class's share of the training labels
    spec: QualitySpec


def decimals(row: dict, key: str) -> str:
    return f"{row[key]:.3f}"


@dataclass(frozen=True)
class Metric:
    compute: Callable[[Samples], dict]  # the values it adds to a set's row of quality.json
    columns: dict[str, str]  # key of those values -> column of the second table (table.py)
    show: Callable[[dict, str], str] = decimals  # a row's value of one key, as a table cell
