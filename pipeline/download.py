"""Stage `download`: fetch a dataset's official files, verified by md5, into data/raw/<dataset>.

Mirror directories (``GAN_DATA_MIRROR``, separated by ``os.pathsep``) are tried before the URLs.
All files land in a temporary directory first; data/raw/<dataset> is replaced only when every
file is present and verified, so a missing file or a bad checksum leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

from pipeline.errors import PipelineError
from pipeline.params import DatasetParams, Params
from pipeline.paths import Paths
from pipeline.sources import SOURCES, RemoteFile

MIRROR_ENV = "GAN_DATA_MIRROR"


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def mirrors() -> list[Path]:
    return [Path(p) for p in os.environ.get(MIRROR_ENV, "").split(os.pathsep) if p]


def fetch(file: RemoteFile, source: str, dest: Path) -> None:
    """Copy `file` from the first mirror that has it, else download it; then check its md5."""
    tried = []
    for mirror in mirrors():
        candidate = mirror / source / file.name
        tried.append(str(candidate))
        if candidate.is_file():
            shutil.copyfile(candidate, dest)
            origin = str(candidate)
            break
    else:
        for url in file.urls:
            tried.append(url)
            try:
                with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
                    shutil.copyfileobj(response, out)
                origin = url
                break
            except OSError:
                continue
        else:
            raise PipelineError(
                f"could not fetch {source}/{file.name}; tried: {', '.join(tried)}. "
                f"Set {MIRROR_ENV} to a directory holding {source}/{file.name}."
            )
    got = md5sum(dest)
    if got != file.md5:
        raise PipelineError(
            f"checksum mismatch for {source}/{file.name} from {origin}: "
            f"md5 {got}, expected {file.md5}"
        )


def run(params: Params, ds: DatasetParams) -> None:
    dataset, source = ds.name, ds.source
    out = Paths(dataset).raw
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{dataset}.") as tmp:
        staging = Path(tmp) / "files"
        staging.mkdir()
        for file in SOURCES[source].files:
            fetch(file, source, staging / file.name)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
