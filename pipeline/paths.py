"""Where each stage reads and writes; dvc.yaml declares the same paths as deps and outs."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


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
    def samples(self) -> Path:
        return self.root / "data" / "samples" / f"{self.dataset}.npy"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics" / "datasets" / self.dataset

    @property
    def train_log(self) -> Path:  # dvclive directory: metrics.json + plots/metrics/*.tsv
        return self.metrics / "train"

    @property
    def parzen(self) -> Path:
        return self.metrics / "parzen.json"

    @property
    def parzen_curve(self) -> Path:
        return self.metrics / "parzen_sigma.csv"

    @property
    def figures(self) -> Path:  # this dataset's panel of Figure 2, and Figure 3
        return self.root / "figures" / "datasets" / self.dataset


TABLE_MD = Path("metrics") / "table1.md"
TABLE_CSV = Path("metrics") / "table1.csv"
FIGURE2 = Path("figures") / "figure2.png"  # all panels of Figure 2 (stage `figures`)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it into place only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
