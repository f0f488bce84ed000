"""Faults a long run meets, on a small MNIST configuration through the real command line (real
data from the mirror, real nets, 10 epochs of a few hundred milliseconds): every fault ends in
one line and a known exit status, and the last good outputs stay byte for byte as they were; a
run killed at any point and resumed ends exactly as an uninterrupted run."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pickle
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tarfile
import termios
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from pipeline.datasets import cifar10
from pipeline.datasets.cifar10 import PYTHON as CIFAR_PYTHON
from pipeline.plumbing.errors import PipelineError
from tests.conftest import ROOT, tiny_params_dict

pytestmark = pytest.mark.slow  # whole pipelines in scratch repositories: the full tier

EPOCHS = 10
OUTPUTS = ("data", "models", "metrics", "figures")  # what the stages write (not checkpoints/)
TIMING = {"epoch_seconds", "train_seconds"}


def fault_params() -> dict:
    p = tiny_params_dict()
    m = p["mnist"]
    m["split"] = {"train": [0, 2000], "valid": [2000, 2200], "test": 200}
    m["model"]["generator"]["hidden"] = [64, 64]
    m["model"]["discriminator"]["units"] = [32, 32]
    m["train"].update(epochs=[EPOCHS], cpu_epochs=[EPOCHS], eval_every=2)
    return p


@dataclass
class Work:
    root: Path
    env: dict
    reference: dict  # every output of one uninterrupted run of the stages

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pipeline", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
        )

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline", *args],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def write_params(self, name: str, edit=None, text: str | None = None) -> str:
        params = fault_params()
        if edit is not None:
            edit(params)
        path = self.root / name
        path.write_text(text if text is not None else yaml.safe_dump(params, sort_keys=False))
        return str(path)


def snapshot(root: Path, tops: tuple[str, ...] = OUTPUTS) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for top in tops
        for p in sorted((root / top).rglob("*"))
        if p.is_file()
    }


def same_run(a: dict[str, bytes], b: dict[str, bytes]) -> bool:
    """Equal outputs but for the wall times recorded in train's metrics.json."""

    def strip(files):
        out = dict(files)
        for name, data in files.items():
            if name.endswith("train.json"):
                record = json.loads(data)
                out[name] = {k: v for k, v in record.items() if k not in TIMING}
                out[name]["seeds"] = {
                    s: {k: v for k, v in r.items() if k not in TIMING}
                    for s, r in record["seeds"].items()
                }
        return out

    return strip(a) == strip(b)


@pytest.fixture(scope="module")
def work(tmp_path_factory, mirror) -> Work:
    root = tmp_path_factory.mktemp("faults")
    env = {**os.environ, "GAN_DATA_MIRROR": str(mirror), "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONUNBUFFERED", None)  # the trainer must flush its epoch lines itself
    w = Work(root, env, {})
    w.write_params("params.yaml")
    for stage in ("download", "preprocess", "train", "sample", "parzen"):
        result = w.cli(stage, "mnist")
        assert result.returncode == 0, result.stderr
    for stage in ("table", "figures"):
        assert w.cli(stage).returncode == 0
    w.reference = snapshot(root)
    return w


def state(work: Work, seed: int = 0) -> dict:
    return torch.load(work.root / f"checkpoints/mnist/seed-{seed}/state.pt", weights_only=True)


def workers_gone(work: Work) -> None:
    """Wait until no worker holds a seed's folder (a worker whose `train` was killed stops at
    the end of its step)."""
    deadline = time.monotonic() + 30
    for folder in (work.root / "checkpoints/mnist").glob("seed-*"):
        fd = os.open(folder, os.O_RDONLY)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    assert time.monotonic() < deadline, f"a worker still holds {folder}"
                    time.sleep(0.05)
        finally:
            os.close(fd)


@pytest.fixture
def kept_checkpoints(work):
    """The module's checkpoints as they were before the test (it trains other params)."""
    saved = work.root.parent / f"{work.root.name}-checkpoints"
    shutil.copytree(work.root / "checkpoints", saved)
    yield
    shutil.rmtree(work.root / "checkpoints")
    saved.rename(work.root / "checkpoints")


def slow_params(work: Work, name: str, lr: float) -> str:
    """Other params (a fresh run) whose epochs take long enough to be caught mid-way."""
    return work.write_params(name, lambda p: p["mnist"]["train"].update(lr=lr, batch_size=5))


