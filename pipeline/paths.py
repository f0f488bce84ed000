"""Where each stage reads and writes; dvc.yaml declares the same paths as deps and outs."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from pipeline.plumbing.files import write_text


@dataclass(frozen=True)
class Paths:
    dataset: str
    root: Path = Path(".")

    @property
    def raw(self) -> Path:
        return self.root / "data" / "raw" / self.dataset

    @property
    def processed(self) -> Path:
        return self.root / "data" / "processed" / f"{self.dataset}.npz"

    @property
    def models(self) -> Path:
        return self.root / "models" / self.dataset

    @property
    def samples(self) -> Path:  # seed-<n>.npy: m samples of each seed's selected generator
        return self.root / "data" / "samples" / self.dataset

    def seed_samples(self, seed: int) -> Path:
        return self.samples / f"seed-{seed}.npy"

    def seed_models(self, seed: int) -> Path:
        return self.models / f"seed-{seed}"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics" / "datasets" / self.dataset

    @property
    def train_log(self) -> Path:  # seed-<n>/<metric>.tsv: each seed's log, epoch by epoch
        return self.metrics / "train"

    @property
    def train_record(self) -> Path:  # the run record: params, code, every seed's summary
        return self.metrics / "train.json"

    @property
    def checkpoints(self) -> Path:  # train's resume state; kept across runs, never a DVC out
        return self.root / "checkpoints" / self.dataset

    def seed_checkpoints(self, seed: int) -> Path:
        return self.checkpoints / f"seed-{seed}"

    @property
    def parzen(self) -> Path:
        return self.metrics / "parzen.json"

    @property
    def parzen_curves(self) -> Path:  # seed-<n>.csv: validation LL against sigma, per seed
        return self.metrics / "parzen_sigma"

    @property
    def classifier(self) -> Path:  # classifier.pt, or none.txt for a section without labels
        return self.root / "models" / "classifiers" / self.dataset

    @property
    def classifier_record(self) -> Path:  # its accuracy, or why there is none
        return self.metrics / "classifier.json"

    @property
    def quality(self) -> Path:  # every seed's metrics beyond Parzen, and the real reference
        return self.metrics / "quality.json"

    @property
    def memorisation(self) -> Path:  # seed-<n>.csv: nearest-training-image distance histograms
        return self.metrics / "memorisation"

    @property
    def references(self) -> Path:  # the Parzen estimate's sanity rows
        return self.metrics / "references.json"

    @property
    def parzen_by_n(self) -> Path:  # the training images' Parzen score against N (references)
        return self.metrics / "parzen_n_training.csv"

    @property
    def parzen_by_n_gan(self) -> Path:  # the shown seed's Parzen score against N (quality)
        return self.metrics / "parzen_n_gan.csv"

    @property
    def inception(self) -> Path:  # the optional Inception FID, or why there is none
        return self.metrics / "inception.json"

    @property
    def classes(self) -> Path:  # the samples' predicted classes (quality)
        return self.metrics / "classes.csv"

    @property
    def figures(self) -> Path:  # this dataset's panel of Figure 2, and Figure 3
        return self.root / "figures" / "datasets" / self.dataset


TABLE_MD = Path("metrics") / "table1.md"
TABLE_CSV = Path("metrics") / "table1.csv"
BEYOND_MD = Path("metrics") / "beyond.md"  # the second table: metrics beyond Parzen
BEYOND_CSV = Path("metrics") / "beyond.csv"
LONG_MNIST = Path("metrics") / "studies" / "long-mnist"  # studies.long: MNIST seeds trained on
FIGURE2 = Path("figures") / "figure2.png"  # all panels of Figure 2 (stage `figures`)


def csv_text(fields: list[str], rows: list[dict]) -> str:
    """`rows` under the header `fields` (just the header when there are none), as CSV text."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    """csv_text(fields, rows) to `path`, atomically."""
    write_text(path, csv_text(fields, rows))
