"""Fréchet distance between feature sets (Heusel et al., 2017, "FID"; here "FCD", the
classifier's features): ||mu_r - mu_f||² + Tr(C_r + C_f - 2 (C_r C_f)^½), torchmetrics' code fed
precomputed features."""

from __future__ import annotations

from torch import Tensor

from pipeline.fidelity import Given
from pipeline.metrics import Metric


def frechet(real: Tensor, fake: Tensor) -> float:
    from torchmetrics.image.fid import FrechetInceptionDistance

    metric = FrechetInceptionDistance(feature=Given(real.shape[1]), normalize=False)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    return float(metric.compute())


METRIC = Metric(
    compute=lambda s: {"fid": frechet(s.real, s.feats)},
    columns={"fid": "FCD"},
    show=lambda row, key: f"{row[key]:.3g}",
)
