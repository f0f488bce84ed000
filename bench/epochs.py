"""Wall time per epoch of each dataset's nets on this machine (the README's compute table).

For every dataset section of params.yaml (TFD included, whether or not it is listed), times
`--steps` training steps of the released nets (k = 1, simultaneous update, after one warm-up
step) on random data of the dataset's shape, and scales to one epoch of its training set and to
the paper's and the reduced CPU schedules. Training-set sizes: from data/processed/<name>.npz
when `dvc repro` has built it, else the split in params.yaml; TFD's unlabeled split needs the
licensed file, so its epoch is given per 10,000 images.

Usage: python -m bench.epochs [--steps N]
"""

from __future__ import annotations

import argparse
import time

import torch

from bench.kernels import warmed_trainer
from pipeline import params as P
from pipeline.artifacts import load_processed
from pipeline.datasets import SECTIONS, SOURCES
from pipeline.params import Split
from pipeline.paths import Paths

ALL = tuple(SECTIONS)  # every dataset section, in the paper's order


def training_rows(ds: P.DatasetParams) -> int | None:
    if Paths(ds.name).processed.is_file():
        return len(load_processed(ds.name).train)
    if isinstance(ds.split, Split):
        return ds.split.train[1] - ds.split.train[0]
    return None


def seconds_per_step(p: P.Params, ds: P.DatasetParams, steps: int) -> float:
    source = SOURCES[ds.source]
    data = torch.rand(steps * ds.train.batch_size, source.dim)
    trainer = warmed_trainer(p, ds, data, "cpu", source.image_shape)
    start = time.perf_counter()
    trainer.epoch(1)
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.epochs", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--steps", type=int, default=10, help="timed steps per net")
    args = parser.parse_args()
    p = P.load("params.yaml", datasets=list(ALL))
    kernels = torch.backends.cpu.get_cpu_capability()  # AVX512 or AVX2: 2.2-2.4x apart here
    print(
        f"torch {torch.__version__}, {kernels} kernels, {torch.get_num_threads()} threads, fp32, "
        f"{args.steps} steps"
    )
    print("| nets | batch | s/step | images/s | training images | s/epoch | paper | cpu |")
    print("|---|---|---|---|---|---|---|---|")
    for name in ALL:
        ds = p.dataset(name)
        step = seconds_per_step(p, ds, args.steps)
        rows = training_rows(ds)
        per_image = step / ds.train.batch_size
        if rows is None:
            epoch, shown = 10_000 * per_image, "10,000 (per)"
        else:
            epoch, shown = rows // ds.train.batch_size * step, f"{rows:,}"
        hours = {s: sum(ds.train.schedule(s)) * epoch / 3600 for s in ("release", "cpu")}
        print(
            f"| {name} | {ds.train.batch_size} | {step:.3f} | {1 / per_image:.0f} | {shown} |"
            f" {epoch:.0f} | {sum(ds.train.epochs)} ep = {hours['release']:.1f} h |"
            f" {sum(ds.train.cpu_epochs)} ep = {hours['cpu']:.1f} h |",
            flush=True,
        )


if __name__ == "__main__":
    main()