def run_until(work: Work, line: str, sig: int, *args: str) -> tuple[int, str]:
    """Start `train mnist`, send `sig` once it prints `line`; its exit status and stderr."""
    proc = work.start("train", "mnist", *args)
    for out in proc.stdout:
        if line in out:
            proc.send_signal(sig)
            break
    _, stderr = proc.communicate(timeout=120)
    return proc.returncode, stderr


@pytest.mark.parametrize("after", [2, 7])
def test_sigkill_mid_run_then_resume_ends_exactly_as_an_uninterrupted_run(work, after):
    before = snapshot(work.root)
    line = f"mnist seed 0 epoch {after}/{EPOCHS}"
    status, _ = run_until(work, line, signal.SIGKILL, "--fresh")
    assert status == -signal.SIGKILL
    workers_gone(work)  # orphaned, they stopped at the end of their step
    assert snapshot(work.root) == before  # the last good outputs, byte for byte
    done = state(work)["done"]
    assert after <= done < EPOCHS
    result = work.cli("train", "mnist")
    assert result.returncode == 0, result.stderr
    assert f"mnist seed 0: resuming after epoch {done} of {EPOCHS}" in result.stdout
    assert same_run(snapshot(work.root), work.reference)  # weights byte for byte, same metrics


def test_ctrl_c_stops_at_the_end_of_a_step_and_the_run_resumes(work):
    before = snapshot(work.root)
    status, stderr = run_until(work, f"mnist seed 0 epoch 3/{EPOCHS}", signal.SIGINT, "--fresh")
    assert status == 130
    assert stderr.strip() == (
        "error: mnist: stopped by SIGINT; each seed keeps the checkpoint of its last finished "
        "epoch; rerun to resume"
    )  # one line: the workers it stopped say nothing
    assert snapshot(work.root) == before
    assert work.cli("train", "mnist").returncode == 0
    assert same_run(snapshot(work.root), work.reference)


def test_a_finished_run_rerun_trains_nothing_and_rewrites_the_same_bytes(work):
    """Stable bytes: same weights, same checkpoint files, so nothing downstream reruns."""
    assert work.cli("train", "mnist").returncode == 0
    before = snapshot(work.root)
    result = work.cli("train", "mnist")
    assert f"resuming after epoch {EPOCHS} of {EPOCHS}" in result.stdout
    assert "epoch_seconds" not in result.stdout  # no epoch was trained
    assert snapshot(work.root) == before


def test_what_a_kill_mid_write_leaves_is_swept_by_the_seed_s_next_run(work):
    """A kill during a checkpoint save leaves a temporary file (or a half-staged folder); the
    seed's next run removes it before it resumes (DVC ignores the pattern meanwhile:
    tests/test_structure.py)."""
    assert work.cli("train", "mnist").returncode == 0
    folder = work.root / "checkpoints/mnist/seed-0"
    leftovers = [folder / ".tmp-state.pt.k1ll3d.pt", folder / ".tmp-live.x7"]
    leftovers[0].write_bytes(b"half a checkpoint")
    leftovers[1].mkdir()
    result = work.cli("train", "mnist")
    assert result.returncode == 0 and f"resuming after epoch {EPOCHS}" in result.stdout
    assert not any(path.exists() for path in leftovers)


def test_changed_params_start_fresh_and_say_so(work):
    assert work.cli("train", "mnist").returncode == 0  # a finished checkpoint of params.yaml
    other = work.write_params("lr.yaml", lambda p: p["mnist"]["train"].update(lr=0.05))
    result = work.cli("train", "mnist", "--params", other)
    assert result.returncode == 0
    assert (
        f"mnist seed 1: starting fresh: the params differ from those of the checkpoint at epoch "
        f"{EPOCHS}" in result.stdout
    )
    assert not same_run(snapshot(work.root), work.reference)
    assert work.cli("train", "mnist").returncode == 0  # back to params.yaml's run, from scratch
    assert same_run(snapshot(work.root), work.reference)


