"""The download stage copies from a mirror or the official URLs, checks the md5 that torchvision
checks, and on any failure leaves nothing behind."""

import json
import shutil

import pytest

from pipeline.datasets import mnist
from pipeline.plumbing.errors import PipelineError
from pipeline.stages import download


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(download.urllib.request, "urlopen", _offline)
    return tmp_path


def _offline(*args, **kwargs):
    raise OSError("no network in tests")


def _copy_mirror(src, dst):
    (dst / "mnist").mkdir(parents=True)
    for f in mnist.OPTIONS[0].files:
        shutil.copyfile(src / "mnist" / f.name, dst / "mnist" / f.name)
    return dst


def test_mirror_files_land_verified(workdir, mirror, tiny, monkeypatch):
    monkeypatch.setenv("GAN_DATA_MIRROR", f"/nonexistent:{mirror}")
    download.run(tiny, tiny.dataset("mnist"))
    for f in mnist.OPTIONS[0].files:
        assert download.md5sum(workdir / "data/raw/mnist" / f.name) == f.md5


def test_wrong_md5_is_an_error_that_leaves_nothing(workdir, mirror, tiny, monkeypatch):
    bad = _copy_mirror(mirror, workdir / "bad-mirror")
    with open(bad / "mnist" / "t10k-labels-idx1-ubyte.gz", "ab") as f:
        f.write(b"corrupt")
    monkeypatch.setenv("GAN_DATA_MIRROR", str(bad))
    with pytest.raises(
        PipelineError,
        match="found no verified copy of mnist/t10k-labels-idx1-ubyte.gz; copies tried: "
        r".*bad-mirror/mnist/t10k-labels-idx1-ubyte.gz \(md5 \w+, expected ec29112dd5afa06",
    ):
        download.run(tiny, tiny.dataset("mnist"))
    assert list((workdir / "data" / "raw").iterdir()) == []


def test_missing_file_names_what_was_tried(workdir, mirror, tiny, monkeypatch):
    partial = _copy_mirror(mirror, workdir / "partial")
    (partial / "mnist" / "train-labels-idx1-ubyte.gz").unlink()
    monkeypatch.setenv("GAN_DATA_MIRROR", str(partial))
    with pytest.raises(
        PipelineError,
        match="could not fetch mnist: found no verified copy of mnist/train-labels-idx1-ubyte.gz",
    ):
        download.run(tiny, tiny.dataset("mnist"))
    assert list((workdir / "data" / "raw").iterdir()) == []


def test_a_failed_download_keeps_the_previous_good_copy(workdir, mirror, tiny, monkeypatch):
    monkeypatch.setenv("GAN_DATA_MIRROR", str(mirror))
    download.run(tiny, tiny.dataset("mnist"))
    monkeypatch.setenv("GAN_DATA_MIRROR", str(workdir / "empty"))
    with pytest.raises(PipelineError):
        download.run(tiny, tiny.dataset("mnist"))
    assert len(list((workdir / "data/raw/mnist").iterdir())) == 5  # 4 files + provenance.json


def test_missing_tfd_says_it_is_licensed_and_where_to_put_it(
    workdir, mirror, tiny_all, monkeypatch
):
    monkeypatch.setenv("GAN_DATA_MIRROR", str(mirror))
    with pytest.raises(PipelineError) as err:
        download.run(tiny_all, tiny_all.dataset("tfd"))
    message = str(err.value)
    assert "found no verified copy of tfd/TFD_48x48.mat" in message
    assert "licensed" in message and "<mirror>/tfd/TFD_48x48.mat" in message
    assert not (workdir / "data/raw/tfd").exists()


def test_the_first_option_a_mirror_has_wins_and_its_note_is_recorded(
    workdir, mirror, tiny_all, monkeypatch
):
    """No official CIFAR-10 tarball here: the mirror's JPEG copy is taken and declared lossy."""
    monkeypatch.setenv("GAN_DATA_MIRROR", str(mirror))
    download.run(tiny_all, tiny_all.dataset("cifar10_fc"))
    provenance = json.loads((workdir / "data/raw/cifar10_fc/provenance.json").read_text())
    assert provenance["md5"] == {"cifar10-jpeg.tar.gz": "97a885386ac940ec95312e53cd0d3606"}
    assert "JPEG" in provenance["note"] and "lossy" in provenance["note"]


def test_a_corrupt_copy_in_the_first_mirror_falls_back_to_the_next(
    workdir, mirror, tiny, monkeypatch, capsys
):
    """A copy whose md5 is wrong is reported and the next mirror's copy is taken."""
    bad = _copy_mirror(mirror, workdir / "bad-mirror")
    with open(bad / "mnist" / "t10k-labels-idx1-ubyte.gz", "ab") as f:
        f.write(b"corrupt")
    monkeypatch.setenv("GAN_DATA_MIRROR", f"{bad}:{mirror}")
    download.run(tiny, tiny.dataset("mnist"))
    for f in mnist.OPTIONS[0].files:
        assert download.md5sum(workdir / "data/raw/mnist" / f.name) == f.md5
    warning = capsys.readouterr().err
    assert f"warning: {bad}/mnist/t10k-labels-idx1-ubyte.gz (md5 " in warning
    assert "expected ec29112dd5afa0611ce80d1b7f02629c); trying the next copy" in warning
