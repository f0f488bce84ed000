"""Stage `preprocess`: the paper's splits as float32 arrays in one .npz per dataset
(``artifacts.Processed``: the Parzen stage chooses sigma on ``valid_<f>`` and scores ``test_<f>``).

- MNIST, CIFAR-10 (one fold): train and valid are row ranges of the official training file
  (MNIST: 0-50,000 and 50,000-60,000, sigma later chosen on 50,000-50,999; CIFAR-10: 0-40,000
  and 40,000-50,000), test the first rows of the official test file.
- TFD and LFW laid out as TFD (5 folds): train = the unlabeled split of fold ``train_fold``
  (Pylearn2 ``TFD(which_set='unlabeled')``), valid_f / test_f = fold f's valid / test splits.
"""

from __future__ import annotations

import numpy as np

from pipeline.artifacts import read_note, save_processed
from pipeline.datasets import SOURCES
from pipeline.datasets.files import Folds
from pipeline.datasets.sources import MODULES
from pipeline.params import DatasetParams, Params, Split
from pipeline.paths import Paths
from pipeline.plumbing.errors import PipelineError


def _array_splits(ds: DatasetParams, train: np.ndarray, test: np.ndarray) -> dict:
    split: Split = ds.split
    for key, (start, stop) in (("train", split.train), ("valid", split.valid)):
        if stop > len(train):
            raise PipelineError(
                f"{ds.name}.split.{key} = [{start}, {stop}] exceeds the {len(train)} training rows"
            )
    if split.test > len(test):
        raise PipelineError(f"{ds.name}.split.test = {split.test} exceeds {len(test)} rows")
    return split.take(train, test)


def _fold_splits(ds: DatasetParams, data: Folds) -> dict:
    if data.folds.shape[1] < ds.folds:
        raise PipelineError(
            f"{ds.name}.split.folds = {ds.folds} but the data have {data.folds.shape[1]} folds"
        )
    out = {"train": data.images[data.folds[:, ds.split.train_fold] == Folds.UNLABELED]}
    for f in range(ds.folds):
        out[f"valid_{f}"] = data.images[data.folds[:, f] == Folds.VALID]
        out[f"test_{f}"] = data.images[data.folds[:, f] == Folds.TEST]
    for key, rows in out.items():
        if len(rows) == 0:
            raise PipelineError(f"{ds.name}: the split {key!r} is empty in the folds matrix")
    if len(out["train"]) < ds.train.batch_size:
        raise PipelineError(
            f"{ds.name}: {len(out['train'])} unlabeled images, fewer than "
            f"{ds.name}.train.batch_size = {ds.train.batch_size}"
        )
    return out


def run(params: Params, ds: DatasetParams) -> None:
    paths = Paths(ds.name)
    if not paths.raw.is_dir():
        raise PipelineError(f"{paths.raw}: missing; run `python -m pipeline download {ds.name}`")
    try:
        data = MODULES[ds.source].read(paths.raw)
    except PipelineError as err:
        raise PipelineError(f"{err}; rerun `dvc repro -f download@{ds.name}`") from None
    if isinstance(data, Folds):
        splits = _fold_splits(ds, data)
    else:
        splits = _array_splits(ds, data.train, data.test)
    save_processed(ds.name, splits, read_note(paths.raw), SOURCES[ds.source].image_shape)