def test_a_longer_schedule_a_collapse_rule_or_a_seed_added_back_resume_the_runs(work):
    """What decides only when a run stops, or which runs there are, never restarts one."""
    assert work.cli("train", "mnist").returncode == 0  # both seeds finished their 10 epochs
    more = EPOCHS + 2

    def longer(p, collapse=None, seeds=(0, 1)):
        p["mnist"]["train"].update(epochs=[more], cpu_epochs=[more], collapse=collapse)
        p["mnist"]["seeds"] = list(seeds)

    result = work.cli("train", "mnist", "--params", work.write_params("longer.yaml", longer))
    assert result.returncode == 0, result.stderr
    assert f"mnist seed 0: resuming after epoch {EPOCHS} of {more}" in result.stdout
    assert f"mnist seed 1 epoch {more}/{more} " in result.stdout
    record = json.loads((work.root / "metrics/datasets/mnist/train.json").read_text())
    assert record["schedule"] == "release"  # a cpu schedule of the release's epochs is its
    # every seed names the machine it trained on, once: the resumed epochs ran on the same one
    from pipeline import machine

    assert [r["machines"] for r in record["seeds"].values()] == [[machine.describe()]] * 2
    # a rule that every evaluated epoch (every 2nd here) meets: collapsed at the 3rd, no retraining
    rule = {"valid_parzen_below": 1e9, "spread_below": 1e9, "epochs": 3, "stop": True}
    ruled = work.write_params("ruled.yaml", lambda p: longer(p, rule))
    result = work.cli("train", "mnist", "--params", ruled)
    assert result.returncode == 0 and "epoch_seconds" not in result.stdout
    record = json.loads((work.root / "metrics/datasets/mnist/train.json").read_text())
    assert record["collapsed"] == 2
    # given after the run went on, the rule stops it where it is: collapsed since epoch 6
    assert [r["stopped_at"] for r in record["seeds"].values()] == [12, 12]
    assert [r["collapsed_epochs"] for r in record["seeds"].values()] == [[[6, 12]]] * 2
    # the same rule without stopping: the record says so, nothing retrains
    labels = work.write_params("labels.yaml", lambda p: longer(p, {**rule, "stop": False}))
    result = work.cli("train", "mnist", "--params", labels)
    assert result.returncode == 0 and "epoch_seconds" not in result.stdout
    record = json.loads((work.root / "metrics/datasets/mnist/train.json").read_text())
    seed = record["seeds"]["0"]
    assert seed["collapsed"] and seed["stopped_at"] is None and seed["collapse_epoch"] == 6
    # seed 0 left out, then back: it resumes where it was
    only_1 = work.write_params("only1.yaml", lambda p: longer(p, seeds=[1]))
    assert work.cli("train", "mnist", "--params", only_1).returncode == 0
    record = json.loads((work.root / "metrics/datasets/mnist/train.json").read_text())
    assert list(record["seeds"]) == ["1"]
    result = work.cli("train", "mnist", "--params", work.write_params("longer.yaml", longer))
    assert f"mnist seed 0: resuming after epoch {more} of {more}" in result.stdout


def test_a_run_that_stops_improving_stops_and_more_patience_resumes_it(work):
    """train.patience ends a run after that many evaluations (every 2nd epoch here) without a
    better validation score; it decides only when a run stops, so more patience continues the
    same run, as does the plateau rule in its place. Momentum 0.9 makes these small nets fall
    apart after epoch 10."""
    more = EPOCHS + 20

    def patient(p, patience):
        p["mnist"]["train"].update(
            epochs=[more], cpu_epochs=[more], patience=patience, momentum=[0.9, 0.9]
        )

    stopped = {}
    for patience in (1, 3):
        name = f"patience{patience}.yaml"
        result = work.cli(
            "train",
            "mnist",
            "--params",
            work.write_params(name, lambda p, n=patience: patient(p, n)),
        )
        assert result.returncode == 0, result.stderr
        record = json.loads((work.root / "metrics/datasets/mnist/train.json").read_text())
        for seed, run in record["seeds"].items():
            assert run["stopped_for"] == "no improvement"
            assert run["stopped_at"] == run["epochs_run"] == run["best_epoch"] + 2 * patience
            assert run["stopped_at"] < more
            assert f"NO IMPROVEMENT (best epoch {run['best_epoch']}): stopping" in result.stdout
            if seed in stopped:  # more patience: the same run, from where it stopped
                assert f"mnist seed {seed}: resuming after epoch {stopped[seed]} of {more}" in (
                    result.stdout
                )
            stopped[seed] = run["stopped_at"]
    # the plateau rule in patience's place, told that no gain is enough: both seeds resume and
    # stop at its first look, `after` epochs
    after = max(stopped.values()) + 4

    def flat(p):
        patient(p, None)
        p["mnist"]["train"]["plateau"] = {"gain_below": 1e9, "after": after}

    result = work.cli("train", "mnist", "--params", work.write_params("flat.yaml", flat))
    assert result.returncode == 0, result.stderr
    record = json.loads((work.root / "metrics/datasets/mnist/train.json").read_text())
    assert [(r["stopped_at"], r["stopped_for"]) for r in record["seeds"].values()] == [
        (after, "no improvement")
    ] * 2


