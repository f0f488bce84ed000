"""Stage `train`: the adversarial nets (adversarial.py) trained once per seed of the section's
``seeds``, side by side where the CPU allows.

- Seeds: each seed is one run with its own independent random streams (streams.py). On a CPU
  the runs go in parallel processes, one per core (``python -m pipeline train <ds> --seed s
  --threads t``; two 1-thread runs beat one 2-thread run, docs/speed.md); on a GPU one after
  the other. Table 1 reports the seeds' mean and spread, collapsed seeds counted apart.
- Schedules: the number of epochs per phase is ``train.epochs`` (the release schedule) or
  ``train.cpu_epochs`` (reduced, same nets), see ``schedule`` in params.yaml.
- Runs survive (docs/reliability.md): at the end of every epoch a run's whole state goes
  atomically into checkpoints/<dataset>/seed-<n>/, which DVC caches but never deletes. A rerun
  with the same params, data and training code resumes there and ends bit-identical to an
  uninterrupted run; anything else starts fresh and says why, keeping the old run aside until
  its own first epoch is saved. A finished run resumes into a longer last phase (more epochs),
  and a seed dropped from ``seeds`` and added back resumes.
- Outputs (models/<dataset>/seed-<n>/, each seed's log in metrics/datasets/<dataset>/train/,
  the run record metrics/datasets/<dataset>/train.json) are replaced only when every seed has
  finished, so a failed or interrupted run leaves the previous ones as they were. Ctrl-C (or
  SIGTERM, or DVC dying under it) stops every run at the end of its current step, with the last
  epoch's checkpoint to resume from.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import torch

from pipeline import checkpoints, code, cpus, machine, stopping
from pipeline.adversarial import STATE, Trainer, fit, pick_device
from pipeline.artifacts import load_processed
from pipeline.params import DatasetParams, Params, as_dict
from pipeline.paths import Paths
from pipeline.plumbing import progress, supervise
from pipeline.plumbing.errors import Interrupted, PipelineError
from pipeline.plumbing.files import md5sum, outputs, sweep, write_text

RESULT = "result.json"  # the seed's run, written when it ends (finished or collapsed)
PREVIOUS = "previous-run"  # the run a fresh one replaces, until the new one's first save

# Modules of adversarial.py's closure that never change what an epoch computes, so that a
# checkpoint made before an edit to one of them is resumed after it; every other module of the
# closure but the plumbing (code.py leaves pipeline/plumbing/ out) is part of the "training
# code" a checkpoint must share with the run that resumes it. This module is not in it: it only
# runs the seeds and gathers their outputs.
NOT_COMPUTING = {
    "pipeline/stopping.py": "decides only when a run stops, and how it is labelled",
    "pipeline/params.py": "reads params.yaml; the values it reads are part of the identity",
    "pipeline/datasets/__init__.py": "the registry of sources; a run's shapes are in its data",
    "pipeline/machine.py": "names the machine a run trained on, for its record",
}


# Earlier versions of the training code that compute, epoch by epoch, exactly what this one
# does, each shown side by side (a run trained by it and one by this code: bit-identical
# checkpoints, in the commit that lists it); their checkpoints resume here.
SAME_COMPUTATION = {
    "3d16056bb390ae5f621450d7f4989a63": "before fit learnt the patience rule (plateau.py)",
    "5d8215dcbf62a0f1804d0d85328eb37d": "before stages/ and plumbing/ (bench.same, issue 37)",
    "1ab8ca2cd5f9830e8ad723fec4f88789": "before loaders checked what files hold (issue 41)",
    "68aaa1872f064e8306a4355c22499151": "before selection knew the collapse rule (issue 39)",
    "0f5e65241d5cc5a80b3045ee9da5f791": "before kernels: fused (issue 40)",
    "f05e888d3e794d210630c494658c5dc1": "before runs recorded their machine (issue 38)",
}


def training_code() -> str:
    """Version of the code that determines a run's numbers (code.version: docstrings, comments
    and layout aside); the run record names it."""
    return code.version("pipeline.adversarial", frozenset(NOT_COMPUTING))


def unless_eager(params: Params) -> dict:
    """`kernels` for a run's identity, generators and record, where it is not the eager step
    every run before the param had: those stay byte for byte as they were."""
    return {} if params.kernels == "eager" else {"kernels": params.kernels}


def trajectory(params: Params, ds: DatasetParams, seed: int, phases: tuple[int, ...]) -> dict:
    """The params one seed's run depends on, epoch by epoch: its section less the seed list, the
    classifier that scores it, the stopping rules (collapse, patience, plateau: when to stop,
    not what is computed) and the length of the last phase (a finished run resumes into a
    longer one: ``-S mnist.train.cpu_epochs=1000`` continues it)."""
    section = as_dict(ds)
    for key in ("seeds", "classifier"):  # classifier: what scores the run, not the run
        del section[key]
    for key in ("collapse", "patience", "plateau", "epochs", "cpu_epochs"):
        del section["train"][key]
    return {
        "dataset": section,
        "k": params.k,
        "update": params.update,
        "generator_loss": params.generator_loss,
        "seed": seed,
        "precision": params.precision,
        "earlier phases": list(phases[:-1]),
        **unless_eager(params),
    }


def fingerprint(meta: dict, data: Path, device: torch.device) -> dict:
    """What a checkpoint must share with a run to be resumed by it."""
    return {
        "params": json.loads(json.dumps(meta)),
        "data": md5sum(data),
        "training code": training_code(),
        "device": device.type,
    }


def resumable(
    path: Path, identity: dict, fresh: bool, total: int, command: str, report: progress.Report
) -> dict | None:
    """The saved state at `path` if this run (of `total` epochs) continues it, else None (and
    reports why); `command` trains this run from scratch."""
    if not path.is_file():
        return None
    if fresh:
        report({"event": "fresh", "why": "asked", "path": str(path)})
        return None
    keys = ("identity", "done", "trainer", "best", "history", "seconds")
    saved = checkpoints.load(path, f"delete it, or run `{command}`", "training checkpoint", keys)
    theirs = saved.get("identity", {})
    if theirs.get("training code") in SAME_COMPUTATION:
        theirs = {**theirs, "training code": identity["training code"]}
    changed = [key for key, value in identity.items() if theirs.get(key) != value]
    where = {"path": str(path), "done": saved["done"], "total": total}
    if changed:
        report({"event": "fresh", "why": "changed", "changed": changed, **where})
        return None
    if saved["done"] > total:
        report({"event": "fresh", "why": "beyond", **where})
        return None
    report({"event": "resume", **where})
    return saved


def set_aside(folder: Path) -> None:
    """Before a fresh run: move the seed's old run into PREVIOUS, where it stays until the new run
    has saved its first epoch (a mistaken params change stopped before then loses nothing)."""
    (folder / PREVIOUS).mkdir(exist_ok=True)
    for old in folder.iterdir():
        if old.name != PREVIOUS:
            old.rename(folder / PREVIOUS / old.name)
    if not any((folder / PREVIOUS).iterdir()):
        (folder / PREVIOUS).rmdir()


def take_back(folder: Path) -> None:
    """A fresh run stopped before its first save: what it wrote goes, the run before it is back."""
    if not (folder / PREVIOUS).is_dir():
        return
    for new in folder.iterdir():
        if new.name != PREVIOUS:
            shutil.rmtree(new) if new.is_dir() else new.unlink()
    for old in (folder / PREVIOUS).iterdir():
        old.rename(folder / old.name)
    (folder / PREVIOUS).rmdir()


def train_seed(
    params: Params, ds: DatasetParams, seed: int, fresh: bool, report: progress.Report
) -> dict:
    """Train one seed in checkpoints/<dataset>/seed-<n>/, resuming there when it may; leave its
    generators, its log and RESULT there; return RESULT's record. Every event goes to `report`,
    with the run's name and seed."""
    paths = Paths(ds.name)
    device = pick_device(params.device)
    phases = ds.train.schedule(params.resolved_schedule(device.type == "cuda"))
    data = load_processed(ds.name)
    trainer = Trainer(params, ds, torch.from_numpy(data.train), device, data.image_shape, seed)
    valid = torch.from_numpy(data.valid(0)[: ds.parzen.valid]).to(device)
    meta = trajectory(params, ds, seed, phases)
    folder = paths.seed_checkpoints(seed)
    named = lambda event: report({"run": f"{ds.name} seed {seed}", "seed": seed, **event})  # noqa: E731

    def stop(why: str) -> None:
        trainer.stop = why

    with supervise.exclusive(folder, f"{ds.name} --seed {seed}"), supervise.stop_on_signals(stop):
        identity = fingerprint(meta, paths.processed, device)
        command = f"python -m pipeline train {ds.name} --seed {seed} --fresh"
        sweep(folder)  # what a kill left mid-write: the checkpoint before it is whole
        take_back(folder)
        saved = resumable(folder / STATE, identity, fresh, sum(phases), command, named)
        if saved is None:
            set_aside(folder)

        def settled(event: dict) -> None:  # an epoch's event follows its checkpoint's save
            if event["event"] == "epoch":
                shutil.rmtree(folder / PREVIOUS, ignore_errors=True)
            named(event)

        settled({"event": "start", "done": saved["done"] if saved else 0, "total": sum(phases)})
        show = not supervise.in_worker()  # a bar over the steps on a terminal; workers: events
        result = fit(trainer, phases, valid, meta, folder, identity, saved, settled, show)
        write_text(folder / RESULT, json.dumps(result, indent=2) + "\n")
    return result


