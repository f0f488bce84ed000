"""Data sources: where each dataset's files come from, their checksums, and how to read them.

A source offers one or more *options*, each a complete set of files with the official URLs and
md5 checksums (for MNIST the ones torchvision checks). The download stage takes the first option
found in a mirror directory (``GAN_DATA_MIRROR``, several separated by ``os.pathsep``; a file sits
at ``<mirror>/<folder>/<name>``), else the first it can download. An option that is not the
original data (CIFAR-10 as JPEG, LFW in grayscale) carries a ``note`` that follows the results
into the metrics, figures and Table 1.

Two kinds of data (recipe, "training data"):
- ``Arrays`` (MNIST, CIFAR-10): the official training and test rows; params.yaml picks ranges.
- ``Folds`` (TFD, and LFW laid out as TFD): all images plus a folds matrix N x 5 with 0 =
  unlabeled, 1 = train, 2 = valid, 3 = test, as in ``TFD_48x48.mat``.

Pixels come back flattened (C x H x W order), float32, in the model's input space: [0, 1] for
MNIST, TFD and LFW (/255); global contrast normalisation with scale 55 for CIFAR-10 (Pylearn2
``CIFAR10(gcn=55.)``).
"""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import PipelineError
from pipeline.paths import md5sum


@dataclass(frozen=True)
class RemoteFile:
    name: str
    md5: str | None  # None: a licensed file the user supplies; its content is checked on read
    urls: tuple[str, ...]
    folder: str  # subdirectory of a mirror holding the file


@dataclass(frozen=True)
class Option:
    files: tuple[RemoteFile, ...]
    note: str = ""  # how this copy differs from the paper's data ("" = the original files)


@dataclass(frozen=True)
class Arrays:
    train: np.ndarray  # official training rows
    test: np.ndarray  # official test rows


@dataclass(frozen=True)
class Folds:
    images: np.ndarray  # N x d
    folds: np.ndarray  # N x F, 0 = unlabeled, 1 = train, 2 = valid, 3 = test

    UNLABELED, TRAIN, VALID, TEST = 0, 1, 2, 3


@dataclass(frozen=True)
class Source:
    name: str
    options: tuple[Option, ...]
    image_shape: tuple[int, ...]  # (H, W) grayscale or (C, H, W) colour
    kind: type  # Arrays or Folds
    display: str  # "unit": pixels in [0, 1]; "symmetric": x / max|x| mapped to [0, 1] (GCN data)
    read: Callable[[Path], Arrays | Folds]  # the verified raw directory -> data
    missing: str = ""  # said when no option can be found (licensed data)

    @property
    def dim(self) -> int:
        return int(np.prod(self.image_shape))


# ---------------------------------------------------------------------------------- MNIST


def _read_idx_images(path: Path) -> np.ndarray:
    """IDX3 (LeCun's MNIST format): big-endian magic 2051, count, rows, cols, then uint8 pixels."""
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
        raise PipelineError(f"{path}: not a readable gzip archive ({err})") from None
    magic, count, rows, cols = np.frombuffer(data[:16], dtype=">u4")
    if magic != 2051 or len(data) != 16 + count * rows * cols:
        raise PipelineError(f"{path}: not an IDX3 image file (magic {magic}, {len(data)} bytes)")
    return np.frombuffer(data[16:], dtype=np.uint8).reshape(count, rows * cols)


def _read_mnist(raw: Path) -> Arrays:
    train = _read_idx_images(raw / "train-images-idx3-ubyte.gz")
    test = _read_idx_images(raw / "t10k-images-idx3-ubyte.gz")
    return Arrays(train.astype(np.float32) / 255.0, test.astype(np.float32) / 255.0)


_MNIST_URLS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)


def _mnist_file(name: str, md5: str) -> RemoteFile:
    return RemoteFile(name, md5, tuple(base + name for base in _MNIST_URLS), "mnist")


# ---------------------------------------------------------------------------------- CIFAR-10

CIFAR_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"
)  # fmt: skip
CIFAR_PYTHON = RemoteFile(
    "cifar-10-python.tar.gz",
    "c58f30108f718f92721af3b95e74349a",
    ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
    "cifar10",
)
CIFAR_JPEG = RemoteFile(
    "cifar10-jpeg.tar.gz", "97a885386ac940ec95312e53cd0d3606", (), "cifar10-jpeg"
)


def global_contrast_normalize(x: np.ndarray, scale: float = 55.0) -> np.ndarray:
    """Pylearn2 ``global_contrast_normalize(X, scale=55.)``: per image, subtract the mean and
    divide by the L2 norm / scale (divisors below 1e-8 replaced by 1)."""
    x = x.astype(np.float64)
    x -= x.mean(axis=1, keepdims=True)
    norm = np.sqrt((x * x).sum(axis=1, keepdims=True)) / scale
    norm[norm < 1e-8] = 1.0
    return (x / norm).astype(np.float32)


