"""The house reads top-down: each DVC stage runs its own module in pipeline/stages/, declares
exactly the code that decides its numbers (what it imports, less the plumbing), and no stage
imports another stage. The plumbing decides no number: it touches no tensor and no output byte,
so rewording it leaves `dvc status` clean and every checkpoint resumable."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline import code
from pipeline.datasets import SECTIONS, SOURCES
from pipeline.datasets.sources import MODULES
from pipeline.params import STAGE_SECTIONS
from pipeline.plumbing.files import atomic_dir, write_text
from pipeline.stages import train
from tests.conftest import ROOT

DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
STAGES = list(DVC)


def stage_spec(name: str) -> dict:
    spec = DVC[name]
    return spec.get("do", spec)


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_runs_the_module_of_its_own_name(stage):
    assert stage_spec(stage)["cmd"].split()[:4] == ["python", "-m", "pipeline", stage]
    assert (ROOT / "pipeline" / "stages" / f"{stage}.py").is_file()


def test_every_module_in_stages_is_a_stage():
    modules = {p.stem for p in (ROOT / "pipeline" / "stages").glob("*.py")} - {"__init__"}
    assert modules == set(STAGES)


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_declares_exactly_the_code_it_imports(stage):
    declared = sorted(d for d in stage_spec(stage)["deps"] if d.startswith("pipeline/"))
    assert declared == code.closure(f"pipeline.stages.{stage}")
    assert not any(d.startswith("pipeline/plumbing/") for d in declared)


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
    others = {f"pipeline/stages/{s}.py" for s in STAGES if s != stage}
    assert not others & set(code.closure(f"pipeline.stages.{stage}", plumbing=True))


def test_the_closure_follows_function_level_imports_and_packages():
    train = code.closure("pipeline.stages.train")
    assert "pipeline/parzen_window.py" in train and "pipeline/datasets/__init__.py" in train
    assert "pipeline/datasets/lfw.py" not in train  # the registry is plain data
    assert "pipeline/datasets/lfw.py" in code.closure("pipeline.stages.preprocess")


def test_code_version_changes_with_the_code_of_any_file_of_the_closure(tmp_path, monkeypatch):
    """A comment, a docstring or the layout do not change the version (so they do not restart
    a training run); any change to what the code does does."""
    before = code.version("pipeline.stages.parzen")
    original = (code.ROOT / "pipeline/parzen_window.py").read_text()
    copy = tmp_path / "pipeline"
    subprocess.run(["cp", "-r", str(code.ROOT / "pipeline"), str(copy)], check=True)
    monkeypatch.setattr(code, "ROOT", tmp_path)
    assert code.version("pipeline.stages.parzen") == before
    edited = original.replace('"""', '"""Reworded. ', 1) + "\n# a comment\n\n"
    (copy / "parzen_window.py").write_text(edited)
    assert code.version("pipeline.stages.parzen") == before
    (copy / "parzen_window.py").write_text(original + "\nLIMIT = 1\n")
    assert code.version("pipeline.stages.parzen") != before
    assert code.version(
        "pipeline.stages.parzen", frozenset({"pipeline/parzen_window.py"})
    ) == code.version("pipeline.stages.parzen", frozenset({"pipeline/parzen_window.py"}))


def test_one_registry_names_every_dataset():
    assert set(MODULES) == set(SOURCES) == {s.source for s in SECTIONS.values()}
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    sections = {n for n, v in params.items() if isinstance(v, dict)}
    assert sections == set(SECTIONS) | set(STAGE_SECTIONS)


def test_help_lists_the_datasets_without_loading_torch():
    probe = "import sys; from pipeline.cli import app; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
    help_text = subprocess.run(
        [sys.executable, "-m", "pipeline", "train", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    assert all(name in help_text for name in SECTIONS)


PLUMBING = sorted((ROOT / "pipeline" / "plumbing").glob("*.py"))


@pytest.mark.parametrize("path", PLUMBING, ids=lambda p: p.name)
def test_the_plumbing_touches_no_tensor_and_imports_nothing_that_computes(path):
    """No torch, no NumPy, no pipeline module outside the plumbing: it cannot change a number."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        for name in names:
            assert name.split(".")[0] not in {"torch", "numpy", "dvclive", "pandas"}, name
            assert not name.startswith("pipeline") or code.is_plumbing(name), name