def share_cpu(seeds: int, device: torch.device) -> tuple[int, int]:
    """(processes, threads each) for training `seeds` runs: on a GPU one at a time; on a CPU
    up to one process per core, the cores (cpus.available) split between them."""
    if device.type == "cuda":
        return 1, torch.get_num_threads()
    return cpus.split(seeds, cpus.available())


def in_workers(
    params: Params,
    ds: DatasetParams,
    workers: int,
    threads: int,
    fresh: bool,
    bar: progress.Progress,
) -> None:
    """Train the seeds of `ds`, `workers` processes at a time (``python -m pipeline train <ds>
    --seed s --threads t``), their events shown on `bar`."""
    commands = {
        seed: [
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
            *["--fresh"] * fresh,
        ]
        for seed in ds.seeds
    }
    supervise.run_workers(commands, workers, bar.line, ds.name)


def labelled(folder: Path, ds: DatasetParams, phases: tuple[int, ...]) -> dict:
    """A seed's summary (RESULT) with its collapses from its log, the last phase's epochs only:
    ``collapsed`` when it ended collapsed or was stopped for it, ``collapse_epoch`` where that
    last collapse began, ``collapsed_epochs`` every collapsed stretch [first, last] (one it came
    back from included), ``stopped_at`` the epoch a stopping rule ended it and ``stopped_for``
    which ("collapse" or "no improvement")."""
    result = json.loads((folder / RESULT).read_text())
    earlier = sum(phases[:-1])
    history = [{} if i < earlier else e for i, e in enumerate(stopping.read_log(folder))]
    found = stopping.spells(history, ds.train.collapse)
    stopped = result.pop("collapse_epoch")
    result["collapsed"] = stopped is not None or stopping.at_end(history, ds.train.collapse)
    result["collapse_epoch"] = found[-1][0] if result["collapsed"] else None
    result["collapsed_epochs"] = [list(spell) for spell in found]
    plateaued = result.pop("plateau_epoch")
    result["stopped_at"] = stopped or plateaued
    result["stopped_for"] = "collapse" if stopped else "no improvement" if plateaued else None
    return result


