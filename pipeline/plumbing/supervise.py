"""Plumbing: the processes around a training run (docs/reliability.md).

- a lock per checkpoint folder, so that a second trainer stops instead of writing over one
  left running by a killed `dvc repro`;
- Ctrl-C, SIGTERM, the death of `dvc` (or, in a worker, of the `train` that started it) ask the
  run to stop at the end of its current step;
- workers: one process per seed, side by side, their stdout relayed line by line and their
  stderr once they end; the first to fail stops the others.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path

from pipeline.plumbing.errors import Interrupted, PipelineError

WORKER = "GAN_TRAIN_WORKER"  # set in the environment of a worker process (one seed)
SHELLS = frozenset({"sh", "dash", "bash", "zsh", "fish", "ksh", "mksh"})


def in_worker() -> bool:
    return bool(os.environ.get(WORKER))


@contextmanager
def exclusive(directory: Path, name: str) -> Iterator[None]:
    """An exclusive lock on `directory` while training: a second `train <name>` (say, beside a
    trainer left running by a killed `dvc repro`) stops instead of writing over it."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PipelineError(
                f"{directory}: another `train {name}` is running on it; wait for it or stop it"
            ) from None
        yield
    finally:
        os.close(fd)


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def dvc_process() -> int:
    """The process that runs this stage: the first ancestor that is not the shell DVC runs the
    command through (bash replaces itself with the command; dash, /bin/sh when $SHELL is unset,
    stays in between). 1 when that process has died already (we were handed to init)."""
    pid = os.getppid()
    while pid > 1 and Path(f"/proc/{pid}/comm").read_text().strip() in SHELLS:
        pid = parent_of(pid)
    return pid


@contextmanager
def on_exit_of(pid: int, act: Callable[[], None]) -> Iterator[None]:
    """Call `act` (from a thread) when process `pid` exits, or at once when it has already."""
    watched = None
    if pid > 1:
        with suppress(ProcessLookupError):
            watched = os.pidfd_open(pid)
    if watched is None:
        act()
        yield
        return
    wake, waker = os.pipe()

    def wait() -> None:
        if watched in select.select([watched, wake], [], [])[0]:
            act()

    thread = threading.Thread(target=wait, name=f"watch {pid}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        os.write(waker, b"\0")
        thread.join()
        for fd in (watched, wake, waker):
            os.close(fd)


def _under_dvc() -> bool:
    return bool(os.environ.get("DVC_STAGE")) and sys.platform == "linux"


@contextmanager
def stop_on_signals(stop: Callable[[str], None]) -> Iterator[None]:
    """Ctrl-C and SIGTERM call `stop` with the signal's name (a second one stops the process at
    once). Under DVC (Linux), the death of `dvc` does too, and in a worker the death of the
    `train` that started it, so no trainer outlives the command that started it."""

    def ask(signum, frame) -> None:
        stop(signal.Signals(signum).name)
        signal.signal(signum, signal.SIG_DFL)

    previous = {s: signal.signal(s, ask) for s in (signal.SIGINT, signal.SIGTERM)}
    watched = os.getppid() if in_worker() else dvc_process()
    watch = sys.platform == "linux" and (in_worker() or _under_dvc())
    orphaned = lambda: stop("the death of the process that started it")  # noqa: E731
    try:
        with on_exit_of(watched, orphaned) if watch else nullcontext():
            yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def run_workers(
    commands: dict[int, list[str]], workers: int, on_line: Callable[[str], None], name: str
) -> None:
    """Run `commands` (seed -> argv), `workers` at a time, each in its own session with WORKER
    set; every line they print goes to `on_line`. Ctrl-C, SIGTERM or DVC's death reach them all
    through this process (each then stops after its step, its checkpoint kept); the first to
    fail stops the others, and its error is raised here, once."""
    env = {**os.environ, WORKER: "1"}
    pending, running = list(commands), {}  # running: Popen -> (seed, its stderr file)
    failed: tuple[int, str] | None = None  # the first seed that failed, and its error
    stop: list[str] = []  # why the workers were stopped, if they were

    def halt(why: str) -> None:
        stop.append(why)
        for proc in list(running):
            with suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)

    def ask(signum, frame) -> None:
        halt(signal.Signals(signum).name)

    previous = {s: signal.signal(s, ask) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with (
            on_exit_of(dvc_process(), lambda: halt("the death of dvc"))
            if _under_dvc()
            else (nullcontext())
        ):
            while pending or running:
                while pending and len(running) < workers and not stop:
                    seed = pending.pop(0)
                    errors = tempfile.TemporaryFile("w+")  # noqa: SIM115 (relay closes it)
                    proc = subprocess.Popen(
                        commands[seed],
                        env=env,
                        start_new_session=True,
                        text=True,
                        stdout=subprocess.PIPE,
                        stderr=errors,
                        bufsize=1,
                    )
                    running[proc] = (seed, errors)
                if not running:
                    break
                ready = select.select([p.stdout for p in running], [], [], 1.0)[0]
                for proc in [p for p in running if p.stdout in ready]:
                    line = proc.stdout.readline()
                    if line:
                        on_line(line)
                        continue
                    seed, errors = running.pop(proc)  # its output ended: it exits
                    proc.stdout.close()
                    error = relay(errors, proc.wait(), name)
                    if error is not None and not stop:
                        failed = (seed, error.replace(f"{name}: ", f"{name} seed {seed}: ", 1))
                        halt(f"the failure of seed {seed}")
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if failed:
        raise PipelineError(failed[1])
    if stop:
        raise Interrupted(
            f"{name}: stopped by {stop[0]}; each seed keeps the checkpoint of its last "
            "finished epoch; rerun to resume"
        )


def relay(errors, status: int, name: str) -> str | None:
    """Copy a finished worker's stderr to ours, but for its error line, which is returned (so
    that the error is said once, by `train`); None when it succeeded or was stopped."""
    errors.seek(0)
    lines = errors.read().splitlines()
    errors.close()
    error = None
    if status not in (0, Interrupted.exit_code) and lines and lines[-1].startswith("error: "):
        error = lines.pop().removeprefix("error: ")
    elif status not in (0, Interrupted.exit_code):
        error = f"{name}: the worker exited with status {status}"
    for line in lines:
        print(line, file=sys.stderr)
    return error
