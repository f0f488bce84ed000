"""The Inception-score analogue (Salimans et al., 2016): exp E_x KL(p(y|x) || p(y)) from the
classifier's logits, on shuffled splits of the samples, mean and SD; torchmetrics' code."""

from __future__ import annotations

from torch import Tensor

from pipeline.fidelity import Given, quiet, seeded
from pipeline.metrics import Metric, Samples


def inception_score(logits: Tensor, splits: int, seed: int) -> tuple[float, float]:
    from torchmetrics.image.inception import InceptionScore

    with quiet():
        metric = InceptionScore(feature=Given(logits.shape[1]), splits=splits)
    metric.update(logits.double())
    with seeded(seed):
        mean, sd = metric.compute()
    return float(mean), float(sd)


def compute(s: Samples) -> dict:
    mean, sd = inception_score(s.logits, s.spec.is_splits, s.spec.seed)
    return {"inception_score": mean, "inception_score_sd": sd}


def show(row: dict, key: str) -> str:
    sd = f" ± {row['inception_score_sd']:.2f}" if "inception_score_sd" in row else ""
    return f"{row[key]:.2f}{sd}"


METRIC = Metric(compute, {"inception_score": "IS analogue"}, show)