def test_a_second_trainer_on_the_same_dataset_is_refused(work):
    first = work.start("train", "mnist", "--fresh")
    for out in first.stdout:
        if "mnist seed 0 epoch 1/" in out:
            first.send_signal(signal.SIGSTOP)  # holds its lock while the second one starts
            break
    second = work.cli("train", "mnist")
    first.send_signal(signal.SIGTERM)
    first.send_signal(signal.SIGCONT)
    first.communicate(timeout=120)
    assert second.returncode == 2
    assert second.stderr.strip() == (
        "error: checkpoints/mnist: another `train mnist` is running on it; wait for it or stop it"
    )
    assert first.returncode == 130  # SIGTERM: stopped at the end of a step, resumable


def test_a_diverged_run_leaves_the_previous_outputs(work):
    before = snapshot(work.root)
    bad = work.write_params("nan.yaml", lambda p: p["mnist"]["train"].update(lr=1.0e30))
    result = work.cli("train", "mnist", "--params", bad)
    assert result.returncode == 2
    assert re.match(
        r"error: mnist seed [01]: training diverged in epoch 1 of phase 1", result.stderr
    )
    assert len(result.stderr.strip().splitlines()) == 1  # said once, by `train`
    assert snapshot(work.root) == before


@pytest.mark.parametrize(
    ("edit", "text", "message"),
    [
        (
            lambda p: p["mnist"]["train"].update(lerning_rate=5),
            None,
            "unknown key 'mnist.train.lerning_rate' (expected one of ['batch_size', ",
        ),
        (lambda p: p.update(kk=3), None, "unknown key 'kk' (did you mean 'k'?)"),
        (None, "k: 1\nk: 2\n", "line 2: duplicate key 'k' (first given at line 1)"),
        (
            lambda p: p["mnist"].update(seeds=[2**70]),
            None,
            f"'mnist.seeds' is [{2**70}]; expected distinct integers in [0, 4294967295]",
        ),
        (
            lambda p: p["mnist"]["parzen"].update(samples=10**12),
            None,
            "'mnist.parzen.samples' is 1000000000000; expected at most ",
        ),
        (  # a schedule that would exhaust memory building its epochs, or never end
            lambda p: p["mnist"]["train"].update(cpu_epochs=[10**9]),
            None,
            "'mnist.train.cpu_epochs' is [1000000000]; expected an integer in [1, 100000] or ",
        ),
        (  # a layer that no memory holds
            lambda p: p["mnist"]["model"]["generator"].update(hidden=[10**10, 32]),
            None,
            "'mnist.model.generator.hidden' is [10000000000, 32]; expected widths of at most ",
        ),
        (  # sigma and the best epoch chosen partly on training rows
            lambda p: p["mnist"]["split"].update(train=[0, 500], valid=[400, 600]),
            None,
            "'mnist.split.valid' is [400, 600]; expected rows disjoint from 'train' [0, 500]",
        ),
        (
            lambda p: p.update(datasets=["mnist", "mnist"]),
            None,
            "'datasets' is ['mnist', 'mnist']; expected a list of distinct dataset section names",
        ),
    ],
)
def test_bad_params_are_one_line_and_change_nothing(work, edit, text, message):
    before = snapshot(work.root, (*OUTPUTS, "checkpoints"))
    bad = work.write_params("bad.yaml", edit, text)
    result = work.cli("train", "mnist", "--params", bad)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {bad}: {message}")
    assert len(result.stderr.strip().splitlines()) == 1
    assert snapshot(work.root, (*OUTPUTS, "checkpoints")) == before


def damaged(path: Path, data: bytes | None):
    """Context: `path` holds `data` (None: is missing) inside the block, its own bytes after."""

    class Damage:
        def __enter__(self):
            self.good = path.read_bytes()
            path.unlink()
            if data is not None:
                path.write_bytes(data)

        def __exit__(self, *exc):
            path.write_bytes(self.good)

    return Damage()


HALF = "half"  # the file's first half: a truncated copy


