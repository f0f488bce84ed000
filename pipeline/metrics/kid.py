"""Kernel distance (Bińkowski et al., 2018, "KID"): the unbiased MMD² with k(x, y) =
(x·y / d + 1)³ on random subsets of each set, mean and SD over subsets; torchmetrics' code fed
precomputed features."""

from __future__ import annotations

from torch import Tensor

from pipeline.fidelity import Given, quiet, seeded
from pipeline.metrics import Metric, Samples


def kernel_distance(
    real: Tensor, fake: Tensor, subsets: int, subset_size: int, seed: int
) -> tuple[float, float]:
    """(mean, SD) over `subsets` random subsets of `subset_size` rows of each set."""
    from torchmetrics.image.kid import KernelInceptionDistance

    size = min(subset_size, len(real), len(fake))
    with quiet():
        metric = KernelInceptionDistance(
            feature=Given(real.shape[1]), subsets=subsets, subset_size=size
        )
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    with seeded(seed):
        mean, sd = metric.compute()
    return float(mean), float(sd)


def compute(s: Samples) -> dict:
    mean, sd = kernel_distance(
        s.real, s.feats, s.spec.kid_subsets, s.spec.kid_subset_size, s.spec.seed
    )
    return {"kid": mean, "kid_sd": sd}


def show(row: dict, key: str) -> str:
    """The mean over seeds has no SD over subsets."""
    sd = f" ± {row['kid_sd']:.3g}" if "kid_sd" in row else ""
    return f"{row[key]:.3g}{sd}"


METRIC = Metric(compute, {"kid": "KID"}, show)  # MMD² of the classifier's features