def test_an_atomic_write_keeps_the_bytes_it_is_given(tmp_path):
    text = "step\tvalid_parzen\n1\t2.5e-06\nσ ± 0.1\n"
    write_text(tmp_path / "log.tsv", text)
    assert (tmp_path / "log.tsv").read_bytes() == text.encode()
    with atomic_dir(tmp_path / "models") as staged:
        (staged / "generator.pt").write_bytes(bytes(range(256)))
    assert (tmp_path / "models" / "generator.pt").read_bytes() == bytes(range(256))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.tsv", "models"]


def checkout_copy(dest: Path) -> Path:
    """This work tree's tracked and new files (no data, no cache), in a git repository of its
    own: what a fresh clone holds."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    return dest


def dvc_status(where: Path) -> dict:
    dvc = Path(sys.executable).with_name("dvc")
    out = subprocess.run(
        [str(dvc), "status", "--json"], cwd=where, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def changed_code_or_params(status: dict) -> list[str]:
    """The stages whose recorded code or params differ from the files: what makes a committed
    result stale (missing data and outputs aside, as on any fresh clone)."""
    stale = []
    for stage, changes in status.items():
        for change in changes:
            deps = change.get("changed deps", {}) if isinstance(change, dict) else {}
            for path, what in deps.items():
                if path.startswith("pipeline/") or path.endswith(".yaml"):
                    stale.append(f"{stage}: {path} {what}")
    return stale


def test_dvc_lock_records_the_committed_code_and_params(tmp_path):
    """`dvc status` on a fresh clone: outputs and data missing from the cache, never a modified
    code dependency or param."""
    assert changed_code_or_params(dvc_status(checkout_copy(tmp_path))) == []


def test_rewording_the_plumbing_leaves_dvc_status_clean_and_checkpoints_resumable(
    tmp_path, monkeypatch
):
    where = checkout_copy(tmp_path)
    before = dvc_status(where)
    monkeypatch.setattr(code, "ROOT", where)
    trained_by = code.version("pipeline.adversarial", frozenset(train.NOT_COMPUTING))
    edits = {  # a log line, an error message, an error class's wording
        "pipeline/plumbing/progress.py": (": resuming after epoch", ": continuing after epoch"),
        "pipeline/plumbing/supervise.py": ("another `train", "a second `train"),
        "pipeline/plumbing/errors.py": ("(exit 2)", "(exit status 2)"),
    }
    for name, (old, new) in edits.items():
        text = (where / name).read_text()
        assert old in text, name
        (where / name).write_text(text.replace(old, new))
    assert dvc_status(where) == before
    assert code.version("pipeline.adversarial", frozenset(train.NOT_COMPUTING)) == trained_by


def test_dvc_never_caches_a_temporary_that_a_kill_left(tmp_path):
    """Atomic writes name their temporaries .tmp-<name>.<random> (plumbing/files.py); DVC
    ignores the pattern, so a checkpoint folder cached after a kill holds none."""
    where = checkout_copy(tmp_path)
    dvc = Path(sys.executable).with_name("dvc")
    for name in ("checkpoints/mnist/seed-0/.tmp-state.pt.k1ll3d.pt", "models/.tmp-mnist.old"):
        ignored = subprocess.run([str(dvc), "check-ignore", name], cwd=where, capture_output=True)
        assert ignored.returncode == 0, name
    kept = subprocess.run([str(dvc), "check-ignore", "models/mnist"], cwd=where)
    assert kept.returncode == 1
