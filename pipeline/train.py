"""Stage `train`: the adversarial nets (adversarial.py) trained once per seed of the section's
``seeds``, side by side where the CPU allows.

- Seeds: each seed is one run with its own independent random streams (streams.py). On a CPU
  the runs go in parallel processes, one per core (``python -m pipeline train <ds> --seed s
  --threads t``; two 1-thread runs beat one 2-thread run, docs/speed.md); on a GPU one after
  the other. Table 1 reports the seeds' mean and spread, collapsed seeds counted apart.
- Schedules: the number of epochs per phase is ``train.epochs`` (the paper's schedule) or
  ``train.cpu_epochs`` (reduced, same nets), see ``schedule`` in params.yaml.
- Runs survive (docs/reliability.md): at the end of every epoch a run's whole state goes
  atomically into checkpoints/<dataset>/seed-<n>/, which DVC neither tracks nor deletes. A rerun
  with the same params, data and training code resumes there and ends bit-identical to an
  uninterrupted run; anything else starts fresh and says why. A finished run resumes into a
  longer last phase (more epochs), and a seed dropped from ``seeds`` and added back resumes.
- Outputs (models/<dataset>/seed-<n>/, each seed's log in metrics/datasets/<dataset>/train/,
  the run record metrics/datasets/<dataset>/train.json) are replaced only when every seed has
  finished, so a failed or interrupted run leaves the previous ones as they were. Ctrl-C (or
  SIGTERM, or DVC dying under it) stops every run at the end of its current step, with the last
  epoch's checkpoint to resume from.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path

import torch
from tqdm import tqdm

from pipeline import checkpoints, code, collapse, cpus
from pipeline.adversarial import STATE, Trainer, fit, pick_device
from pipeline.artifacts import load_processed
from pipeline.errors import Interrupted, PipelineError
from pipeline.params import DatasetParams, Params, as_dict
from pipeline.paths import Paths, atomic_dir, md5sum, write_text

RESULT = "result.json"  # the seed's run, written when it ends (finished or collapsed)
WORKER = "GAN_TRAIN_WORKER"  # set in the environment of a worker process (one seed)

# Modules of adversarial.py's closure that never change what an epoch computes, so that a
# checkpoint made before an edit to one of them is resumed after it; every other module of the
# closure is part of the "training code" a checkpoint must share with the run that resumes it.
# This module is not in it: it only runs the seeds and gathers their outputs.
NOT_COMPUTING = {
    "pipeline/collapse.py": "decides only when a run stops, and how it is labelled",
    "pipeline/plateau.py": "decides only when a run stops",
    "pipeline/params.py": "reads params.yaml; the values it reads are part of the identity",
    "pipeline/datasets/__init__.py": "the registry of sources; a run's shapes are in its data",
    "pipeline/paths.py": "names files",
    "pipeline/errors.py": "formats errors",
}


# Earlier versions of the training code that compute, epoch by epoch, exactly what this one
# does, each shown side by side (a run trained by it and one by this code: bit-identical
# checkpoints, in the commit that lists it); their checkpoints resume here.
SAME_COMPUTATION = {
    "3d16056bb390ae5f621450d7f4989a63": "before fit learnt the patience rule (plateau.py)",
}


def training_code() -> str:
    """Version of the code that determines a run's numbers (code.version: docstrings, comments
    and layout aside); the run record names it."""
    return code.version("pipeline.adversarial", frozenset(NOT_COMPUTING))


def trajectory(params: Params, ds: DatasetParams, seed: int, phases: tuple[int, ...]) -> dict:
    """The params one seed's run depends on, epoch by epoch: its section less the seed list, the
    classifier that scores it, the stopping rules (collapse, patience: when to stop, not what
    is computed) and the length of the last phase (a finished run resumes into a longer one:
    ``-S mnist.train.cpu_epochs=1000`` continues it)."""
    section = as_dict(ds)
    for key in ("seeds", "classifier"):  # classifier: what scores the run, not the run
        del section[key]
    for key in ("collapse", "patience", "epochs", "cpu_epochs"):
        del section["train"][key]
    return {
        "dataset": section,
        "k": params.k,
        "update": params.update,
        "generator_loss": params.generator_loss,
        "seed": seed,
        "precision": params.precision,
        "earlier phases": list(phases[:-1]),
    }


def fingerprint(meta: dict, data: Path, device: torch.device) -> dict:
    """What a checkpoint must share with a run to be resumed by it."""
    return {
        "params": json.loads(json.dumps(meta)),
        "data": md5sum(data),
        "training code": training_code(),
        "device": device.type,
    }


def resumable(path: Path, identity: dict, fresh: bool, name: str, total: int,
              command: str) -> dict | None:  # fmt: skip
    """The saved state at `path` if this run (of `total` epochs) continues it, else None (and
    says why); `command` trains this run from scratch."""
    if not path.is_file():
        return None
    if fresh:
        print(f"{name}: starting fresh (--fresh); discarding {path}", flush=True)
        return None
    saved = checkpoints.load(path, f"delete it, or run `{command}`")
    theirs = saved.get("identity", {})
    if theirs.get("training code") in SAME_COMPUTATION:
        theirs = {**theirs, "training code": identity["training code"]}
    changed = [key for key, value in identity.items() if theirs.get(key) != value]
    if changed:
        print(f"{name}: starting fresh: the {' and '.join(changed)} differ from those of the "
              f"checkpoint at epoch {saved['done']} ({path})", flush=True)  # fmt: skip
        return None
    if saved["done"] > total:
        print(f"{name}: starting fresh: the checkpoint ({path}) is at epoch {saved['done']}, "
              f"beyond this run's {total}", flush=True)  # fmt: skip
        return None
    return saved


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


SHELLS = frozenset({"sh", "dash", "bash", "zsh", "fish", "ksh", "mksh"})


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


@contextmanager
def stop_on_signals(trainer: Trainer) -> Iterator[None]:
    """Ctrl-C and SIGTERM make the trainer stop at the end of its current step (a second one
    stops it at once). Under DVC (Linux), the death of `dvc` does too, and in a worker the death
    of the `train` that started it, so no trainer outlives the command that started it."""

    def ask(signum, frame) -> None:
        trainer.stop = signal.Signals(signum).name
        signal.signal(signum, signal.SIG_DFL)

    def orphaned() -> None:
        trainer.stop = "the death of the process that started it"

    previous = {s: signal.signal(s, ask) for s in (signal.SIGINT, signal.SIGTERM)}
    linux = sys.platform == "linux"
    watched = os.getppid() if os.environ.get(WORKER) else dvc_process()
    watch = linux and bool(os.environ.get(WORKER) or os.environ.get("DVC_STAGE"))
    try:
        with on_exit_of(watched, orphaned) if watch else nullcontext():
            yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def train_seed(params: Params, ds: DatasetParams, seed: int, fresh: bool = False) -> dict:
    """Train one seed in checkpoints/<dataset>/seed-<n>/, resuming there when it may; leave its
    generators, its log and RESULT there; return RESULT's record."""
    paths = Paths(ds.name)
    device = pick_device(params.device)
    phases = ds.train.schedule(params.resolved_schedule(device.type == "cuda"))
    data = load_processed(ds.name)
    trainer = Trainer(params, ds, torch.from_numpy(data.train), device, data.image_shape, seed)
    valid = torch.from_numpy(data.valid(0)[: ds.parzen.valid]).to(device)
    meta = trajectory(params, ds, seed, phases)
    name, folder = f"{ds.name} seed {seed}", paths.seed_checkpoints(seed)
    with exclusive(folder, f"{ds.name} --seed {seed}"), stop_on_signals(trainer):
        identity = fingerprint(meta, paths.processed, device)
        command = f"python -m pipeline train {ds.name} --seed {seed} --fresh"
        saved = resumable(folder / STATE, identity, fresh, name, sum(phases), command)
        if saved is None:
            for old in folder.iterdir():
                shutil.rmtree(old) if old.is_dir() else old.unlink()
        else:
            print(f"{name}: resuming after epoch {saved['done']} of {sum(phases)} "
                  f"({folder / STATE})", flush=True)  # fmt: skip
        progress = not os.environ.get(WORKER)  # bars on a terminal; workers print lines only
        result = fit(trainer, phases, valid, meta, folder, identity, saved, name, progress)
        write_text(folder / RESULT, json.dumps(result, indent=2) + "\n")
    return result


