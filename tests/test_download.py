"""The download stage copies from a mirror or the official URLs, checks the md5 that torchvision
checks, and on any failure leaves nothing behind."""

import shutil

import pytest

from pipeline import download
from pipeline.errors import PipelineError
from pipeline.sources import SOURCES


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(download.urllib.request, "urlopen", _offline)
    return tmp_path


def _offline(*args, **kwargs):
    raise OSError("no network in tests")


def _copy_mirror(src, dst):
    (dst / "mnist").mkdir(parents=True)
    for f in SOURCES["mnist"].files:
        shutil.copyfile(src / "mnist" / f.name, dst / "mnist" / f.name)
    return dst


def test_mirror_files_land_verified(workdir, mirror, tiny, monkeypatch):
    monkeypatch.setenv("GAN_DATA_MIRROR", f"/nonexistent:{mirror}")
    download.run(tiny, tiny.dataset("mnist"))
    for f in SOURCES["mnist"].files:
        assert download.md5sum(workdir / "data/raw/mnist" / f.name) == f.md5


def test_wrong_md5_is_an_error_that_leaves_nothing(workdir, mirror, tiny, monkeypatch):
    bad = _copy_mirror(mirror, workdir / "bad-mirror")
    with open(bad / "mnist" / "t10k-labels-idx1-ubyte.gz", "ab") as f:
        f.write(b"corrupt")
    monkeypatch.setenv("GAN_DATA_MIRROR", str(bad))
    with pytest.raises(
        PipelineError,
        match="checksum mismatch for mnist/t10k-labels-idx1-ubyte.gz"
        r".*expected ec29112dd5afa0611ce80d1b7f02629c",
    ):
        download.run(tiny, tiny.dataset("mnist"))
    assert list((workdir / "data" / "raw").iterdir()) == []


def test_missing_file_names_what_was_tried(workdir, mirror, tiny, monkeypatch):
    partial = _copy_mirror(mirror, workdir / "partial")
    (partial / "mnist" / "train-labels-idx1-ubyte.gz").unlink()
    monkeypatch.setenv("GAN_DATA_MIRROR", str(partial))
    with pytest.raises(PipelineError, match="could not fetch mnist/train-labels-idx1-ubyte.gz"):
        download.run(tiny, tiny.dataset("mnist"))
    assert list((workdir / "data" / "raw").iterdir()) == []


def test_a_failed_download_keeps_the_previous_good_copy(workdir, mirror, tiny, monkeypatch):
    monkeypatch.setenv("GAN_DATA_MIRROR", str(mirror))
    download.run(tiny, tiny.dataset("mnist"))
    monkeypatch.setenv("GAN_DATA_MIRROR", str(workdir / "empty"))
    with pytest.raises(PipelineError):
        download.run(tiny, tiny.dataset("mnist"))
    assert len(list((workdir / "data/raw/mnist").iterdir())) == 4
