"""Every metric beyond Parzen, in the order quality.json and the second table show them."""

from __future__ import annotations

from pipeline.metrics import Metric, Samples, classes, fid, inception_score, kid, prdc

REGISTRY: dict[str, Metric] = {
    "fid": fid.METRIC,
    "kid": kid.METRIC,
    "prdc": prdc.METRIC,
    "inception_score": inception_score.METRIC,
    "classes": classes.METRIC,
}


def compute(samples: Samples) -> dict:
    """One set's row: every metric's values, in registry order."""
    return {key: value for m in REGISTRY.values() for key, value in m.compute(samples).items()}


def columns() -> dict[str, str]:
    """Key of quality.json -> column of the second table, for every metric."""
    return {key: column for m in REGISTRY.values() for key, column in m.columns.items()}


def show(row: dict, key: str) -> str:
    """A cell of the second table: "—" where the row has no such value."""
    if key not in row:
        return "—"
    metric = next(m for m in REGISTRY.values() if key in m.columns)
    return metric.show(row, key)