@pytest.mark.parametrize(
    ("stage", "file", "content", "message", "rerun"),
    [
        (
            "preprocess",
            "data/raw/mnist/t10k-images-idx3-ubyte.gz",
            HALF,
            "not a readable gzip archive",
            "rerun `dvc repro -f download@mnist`",
        ),
        (
            "train",
            "data/processed/mnist.npz",
            HALF,
            "unreadable, truncated or corrupt",
            "rerun `dvc repro -f preprocess@mnist`",
        ),
        (
            "train",
            "data/processed/mnist.npz",
            None,
            "missing",
            "rerun `dvc repro -f preprocess@mnist`",
        ),
        (
            "train",
            "checkpoints/mnist/seed-1/state.pt",
            HALF,
            "unreadable, truncated or corrupt",
            "delete it, or run `python -m pipeline train mnist --seed 1 --fresh`",
        ),
        (
            "sample",
            "models/mnist/seed-1/generator_best.pt",
            HALF,
            "unreadable, truncated or corrupt",
            "rerun `dvc repro train@mnist`",
        ),
        (
            "sample",
            "models/mnist/seed-1/generator_best.pt",
            None,
            "missing",
            "rerun `dvc repro train@mnist`",
        ),
        (
            "parzen",
            "data/samples/mnist/seed-1.npy",
            HALF,
            "unreadable, truncated or corrupt",
            "rerun `dvc repro sample@mnist`",
        ),
        (
            "parzen",
            "data/samples/mnist/seed-1.npy",
            None,
            "missing",
            "rerun `dvc repro sample@mnist`",
        ),
    ],
)
def test_a_missing_truncated_or_corrupt_file_is_one_line_naming_it_and_its_stage(
    work, stage, file, content, message, rerun
):
    assert work.cli("train", "mnist").returncode == 0  # the checkpoint exists
    path = work.root / file
    with damaged(path, path.read_bytes()[: path.stat().st_size // 2] if content else None):
        before = snapshot(work.root)
        result = work.cli(stage, "mnist")
        assert snapshot(work.root) == before
    assert result.returncode == 2
    line = result.stderr.strip()
    assert line.startswith(f"error: {file}: {message}") and line.endswith(rerun)
    assert "\n" not in line


def torch_bytes(obj) -> bytes:
    out = io.BytesIO()
    torch.save(obj, out)
    return out.getvalue()


def npz_bytes(**arrays) -> bytes:
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


@pytest.mark.parametrize(
    ("stage", "file", "content", "message"),
    [
        ("train", "checkpoints/mnist/seed-1/state.pt", [1, 2], "not a training checkpoint"),
        ("train", "checkpoints/mnist/seed-1/state.pt", "tensor", "not a training checkpoint"),
        ("train", "checkpoints/mnist/seed-1/state.pt", b"\x80\x04random bytes", "unreadable"),
        ("sample", "models/mnist/seed-1/generator_best.pt", {"epoch": 3}, "not a generator"),
        ("sample", "models/mnist/seed-1/generator_best.pt", {"state_dict": {}}, "not a generator"),
        ("train", "data/processed/mnist.npz", "no train", "not mnist's processed data (no 'train'"),
        ("train", "data/processed/mnist.npz", "narrow", "not mnist's processed data ('train' of"),
    ],
)
def test_a_readable_file_of_the_wrong_kind_is_one_line_naming_it(
    work, stage, file, content, message
):
    """A torch file or an npz that opens but holds something else: one error naming the file,
    what it should hold and what makes it again, and nothing written."""
    path = work.root / file
    if content == "tensor":
        data = torch_bytes(torch.zeros(3))
    elif content in ("no train", "narrow"):
        with np.load(path) as found:
            arrays = dict(found)
        if content == "no train":
            del arrays["train"]
        else:
            arrays["train"] = arrays["train"][:, :10]
        data = npz_bytes(**arrays)
    else:
        data = content if isinstance(content, bytes) else torch_bytes(content)
    with damaged(path, data):
        before = snapshot(work.root)
        result = work.cli(stage, "mnist")
        assert snapshot(work.root) == before
    assert result.returncode == 2, result.stderr
    line = result.stderr.strip()
    assert line.startswith(f"error: {file}: {message}") and "\n" not in line, line


class RunsCode:
    """Unpickling this would run a shell command; a weights_only load must refuse it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_carrying_a_pickled_object_is_refused(work):
    path, marker = work.root / "models/mnist/seed-0/generator_best.pt", work.root / "pwned"
    G = torch.load(path, weights_only=True)
    G["payload"] = RunsCode(marker)
    buffer = path.with_suffix(".evil")
    torch.save(G, buffer)
    with damaged(path, buffer.read_bytes()):
        before = snapshot(work.root)
        result = work.cli("sample", "mnist")
        assert snapshot(work.root) == before
    assert result.returncode == 2
    assert result.stderr.startswith(
        "error: models/mnist/seed-0/generator_best.pt: refused: it holds pickled objects"
    )
    assert not marker.exists()


def in_mount_namespace(work: Work, setup: str, stage: str, watched: str):
    """Run `setup` (mounts) then `python -m pipeline <stage> mnist` in a private mount
    namespace; returns the result and the sha256 of every file in `watched` seen from inside."""
    unshare = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
    script = (
        f"set -e; {setup}; set +e; {sys.executable} -m pipeline {stage} mnist; rc=$?; "
        f"find {watched} -type f | sort | xargs sha256sum; exit $rc"
    )
    result = subprocess.run(
        [*unshare, "sh", "-c", script], cwd=work.root, env=work.env, capture_output=True, text=True
    )
    assert "unshare" not in result.stderr, result.stderr  # the namespace itself worked
    return result


def sha256_listing(work: Work, watched: str) -> str:
    return subprocess.run(
        f"find {watched} -type f | sort | xargs sha256sum",
        shell=True,
        cwd=work.root,
        capture_output=True,
        text=True,
    ).stdout


def test_a_read_only_output_directory_is_one_line(work):
    watched = "metrics/datasets/mnist"
    before = sha256_listing(work, watched)
    result = in_mount_namespace(
        work,
        f"mount --bind {watched} {watched}; mount -o remount,bind,ro {watched}",
        "parzen",
        watched,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"error: {watched}/")
    assert result.stderr.strip().endswith(": Read-only file system")
    assert result.stdout.strip() == before.strip()


def test_a_full_disk_is_one_line_and_keeps_the_old_files(work):
    """The outputs' directory on a small disk filled to the last byte."""
    watched = "metrics/datasets/mnist"
    before = sha256_listing(work, watched)
    setup = (
        f"cp -a {watched} /tmp/.saved-$$; mount -t tmpfs -o size=256k tmpfs {watched}; "
        f"cp -a /tmp/.saved-$$/. {watched}/; rm -r /tmp/.saved-$$; "
        f"dd if=/dev/zero of={watched}/.filler bs=4k 2>/dev/null || true"
    )
    result = in_mount_namespace(work, setup, "parzen", f"{watched} ! -name .filler")
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"error: {watched}/")
    assert result.stderr.strip().endswith(": No space left on device")
    assert result.stdout.strip() == before.strip()


@pytest.mark.parametrize("shell", ["/bin/bash", ""])  # "": DVC falls back to /bin/sh
def test_a_killed_dvc_takes_its_trainer_with_it(work, shell):
    """`dvc repro` killed with SIGKILL: its trainer sees it die (through the shell DVC runs it
    with, which may stay in between), stops at the end of a step with a checkpoint, and the next
    `dvc repro` resumes it."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{work.env['PATH']}"
    env = {**work.env, "PATH": path, "SHELL": shell}
    (work.root / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text())
    if not (work.root / "pipeline").exists():
        (work.root / "pipeline").symlink_to(ROOT / "pipeline")  # the code deps dvc.yaml names
    subprocess.run(["dvc", "init", "--no-scm", "-q", "-f"], cwd=work.root, env=env, check=True)
    subprocess.run(["dvc", "repro", "-q", "preprocess@mnist"], cwd=work.root, env=env, check=True)
    subprocess.run(["rm", "-r", "checkpoints/mnist"], cwd=work.root, check=True)
    before = snapshot(work.root)
    dvc = subprocess.Popen(
        ["dvc", "repro", "train@mnist"],
        cwd=work.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for out in dvc.stdout:
        if f"mnist seed 0 epoch 2/{EPOCHS}" in out:
            break
    trainer = trainer_pid(dvc.pid)
    dvc.kill()
    dvc.wait()
    deadline = time.monotonic() + 30
    while alive(trainer) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(trainer)
    assert state(work)["done"] < EPOCHS
    assert snapshot(work.root) == before  # persist outs: DVC did not delete them either
    result = subprocess.run(
        ["dvc", "repro", "train@mnist"], cwd=work.root, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mnist seed 0: resuming after epoch " in result.stdout
    assert same_run(snapshot(work.root), work.reference)


def trainer_pid(parent: int) -> int:
    """The `pipeline train` process under `parent` (DVC runs it through $SHELL -c)."""
    for _ in range(3):
        children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        for child in map(int, children):
            if b"pipeline\0train" in Path(f"/proc/{child}/cmdline").read_bytes():
                return child
        parent = int(children[0])
    raise AssertionError("no trainer under dvc")


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def on_a_terminal(work: Work, *args: str) -> str:
    """What `python -m pipeline train mnist <args>` shows on a 120-column terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "train", "mnist", *args],
        cwd=work.root,
        env=work.env,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    screen = b""
    while select.select([master], [], [], 60)[0]:
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:  # the trainer closed its end
            break
        if not chunk:
            break
        screen += chunk
    assert proc.wait() == 0
    return screen.decode()


