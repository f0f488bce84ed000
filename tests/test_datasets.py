"""TFD's protocol and the data behind it: the unlabeled split of fold 0 trains the GAN, each fold
has its own valid and test splits, LFW's folds never split a person, a bad TFD file is an error
naming the file and key, and CIFAR-10 is contrast-normalised as Pylearn2 did."""

import tarfile
from pathlib import Path

import numpy as np
import pytest

from pipeline.artifacts import load_processed
from pipeline.datasets.cifar10 import global_contrast_normalize
from pipeline.datasets.files import Folds
from pipeline.datasets.lfw import GRAY as LFW_GRAY
from pipeline.datasets.lfw import identity_folds
from pipeline.paths import Paths
from pipeline.plumbing.errors import PipelineError
from pipeline.stages import preprocess
from tests.conftest import write_tfd


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _lfw_people(mirror: Path) -> list[str]:
    with tarfile.open(mirror / LFW_GRAY.folder / LFW_GRAY.name) as tar:
        names = sorted(m.name for m in tar if m.isfile() and m.name.endswith(".jpg"))
    return [Path(n).parent.name for n in names]


def test_lfw_folds_never_put_a_person_in_two_splits(mirror):
    people = np.array(_lfw_people(mirror))
    folds = identity_folds(list(people))
    assert folds.shape == (13233, 5)
    for f in range(5):
        who = {v: set(people[folds[:, f] == v]) for v in (0, 1, 2, 3)}
        for a in range(4):
            for b in range(a + 1, 4):
                assert not who[a] & who[b], (f, a, b, sorted(who[a] & who[b])[:3])
    labeled = folds[:, 0] != Folds.UNLABELED
    assert (folds[~labeled] == Folds.UNLABELED).all()  # unlabeled in every fold
    assert ((folds == Folds.TEST).sum(1) == labeled).all()  # each labeled image tested once
    assert ((folds == Folds.VALID).sum(1) == labeled).all()
    assert 0.24 < labeled.mean() < 0.3
    # the 5 groups are balanced in images (George W. Bush alone has 530)
    sizes = [(folds[:, f] == Folds.TEST).sum() for f in range(5)]
    assert max(sizes) - min(sizes) < 60, sizes


def test_identity_folds_split_people_not_images():
    people = ["a"] * 5 + ["b"] * 5 + ["c"] * 5 + ["d"] * 5 + ["e"] * 5 + ["f"] * 50
    folds = identity_folds(people, share=0.3)
    for f in range(5):
        for person in set(people):
            rows = [i for i, p in enumerate(people) if p == person]
            assert len(set(folds[rows, f])) == 1


def test_tfd_mat_gives_fold0_unlabeled_for_training_and_each_folds_valid_and_test(
    workdir, tiny_all
):
    content = write_tfd(Paths("tfd").raw / "TFD_48x48.mat", n=300)
    preprocess.run(tiny_all, tiny_all.dataset("tfd"))
    data = load_processed("tfd")
    pixels = content["images"].reshape(300, -1).astype(np.float32) / 255
    folds = content["folds"]
    np.testing.assert_array_equal(data.train, pixels[folds[:, 0] == 0])
    for f in range(5):
        np.testing.assert_array_equal(data.valid(f), pixels[folds[:, f] == 2])
        np.testing.assert_array_equal(data.test(f), pixels[folds[:, f] == 3])
    assert data.image_shape == (48, 48)
    assert data.note == ""


@pytest.mark.parametrize(
    "broken, message",
    [
        ({"folds": None}, "missing variable 'folds'"),
        ({"images": np.zeros((10, 32, 32), np.uint8)}, "'images' has shape (10, 32, 32)"),
        ({"folds": np.full((300, 5), 7, np.uint8)}, "'folds' has shape (300, 5), expected 300 x 5"),
    ],
)
def test_a_bad_tfd_file_names_the_file_and_key_and_writes_nothing(
    workdir, tiny_all, broken, message
):
    from scipy.io import savemat

    path = Paths("tfd").raw / "TFD_48x48.mat"
    content = write_tfd(path, n=300)
    content.update(broken)
    savemat(path, {k: v for k, v in content.items() if v is not None})
    with pytest.raises(PipelineError, match=str(path).replace(".", r"\.") + ".*") as err:
        preprocess.run(tiny_all, tiny_all.dataset("tfd"))
    assert message in str(err.value)
    assert not Paths("tfd").processed.exists()


def test_a_corrupt_archive_is_a_clear_error(workdir, tiny_all):
    raw = Paths("lfw").raw
    raw.mkdir(parents=True)
    (raw / LFW_GRAY.name).write_bytes(b"not a tar file")
    with pytest.raises(PipelineError, match="lfw-gray.tar.gz: not a readable tar archive"):
        preprocess.run(tiny_all, tiny_all.dataset("lfw"))
    assert not Paths("lfw").processed.exists()


def test_global_contrast_normalisation_zero_mean_norm_55():
    x = np.random.default_rng(0).integers(0, 256, size=(7, 3072)).astype(np.float32)
    y = global_contrast_normalize(x)
    np.testing.assert_allclose(y.mean(1), 0, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), 55, rtol=1e-5)
    np.testing.assert_allclose(global_contrast_normalize(x / 255), y, rtol=1e-5, atol=1e-5)
