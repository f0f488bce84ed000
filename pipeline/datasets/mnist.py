"""MNIST (LeCun et al., 1998): the official IDX files, the md5s torchvision checks; pixels / 255."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.datasets.files import Arrays, Option, RemoteFile, read_gzip
from pipeline.plumbing.errors import PipelineError

URLS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
OPTIONS = (
    Option(
        tuple(RemoteFile(n, md5, tuple(u + n for u in URLS), "mnist") for n, md5 in FILES.items())
    ),
)
MISSING = ""


def read_idx_images(path: Path) -> np.ndarray:
    """IDX3: big-endian magic 2051, count, rows, cols, then uint8 pixels."""
    data = read_gzip(path)
    magic, count, rows, cols = np.frombuffer(data[:16], dtype=">u4")
    if magic != 2051 or len(data) != 16 + count * rows * cols:
        raise PipelineError(f"{path}: not an IDX3 image file (magic {magic}, {len(data)} bytes)")
    return np.frombuffer(data[16:], dtype=np.uint8).reshape(count, rows * cols)


def read_idx_labels(path: Path) -> np.ndarray:
    """IDX1: big-endian magic 2049, count, then one uint8 label per image."""
    data = read_gzip(path)
    magic, count = np.frombuffer(data[:8], dtype=">u4")
    if magic != 2049 or len(data) != 8 + count:
        raise PipelineError(f"{path}: not an IDX1 label file (magic {magic}, {len(data)} bytes)")
    return np.frombuffer(data[8:], dtype=np.uint8).astype(np.int64)


def labels(raw: Path) -> Arrays:
    """The digit of every row of `read`'s arrays."""
    return Arrays(
        read_idx_labels(raw / "train-labels-idx1-ubyte.gz"),
        read_idx_labels(raw / "t10k-labels-idx1-ubyte.gz"),
    )


def read(raw: Path) -> Arrays:
    train = read_idx_images(raw / "train-images-idx3-ubyte.gz")
    test = read_idx_images(raw / "t10k-images-idx3-ubyte.gz")
    return Arrays(train.astype(np.float32) / 255.0, test.astype(np.float32) / 255.0)
