"""`python -m pipeline compare`: one readable row per experiment and dataset.

``dvc exp show`` lists every param and metric of every dataset (hundreds of columns, named by
their shortest unique suffix, so that the names change with what was run). This reads the same
experiments from DVC (``Repo.experiments.show``: the workspace, each commit and its experiments)
and keeps what a comparison needs: the experiment, the params in which it differs from its
commit, and per dataset it ran the test log-likelihood ± SE (over the seeds that did not
collapse), their standard deviation, how many seeds ran and collapsed, and the training time.
Not a stage: it reads experiments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from pipeline.datasets import SECTIONS

SCORES = {  # column -> (file under metrics/datasets/<dataset>/, key)
    "test LL": ("parzen.json", "test_ll"),  # one seed: its own; several: the survivors' mean
    "± SE": ("parzen.json", "test_se"),
    "SD over seeds": ("parzen.json", "seed_std"),
    "seeds": ("parzen.json", "n_seeds"),
    "collapsed": ("parzen.json", "collapsed"),
    "train s": ("train.json", "train_seconds"),
}


@dataclass(frozen=True)
class Run:
    name: str  # experiment name, or the commit / "workspace"
    commit: bool  # a commit (the baseline of the experiments after it), not an experiment
    params: dict  # params.yaml, flattened to dotted keys
    metrics: dict  # metrics file path -> its content


def _flatten(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _run(state, name: str, commit: bool) -> Run | None:
    data = state.data
    if data is None:  # an experiment that failed, or is still queued
        return None
    params = _flatten(data.params.get("params.yaml", {}).get("data", {}))
    metrics = {path: m.get("data", {}) for path, m in data.metrics.items()}
    return Run(name, commit, params, metrics)


def _label(state) -> str:
    return state.name or (state.rev if state.rev == "workspace" else state.rev[:7])


def runs() -> list[Run]:
    """The workspace, then each commit followed by its experiments, as `dvc exp show` orders
    them."""
    from dvc.repo import Repo

    out = []
    with Repo() as repo:
        for state in repo.experiments.show():
            out.append(_run(state, _label(state), commit=True))
            for group in state.experiments or []:
                out += [_run(s, _label(s), commit=False) for s in group.revs]
    return [run for run in out if run is not None]


def _differing(run: Run, baseline: Run) -> str:
    """ "k=2 seed=3": the params of `run` whose values differ from `baseline`'s."""
    keys = dict.fromkeys([*run.params, *baseline.params])
    changed = [
        f"{key}={_fmt(run.params.get(key))}"
        for key in keys
        if run.params.get(key) != baseline.params.get(key)
    ]
    return " ".join(changed) or "(baseline)"


def table(runs: list[Run]) -> pd.DataFrame:
    """One row per run and dataset with a Parzen score; each experiment compared with the commit
    before it in the list, the workspace with the first commit (HEAD)."""
    commits = [r for r in runs if r.commit and r.name != "workspace"]
    baseline = commits[0] if commits else runs[0]
    out = []
    for run in runs:
        if run in commits:
            baseline = run
        for name in SECTIONS:
            base = f"metrics/datasets/{name}/"
            values = {
                col: run.metrics.get(base + file, {}).get(key)
                for col, (file, key) in SCORES.items()
            }
            if values["test LL"] is None:
                continue
            out.append(
                {
                    "experiment": run.name,
                    "dataset": name,
                    "params that differ": _differing(run, baseline),
                    **values,
                }
            )
    return pd.DataFrame(out)


def _fmt(value) -> str:
    """Numbers to about 4 digits, whole ones as integers; a missing value (the SD of one seed)
    as "—"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1:
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def run() -> str:
    frame = table(runs())
    if frame.empty:
        return "no experiment has Parzen scores yet: run `dvc repro` or `dvc exp run`"
    return frame.astype(object).map(_fmt).to_string(index=False)
