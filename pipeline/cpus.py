"""How many CPU cores a stage may use, and how `train` splits them among its seeds.

- Side by side beats threads: two 1-thread MNIST runs give 1.18-1.38x the throughput of one
  2-thread run on this project's 2-core CPU (``python -m bench.parallel``, docs/speed.md), so
  `train` runs up to one seed per core, each with its share of the cores.
- In a ``dvc queue`` worker every experiment gets one core by default: ``dvc queue start -j N``
  runs N experiments at once, each in a temporary copy of the repository under
  ``.dvc/tmp/exps`` (DVC then sets ``DVC_ROOT`` to the repository itself, not the copy), and N
  experiments that each took every core would fight over them.
- ``GAN_THREADS=<n>`` sets the cores explicitly (e.g. ``GAN_THREADS=4 dvc queue start -j 4`` on
  16 cores).
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.plumbing.errors import PipelineError

THREADS_ENV = "GAN_THREADS"


def queued() -> bool:
    """True inside an experiment that a ``dvc queue`` worker runs (a temporary copy of the repo)."""
    root = os.environ.get("DVC_ROOT")
    if not (root and os.environ.get("DVC_EXP_NAME")):
        return False
    return Path.cwd().resolve() != Path(root).resolve()


def available() -> int:
    """The cores this stage may use: $GAN_THREADS when set, 1 in a queue worker, else every core
    this process may run on."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    value = os.environ.get(THREADS_ENV)
    if value is not None:
        if not value.isdigit() or not 1 <= int(value) <= cores:
            raise PipelineError(
                f"${THREADS_ENV} is {value!r}; expected a whole number in [1, {cores}], "
                "the cores this process may run on"
            )
        return int(value)
    return 1 if queued() else cores


def split(seeds: int, cores: int) -> tuple[int, int]:
    """(processes, threads each) for `seeds` runs on `cores` CPU cores: up to one process per
    core, the cores shared evenly."""
    workers = max(1, min(seeds, cores))
    return workers, max(1, cores // workers)
