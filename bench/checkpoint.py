"""What the per-epoch checkpoint costs on the largest nets a CPU schedule trains.

    python -m bench.checkpoint [--net lfw] [--steps 40] [--rounds 3]

Trains `--net`'s released nets (params.yaml) on random data of its shape, `--steps` steps per
"epoch", alternating an epoch followed by the resume checkpoint that `train` writes (the whole
state: G, D, both optimisers' velocities, RNG states) with an epoch followed by nothing, for
`--rounds` rounds. Prints the checkpoint's size and write time and the mean epoch time after a
write against after none: the write's own cost, and whether writing back ~1 GB slows the next
epoch.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from bench.epochs import training_rows
from bench.kernels import warmed_trainer
from pipeline import checkpoints
from pipeline import params as P
from pipeline.datasets import SECTIONS, SOURCES


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.checkpoint", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--net", default="lfw", choices=list(SECTIONS), help="a dataset section")
    parser.add_argument("--steps", type=int, default=40, help="steps per timed epoch")
    parser.add_argument("--rounds", type=int, default=3, help="epochs with and without a write")
    args = parser.parse_args()
    p = P.load("params.yaml", datasets=[args.net])
    ds = p.dataset(args.net)
    source = SOURCES[ds.source]
    data = torch.rand(args.steps * ds.train.batch_size, source.dim)
    trainer = warmed_trainer(p, ds, data, "cpu", source.image_shape)
    times: dict[bool, list[float]] = {True: [], False: []}  # by: was a checkpoint just written?
    writes = []
    wrote = False
    with tempfile.TemporaryDirectory(dir=".") as scratch:
        path = Path(scratch) / "state.pt"
        for i in range(2 * args.rounds + 1):  # the first epoch only warms up
            tick = time.perf_counter()
            trainer.epoch(1)
            if i > 0:
                times[wrote].append((time.perf_counter() - tick) / args.steps)
            wrote = i % 2 == 0
            if wrote:
                tick = time.perf_counter()
                checkpoints.save(trainer.state_dict(), path)
                writes.append(time.perf_counter() - tick)
        size = path.stat().st_size
    write = statistics.mean(writes)
    step_with, step_without = statistics.mean(times[True]), statistics.mean(times[False])
    print(
        f"{args.net}: checkpoint {size / 2**20:.0f} MiB, written in {write:.2f} s "
        f"(mean of {len(writes)})"
    )
    print(
        f"step after a write {step_with * 1e3:.0f} ms, after none {step_without * 1e3:.0f} ms "
        f"(x{step_with / step_without:.3f}; {args.rounds} epochs each)"
    )
    rows = training_rows(ds)
    if rows:
        steps = rows // ds.train.batch_size
        cost = write + (step_with - step_without) * steps
        print(
            f"per epoch of its {steps} steps: {cost:.1f} s, "
            f"{100 * cost / (step_without * steps):.1f} % of the epoch"
        )


if __name__ == "__main__":
    main()