def test_progress_bars_show_on_a_terminal_only(work):
    """One seed: a bar over epochs and one inside each epoch, with elapsed time and ETA; several
    seeds side by side: one bar over all their epochs, under their lines. Nothing when stderr is
    not a terminal (every other test here checks that stderr is empty or one line)."""
    text = on_a_terminal(work, "--fresh", "--seed", "0")
    assert f"| 0/{EPOCHS} [00:00<?, ?epoch/s]" in text  # over epochs
    assert "epoch 1:" in text and "step/s]" in text  # inside an epoch, with the rate
    assert f"mnist seed 0 epoch {EPOCHS}/{EPOCHS} " in text  # the per-epoch lines stay readable
    text = on_a_terminal(work, "--fresh")
    assert "mnist, 2 seeds: " in text and f"| {2 * EPOCHS}/{2 * EPOCHS} [" in text
    assert f"mnist seed 1 epoch {EPOCHS}/{EPOCHS} " in text


@pytest.mark.parametrize("stage", ["table", "figures"])
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"step": 1}', "incomplete (no k, update, generator_loss, precision, schedule, "),
        (b'{"step": 1, "loss', "not valid JSON"),
        (None, "missing"),
    ],
)
def test_results_stages_given_a_stub_name_the_stage_to_rerun(work, stage, content, message):
    """A failed train used to leave {"step": 1}; `table` and `figures` then raised KeyError."""
    path = work.root / "metrics/datasets/mnist/train.json"
    good = path.read_bytes()
    try:
        path.unlink()
        if content is not None:
            path.write_bytes(content)
        before = snapshot(work.root)
        result = work.cli(stage)
        assert snapshot(work.root) == before
    finally:
        path.write_bytes(good)
    assert result.returncode == 2
    line = result.stderr.strip()
    assert line.startswith(f"error: metrics/datasets/mnist/train.json: {message}")
    assert line.endswith("rerun `dvc repro train@mnist`") and "\n" not in line


