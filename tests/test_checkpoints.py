"""Checkpoint files: the same content gives the same bytes whatever the file is called (so an
unchanged retrain does not invalidate DVC's downstream stages), and reading one never runs code."""

from pathlib import Path

import pytest
import torch

from pipeline import checkpoints
from pipeline.plumbing.errors import PipelineError


def test_same_weights_give_the_same_bytes_under_any_name(tmp_path):
    G = torch.nn.Linear(20, 30)
    content = {"state_dict": G.state_dict(), "epoch": 5, "sigma": 0.17, "k": [1, 2]}
    checkpoints.save(content, tmp_path / "generator_best.pt")
    checkpoints.save(content, tmp_path / "other_name.pt")
    H = torch.nn.Linear(20, 30)  # another net holding the same weights
    H.load_state_dict(G.state_dict())
    checkpoints.save({**content, "state_dict": H.state_dict()}, tmp_path / "generator_last.pt")
    first = (tmp_path / "generator_best.pt").read_bytes()
    assert (tmp_path / "other_name.pt").read_bytes() == first
    assert (tmp_path / "generator_last.pt").read_bytes() == first
    loaded = checkpoints.load(tmp_path / "generator_best.pt", "rerun")
    assert torch.equal(loaded["state_dict"]["weight"], G.weight)
    assert loaded["epoch"] == 5 and loaded["k"] == [1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "generator_best.pt",
        "generator_last.pt",
        "other_name.pt",
    ]  # no temporary file left


def test_different_weights_give_different_bytes(tmp_path):
    checkpoints.save({"w": torch.zeros(3)}, tmp_path / "a.pt")
    checkpoints.save({"w": torch.tensor([0.0, 0.0, 1e-7])}, tmp_path / "b.pt")
    assert (tmp_path / "a.pt").read_bytes() != (tmp_path / "b.pt").read_bytes()


def test_a_missing_checkpoint_says_what_makes_it(tmp_path):
    with pytest.raises(PipelineError, match=r"g.pt: missing; rerun `dvc repro train@mnist`$"):
        checkpoints.load(tmp_path / "g.pt", "rerun `dvc repro train@mnist`")


@pytest.mark.parametrize("content", [b"random bytes, no archive", "a pickled object"])
def test_a_classifier_file_of_the_wrong_kind_is_one_error(tmp_path, content):
    from pipeline import classifier_nets

    path = tmp_path / "classifier.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save({"net": "lenet", "state": Path("x")}, path)  # unpickling it imports pathlib
    with pytest.raises(PipelineError, match=r"^\S*classifier.pt: (unreadable|refused)") as err:
        classifier_nets.load(path, "rerun `dvc repro classifier@mnist`")
    assert "\n" not in str(err.value)
