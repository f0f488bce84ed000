"""Stage `download`: fetch a dataset's official files, verified by md5, into data/raw/<dataset>.

Mirror directories (``GAN_DATA_MIRROR``, separated by ``os.pathsep``) are tried before the URLs,
for every option of the source (``OPTIONS`` in pipeline/datasets/<source>.py) in order. A copy
whose md5 is wrong is reported and the next copy (next mirror, then the URLs) is tried; the stage
fails only when no copy verifies, listing each one tried. A licensed file with no URL (TFD) that
no mirror holds is an error saying where to put it.
All files land in a temporary directory first; data/raw/<dataset> is replaced only when every
file is present and verified, so a missing file or a bad checksum leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path

from pipeline.artifacts import write_provenance
from pipeline.datasets.files import Option, RemoteFile
from pipeline.datasets.sources import MODULES
from pipeline.params import DatasetParams, Params
from pipeline.paths import Paths
from pipeline.plumbing.errors import PipelineError
from pipeline.plumbing.files import md5sum

MIRROR_ENV = "GAN_DATA_MIRROR"


def mirrors() -> list[Path]:
    return [Path(p) for p in os.environ.get(MIRROR_ENV, "").split(os.pathsep) if p]


def _download(url: str, dest: Path) -> None:
    with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out)


def _copies(file: RemoteFile, where: str) -> list[tuple[str, Callable[[Path], object]]]:
    """(origin, copy-to-a-path) for each copy of `file` in the mirrors, or at its URLs."""
    if where == "mirrors":
        found = [m / file.folder / file.name for m in mirrors()]
        return [(str(p), partial(shutil.copyfile, p)) for p in found if p.is_file()]
    return [(url, partial(_download, url)) for url in file.urls]


def _fetch_file(file: RemoteFile, dest: Path, where: str, tried: list[str]) -> str | None:
    """Put the first copy of `file` (from `where`) whose md5 verifies at `dest`; return its md5.
    A copy that fails or does not verify is reported, recorded in `tried`, and the next one is
    tried. None if no copy verifies."""
    for origin, copy in _copies(file, where):
        try:
            copy(dest)
        except OSError as err:
            tried.append(f"{origin} ({err})")
            continue
        got = md5sum(dest)
        if file.md5 is None or got == file.md5:
            return got
        tried.append(f"{origin} (md5 {got}, expected {file.md5})")
        print(f"warning: {tried[-1]}; trying the next copy", file=sys.stderr, flush=True)
    return None


def fetch(source: str, staging: Path) -> tuple[Option, dict[str, str]]:
    """Put one complete option of `source` into `staging`: the first option whose files all have
    a verified copy in a mirror, else the first one whose files all download and verify. Returns
    the option and the md5 of each of its files."""
    missing = {}  # option -> the first of its files with no verified copy
    tried: list[str] = []  # every copy that failed, and why
    for where in ("mirrors", "urls"):
        for i, option in enumerate(MODULES[source].OPTIONS):
            md5s = {}
            for file in option.files:
                got = _fetch_file(file, staging / file.name, where, tried)
                if got is None:
                    missing.setdefault(i, f"{file.folder}/{file.name}")
                    for partial_file in staging.iterdir():
                        partial_file.unlink()
                    break
                md5s[file.name] = got
            else:
                return option, md5s
    where = ", ".join(str(m) for m in mirrors()) or f"none (${MIRROR_ENV} is not set)"
    reason = MODULES[source].MISSING or f"Set {MIRROR_ENV} to a directory holding it, or go online."
    raise PipelineError(
        f"could not fetch {source}: found no verified copy of "
        f"{' or '.join(missing.values())}; copies tried: {'; '.join(tried) or 'none'} "
        f"(mirrors: {where}). {reason}"
    )


def run(params: Params, ds: DatasetParams) -> None:
    out = Paths(ds.name).raw
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{ds.name}.") as tmp:
        staging = Path(tmp) / "files"
        staging.mkdir()
        option, md5s = fetch(ds.source, staging)
        write_provenance(staging, ds.source, option.note, md5s)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
