"""CIFAR-10 (Krizhevsky, 2009): the official pickled batches, or the mirror's JPEG copy (lossy);
global contrast normalisation with scale 55 as Pylearn2's ``CIFAR10(gcn=55.)``."""

from __future__ import annotations

import io
import pickle
from collections import defaultdict
from pathlib import Path

import numpy as np

from pipeline.datasets.files import Arrays, Option, RemoteFile, open_tar
from pipeline.plumbing.errors import PipelineError
from pipeline.plumbing.files import md5sum

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
PYTHON = RemoteFile(
    "cifar-10-python.tar.gz",
    "c58f30108f718f92721af3b95e74349a",
    ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
    "cifar10",
)
JPEG = RemoteFile("cifar10-jpeg.tar.gz", "97a885386ac940ec95312e53cd0d3606", (), "cifar10-jpeg")
OPTIONS = (
    Option((PYTHON,)),
    Option((JPEG,), "CIFAR-10 as JPEG (lossy: mean abs. error 5.8/255)"),
)
MISSING = ""


def global_contrast_normalize(x: np.ndarray, scale: float = 55.0) -> np.ndarray:
    """Pylearn2 ``global_contrast_normalize(X, scale=55.)``: per image, subtract the mean and
    divide by the L2 norm / scale (divisors below 1e-8 replaced by 1)."""
    x = x.astype(np.float64)
    x -= x.mean(axis=1, keepdims=True)
    norm = np.sqrt((x * x).sum(axis=1, keepdims=True)) / scale
    norm[norm < 1e-8] = 1.0
    return (x / norm).astype(np.float32)


def read_python(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The official pickled batches: data_batch_1..5 (50,000 rows), test_batch (10,000), read
    member by member from the archive (nothing extracted to disk); images and labels of each.
    Pickles can run code, so they are unpickled only from an archive whose md5 is the official
    one, checked here again at read time (data/raw may come from a cache or remote rather than
    the download stage)."""
    got = md5sum(path)
    if got != PYTHON.md5:
        raise PipelineError(
            f"{path}: md5 {got}, expected the official {PYTHON.md5}; its pickles were not opened"
        )
    batches: dict[str, dict] = {}
    with open_tar(path) as tar:
        for member in tar:
            stem = Path(member.name).name
            if stem.startswith(("data_batch_", "test_batch")):
                batches[stem] = pickle.load(tar.extractfile(member), encoding="bytes")  # noqa: S301
    names = [f"data_batch_{i}" for i in range(1, 6)]
    if set(batches) != {*names, "test_batch"}:
        raise PipelineError(
            f"{path}: expected data_batch_1..5 and test_batch, got {sorted(batches)}"
        )

    def take(key: bytes, dtype, parts: list[str]) -> np.ndarray:
        return np.concatenate([np.asarray(batches[n][key], dtype=dtype) for n in parts])

    test = ["test_batch"]
    return (
        take(b"data", np.uint8, names),
        take(b"data", np.uint8, test),
        take(b"labels", np.int64, names),
        take(b"labels", np.int64, test),
    )


def read_jpeg(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The mirror's JPEGs, ``<split>/<class>/<index>.jpg``. The official files interleave the
    classes; these keep each class in its original order, so row i here is image i // 10 of class
    i % 10: rows 0-40,000 hold the first 4,000 images of every class, as the official 0-40,000
    hold about 4,000 of each. Images of train and test, then their labels."""
    from PIL import Image

    found: dict[str, dict[tuple[int, int], np.ndarray]] = defaultdict(dict)
    with open_tar(path) as tar:
        for member in tar:
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) < 3 or parts[-2] not in CLASSES:
                continue
            image = Image.open(io.BytesIO(tar.extractfile(member).read())).convert("RGB")
            key = (int(Path(parts[-1]).stem), CLASSES.index(parts[-2]))
            found[parts[-3]][key] = np.asarray(image).transpose(2, 0, 1).reshape(-1)
    out = []
    for split, per_class in (("train", 5000), ("test", 1000)):
        rows = found.get(split, {})
        if len(rows) != 10 * per_class:
            raise PipelineError(
                f"{path}: {split}/ holds {len(rows)} images, expected {10 * per_class}"
            )
        out.append(np.stack([rows[key] for key in sorted(rows)]))
    train_labels, test_labels = (np.arange(len(x)) % 10 for x in out)  # the sorted keys' class
    return out[0], out[1], train_labels, test_labels


def read_labelled(raw: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if (raw / PYTHON.name).is_file():
        return read_python(raw / PYTHON.name)
    return read_jpeg(raw / JPEG.name)


def labels(raw: Path) -> Arrays:
    """The class (index into CLASSES) of every row of `read`'s arrays."""
    _, _, train, test = read_labelled(raw)
    return Arrays(train, test)


def read(raw: Path) -> Arrays:
    train, test, _, _ = read_labelled(raw)
    return Arrays(global_contrast_normalize(train), global_contrast_normalize(test))
