"""The datasets of the paper (section 5), and what every stage needs to know about them.

Two registries, plain data (importing this package reads no file and no other module):

- ``SOURCES``: the raw data a params section reads (its ``source`` key): image shape, layout
  (rows of official files, or TFD's folds), how its pixels are shown. The files and the code that
  reads them are one module per source in this package (``mnist``, ``cifar10``, ``tfd``, ``lfw``),
  as nanoGPT has one ``prepare`` per dataset; ``files`` holds what they share.
- ``SECTIONS``: the params sections of params.yaml in the paper's order (Figure 2's panels
  a-d, Table 1's columns), each with its source, panel title and Table 1 column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    name: str
    image_shape: tuple[int, ...]  # (H, W) grayscale or (C, H, W) colour
    folds: bool  # TFD's layout (images + a folds matrix) rather than rows of official files
    display: str  # "unit": pixels in [0, 1]; "symmetric": x / max|x| mapped to [0, 1] (GCN data)
    classes: int = 0  # class labels its module's `labels` reads (0: none, or none used)

    @property
    def dim(self) -> int:
        return math.prod(self.image_shape)


@dataclass(frozen=True)
class Section:
    name: str  # the params.yaml section, and the `<item>` of the DVC stages
    source: str
    title: str  # Figure 2 panel
    column: str | None  # Table 1 column; None: not in Table 1 (the paper has no CIFAR-10 score)


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("mnist", (28, 28), folds=False, display="unit", classes=10),
        Source("tfd", (48, 48), folds=True, display="unit"),
        Source("lfw", (48, 48), folds=True, display="unit"),
        Source("cifar10", (3, 32, 32), folds=False, display="symmetric", classes=10),
    )
}

SECTIONS: dict[str, Section] = {
    s.name: s
    for s in (
        Section("mnist", "mnist", "MNIST", "MNIST"),
        Section("tfd", "tfd", "TFD", "TFD"),
        # the stand-in has its own column, never TFD's
        Section("lfw", "lfw", "LFW 48×48 (stand-in for TFD)", "LFW 48×48, TFD protocol"),
        Section("cifar10_fc", "cifar10", "CIFAR-10 (fully connected)", None),
        Section("cifar10_conv", "cifar10", "CIFAR-10 (convolutional)", None),
    )
}


def in_table1(section: str) -> bool:
    """Whether a params section has a Table 1 column (any section the registry does not know is
    treated as one that does)."""
    return section not in SECTIONS or SECTIONS[section].column is not None