def _open_tar(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path)
    except (tarfile.TarError, OSError, EOFError) as err:
        raise PipelineError(f"{path}: not a readable tar archive ({err})") from None


def _read_cifar_python(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The official pickled batches: data_batch_1..5 (50,000 rows), test_batch (10,000), read
    member by member from the archive (nothing extracted to disk). Pickles can run code, so they
    are unpickled only from an archive whose md5 is the official one, checked here again at read
    time (data/raw may come from a cache or remote rather than the download stage)."""
    got = md5sum(path)
    if got != CIFAR_PYTHON.md5:
        raise PipelineError(
            f"{path}: md5 {got}, expected the official {CIFAR_PYTHON.md5}; its pickles were not "
            "opened"
        )
    batches: dict[str, np.ndarray] = {}
    with _open_tar(path) as tar:
        for member in tar:
            stem = Path(member.name).name
            if stem.startswith(("data_batch_", "test_batch")):
                batch = pickle.load(tar.extractfile(member), encoding="bytes")  # noqa: S301
                batches[stem] = np.asarray(batch[b"data"], dtype=np.uint8)
    names = [f"data_batch_{i}" for i in range(1, 6)]
    if set(batches) != {*names, "test_batch"}:
        raise PipelineError(
            f"{path}: expected data_batch_1..5 and test_batch, got {sorted(batches)}"
        )
    return np.concatenate([batches[n] for n in names]), batches["test_batch"]


def _read_cifar_jpeg(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The mirror's JPEGs, ``<split>/<class>/<index>.jpg``. The official files interleave the
    classes; these keep each class in its original order, so row i here is image i // 10 of class
    i % 10: rows 0-40,000 hold the first 4,000 images of every class, as the official 0-40,000
    hold about 4,000 of each."""
    from PIL import Image

    found: dict[str, dict[tuple[int, int], np.ndarray]] = defaultdict(dict)
    with _open_tar(path) as tar:
        for member in tar:
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) < 3 or parts[-2] not in CIFAR_CLASSES:
                continue
            image = Image.open(io.BytesIO(tar.extractfile(member).read())).convert("RGB")
            key = (int(Path(parts[-1]).stem), CIFAR_CLASSES.index(parts[-2]))
            found[parts[-3]][key] = np.asarray(image).transpose(2, 0, 1).reshape(-1)
    out = []
    for split, per_class in (("train", 5000), ("test", 1000)):
        rows = found.get(split, {})
        if len(rows) != 10 * per_class:
            raise PipelineError(
                f"{path}: {split}/ holds {len(rows)} images, expected {10 * per_class}"
            )
        out.append(np.stack([rows[key] for key in sorted(rows)]))
    return out[0], out[1]


def _read_cifar(raw: Path) -> Arrays:
    if (raw / CIFAR_PYTHON.name).is_file():
        train, test = _read_cifar_python(raw / CIFAR_PYTHON.name)
    else:
        train, test = _read_cifar_jpeg(raw / CIFAR_JPEG.name)
    return Arrays(global_contrast_normalize(train), global_contrast_normalize(test))


# ---------------------------------------------------------------------------------- TFD

TFD_FILE = RemoteFile("TFD_48x48.mat", None, (), "tfd")


def _read_tfd(raw: Path) -> Folds:
    """``TFD_48x48.mat`` (Susskind et al., 2010): ``images`` N x 48 x 48 uint8, ``folds`` N x 5."""
    from scipy.io import loadmat

    path = raw / TFD_FILE.name
    try:
        mat = loadmat(path, variable_names=["images", "folds"])
    except (ValueError, OSError, NotImplementedError) as err:
        raise PipelineError(f"{path}: not a readable MATLAB file ({err})") from None
    for key in ("images", "folds"):
        if key not in mat:
            raise PipelineError(f"{path}: missing variable '{key}'")
    images, folds = mat["images"], mat["folds"]
    if images.ndim != 3 or images.shape[1:] != (48, 48):
        raise PipelineError(f"{path}: 'images' has shape {images.shape}, expected N x 48 x 48")
    if folds.shape != (len(images), 5) or not np.isin(folds, (0, 1, 2, 3)).all():
        raise PipelineError(
            f"{path}: 'folds' has shape {folds.shape}, expected {len(images)} x 5 "
            "with values 0 (unlabeled), 1 (train), 2 (valid), 3 (test)"
        )
    pixels = images.reshape(len(images), -1).astype(np.float32) / 255.0
    return Folds(pixels, folds.astype(np.int8))


# ---------------------------------------------------------------------------------- LFW

