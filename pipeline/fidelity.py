"""What the metrics beyond the Parzen window share (pipeline/metrics/: one module per metric),
and the memorisation checks of stage `quality`: each sample's distance to its nearest training
image, in pixel and in feature space, against the held-out images' own; the share of samples
nearer to a training image than the median held-out image. Checked against direct computations
in tests/test_fidelity.py.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import torch
from torch import Tensor, nn


class Given(nn.Identity):
    """torchmetrics' feature extractor slot, for features computed beforehand."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features


def seeded(seed: int):
    """torchmetrics draws its subsets from torch's global generator: fork and seed it."""
    stack = contextlib.ExitStack()
    stack.enter_context(torch.random.fork_rng(devices=[]))
    torch.manual_seed(seed)
    return stack


def quiet():
    """torchmetrics warns that KID and IS keep every feature: these sets are 10,000 rows."""
    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.filterwarnings("ignore", "Metric `.*` will save all extracted features")
    return stack


def nearest_distances(queries: Tensor, reference: Tensor, batch: int = 1024) -> np.ndarray:
    """Euclidean distance from every query to its nearest reference row: the neighbour found
    with float32 products, its distance then computed exactly (float64, no cancellation)."""
    ref = reference.float()
    ref_sq = (ref * ref).sum(1)
    out = []
    for start in range(0, len(queries), batch):
        q = queries[start : start + batch].float()
        nearest = (ref_sq - 2 * q @ ref.T).argmin(1)  # |q|^2 is the same along a row
        out.append((q.double() - reference[nearest].double()).norm(dim=1))
    return torch.cat(out).numpy()


def memorisation(to_train: np.ndarray, held_out: np.ndarray) -> dict:
    """From nearest-training-image distances of the samples (`to_train`) and of held-out images:
    their medians, and the share of samples nearer to a training image than the median held-out
    image is (a model that copied its training set puts every sample at distance 0; one that
    draws new images like the held-out ones, about half)."""
    median = float(np.median(held_out))
    return {
        "sample_median": float(np.median(to_train)),
        "held_out_median": median,
        "closer_than_held_out": float((to_train < median).mean()),
        "sample_min": float(to_train.min()),
    }


def histogram(values: dict[str, np.ndarray], bins: int = 50) -> list[dict]:
    """Shared-bin histograms of several distance sets, as rows for a DVC plot."""
    top = max(float(v.max()) for v in values.values())
    edges = np.linspace(0.0, top if top > 0 else 1.0, bins + 1)
    rows = []
    for name, v in values.items():
        counts, _ = np.histogram(v, edges)
        rows += [
            {"set": name, "distance": float((a + b) / 2), "share": c / len(v)}
            for a, b, c in zip(edges[:-1], edges[1:], counts, strict=True)
        ]
    return rows
