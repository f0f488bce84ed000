"""Each source name (params.yaml ``<section>.source``) with the module that fetches and reads it:
its ``OPTIONS`` (files, checksums, URLs), ``MISSING`` (what to say when no copy is found) and
``read(raw directory) -> Arrays | Folds`` and, where ``SOURCES`` gives it classes,
``labels(raw directory) -> Arrays`` (the class of every row ``read`` returns)."""

from __future__ import annotations

from types import ModuleType

from pipeline.datasets import cifar10, lfw, mnist, tfd

MODULES: dict[str, ModuleType] = {"mnist": mnist, "cifar10": cifar10, "tfd": tfd, "lfw": lfw}