def share_cpu(seeds: int, device: torch.device) -> tuple[int, int]:
    """(processes, threads each) for training `seeds` runs: on a GPU one at a time; on a CPU
    up to one process per core, the cores (cpus.available) split between them."""
    if device.type == "cuda":
        return 1, torch.get_num_threads()
    return cpus.split(seeds, cpus.available())


EPOCH_LINE = re.compile(r"^\S+ seed (\d+) (?:epoch|: resuming after epoch) (\d+)(?:/| of )(\d+)")


class Progress:
    """One bar over every seed's epochs, fed by the workers' lines (which it prints as they
    come): "<ds> seed s epoch e/n ..." and "<ds> seed s: resuming after epoch e of n"."""

    def __init__(self, ds: DatasetParams, seeds: tuple[int, ...]) -> None:
        self.done: dict[int, int] = {}  # seed -> epochs finished
        self.totals: dict[int, int] = {}  # seed -> its epochs (up to a collapse)
        self.bar = tqdm(desc=f"{ds.name}, {len(seeds)} seeds", unit="epoch", disable=None)

    def line(self, text: str) -> None:
        self.bar.write(text.rstrip("\n"), file=sys.stdout)
        sys.stdout.flush()
        match = EPOCH_LINE.match(text)
        if match:
            seed, epoch, total = map(int, match.groups())
            self.done[seed] = epoch
            if text.rstrip().endswith("stopping"):  # collapsed or no longer improving
                total = epoch
            self.bar.total = (self.bar.total or 0) + total - self.totals.get(seed, 0)
            self.totals[seed] = total
            self.bar.n = sum(self.done.values())
            self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def in_workers(params: Params, ds: DatasetParams, workers: int, threads: int,
               fresh: bool) -> None:  # fmt: skip
    """Train the seeds of `ds`, `workers` processes at a time (``python -m pipeline train <ds>
    --seed s --threads t``, each in its own session, its lines relayed under one progress bar).
    Ctrl-C, SIGTERM or DVC's death reach them all through this process (each then stops after
    its step, its checkpoint kept); the first to fail stops the others."""
    env = {**os.environ, WORKER: "1"}
    pending, running = list(ds.seeds), {}  # running: Popen -> (seed, its stderr file)
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
    under_dvc = bool(os.environ.get("DVC_STAGE")) and sys.platform == "linux"
    progress = Progress(ds, ds.seeds)
    try:
        with on_exit_of(dvc_process(), lambda: halt("the death of dvc")) if under_dvc \
                else nullcontext():  # fmt: skip
            while pending or running:
                while pending and len(running) < workers and not stop:
                    seed = pending.pop(0)
                    cmd = [
                        sys.executable,
                        "-m",
                        "pipeline",
                        "train",
                        ds.name,
                        "--params",
                        str(params.file),
                        "--seed",
                        str(seed),
                        "--threads",
                        str(threads),
                    ]
                    cmd += ["--fresh"] * fresh
                    errors = tempfile.TemporaryFile("w+")  # noqa: SIM115 (relay closes it)
                    proc = subprocess.Popen(cmd, env=env, start_new_session=True, text=True,
                                            stdout=subprocess.PIPE, stderr=errors,
                                            bufsize=1)  # fmt: skip
                    running[proc] = (seed, errors)
                if not running:
                    break
                ready = select.select([p.stdout for p in running], [], [], 1.0)[0]
                for proc in [p for p in running if p.stdout in ready]:
                    line = proc.stdout.readline()
                    if line:
                        progress.line(line)
                        continue
                    seed, errors = running.pop(proc)  # its output ended: it exits
                    proc.stdout.close()
                    error = relay(errors, proc.wait(), ds.name)
                    if error is not None and not stop:
                        failed = (
                            seed,
                            error.replace(f"{ds.name}: ", f"{ds.name} seed {seed}: ", 1),
                        )
                        halt(f"the failure of seed {seed}")
    finally:
        progress.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    if failed:
        raise PipelineError(failed[1])
    if stop:
        raise Interrupted(
            f"{ds.name}: stopped by {stop[0]}; each seed keeps the checkpoint of its last "
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


def labelled(folder: Path, ds: DatasetParams, phases: tuple[int, ...]) -> dict:
    """A seed's summary (RESULT) with its collapses from its log, the last phase's epochs only:
    ``collapsed`` when it ended collapsed or was stopped for it, ``collapse_epoch`` where that
    last collapse began, ``collapsed_epochs`` every collapsed stretch [first, last] (one it came
    back from included), ``stopped_at`` the epoch a stopping rule ended it and ``stopped_for``
    which ("collapse" or "no improvement")."""
    result = json.loads((folder / RESULT).read_text())
    earlier = sum(phases[:-1])
    history = [{} if i < earlier else e for i, e in enumerate(collapse.read_log(folder))]
    found = collapse.spells(history, ds.train.collapse)
    stopped = result.pop("collapse_epoch")
    result["collapsed"] = stopped is not None or collapse.at_end(history, ds.train.collapse)
    result["collapse_epoch"] = found[-1][0] if result["collapsed"] else None
    result["collapsed_epochs"] = [list(spell) for spell in found]
    plateaued = result.pop("plateau_epoch")
    result["stopped_at"] = stopped or plateaued
    result["stopped_for"] = "collapse" if stopped else "no improvement" if plateaued else None
    return result


def run(params: Params, ds: DatasetParams, fresh: bool = False, seed: int | None = None,
        threads: int | None = None) -> None:  # fmt: skip
    """Train every seed of `ds.seeds` (or only `seed`), side by side where the CPU allows, then
    replace the stage's outputs: models/<dataset>/seed-<n>/, the per-seed logs in
    metrics/datasets/<dataset>/train/ and the run record metrics/datasets/<dataset>/train.json.
    A failed or interrupted run leaves them as they were."""
    if threads is not None:
        torch.set_num_threads(threads)
    if seed is not None:
        if seed not in ds.seeds:
            raise PipelineError(
                f"params.yaml: '{ds.name}.seeds' is {list(ds.seeds)}; --seed {seed} is not in it"
            )
        try:
            train_seed(params, ds, seed, fresh)
        except Interrupted:
            if os.environ.get(WORKER):  # stopped by its `train`, which says so once
                raise SystemExit(130) from None
            raise
        return
    paths = Paths(ds.name)
    device = pick_device(params.device)
    workers, threads = share_cpu(len(ds.seeds), device)
    with exclusive(paths.checkpoints, ds.name):
        if workers == 1:
            torch.set_num_threads(threads)
            for s in ds.seeds:
                train_seed(params, ds, s, fresh)
        else:
            in_workers(params, ds, workers, threads, fresh)
        phases = ds.train.schedule(params.resolved_schedule(device.type == "cuda"))
        results = {str(s): labelled(paths.seed_checkpoints(s), ds, phases) for s in ds.seeds}
        with atomic_dir(paths.models) as models:
            for s in ds.seeds:
                (models / f"seed-{s}").mkdir()
                for name in ("generator_best.pt", "generator_last.pt", "generator_pretrained.pt"):
                    if (paths.seed_checkpoints(s) / name).is_file():
                        shutil.copyfile(paths.seed_checkpoints(s) / name,
                                        models / f"seed-{s}" / name)  # fmt: skip
        with atomic_dir(paths.train_log) as log:
            for s in ds.seeds:
                shutil.copytree(paths.seed_checkpoints(s) / "live" / "plots" / "metrics",
                                log / f"seed-{s}")  # fmt: skip
    schedule = params.resolved_schedule(device.type == "cuda")
    if phases == ds.train.epochs:  # cpu_epochs may be the paper's
        schedule = "paper"
    record = {  # artifacts.RUN_KEYS: what table and figures caption the numbers with
        "k": params.k,
        "update": params.update,
        "generator_loss": params.generator_loss,
        "precision": params.precision,
        "schedule": schedule,
        "phases": list(phases),
        "epochs": sum(phases),
        "device": str(device),
        "workers": workers,  # seeds trained side by side
        "threads": threads,  # torch threads of each
        "code": training_code(),
        "n_seeds": len(ds.seeds),
        "collapsed": sum(r["collapsed"] for r in results.values()),
        "train_seconds": sum(r["train_seconds"] for r in results.values()),
        "seeds": results,
    }
    write_text(paths.train_record, json.dumps(record, indent=2) + "\n")
