"""`relock` carries a stage's dvc.lock entry across a code change shown to compute the same
outputs: the code deps take the files' present hashes, everything else of the entry stays, and
anything that is not a code change is refused."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from pipeline.plumbing.errors import PipelineError
from pipeline.tools.relock import carried, dump, new_params
from tests.test_structure import changed_code_or_params, checkout_copy, dvc_status

ENTRY = {
    "cmd": "python -m pipeline parzen mnist",
    "deps": [
        {"path": "pipeline/old.py", "hash": "md5", "md5": "0" * 32, "size": 1},
        {"path": "data/samples/mnist", "hash": "md5", "md5": "1" * 32 + ".dir", "size": 9},
    ],
    "params": {"params.yaml": {"mnist.seeds": [0, 1]}},
    "outs": [{"path": "metrics/datasets/mnist/parzen.json", "hash": "md5", "md5": "2" * 32}],
}


def test_a_carried_entry_keeps_its_params_outputs_and_data_and_takes_the_code_as_it_is():
    new = carried(ENTRY, "parzen@mnist", ENTRY["cmd"], ["pipeline/paths.py", "data/samples/mnist"])
    assert new["params"] == ENTRY["params"] and new["outs"] == ENTRY["outs"]
    assert new["deps"][0] == ENTRY["deps"][1]  # sorted by path, as DVC writes them
    assert new["deps"][1]["path"] == "pipeline/paths.py" and len(new["deps"][1]["md5"]) == 32


@pytest.mark.parametrize(
    "cmd, deps, message",
    [
        ("python -m pipeline parzen lfw", ["data/samples/mnist"], "rerun it"),
        (ENTRY["cmd"], ["data/samples/lfw"], "depends on ['data/samples/lfw']"),
    ],
)
def test_a_changed_command_or_data_dependency_is_not_carried(cmd, deps, message):
    with pytest.raises(PipelineError, match=message.replace("[", r"\[")):
        carried(ENTRY, "parzen@mnist", cmd, deps)


def test_a_new_param_is_recorded_at_its_value_and_a_changed_one_is_refused():
    deps = ["pipeline/paths.py", "data/samples/mnist"]
    present = {"params.yaml": {"mnist.seeds": [0, 1], "kernels": "eager"}}
    added = new_params("parzen@mnist", {"params.yaml": {"kernels": "new"}}, present)
    new = carried(ENTRY, "parzen@mnist", ENTRY["cmd"], deps, added)
    assert new["params"] == {"params.yaml": {"kernels": "eager", "mnist.seeds": [0, 1]}}
    with pytest.raises(PipelineError, match="'mnist.seeds', now modified; rerun it"):
        new_params("parzen@mnist", {"params.yaml": {"mnist.seeds": "modified"}}, present)


def test_a_section_that_only_gained_a_knob_is_recorded_anew_and_one_changed_within_is_refused():
    then = {"mnist.train": {"lr": 0.1, "collapse": {"epochs": 3}, "patience": None}}
    now = {"lr": 0.1, "collapse": {"epochs": 3, "stop": False}, "patience": None, "plateau": None}
    status = {"params.yaml": {"mnist.train": "modified"}}
    added = new_params("x", status, {"params.yaml": {"mnist.train": now}}, {"params.yaml": then})
    assert added == {"params.yaml": {"mnist.train": now}}
    entry = {**ENTRY, "params": {"params.yaml": then}}
    deps = ["pipeline/paths.py", "data/samples/mnist"]
    assert carried(entry, "x", ENTRY["cmd"], deps, added)["params"]["params.yaml"] == {
        "mnist.train": now
    }
    for changed in ({**now, "lr": 0.2}, {"lr": 0.1, "collapse": {"epochs": 3}}):
        with pytest.raises(PipelineError, match="'mnist.train', now modified; rerun it"):
            new_params(
                "x", status, {"params.yaml": {"mnist.train": changed}}, {"params.yaml": then}
            )


def test_the_lock_file_is_written_as_dvc_writes_it():
    text = "schema: '2.0'\nstages:\n  a:\n    cmd: x\n    params:\n      params.yaml:\n        n:\n"
    assert dump(yaml.safe_load(text)) == text


def test_relock_after_a_code_edit_leaves_dvc_status_clean(tmp_path):
    where = checkout_copy(tmp_path)
    path = where / "pipeline" / "parzen_window.py"
    path.write_text(path.read_text() + "\n# an edit shown to compute the same\n")
    stale = changed_code_or_params(dvc_status(where))
    stages = sorted({line.split(":")[0] for line in stale})
    assert "parzen@mnist" in stages and "train@mnist" in stages
    run = [sys.executable, "-m", "pipeline", "relock"]
    bad = subprocess.run([*run, "parzen@nowhere"], cwd=where, capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "parzen@nowhere" in bad.stderr
    before = yaml.safe_load((where / "dvc.lock").read_text())["stages"]
    subprocess.run([*run, *stages], cwd=where, check=True, capture_output=True)
    assert changed_code_or_params(dvc_status(where)) == []
    after = yaml.safe_load((where / "dvc.lock").read_text())["stages"]
    for stage in stages:
        assert after[stage]["outs"] == before[stage]["outs"]
        assert after[stage].get("params") == before[stage].get("params")
