"""Plumbing: files replaced whole or not at all, and their md5. Nothing here reads or changes
what is written (tests/test_structure.py), so its code is no stage's DVC dependency.

Every temporary file or folder is named `.tmp-<name>.<random>` beside its destination: DVC
ignores that pattern (.dvcignore), so one that a kill left behind never enters the cache, and
`sweep` removes such leftovers where their writer holds a lock."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TMP = ".tmp-"  # the prefix of every temporary name (.dvcignore)


def sweep(folder: Path) -> None:
    """Remove the temporaries a killed writer left in `folder` (its writers must hold a lock)."""
    for leftover in folder.glob(f"{TMP}*"):
        shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()


def _usual_mode(path: Path, mode: int) -> None:
    """mkstemp/mkdtemp create 0600/0700; give what open/mkdir would under the umask."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, mode & ~umask)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it into place only if the block succeeds. An
    OSError (read-only directory, full disk) names `path` itself, not the temporary file."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TMP}{path.name}.", suffix=path.suffix)
        os.close(fd)
        _usual_mode(Path(tmp), 0o666)
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as err:
        raise OSError(err.errno, err.strerror, str(path)) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


@contextmanager
def atomic_dir(dest: Path) -> Iterator[Path]:
    """Yield an empty directory beside `dest`; put it in the place of `dest` only if the block
    succeeds (two renames: `dest` is never half-written; a kill between them leaves the old copy
    beside it as .tmp-<name>.old)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f"{TMP}{dest.name}."))
    _usual_mode(staged, 0o777)
    try:
        yield staged
        old = dest.with_name(f"{TMP}{dest.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if dest.exists():
            dest.rename(old)
        staged.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        if staged.exists():
            shutil.rmtree(staged)


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
