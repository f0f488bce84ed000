"""Labeled Faces in the Wild (Huang et al., 2007) laid out as TFD, the stand-in for the licensed
TFD: each face's central crop resized to 48 x 48, grayscale, / 255; folds by identity."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from pipeline.datasets.files import Folds, Option, RemoteFile, open_tar
from pipeline.plumbing.errors import PipelineError

CROP = (75, 75, 175, 175)  # the central 100 x 100 of the 250 x 250 LFW images
LABELED_SHARE = 0.25  # share of the images (whole identities) that go into the 5 groups
FOLD_SEED = 0  # fixes which identities are labeled and their groups; part of the dataset
GRAY = RemoteFile("lfw-gray.tar.gz", "895f6e7f8fcae6908fba1f10e2b637a5", (), "lfw-gray")
ORIGINAL = RemoteFile(
    "lfw.tgz",
    "a17d05bd522c52d84eca14327a23d494",
    ("http://vis-www.cs.umass.edu/lfw/lfw.tgz",),
    "lfw",
)
OPTIONS = (
    Option((ORIGINAL,), "LFW 48x48, TFD protocol (stand-in for TFD)"),
    Option((GRAY,), "LFW 48x48 (grayscale mirror), TFD protocol (stand-in for TFD)"),
)
MISSING = ""


def identity_folds(
    people: list[str], n_folds: int = 5, share: float = LABELED_SHARE, seed: int = FOLD_SEED
) -> np.ndarray:
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


def read(raw: Path) -> Folds:
    from PIL import Image

    path = raw / (GRAY.name if (raw / GRAY.name).is_file() else ORIGINAL.name)
    images, people = [], []
    with open_tar(path) as tar:
        members = sorted(
            (m for m in tar if m.isfile() and m.name.endswith(".jpg")), key=lambda m: m.name
        )
        for member in members:
            image = Image.open(io.BytesIO(tar.extractfile(member).read())).convert("L")
            if image.size != (250, 250):
                raise PipelineError(f"{path}: {member.name} is {image.size}, expected 250 x 250")
            face = image.crop(CROP).resize((48, 48), Image.BILINEAR)
            images.append(np.asarray(face, dtype=np.uint8).reshape(-1))
            people.append(Path(member.name).parent.name)
    if not images:
        raise PipelineError(f"{path}: no .jpg images found")
    return Folds(np.stack(images).astype(np.float32) / 255.0, identity_folds(people))
