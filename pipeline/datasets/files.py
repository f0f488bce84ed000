"""What the per-source modules share: remote files and their checksums, the two layouts of raw
data (recipe, "training data"), and readers for the archives they come in.

A source offers one or more *options*, each a complete set of files with the official URLs and
md5 checksums. The download stage takes the first option found in a mirror directory, else the
first it can download. An option that is not the original data (CIFAR-10 as JPEG, LFW in
grayscale) carries a ``note`` that follows the results into the metrics, figures and Table 1.

Every source's ``read`` returns pixels flattened (C x H x W order), float32, in the model's input
space, as ``Arrays`` (MNIST, CIFAR-10: the official training and test rows; params.yaml picks
ranges) or ``Folds`` (TFD, and LFW laid out as TFD: all images plus a folds matrix N x 5 with
0 = unlabeled, 1 = train, 2 = valid, 3 = test, as in ``TFD_48x48.mat``).
"""

from __future__ import annotations

import gzip
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.plumbing.errors import PipelineError


@dataclass(frozen=True)
class RemoteFile:
    name: str
    md5: str | None  # None: a licensed file the user supplies; its content is checked on read
    urls: tuple[str, ...]
    folder: str  # subdirectory of a mirror holding the file


@dataclass(frozen=True)
class Option:
    files: tuple[RemoteFile, ...]
    note: str = ""  # how this copy differs from the paper's data ("" = the original files)


@dataclass(frozen=True)
class Arrays:
    train: np.ndarray  # official training rows
    test: np.ndarray  # official test rows


@dataclass(frozen=True)
class Folds:
    images: np.ndarray  # N x d
    folds: np.ndarray  # N x F, 0 = unlabeled, 1 = train, 2 = valid, 3 = test

    UNLABELED, TRAIN, VALID, TEST = 0, 1, 2, 3


def read_gzip(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
        raise PipelineError(f"{path}: not a readable gzip archive ({err})") from None


def open_tar(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path)
    except (tarfile.TarError, OSError, EOFError) as err:
        raise PipelineError(f"{path}: not a readable tar archive ({err})") from None
