"""Stage `download`: fetch a dataset's official files, verified by md5, into data/raw/<dataset>.

Mirror directories (``GAN_DATA_MIRROR``, separated by ``os.pathsep``) are tried before the URLs,
for every option of the source (pipeline/sources.py) in order. A licensed file with no URL (TFD)
that no mirror holds is an error saying where to put it.
All files land in a temporary directory first; data/raw/<dataset> is replaced only when every
file is present and verified, so a missing file or a bad checksum leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

from pipeline.errors import PipelineError
from pipeline.params import DatasetParams, Params
from pipeline.paths import Paths
from pipeline.sources import SOURCES, Option, RemoteFile, Source

MIRROR_ENV = "GAN_DATA_MIRROR"
PROVENANCE = "provenance.json"  # which option was fetched; its note labels the results


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def mirrors() -> list[Path]:
    return [Path(p) for p in os.environ.get(MIRROR_ENV, "").split(os.pathsep) if p]


def _from_mirror(file: RemoteFile, dest: Path) -> str | None:
    for mirror in mirrors():
        candidate = mirror / file.folder / file.name
        if candidate.is_file():
            shutil.copyfile(candidate, dest)
            return str(candidate)
    return None


def _from_urls(file: RemoteFile, dest: Path) -> str | None:
    for url in file.urls:
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
                shutil.copyfileobj(response, out)
            return url
        except OSError:
            continue
    return None


def _verify(file: RemoteFile, path: Path, origin: str) -> str:
    """The file's md5, after checking it against the expected one (when there is one)."""
    got = md5sum(path)
    if file.md5 is not None and got != file.md5:
        raise PipelineError(
            f"checksum mismatch for {file.folder}/{file.name} from {origin}: "
            f"md5 {got}, expected {file.md5}"
        )
    return got


def fetch(source: Source, staging: Path) -> tuple[Option, dict[str, str]]:
    """Put one complete option of `source` into `staging`: the first option whose files are all
    in a mirror, else the first one whose files all download. Every file's md5 is checked; returns
    the option and the md5 of each of its files."""
    missing = {}  # option -> the first of its files that no mirror (or URL) had
    for getter in (_from_mirror, _from_urls):
        for i, option in enumerate(source.options):
            md5s = {}
            for file in option.files:
                origin = getter(file, staging / file.name)
                if origin is None:
                    missing.setdefault(i, f"{file.folder}/{file.name}")
                    for partial in staging.iterdir():
                        partial.unlink()
                    break
                md5s[file.name] = _verify(file, staging / file.name, origin)
            else:
                return option, md5s
    where = ", ".join(str(m) for m in mirrors()) or f"none (${MIRROR_ENV} is not set)"
    urls = [u for option in source.options for f in option.files for u in f.urls]
    tried = f"mirrors: {where}; URLs: {', '.join(urls) or 'none'}"
    reason = source.missing or f"Set {MIRROR_ENV} to a directory holding it, or get online."
    raise PipelineError(
        f"could not fetch {source.name}: found no copy of {' or '.join(missing.values())}; "
        f"tried {tried}. {reason}"
    )


def run(params: Params, ds: DatasetParams) -> None:
    source = SOURCES[ds.source]
    out = Paths(ds.name).raw
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{ds.name}.") as tmp:
        staging = Path(tmp) / "files"
        staging.mkdir()
        option, md5s = fetch(source, staging)
        provenance = {"source": source.name, "note": option.note, "md5": md5s}
        (staging / PROVENANCE).write_text(json.dumps(provenance, indent=2) + "\n")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