def run(
    params: Params,
    ds: DatasetParams,
    fresh: bool = False,
    seed: int | None = None,
    threads: int | None = None,
) -> None:
    """Train every seed of `ds.seeds` (or only `seed`), side by side where the CPU allows, then
    replace the stage's outputs: models/<dataset>/seed-<n>/, the per-seed logs in
    metrics/datasets/<dataset>/train/ and the run record metrics/datasets/<dataset>/train.json.
    A failed or interrupted run leaves them as they were."""
    if threads is not None:
        torch.set_num_threads(threads)
    device = pick_device(params.device)
    slow = machine.emulated_bf16(device) if params.precision == "bf16" else None
    if slow and not supervise.in_worker():  # said once, by the `train` the user started
        print(f"warning: precision is bf16 in {params.file}, but {slow}", file=sys.stderr)
    if seed is not None:
        if seed not in ds.seeds:
            raise PipelineError(
                f"{params.file}: '{ds.name}.seeds' is {list(ds.seeds)}; --seed {seed} is not in it"
            )
        if supervise.in_worker():  # its `train` shows the events, and says once why it stopped
            try:
                train_seed(params, ds, seed, fresh, progress.as_json_line)
            except Interrupted:
                raise SystemExit(130) from None
            return
        bar = progress.Progress(f"{ds.name} seed {seed}")
        try:
            train_seed(params, ds, seed, fresh, bar.event)
        finally:
            bar.close()
        return
    paths = Paths(ds.name)
    workers, threads = share_cpu(len(ds.seeds), device)
    bar = progress.Progress(f"{ds.name}, {len(ds.seeds)} seeds")
    try:
        with supervise.exclusive(paths.checkpoints, ds.name):
            if workers == 1:
                torch.set_num_threads(threads)
                for s in ds.seeds:
                    train_seed(params, ds, s, fresh, bar.event)
            else:
                in_workers(params, ds, workers, threads, fresh, bar)
            gather(params, ds, device, workers, threads)
    finally:
        bar.close()


def gather(
    params: Params, ds: DatasetParams, device: torch.device, workers: int, threads: int
) -> None:
    """Replace the stage's outputs with what every seed left in its checkpoint folder: the
    generators, the per-seed logs and the run record (``artifacts.RUN_KEYS``)."""
    paths = Paths(ds.name)
    phases = ds.train.schedule(params.resolved_schedule(device.type == "cuda"))
    results = {str(s): labelled(paths.seed_checkpoints(s), ds, phases) for s in ds.seeds}
    schedule = params.resolved_schedule(device.type == "cuda")
    if phases == ds.train.epochs:  # cpu_epochs may be the release's
        schedule = "release"
    record = {  # artifacts.RUN_KEYS: what table and figures caption the numbers with
        "k": params.k,
        "update": params.update,
        "generator_loss": params.generator_loss,
        "precision": params.precision,
        **unless_eager(params),
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
    with outputs() as out:  # all three replaced together, or none
        models = out.folder(paths.models)
        for s in ds.seeds:
            (models / f"seed-{s}").mkdir()
            for name in ("generator_best.pt", "generator_last.pt", "generator_pretrained.pt"):
                if (paths.seed_checkpoints(s) / name).is_file():
                    shutil.copyfile(paths.seed_checkpoints(s) / name, models / f"seed-{s}" / name)
        log = out.folder(paths.train_log)
        for s in ds.seeds:
            shutil.copytree(
                paths.seed_checkpoints(s) / "live" / "plots" / "metrics", log / f"seed-{s}"
            )
        out.text(paths.train_record, json.dumps(record, indent=2) + "\n")
