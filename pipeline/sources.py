"""Data sources: where each dataset's files come from, their checksums, and how to read them.

A source lists its files with the official URLs and md5 checksums (for MNIST the same ones
torchvision checks). The download stage tries mirror directories first (``GAN_DATA_MIRROR``,
several separated by ``os.pathsep``), where a file sits at ``<mirror>/<source>/<name>``, then the
URLs. Adding a dataset means adding a :class:`Source` here and a section in params.yaml.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import PipelineError


@dataclass(frozen=True)
class RemoteFile:
    name: str
    md5: str
    urls: tuple[str, ...]


@dataclass(frozen=True)
class Source:
    name: str
    files: tuple[RemoteFile, ...]
    image_shape: tuple[int, ...]  # (H, W) grayscale or (C, H, W) colour, for figures
    # reads the verified raw directory -> (official training rows, official test rows), float32
    # pixels in the model's input space (for MNIST: [0, 1]), flattened
    read: Callable[[Path], tuple[np.ndarray, np.ndarray]]


def _read_idx_images(path: Path) -> np.ndarray:
    """IDX3 (LeCun's MNIST format): big-endian magic 2051, count, rows, cols, then uint8 pixels."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, count, rows, cols = np.frombuffer(data[:16], dtype=">u4")
    if magic != 2051 or len(data) != 16 + count * rows * cols:
        raise PipelineError(f"{path}: not an IDX3 image file (magic {magic}, {len(data)} bytes)")
    return np.frombuffer(data[16:], dtype=np.uint8).reshape(count, rows * cols)


def _read_mnist(raw: Path) -> tuple[np.ndarray, np.ndarray]:
    train = _read_idx_images(raw / "train-images-idx3-ubyte.gz")
    test = _read_idx_images(raw / "t10k-images-idx3-ubyte.gz")
    return train.astype(np.float32) / 255.0, test.astype(np.float32) / 255.0


_MNIST_URLS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)


def _mnist_file(name: str, md5: str) -> RemoteFile:
    return RemoteFile(name, md5, tuple(base + name for base in _MNIST_URLS))


SOURCES: dict[str, Source] = {
    "mnist": Source(
        name="mnist",
        files=(
            _mnist_file("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
            _mnist_file("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
            _mnist_file("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
            _mnist_file("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
        ),
        image_shape=(28, 28),
        read=_read_mnist,
    ),
}
