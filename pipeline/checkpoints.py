"""Checkpoint files: written atomically with stable bytes, read without running pickled code.

- Stable bytes: ``torch.save`` given a file *name* names the zip's top folder after it, so saving
  through a temporary name (needed for atomic writes) gave different bytes for the same weights,
  new DVC hashes and needless reruns downstream. Given an open file it names the folder
  "archive" every time; the bytes then depend on the content only.
- Untrusted files: a checkpoint may come from a shared DVC remote or cache. It holds tensors and
  plain metadata (dicts, lists, strings, numbers), so it is read with ``weights_only=True``, which
  refuses anything that would import or call code while unpickling.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from pipeline.plumbing.errors import PipelineError
from pipeline.plumbing.files import atomic_path


def save(obj: Any, path: Path) -> None:
    """Write `obj` to `path` atomically; the same content always gives the same bytes."""
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            torch.save(obj, f)
    except RuntimeError as err:  # torch's writer hides the OSError (a full disk, say)
        raise PipelineError(f"{path}: could not be written ({err}); is its disk full?") from None


def load(path: Path, rerun: str, kind: str = "checkpoint", keys: tuple[str, ...] = ()) -> dict:
    """A `kind` of checkpoint as written by :func:`save`: a mapping holding `keys`. A missing,
    truncated, unsafe or wrongly shaped file is one error naming it and, in `rerun`, what makes
    it again."""
    if not path.is_file():
        raise PipelineError(f"{path}: missing; {rerun}")
    if not zipfile.is_zipfile(path):  # torch.save always writes a zip archive
        raise PipelineError(
            f"{path}: unreadable, truncated or corrupt (not a torch archive); {rerun}"
        )
    try:
        found = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        if isinstance(err, pickle.UnpicklingError) and "Weights only load failed" in str(err):
            why = "refused: it holds pickled objects, not only tensors and plain data"
        else:
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            why = f"unreadable, truncated or corrupt ({first[:120]})"
        raise PipelineError(f"{path}: {why}; {rerun}") from None
    if not isinstance(found, dict) or any(key not in found for key in keys):
        what = type(found).__name__ if not isinstance(found, dict) else f"a dict of {sorted(found)}"
        expected = f"expected a dict with {list(keys)}, found {what[:120]}"
        raise PipelineError(f"{path}: not a {kind} ({expected}); {rerun}")
    return found
