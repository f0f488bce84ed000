"""The samples' predicted classes against the data's class shares (as the unrolled-GAN and
VEEGAN mode counts): counts, modes covered (classes that get at least ``mode_min_share`` of
their share in the data) and KL(samples || data) in nats."""

from __future__ import annotations

import numpy as np

from pipeline.metrics import Metric, Samples


def class_histogram(predicted: np.ndarray, data_share: np.ndarray, min_share: float) -> dict:
    classes = len(data_share)
    got = np.bincount(predicted, minlength=classes) / len(predicted)
    covered = int((got >= min_share * data_share).sum())
    present = got > 0
    kl = float((got[present] * np.log(got[present] / data_share[present])).sum())
    return {
        "modes_covered": covered,
        "modes": classes,
        "class_kl": kl,
        "class_counts": np.bincount(predicted, minlength=classes).tolist(),
    }


def compute(s: Samples) -> dict:
    return class_histogram(s.logits.argmax(1).numpy(), s.class_share, s.spec.mode_min_share)


def show(row: dict, key: str) -> str:
    value = row[key]
    if key == "modes_covered":  # a seed's count, or the mean over seeds
        return f"{value} of {row['modes']}" if isinstance(value, int) else f"{value:.1f}"
    return f"{value:.3f}"


METRIC = Metric(compute, {"modes_covered": "modes", "class_kl": "class KL"}, show)