LFW_CROP = (75, 75, 175, 175)  # the central 100 x 100 of the 250 x 250 LFW images
LFW_LABELED_SHARE = 0.25  # share of the images (whole identities) that go into the 5 groups
LFW_FOLD_SEED = 0  # fixes which identities are labeled and their groups; part of the dataset
LFW_GRAY = RemoteFile("lfw-gray.tar.gz", "895f6e7f8fcae6908fba1f10e2b637a5", (), "lfw-gray")
LFW_ORIGINAL = RemoteFile(
    "lfw.tgz",
    "a17d05bd522c52d84eca14327a23d494",
    ("http://vis-www.cs.umass.edu/lfw/lfw.tgz",),
    "lfw",
)


def identity_folds(people: list[str], n_folds: int = 5, share: float = LFW_LABELED_SHARE,
                   seed: int = LFW_FOLD_SEED) -> np.ndarray:  # fmt: skip
    """A TFD-style folds matrix for images labelled by identity, disjoint by identity.

    Identities, in a seeded random order, are labeled until `share` of the images are, each going
    to the smallest of `n_folds` groups; the rest are unlabeled (0 in every fold, the GAN's
    training data). In fold f, group f is the test split, group f + 1 the valid split and the
    other groups the train split, so no person is in two of unlabeled/train/valid/test."""
    names, index, counts = np.unique(people, return_inverse=True, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(names))
    group = np.full(len(names), -1)
    sizes = np.zeros(n_folds, dtype=int)
    for person in order:
        if sizes.sum() >= share * len(people):
            break
        g = int(sizes.argmin())
        group[person], sizes[g] = g, sizes[g] + counts[person]
    folds = np.zeros((len(people), n_folds), dtype=np.int8)
    image_group = group[index]
    for f in range(n_folds):
        labeled = image_group >= 0
        folds[labeled, f] = Folds.TRAIN
        folds[image_group == f, f] = Folds.TEST
        folds[image_group == (f + 1) % n_folds, f] = Folds.VALID
    return folds


def _read_lfw(raw: Path) -> Folds:
    """LFW as TFD: each face's central crop resized to 48 x 48, grayscale, /255; folds by identity
    (:func:`identity_folds`)."""
    from PIL import Image

    path = raw / (LFW_GRAY.name if (raw / LFW_GRAY.name).is_file() else LFW_ORIGINAL.name)
    images, people = [], []
    with _open_tar(path) as tar:
        members = sorted((m for m in tar if m.isfile() and m.name.endswith(".jpg")),
                         key=lambda m: m.name)  # fmt: skip
        for member in members:
            image = Image.open(io.BytesIO(tar.extractfile(member).read())).convert("L")
            if image.size != (250, 250):
                raise PipelineError(f"{path}: {member.name} is {image.size}, expected 250 x 250")
            face = image.crop(LFW_CROP).resize((48, 48), Image.BILINEAR)
            images.append(np.asarray(face, dtype=np.uint8).reshape(-1))
            people.append(Path(member.name).parent.name)
    if not images:
        raise PipelineError(f"{path}: no .jpg images found")
    return Folds(np.stack(images).astype(np.float32) / 255.0, identity_folds(people))


# ---------------------------------------------------------------------------------- registry

SOURCES: dict[str, Source] = {
    "mnist": Source(
        name="mnist",
        options=(
            Option(
                (
                    _mnist_file("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                    _mnist_file("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
                    _mnist_file("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
                    _mnist_file("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
                )
            ),
        ),
        image_shape=(28, 28),
        kind=Arrays,
        display="unit",
        read=_read_mnist,
    ),
    "cifar10": Source(
        name="cifar10",
        options=(
            Option((CIFAR_PYTHON,)),
            Option((CIFAR_JPEG,), "CIFAR-10 as JPEG (lossy: mean abs. error 5.8/255)"),
        ),
        image_shape=(3, 32, 32),
        kind=Arrays,
        display="symmetric",
        read=_read_cifar,
    ),
    "tfd": Source(
        name="tfd",
        options=(Option((TFD_FILE,)),),
        image_shape=(48, 48),
        kind=Folds,
        display="unit",
        read=_read_tfd,
        missing=(
            "The Toronto Face Database is licensed by its authors (Susskind, Anderson & Hinton, "
            "2010) and cannot be downloaded; obtain TFD_48x48.mat from them and put it at "
            "<mirror>/tfd/TFD_48x48.mat with GAN_DATA_MIRROR=<mirror>, or run the LFW stand-in "
            "(dataset 'lfw') instead"
        ),
    ),
    "lfw": Source(
        name="lfw",
        options=(
            Option((LFW_ORIGINAL,), "LFW 48x48, TFD protocol (stand-in for TFD)"),
            Option((LFW_GRAY,), "LFW 48x48 (grayscale mirror), TFD protocol (stand-in for TFD)"),
        ),
        image_shape=(48, 48),
        kind=Folds,
        display="unit",
        read=_read_lfw,
    ),
}
