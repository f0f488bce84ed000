"""Plumbing: files replaced whole or not at all, a stage's outputs all together, and their md5.
Nothing here reads or changes what is written (tests/test_structure.py), so its code is no
stage's DVC dependency.

Every temporary file or folder is named `.tmp-<name>.<random>` beside its destination: DVC
ignores that pattern (.dvcignore), so one that a kill left behind never enters the cache, and
`sweep` removes such leftovers where their writer holds a lock."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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


class Outputs:
    """A stage's outputs, staged beside their destinations (`file`, `folder`) and put in place
    together by `outputs()`."""

    def __init__(self) -> None:
        self.staged: dict[Path, Path] = {}  # destination -> its staged copy

    def _stage(self, dest: Path, make) -> Path:
        dest = Path(dest)
        if dest in self.staged:
            return self.staged[dest]
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            staged = Path(make(dest))
        except OSError as err:  # e.g. a read-only directory: name the output, not the temporary
            raise OSError(err.errno, err.strerror, str(dest)) from None
        self.staged[dest] = staged
        return staged

    def file(self, dest: Path) -> Path:
        """A new empty file that becomes `dest`."""

        def make(dest: Path) -> str:
            fd, tmp = tempfile.mkstemp(
                dir=dest.parent, prefix=f"{TMP}{dest.name}.", suffix=dest.suffix
            )
            os.close(fd)
            _usual_mode(Path(tmp), 0o666)
            return tmp

        return self._stage(dest, make)

    def folder(self, dest: Path) -> Path:
        """A new empty folder that becomes `dest`."""

        def make(dest: Path) -> str:
            tmp = tempfile.mkdtemp(dir=dest.parent, prefix=f"{TMP}{dest.name}.")
            _usual_mode(Path(tmp), 0o777)
            return tmp

        return self._stage(dest, make)

    def text(self, dest: Path, text: str) -> None:
        """Stage `text` as the output `dest`."""
        put(self.file(dest), text)

    def named(self, err: OSError) -> OSError:
        """`err` with a staged path in its message replaced by the output's own (an error that
        names no file, as a full disk's on write, is the only output's when there is one)."""
        if err.filename is None and len(self.staged) == 1:
            err = OSError(err.errno, err.strerror, str(next(iter(self.staged.values()))))
        where = str(err.filename or "")
        for dest, staged in self.staged.items():
            if where == str(staged) or where.startswith(f"{staged}/"):
                return OSError(err.errno, err.strerror, str(dest) + where[len(str(staged)) :])
        return err

    def swap(self) -> None:
        """Put every staged output in its place; if one cannot be, put back the ones already
        swapped, so the outputs stay all old or all new (only a kill within these few renames
        can leave them mixed; the old copies then lie beside them as .tmp-<name>.old)."""
        swapped: list[tuple[Path, Path | None]] = []  # (output, its old copy) now in place
        failed = None
        try:
            for failed, staged in self.staged.items():
                old = failed.with_name(f"{TMP}{failed.name}.old")
                _remove(old)
                aside = old if failed.exists() or failed.is_symlink() else None
                if aside is not None:
                    failed.rename(aside)
                try:
                    staged.rename(failed)
                except OSError:
                    if aside is not None:
                        aside.rename(failed)
                    raise
                swapped.append((failed, aside))
        except OSError as err:
            for dest, aside in reversed(swapped):
                _remove(dest)
                if aside is not None:
                    aside.rename(dest)
            raise OSError(err.errno, err.strerror, str(failed)) from None
        for _, aside in swapped:
            if aside is not None:
                _remove(aside)

    def discard(self) -> None:
        for staged in self.staged.values():
            _remove(staged)


def put(path: Path, data: str | bytes) -> None:
    """Write `data` to `path` (a staged path: not atomic by itself); an OSError names `path`,
    which a write error on a full disk would not."""
    try:
        with open(path, "w" if isinstance(data, str) else "wb") as f:
            f.write(data)
    except OSError as err:
        raise OSError(err.errno, err.strerror, str(path)) from None


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


_checks: ContextVar[tuple[Callable[[], None], ...]] = ContextVar("checks", default=())


@contextmanager
def checked_before_replacing(check: Callable[[], None]) -> Iterator[None]:
    """In the block, every `outputs()` calls `check` (which raises to refuse) before it replaces
    anything: the command line checks that the params file still holds what the stage read."""
    token = _checks.set((*_checks.get(), check))
    try:
        yield
    finally:
        _checks.reset(token)


@contextmanager
def outputs() -> Iterator[Outputs]:
    """Stage a stage's outputs in the block; replace them all together if it succeeds (and every
    `checked_before_replacing` check passes), none of them if it fails. An OSError (read-only
    directory, full disk) names the output, never a temporary."""
    out = Outputs()
    try:
        yield out
        for check in _checks.get():
            check()
        out.swap()
    except OSError as err:
        raise out.named(err) from None
    finally:
        out.discard()


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it into place only if the block succeeds."""
    with outputs() as out:
        yield out.file(path)


def write_text(path: Path, text: str) -> None:
    with outputs() as out:
        out.text(path, text)


@contextmanager
def atomic_dir(dest: Path) -> Iterator[Path]:
    """Yield an empty directory beside `dest`; put it in the place of `dest` only if the block
    succeeds."""
    with outputs() as out:
        yield out.folder(dest)


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
