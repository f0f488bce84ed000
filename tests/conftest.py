"""Shared fixtures: tiny but real configurations of the paper's setups (same structure as
params.yaml, a few hundred images, narrow nets) and a synthetic TFD_48x48.mat of TFD's layout."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from pipeline import params as P
from pipeline.datasets import SECTIONS

ROOT = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("GAN_DATA_MIRROR", ROOT.parent / "shared" / "datasets"))
ALL = list(SECTIONS)  # every params section, in the paper's order

torch.set_num_threads(1)  # tests are small; leave the other core to whatever else runs


def tiny_params_dict(datasets: list[str] = ("mnist",)) -> dict:
    """params.yaml with the paper's structure but a few hundred images and narrow nets."""
    p = copy.deepcopy(yaml.safe_load((ROOT / "params.yaml").read_text()))
    p["datasets"] = list(datasets)
    for name in ALL:
        d = p[name] = copy.deepcopy(p[name])  # undo YAML anchors: each section its own
        if "train" in d["split"]:
            d["split"] = {"train": [0, 400], "valid": [400, 600], "test": 200}
        g, disc = d["model"]["generator"], d["model"]["discriminator"]
        g["hidden"] = [32, 32]
        if g["deconv"]:
            g["deconv"]["channels"] = 2
            g["hidden"] = [32, 2 * 10 * 10]
        if g["extend"]:
            g["extend"]["hidden"] = [16, d["model"]["noise_dim"]]
        for conv in disc["conv"]:
            conv["channels"] = 4
        disc["units"] = [8] * len(disc["units"])
        phases = len(d["train"]["epochs"])
        # a cpu schedule shorter than the release one, as CIFAR-10's is
        d["train"].update(epochs=[3] * phases, cpu_epochs=[2] * phases, eval_every=1)
        d["train"]["batch_size"] = min(d["train"]["batch_size"], 100)
        d["parzen"].update(samples=300, batch=64)
        d["seeds"] = [0]
        if d["parzen"]["valid"] is not None:
            d["parzen"]["valid"] = 100
        if d["classifier"]:
            d["classifier"].update(epochs=1, batch_size=50)
    p["mnist"]["train"].update(epochs=[3], cpu_epochs=[2])
    p["mnist"]["seeds"] = [0, 1]  # several seeds, run side by side
    p["quality"].update(kid_subsets=10, kid_subset_size=100, is_splits=3)
    p["references"].update(kmeans=40, kmeans_iter=5, sample_sizes=[100, 300, 1000])
    return p


def write_tfd(path: Path, n: int = 600, seed: int = 0) -> dict:
    """A TFD_48x48.mat of the real layout: images n x 48 x 48 uint8; folds n x 5 (0 unlabeled,
    1 train, 2 valid, 3 test), identities in labs_id. Smooth blobs, not noise, so that a GAN and
    the Parzen window see structure."""
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:48, :48]
    centres = rng.uniform(12, 36, size=(n, 2))
    images = np.exp(-((yy - centres[:, :1, None]) ** 2 + (xx - centres[:, 1:, None]) ** 2) / 80)
    images = (255 * images).astype(np.uint8)
    folds = np.zeros((n, 5), dtype=np.uint8)
    labeled = np.arange(n) >= n // 2  # the first half unlabeled, as most of TFD is
    group = np.arange(n) % 5
    for f in range(5):
        folds[labeled, f] = 1
        folds[labeled & (group == f), f] = 3
        folds[labeled & (group == (f + 1) % 5), f] = 2
    content = {
        "images": images,
        "folds": folds,
        "labs_id": np.arange(n)[:, None] // 3,
        "labs_ex": np.zeros((n, 1), np.uint8),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(path, content)
    return content


@pytest.fixture
def tiny_dict() -> dict:
    return tiny_params_dict()


@pytest.fixture
def tiny(tmp_path, tiny_dict) -> P.Params:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(tiny_dict))
    return P.load(path)


@pytest.fixture
def tiny_all(tmp_path) -> P.Params:
    path = tmp_path / "params_all.yaml"
    path.write_text(yaml.safe_dump(tiny_params_dict(ALL)))
    return P.load(path)


@pytest.fixture(scope="session")
def mirror() -> Path:
    if not (MIRROR / "mnist" / "train-images-idx3-ubyte.gz").is_file():
        pytest.fail(f"MNIST mirror not found at {MIRROR}; set GAN_DATA_MIRROR")
    return MIRROR


def sh(*args, cwd, env, check=True) -> subprocess.CompletedProcess:
    """Run a command; unless `check` is off, fail the test with its output when it fails."""
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed:\n{result.stdout}\n{result.stderr}")
    return result


def tiny_repo(dest: Path, datasets: list[str], mirrors: list[Path]) -> tuple[Path, dict]:
    """A fresh git + DVC copy of this repository in `dest` (its code, and of its results only
    the long-run study's marks, which stage table reads) with the tiny params of `datasets`,
    committed, after one `dvc repro`; and the environment to run it in."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    studies = "metrics/studies/long-mnist/"  # an input of stage table that no stage makes
    for name in listed:
        results = name.startswith(("metrics/", "figures/", "dvc.lock"))
        if (ROOT / name).is_file() and (not results or name.startswith(studies)):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    (dest / "params.yaml").write_text(yaml.safe_dump(tiny_params_dict(datasets), sort_keys=False))
    env = {
        **os.environ,
        "GAN_DATA_MIRROR": os.pathsep.join(map(str, mirrors)),
        "OMP_NUM_THREADS": "1",
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    sh("git", "init", "-q", "-b", "main", cwd=dest, env=env)
    sh("git", "add", "-A", cwd=dest, env=env)
    sh("git", "commit", "-qm", "tiny configuration", cwd=dest, env=env)
    sh("dvc", "repro", cwd=dest, env=env)
    return dest, env


def write_run_record(dataset: str, phases: list[int], seeds: dict[str, dict]) -> None:
    """A run record (train.json) as `train` writes it, for the stages that read one."""
    from pipeline.paths import Paths

    record = {
        "k": 1,
        "update": "simultaneous",
        "generator_loss": "non_saturating",
        "precision": "fp32",
        "schedule": "cpu",
        "phases": phases,
        "epochs": sum(phases),
        "device": "cpu",
        "code": "",
        "seeds": seeds,
    }
    Paths(dataset).train_record.parent.mkdir(parents=True, exist_ok=True)
    Paths(dataset).train_record.write_text(json.dumps(record))
