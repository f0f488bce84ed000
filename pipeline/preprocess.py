"""Stage `preprocess`: the paper's splits as float32 arrays in one .npz per dataset.

MNIST (recipe, "training data" and "Parzen-window evaluation"): pixels in [0, 1]; train = rows
0-50,000 of the official training file, valid = rows 50,000-60,000 (sigma is later chosen on its
first 1,000 rows, i.e. 50,000-50,999), test = the official 10,000 test images.
"""

from __future__ import annotations

import numpy as np

from pipeline.errors import PipelineError
from pipeline.params import DatasetParams, Params
from pipeline.paths import Paths, atomic_path
from pipeline.sources import SOURCES


def run(params: Params, ds: DatasetParams) -> None:
    paths = Paths(ds.name)
    if not paths.raw.is_dir():
        raise PipelineError(f"{paths.raw}: missing; run `python -m pipeline download {ds.name}`")
    train, test = SOURCES[ds.source].read(paths.raw)
    for key, (start, stop) in (("train", ds.split.train), ("valid", ds.split.valid)):
        if stop > len(train):
            raise PipelineError(
                f"{ds.name}.split.{key} = [{start}, {stop}] exceeds the {len(train)} training rows"
            )
    if ds.split.test > len(test):
        raise PipelineError(f"{ds.name}.split.test = {ds.split.test} exceeds {len(test)} rows")
    with atomic_path(paths.processed) as tmp, open(tmp, "wb") as f:
        np.savez(
            f,
            train=train[slice(*ds.split.train)],
            valid=train[slice(*ds.split.valid)],
            test=test[: ds.split.test],
        )


def load(dataset: str) -> dict[str, np.ndarray]:
    path = Paths(dataset).processed
    if not path.is_file():
        raise PipelineError(f"{path}: missing; run `python -m pipeline preprocess {dataset}`")
    with np.load(path) as data:
        return {key: data[key] for key in data.files}
