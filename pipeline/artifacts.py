"""What the stages hand each other, written by one stage and read by the next (paths: paths.py).

- the provenance record (download → preprocess): which copy of the files was fetched; its note
  says how the data differ from the paper's and follows them into every result;
- the processed arrays (preprocess → train, sample, parzen): one .npz per dataset;
- the samples (sample → parzen): m draws from each seed's selected generator, one .npy a seed;
- the run record and the scores (train → sample, parzen → table, figures): JSON metrics, every
  seed's beside the summary over seeds. Each carries the run that made it, so the captions never
  go back to params.yaml.

The generator checkpoints (train → sample) are read beside the ``Generator`` they restore
(models.py). A reader given a missing, truncated or partial file raises one error naming it and
the stage that makes it again.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.datasets import SECTIONS
from pipeline.paths import Paths
from pipeline.plumbing.errors import PipelineError
from pipeline.plumbing.files import atomic_path, put

PROVENANCE = "provenance.json"  # in data/raw/<dataset>/


def rerun(stage: str, dataset: str | None = None) -> str:
    return f"rerun `dvc repro {stage}{f'@{dataset}' if dataset else ''}`"


def write_provenance(raw: Path, source: str, note: str, md5: dict[str, str]) -> None:
    record = {"source": source, "note": note, "md5": md5}
    (raw / PROVENANCE).write_text(json.dumps(record, indent=2) + "\n")


def read_note(raw: Path) -> str:
    """How the fetched copy differs from the paper's data ("" when it does not)."""
    path = raw / PROVENANCE
    return json.loads(path.read_text())["note"] if path.is_file() else ""


@dataclass(frozen=True)
class Processed:
    """data/processed/<dataset>.npz: ``train`` (what G and D train on), ``valid_<f>`` and
    ``test_<f>`` per fold f, ``note`` and ``image_shape`` ((H, W) or (C, H, W))."""

    arrays: dict[str, np.ndarray]

    @property
    def train(self) -> np.ndarray:
        return self.arrays["train"]

    def valid(self, fold: int) -> np.ndarray:
        return self.arrays[f"valid_{fold}"]

    def test(self, fold: int) -> np.ndarray:
        return self.arrays[f"test_{fold}"]

    @property
    def note(self) -> str:
        return str(self.arrays["note"])

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self.arrays["image_shape"])


def save_processed(
    dataset: str, splits: dict[str, np.ndarray], note: str, image_shape: tuple[int, ...]
) -> None:
    with atomic_path(Paths(dataset).processed) as tmp, open(tmp, "wb") as f:
        np.savez(f, **splits, note=np.array(note), image_shape=np.array(image_shape))


def _load_array_file(path: Path, stage: str, dataset: str, read):
    if not path.is_file():
        raise PipelineError(f"{path}: missing; {rerun(stage, dataset)}")
    try:
        return read(path)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        why = f"unreadable, truncated or corrupt ({err})"
        raise PipelineError(f"{path}: {why}; {rerun(stage, dataset)}") from None


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def load_processed(dataset: str) -> Processed:
    """data/processed/<dataset>.npz, checked to hold its splits as rows of its images: one error
    naming the file when a key is missing or a split is not N x the pixels of `image_shape`."""
    path = Paths(dataset).processed
    arrays = _load_array_file(path, "-f preprocess", dataset, _read_npz)
    shape = arrays.get("image_shape")
    width = int(np.prod(shape)) if shape is not None else None
    needed = ("train", "valid_0", "test_0", "image_shape")
    problems = [f"no '{key}'" for key in needed if key not in arrays]
    for key, array in arrays.items():
        if key.startswith(("train", "valid_", "test_")) and (
            array.ndim != 2 or (width is not None and array.shape[1] != width)
        ):
            problems.append(f"'{key}' of shape {list(array.shape)}, not N x {width}")
    if problems:
        why = f"not {dataset}'s processed data ({'; '.join(problems)})"
        raise PipelineError(f"{path}: {why}; {rerun('-f preprocess', dataset)}")
    return Processed(arrays)


def save_samples(path: Path, samples: np.ndarray) -> None:
    """A seed's samples at `path` (in the sample stage's staged data/samples/<dataset>)."""
    buffer = io.BytesIO()
    np.save(buffer, samples)
    put(path, buffer.getvalue())


def load_samples(dataset: str, seed: int) -> np.ndarray:
    path = Paths(dataset).seed_samples(seed)
    return _load_array_file(path, "sample", dataset, lambda p: np.load(p, allow_pickle=False))


# what train records of its run in metrics/datasets/<dataset>/train.json; "seeds" maps each
# seed to its summary (best_epoch, best_valid_parzen, collapsed, collapse_epoch, ...)
RUN_KEYS = (
    "k",
    "update",
    "generator_loss",
    "precision",
    "schedule",
    "phases",
    "epochs",
    "device",
    "code",
    "seeds",
)
# what parzen writes in metrics/datasets/<dataset>/parzen.json: the score over surviving seeds,
# and "seeds", each seed's own score
PARZEN_KEYS = ("test_ll", "test_se", "n_samples", "seeds", "survived")


def read_json(path: Path, stage: str, keys: tuple[str, ...]) -> dict:
    """A stage's JSON output with the `keys` read from it; a missing, partial or stub file (a
    run that failed, or one made by older code) is one error naming the stage to rerun."""
    if not path.is_file():
        raise PipelineError(f"{path}: missing; {rerun(stage)}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        why = f"not valid JSON ({err}), a partial write"
        raise PipelineError(f"{path}: {why}; {rerun(stage)}") from None
    missing = [key for key in keys if not isinstance(data, dict) or key not in data]
    if missing:
        raise PipelineError(f"{path}: incomplete (no {', '.join(missing)}); {rerun(stage)}")
    return data


def read_run(dataset: str) -> dict:
    """The run record of `dataset`'s training: k, update, schedule, epochs, device, seeds, ...
    A record made before the schedules' rename says "paper" for what is now "release": the
    section's `train.epochs`."""
    run = read_json(Paths(dataset).train_record, f"train@{dataset}", RUN_KEYS)
    return {**run, "schedule": "release"} if run["schedule"] == "paper" else run


def arithmetic(run: dict) -> str:
    """A run record's arithmetic for a caption: its precision, and "fused kernels" where it used
    them (a record without `kernels` ran the eager step)."""
    return run["precision"] + (", fused kernels" if run.get("kernels") == "fused" else "")


def survivors(run: dict) -> list[int]:
    """The seeds of a run record that did not collapse, in params order."""
    return [int(s) for s, r in run["seeds"].items() if not r["collapsed"]]


def shown_seed(run: dict) -> int:
    """The seed whose samples the figures show: of the surviving seeds (all, if every one
    collapsed), the one with the median best validation score (the lower one of the middle two)
    — a typical run, chosen without the test set."""
    alive = survivors(run) or [int(s) for s in run["seeds"]]
    ranked = sorted(alive, key=lambda s: run["seeds"][str(s)]["best_valid_parzen"])
    return ranked[(len(ranked) - 1) // 2]


def read_parzen(dataset: str) -> dict:
    return read_json(Paths(dataset).parzen, f"parzen@{dataset}", PARZEN_KEYS)


def scored() -> list[str]:
    """The datasets with a Parzen score in metrics/datasets/: the paper's in its order, then any
    other params section's by name."""
    found = {p.parent.name for p in Paths("*").metrics.parent.glob("*/parzen.json")}
    return [n for n in SECTIONS if n in found] + sorted(found - SECTIONS.keys())
