"""`python -m pipeline plan`: what `dvc repro` would run, and about how long it would take.

The stages DVC reports as changed (``dvc status``: a modified dep or param, an output missing from
the cache) and every stage downstream of them, in the order DVC runs them. Training time is
estimated from the committed run record of each dataset (seconds per epoch, on the device it
names) times the epochs params.yaml now asks for on this machine; the other stages take seconds
to minutes. ``dvc repro --dry`` gives the list alone, but crashes on a fresh clone whose cache
lacks the outputs (an upstream DVC bug); this does not. Not a stage: it reads the pipeline.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from pipeline import cpus
from pipeline import params as P
from pipeline.paths import Paths


@dataclass(frozen=True)
class Step:
    stage: str  # e.g. "train@mnist"
    why: str  # what DVC reports changed, or "downstream"
    estimate: str  # "about 95 min (300 epochs x 19 s on cpu)", or ""
    minutes: float | None = None  # the estimate's training minutes, where there is one


def epoch_seconds(dataset: str) -> tuple[float, str] | None:
    """Mean seconds per epoch of one seed in the committed run, and its device."""
    path = Paths(dataset).train_record
    if not path.is_file():
        return None
    run = json.loads(path.read_text())
    epochs = sum(seed.get("epochs_run", 0) for seed in run.get("seeds", {}).values())
    if "train_seconds" not in run or not epochs:
        return None
    return run["train_seconds"] / epochs, run.get("device", "?")


def estimate(stage: str, params: P.Params, cuda: bool) -> tuple[str, float | None]:
    """How long `stage` trains, in words and in minutes (None where it does not train or
    there is no committed run to time it by)."""
    name, _, dataset = stage.partition("@")
    if name != "train" or dataset not in params.by_name:
        return "", None
    ds = params.dataset(dataset)
    epochs = sum(ds.train.schedule(params.resolved_schedule(cuda)))
    seeds = len(ds.seeds)
    at_once = 1 if cuda else cpus.split(seeds, cpus.available())[0]  # as train.share_cpu
    runs = f"{seeds} seeds, {at_once} at a time" if seeds > 1 else "1 seed"
    measured = epoch_seconds(dataset)
    if measured is None:
        return f"{epochs} epochs × {runs} (no committed run to time them by)", None
    seconds, device = measured
    minutes = epochs * seconds * math.ceil(seeds / at_once) / 60
    return (
        f"at most about {minutes:.0f} min ({epochs} epochs × {seconds:.0f} s, {runs}, "
        f"as measured on {device}; a collapsed seed stops early)",
        minutes,
    )


def _why(changes: list) -> str:
    """dvc status's entry for a stage in one line: "changed deps: 3 code files, params.yaml (k);
    changed outs: models/mnist (not in cache)"."""
    parts = []
    for change in changes:
        if not isinstance(change, dict):
            parts.append(str(change))
            continue
        for kind, items in change.items():
            code = [path for path in items if path.startswith("pipeline/")]
            named = [f"{len(code)} code files"] if code else []
            for path, what in items.items():
                if not path.startswith("pipeline/"):
                    detail = ", ".join(what) if isinstance(what, dict) else what
                    named.append(f"{path} ({detail})")
            parts.append(f"{kind}: {', '.join(named)}")
    return "; ".join(parts)


def steps(params: P.Params, cuda: bool) -> list[Step]:
    import networkx as nx
    from dvc.repo import Repo

    with Repo() as repo:
        status = repo.status()
        graph = repo.index.graph  # edges point from a stage to the stages it depends on
        changed = [s for s in graph if s.addressing in status]
        affected = set(changed).union(*(nx.ancestors(graph, s) for s in changed))
        order = [s for s in reversed(list(nx.topological_sort(graph))) if s in affected]
        return [
            Step(
                s.addressing,
                _why(status.get(s.addressing, [])) or "downstream of a change",
                *estimate(s.addressing, params, cuda),
            )
            for s in order
        ]


def run(params: P.Params) -> str:
    import torch

    cuda = params.device != "cpu" and torch.cuda.is_available()
    planned = steps(params, cuda)
    if not planned:
        return "everything is up to date: `dvc repro` would run nothing"
    width = max(len(s.stage) for s in planned)
    est = max(len(s.estimate) for s in planned)
    lines = [f"`dvc repro` would run up to {len(planned)} stages, in this order:"]
    for s in planned:
        lines.append(f"  {s.stage:<{width}}  {s.estimate:<{est}}  {s.why}".rstrip())
    lines.append("(a downstream stage is skipped when what it reads comes out unchanged)")
    timed = [s.minutes for s in planned if s.minutes is not None]
    if timed:
        lines.append(
            f"Training in all: at most about {sum(timed) / 60:.0f} h, one stage after another, "
            "at the committed runs' seconds per epoch (a different CPU or a GPU changes it)."
        )
    return "\n".join(lines)
