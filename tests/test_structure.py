"""The house reads top-down: each DVC stage runs its own module, declares exactly the code it
imports, and no stage imports another stage."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from pipeline import code
from pipeline.datasets import SECTIONS, SOURCES
from pipeline.datasets.sources import MODULES
from pipeline.params import STAGE_SECTIONS
from tests.conftest import ROOT

DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
STAGES = list(DVC)


def stage_spec(name: str) -> dict:
    spec = DVC[name]
    return spec.get("do", spec)


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_runs_the_module_of_its_own_name(stage):
    assert stage_spec(stage)["cmd"].split()[:4] == ["python", "-m", "pipeline", stage]
    assert (ROOT / "pipeline" / f"{stage}.py").is_file()


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_declares_exactly_the_code_it_imports(stage):
    declared = sorted(d for d in stage_spec(stage)["deps"] if d.startswith("pipeline/"))
    assert declared == code.closure(f"pipeline.{stage}")


@pytest.mark.parametrize("stage", STAGES)
def test_outputs_committed_to_git_survive_a_failed_run(stage):
    """DVC deletes an output before its stage runs unless it is persist: a committed result
    (cache: false) must stay as it was when its stage fails (the stage replaces it atomically)."""
    for kind in ("outs", "metrics", "plots"):
        for out in stage_spec(stage).get(kind, []):
            if isinstance(out, dict):
                ((path, options),) = out.items()
                if options.get("cache") is False:
                    assert options.get("persist") is True, path


@pytest.mark.parametrize("stage", STAGES)
def test_no_stage_imports_another(stage):
    others = {f"pipeline/{s}.py" for s in STAGES if s != stage}
    assert not others & set(code.closure(f"pipeline.{stage}"))


def test_the_closure_follows_function_level_imports_and_packages():
    train = code.closure("pipeline.train")
    assert "pipeline/parzen_window.py" in train and "pipeline/datasets/__init__.py" in train
    assert "pipeline/datasets/lfw.py" not in train  # the registry is plain data
    assert "pipeline/datasets/lfw.py" in code.closure("pipeline.preprocess")


def test_code_version_changes_with_the_code_of_any_file_of_the_closure(tmp_path, monkeypatch):
    """A comment, a docstring or the layout do not change the version (so they do not restart
    a training run); any change to what the code does does."""
    before = code.version("pipeline.parzen")
    original = (code.ROOT / "pipeline/parzen_window.py").read_text()
    copy = tmp_path / "pipeline"
    subprocess.run(["cp", "-r", str(code.ROOT / "pipeline"), str(copy)], check=True)
    monkeypatch.setattr(code, "ROOT", tmp_path)
    assert code.version("pipeline.parzen") == before
    edited = original.replace('"""', '"""Reworded. ', 1) + "\n# a comment\n\n"
    (copy / "parzen_window.py").write_text(edited)
    assert code.version("pipeline.parzen") == before
    (copy / "parzen_window.py").write_text(original + "\nLIMIT = 1\n")
    assert code.version("pipeline.parzen") != before
    assert code.version(
        "pipeline.parzen", frozenset({"pipeline/parzen_window.py"})
    ) == code.version("pipeline.parzen", frozenset({"pipeline/parzen_window.py"}))


def test_one_registry_names_every_dataset():
    assert set(MODULES) == set(SOURCES) == {s.source for s in SECTIONS.values()}
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    sections = {n for n, v in params.items() if isinstance(v, dict)}
    assert sections == set(SECTIONS) | set(STAGE_SECTIONS)


def test_help_lists_the_datasets_without_loading_torch():
    probe = "import sys; from pipeline.cli import app; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
    help_text = subprocess.run([sys.executable, "-m", "pipeline", "train", "--help"],
                               capture_output=True, text=True, cwd=ROOT).stdout  # fmt: skip
    assert all(name in help_text for name in SECTIONS)
