"""A stage's outputs are replaced all together or not at all (pipeline/plumbing/files.py), and
an error names the output, never a temporary."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from pipeline.plumbing import files
from pipeline.plumbing.files import checked_before_replacing, outputs


def old_outputs(root: Path) -> dict[str, bytes]:
    (root / "models" / "seed-0").mkdir(parents=True)
    (root / "models" / "seed-0" / "generator.pt").write_bytes(b"old generator")
    (root / "metrics").mkdir()
    (root / "metrics" / "train.json").write_text('{"old": true}\n')
    return listing(root)


def listing(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def stage_new(out: files.Outputs, root: Path) -> None:
    models = out.folder(root / "models")
    (models / "seed-0").mkdir()
    (models / "seed-0" / "generator.pt").write_bytes(b"new generator")
    out.file(root / "metrics" / "train.json").write_text('{"new": true}\n')


def test_a_successful_block_replaces_every_output_and_leaves_no_temporary(tmp_path):
    old_outputs(tmp_path)
    with outputs() as out:
        stage_new(out, tmp_path)
    assert listing(tmp_path) == {
        "models/seed-0/generator.pt": b"new generator",
        "metrics/train.json": b'{"new": true}\n',
    }


def test_a_failing_block_replaces_nothing(tmp_path):
    before = old_outputs(tmp_path)
    with pytest.raises(RuntimeError), outputs() as out:
        stage_new(out, tmp_path)
        raise RuntimeError("the stage failed after staging everything")
    assert listing(tmp_path) == before


def test_an_output_that_cannot_be_staged_is_named_and_nothing_is_replaced(tmp_path):
    before = old_outputs(tmp_path)
    (tmp_path / "blocked").write_text("a file where a folder must go\n")
    before = listing(tmp_path)
    with pytest.raises(OSError) as caught, outputs() as out:
        stage_new(out, tmp_path)
        out.file(tmp_path / "blocked" / "log.tsv")
    assert caught.value.filename == str(tmp_path / "blocked" / "log.tsv")
    assert listing(tmp_path) == before


def test_a_write_error_in_a_staged_folder_names_the_output_s_path(tmp_path):
    with pytest.raises(OSError) as caught, outputs() as out:
        staged = out.folder(tmp_path / "curves")
        raise OSError(errno.ENOSPC, "No space left on device", str(staged / "seed-0.csv"))
    assert caught.value.filename == str(tmp_path / "curves" / "seed-0.csv")
    assert caught.value.errno == errno.ENOSPC


def test_a_rename_refused_midway_puts_back_the_outputs_already_swapped(tmp_path, monkeypatch):
    before = old_outputs(tmp_path)
    rename = Path.rename

    def refuse_the_record(self: Path, target):  # the staged record, not its old copy
        if Path(target).name == "train.json" and not self.name.endswith(".old"):
            raise OSError(errno.EROFS, "Read-only file system", str(target))
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", refuse_the_record)
    with pytest.raises(OSError) as caught, outputs() as out:
        stage_new(out, tmp_path)
    monkeypatch.undo()
    assert caught.value.filename == str(tmp_path / "metrics" / "train.json")
    assert listing(tmp_path) == before  # the models swapped first are the old ones again


def test_a_failed_check_before_replacing_replaces_nothing(tmp_path):
    before = old_outputs(tmp_path)

    def params_changed() -> None:
        raise RuntimeError("params.yaml: changed while this stage ran")

    with checked_before_replacing(params_changed):
        with pytest.raises(RuntimeError), outputs() as out:
            stage_new(out, tmp_path)
        assert listing(tmp_path) == before
    with outputs() as out:  # outside the block the check is gone
        stage_new(out, tmp_path)
    assert listing(tmp_path)["metrics/train.json"] == b'{"new": true}\n'


def test_a_write_error_that_names_no_file_names_the_only_output(tmp_path):
    """A full disk fails a write() with no file name; one output: that one."""
    with pytest.raises(OSError) as caught, outputs() as out:
        out.file(tmp_path / "parzen.json")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert caught.value.filename == str(tmp_path / "parzen.json")


def test_put_names_the_file_it_could_not_write(tmp_path):
    with pytest.raises(OSError) as caught:
        files.put(tmp_path / "no-such-folder" / "seed-0.csv", "sigma,valid_ll\n")
    assert caught.value.filename == str(tmp_path / "no-such-folder" / "seed-0.csv")
    files.put(tmp_path / "seed-0.npy", b"\x93NUMPY")
    assert (tmp_path / "seed-0.npy").read_bytes() == b"\x93NUMPY"