# written by the parzen stage of older code (commit dd222ee), kept as it was
OLDER_LFW_SCORE = Path(__file__).parent / "data/lfw_parzen_older_code.json"


def test_results_older_code_made_wait_for_their_rerun_without_stopping_table_or_figure(work):
    """LFW's score as committed before seeds were an axis (commit dd222ee: no per-seed scores,
    no run record), with a panel, beside a current MNIST run: Table 1 marks LFW's cell pending
    and names the command, Figure 2 leaves its panel out, and MNIST's column and panel are built
    as before."""
    root = work.root
    older = {
        root / "metrics/datasets/lfw/parzen.json": OLDER_LFW_SCORE,
        root / "figures/datasets/lfw/figure2.png": ROOT / "figures/datasets/mnist/figure2.png",
    }
    assert "seeds" not in json.loads(older[root / "metrics/datasets/lfw/parzen.json"].read_text())
    built = [root / "metrics" / n for n in ("table1.md", "table1.csv", "beyond.md", "beyond.csv")]
    built.append(root / "figures/figure2.png")
    kept = {path: path.read_bytes() for path in built}
    try:
        for path, source in older.items():
            path.parent.mkdir(parents=True)
            path.write_bytes(source.read_bytes())
        table, figures = work.cli("table"), work.cli("figures")
        assert table.returncode == 0 and figures.returncode == 0, table.stderr + figures.stderr
        written = (root / "metrics/table1.md").read_text()
        figure = plt_imread(root / "figures/figure2.png")
        reference = plt_imread(io.BytesIO(work.reference["figures/figure2.png"]))
    finally:
        for path in older:
            path.unlink(missing_ok=True)
            path.parent.rmdir()
        for path, data in kept.items():
            path.write_bytes(data)
    ours = next(r for r in written.splitlines() if r.startswith("| Adversarial nets (this"))
    mnist, tfd, lfw = ours.split(" | ")[1:4]
    assert mnist.endswith("(2 of 2 seeds; 0 collapsed)") and lfw == "— (rerun pending)"
    note = ours.split(" | ")[-1].removesuffix(" |")  # the row's source: a numbered note
    explained = next(line for line in written.splitlines() if line.startswith(note + " "))
    assert "LFW 48×48, TFD protocol: results of older code" in explained
    assert explained.endswith("rerun `dvc repro parzen@lfw`")
    assert "figures: no panel for lfw: results of older code" in figures.stdout
    assert figure.shape == reference.shape  # MNIST's panel alone, as before


