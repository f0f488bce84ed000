"""How train shares the CPU: one seed per core side by side, one core per `dvc queue` worker's
experiment, $GAN_THREADS to say otherwise (pipeline/cpus.py)."""

import os

import pytest

from pipeline import cpus
from pipeline.plumbing.errors import PipelineError


def test_seeds_run_side_by_side_one_per_core_the_cores_shared_evenly():
    assert cpus.split(5, 2) == (2, 1)  # this project's CPU: two 1-thread runs at a time
    assert cpus.split(5, 16) == (5, 3)
    assert cpus.split(1, 16) == (1, 16)  # one seed takes every core
    assert cpus.split(3, 1) == (1, 1)


def test_a_queued_experiment_gets_one_core_and_gan_threads_overrides(tmp_path, monkeypatch):
    monkeypatch.delenv(cpus.THREADS_ENV, raising=False)
    copy = tmp_path / ".dvc" / "tmp" / "exps" / "tmp1234"  # where a queue worker runs it
    copy.mkdir(parents=True)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    monkeypatch.setenv("DVC_EXP_NAME", "k2")
    monkeypatch.chdir(copy)
    assert cpus.queued() and cpus.available() == 1
    monkeypatch.chdir(tmp_path)  # `dvc exp run` in the workspace: every core
    assert not cpus.queued() and cpus.available() == len(os.sched_getaffinity(0))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    monkeypatch.setenv(cpus.THREADS_ENV, "3")
    assert cpus.available() == 3


@pytest.mark.parametrize("value", ["0", "two", "-1", "", "999"])
def test_a_bad_gan_threads_is_one_error_naming_it(monkeypatch, value):
    monkeypatch.setenv(cpus.THREADS_ENV, value)
    with pytest.raises(PipelineError, match=rf"^\$GAN_THREADS is '{value}'; expected a whole "):
        cpus.available()
