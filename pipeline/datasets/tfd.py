"""The Toronto Face Database (Susskind, Anderson & Hinton, 2010), ``TFD_48x48.mat``: licensed,
so no URL; the user supplies it in a mirror. Pixels / 255, TFD's own 5 folds."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.datasets.files import Folds, Option, RemoteFile
from pipeline.plumbing.errors import PipelineError

FILE = RemoteFile("TFD_48x48.mat", None, (), "tfd")
OPTIONS = (Option((FILE,)),)
MISSING = (
    "The Toronto Face Database is licensed by its authors (Susskind, Anderson & Hinton, "
    "2010) and cannot be downloaded; obtain TFD_48x48.mat from them and put it at "
    "<mirror>/tfd/TFD_48x48.mat with GAN_DATA_MIRROR=<mirror>, or run the LFW stand-in "
    "(dataset 'lfw') instead"
)


def read(raw: Path) -> Folds:
    """``images`` N x 48 x 48 uint8, ``folds`` N x 5."""
    from scipy.io import loadmat

    path = raw / FILE.name
    try:
        mat = loadmat(path, variable_names=["images", "folds"])
    except (ValueError, OSError, NotImplementedError) as err:
        raise PipelineError(f"{path}: not a readable MATLAB file ({err})") from None
    for key in ("images", "folds"):
        if key not in mat:
            raise PipelineError(f"{path}: missing variable '{key}'")
    images, folds = mat["images"], mat["folds"]
    if images.ndim != 3 or images.shape[1:] != (48, 48):
        raise PipelineError(f"{path}: 'images' has shape {images.shape}, expected N x 48 x 48")
    if folds.shape != (len(images), 5) or not np.isin(folds, (0, 1, 2, 3)).all():
        raise PipelineError(
            f"{path}: 'folds' has shape {folds.shape}, expected {len(images)} x 5 "
            "with values 0 (unlabeled), 1 (train), 2 (valid), 3 (test)"
        )
    pixels = images.reshape(len(images), -1).astype(np.float32) / 255.0
    return Folds(pixels, folds.astype(np.int8))