def plt_imread(source) -> np.ndarray:
    import matplotlib.image

    return matplotlib.image.imread(source, format="png")


def test_cifar_pickles_are_opened_only_from_the_official_archive(tmp_path):
    """An archive named like the official one but with other bytes (a tampered cache or remote)
    is refused before any member is unpickled."""
    marker = tmp_path / "pwned"
    payload = pickle.dumps(RunsCode(marker))
    with tarfile.open(tmp_path / CIFAR_PYTHON.name, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    with pytest.raises(
        PipelineError,
        match=f"expected the official {CIFAR_PYTHON.md5}; its pickles were not opened",
    ):
        cifar10.read(tmp_path)
    assert not marker.exists()


def test_a_seed_outside_the_list_names_the_params_file_given(work):
    other = work.write_params("other.yaml", None)
    result = work.cli("train", "mnist", "--params", other, "--seed", "7")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"error: {other}: 'mnist.seeds' is [0, 1]; --seed 7 is not")


def test_a_train_that_cannot_write_one_output_replaces_none_and_names_it(work, kept_checkpoints):
    """Its generators go to models/, its logs and record to metrics/datasets/<ds>/: with the
    second read-only (as a full disk would also refuse), the first keeps the old run too."""
    assert work.cli("train", "mnist").returncode == 0
    other = work.write_params("lr-ro.yaml", lambda p: p["mnist"]["train"].update(lr=0.05))
    watched = "models/mnist metrics/datasets/mnist"
    before = sha256_listing(work, watched)
    ro = "metrics/datasets/mnist"
    result = in_mount_namespace(
        work,
        f"mount --bind {ro} {ro}; mount -o remount,bind,ro {ro}",
        f"train --params {other}",
        watched,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {ro}/train: Read-only file system"
    assert result.stdout.strip().endswith(before.strip())  # after the epochs' lines: the same


def test_a_params_file_changed_while_train_runs_replaces_no_output(work, kept_checkpoints):
    """What a second `dvc exp run` in the same workspace does to the first: it writes its `-S`
    values into the params file the first is running from."""
    assert work.cli("train", "mnist").returncode == 0
    before = snapshot(work.root)
    racing = slow_params(work, "racing.yaml", lr=0.05)
    proc = work.start("train", "mnist", "--params", racing)
    for line in proc.stdout:
        if "starting fresh" in line:
            break
    Path(racing).write_text(Path(racing).read_text().replace("lr: 0.05", "lr: 0.06"))
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 2
    assert len(stderr.strip().splitlines()) == 1
    assert stderr.strip().endswith(
        f"{racing}: changed while this stage ran (a second `dvc exp run` in this workspace?); "
        "no output was replaced. Run experiments side by side with `dvc exp run --queue` then "
        "`dvc queue start`, or `dvc exp run --temp`"
    )
    assert snapshot(work.root) == before


def test_a_params_change_stopped_before_its_first_save_keeps_the_old_resume_point(
    work, kept_checkpoints
):
    assert work.cli("train", "mnist").returncode == 0
    states = sorted((work.root / "checkpoints/mnist").glob("seed-*/state.pt"))
    before = {path: path.read_bytes() for path in states}
    mistaken = slow_params(work, "mistaken.yaml", lr=0.5)
    status, _ = run_until(work, "starting fresh", signal.SIGINT, "--params", mistaken)
    assert status == 130
    result = work.cli("train", "mnist")
    assert result.returncode == 0
    assert result.stdout.count(f"resuming after epoch {EPOCHS} of {EPOCHS}") == len(states)
    assert {path: path.read_bytes() for path in states} == before
