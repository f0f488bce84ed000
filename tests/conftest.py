"""Shared fixtures: a tiny but real configuration of the paper's MNIST setup."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import torch
import yaml

from pipeline import params as P

ROOT = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("GAN_DATA_MIRROR", ROOT.parent / "shared" / "datasets"))

torch.set_num_threads(1)  # tests are small; leave the other core to whatever else runs


def tiny_params_dict() -> dict:
    """params.yaml with the paper's structure but a few hundred images and narrow nets."""
    p = yaml.safe_load((ROOT / "params.yaml").read_text())
    m = p["mnist"]
    m["split"] = {"train": [0, 400], "valid": [400, 600], "test": 200}
    m["model"]["generator"]["hidden"] = [32, 32]
    m["model"]["discriminator"]["units"] = [8, 8]
    m["train"].update(epochs=2, eval_every=1)
    m["parzen"].update(samples=300, valid=100, batch=64)
    return p


@pytest.fixture
def tiny_dict() -> dict:
    return copy.deepcopy(tiny_params_dict())


@pytest.fixture
def tiny(tmp_path, tiny_dict) -> P.Params:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(tiny_dict))
    return P.load(path)


@pytest.fixture(scope="session")
def mirror() -> Path:
    if not (MIRROR / "mnist" / "train-images-idx3-ubyte.gz").is_file():
        pytest.fail(f"MNIST mirror not found at {MIRROR}; set GAN_DATA_MIRROR")
    return MIRROR
