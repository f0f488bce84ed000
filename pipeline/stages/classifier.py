"""Stage `classifier`: train the section's classifier (classifier_nets.py; ``<section>.classifier``)
on its training rows and their labels with Adam and cross-entropy; report its accuracy on the
validation rows after every epoch and on the test rows once, at the end (the test rows never
choose anything). Its features score every run in stage `quality` (issue: "an in-pipeline
classifier", the offline stand-in for Inception-v3).

A section without labels (TFD, LFW) gets a note in place of a net, and no classifier metrics.
"""

from __future__ import annotations

import json
import time

import torch
import torch.nn.functional as F
from torch import Tensor

from pipeline import classifier_nets
from pipeline.artifacts import load_processed
from pipeline.datasets.sources import MODULES
from pipeline.params import ClassifierSpec, DatasetParams, Params, Split
from pipeline.paths import Paths
from pipeline.plumbing.errors import PipelineError
from pipeline.plumbing.files import outputs, put

NONE = "none.txt"  # what the classifier folder holds for a section without labels


@torch.no_grad()
def accuracy(net: torch.nn.Module, x: Tensor, y: Tensor) -> float:
    _, logits = classifier_nets.embed(net, x)
    return float((logits.argmax(1) == y).double().mean())


def labelled(ds: DatasetParams) -> dict[str, tuple[Tensor, Tensor]]:
    """Images and labels of the train, valid and test rows (preprocess's split of the same
    official files)."""
    paths = Paths(ds.name)
    if not paths.raw.is_dir():
        raise PipelineError(f"{paths.raw}: missing; run `python -m pipeline download {ds.name}`")
    assert isinstance(ds.split, Split)  # params: only row-split sources have labels
    found = MODULES[ds.source].labels(paths.raw)
    labels = ds.split.take(found.train, found.test)
    data = load_processed(ds.name)
    images = {"train": data.train, "valid_0": data.valid(0), "test_0": data.test(0)}
    for key, x in images.items():
        if len(x) != len(labels[key]):
            raise PipelineError(
                f"{paths.processed}: {key} has {len(x)} rows, the labels in "
                f"{paths.raw} {len(labels[key])}; rerun `dvc repro -f "
                f"preprocess@{ds.name}`"
            )
    return {
        k.split("_")[0]: (torch.from_numpy(images[k]), torch.from_numpy(labels[k])) for k in images
    }


def fit(spec: ClassifierSpec, data: dict[str, tuple[Tensor, Tensor]], name: str):
    """The trained net and its record: accuracy per epoch on valid, at the end on test."""
    torch.manual_seed(spec.seed)  # init and dropout
    order = torch.Generator().manual_seed(spec.seed)  # the shuffles
    net = classifier_nets.NETS[spec.net]()
    optimiser = torch.optim.Adam(net.parameters(), lr=spec.lr)
    x, y = data["train"]
    start, valid = time.perf_counter(), []
    for epoch in range(1, spec.epochs + 1):
        net.train()
        for batch in torch.randperm(len(x), generator=order).split(spec.batch_size):
            loss = F.cross_entropy(net(x[batch]), y[batch])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        valid.append(accuracy(net, *data["valid"]))
        print(
            f"{name} classifier epoch {epoch}/{spec.epochs} valid_accuracy={valid[-1]:.4f}",
            flush=True,
        )
    record = {
        "net": spec.net,
        "test_accuracy": accuracy(net, *data["test"]),
        "valid_accuracy": valid[-1],
        "valid_accuracy_by_epoch": valid,
        "n_train": len(x),
        "n_test": len(data["test"][0]),
        "classes": int(y.max()) + 1,
        "class_share": (torch.bincount(y) / len(y)).tolist(),  # of the training labels
        "epochs": spec.epochs,
        "train_seconds": round(time.perf_counter() - start, 1),
    }
    return net, record


def run(params: Params, ds: DatasetParams) -> None:
    paths = Paths(ds.name)
    if ds.classifier is None:
        record = {
            "classes": 0,
            "note": f"{ds.name}: no class labels used ({ds.source}); "
            "no classifier features, only pixel-space memorisation",
        }
        net = None
    else:
        net, record = fit(ds.classifier, labelled(ds), ds.name)
    with outputs() as out:  # the net and its record replaced together, or none
        folder = out.folder(paths.classifier)
        if net is None:
            put(folder / NONE, record["note"] + "\n")
        else:
            classifier_nets.save(net, ds.classifier.net, folder / classifier_nets.FILE)
        out.text(paths.classifier_record, json.dumps(record, indent=2) + "\n")
