"""Two 1-thread trainings side by side against one 2-thread training (how to run many seeds).

    python -m bench.parallel [--net mnist] [--steps 300] [--rounds 2]

Trains `--steps` steps of params.yaml's nets for `--net` (MNIST's real training rows when
data/processed/mnist.npz exists, else noise) in fresh processes, each warmed up first: one
process with 2 threads alone, then two processes with 1 thread each started together. Prints
the images per second of each arrangement (the pair: both processes' images over the wall time
until the later one ends) and their ratio, for each round.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import torch

from pipeline import params as P
from pipeline.artifacts import load_processed
from pipeline.datasets import SECTIONS, SOURCES
from pipeline.paths import Paths


def worker(net: str, steps: int, threads: int) -> None:
    """Warm up, then wait for a line on stdin (the start signal) and train `steps` steps."""
    from bench.kernels import warmed_trainer

    torch.set_num_threads(threads)
    p = P.load("params.yaml", datasets=[net])
    ds = p.dataset(net)
    rows = steps * ds.train.batch_size
    if Paths(net).processed.is_file():
        data = torch.from_numpy(load_processed(net).train[:rows])
    else:
        data = torch.rand(rows, SOURCES[ds.source].dim, generator=torch.Generator().manual_seed(0))
    trainer = warmed_trainer(p, ds, data, "cpu", SOURCES[ds.source].image_shape)
    print("ready", flush=True)
    sys.stdin.readline()
    trainer.epoch(1)
    print(rows, flush=True)


def side_by_side(net: str, steps: int, threads: int, count: int) -> float:
    """Images per second of `count` workers of `threads` threads started together."""
    cmd = [
        sys.executable,
        "-m",
        "bench.parallel",
        "--worker",
        "--net",
        net,
        "--steps",
        str(steps),
        "--threads",
        str(threads),
    ]
    procs = [
        subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    images = sum(int(proc.stdout.readline()) for proc in procs)
    seconds = time.perf_counter() - start
    for proc in procs:
        proc.wait()
    return images / seconds


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.parallel", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--net", default="mnist", choices=list(SECTIONS), help="a dataset section")
    parser.add_argument("--steps", type=int, default=300, help="training steps timed per process")
    parser.add_argument("--rounds", type=int, default=2, help="times each arrangement is timed")
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.net, args.steps, args.threads)
        return 0
    print(f"{args.net}, {args.steps} steps per process, torch {torch.__version__}")
    print("| round | 1 process × 2 threads, images/s | 2 processes × 1 thread, images/s | ratio |")
    print("|---|---|---|---|")
    for r in range(1, args.rounds + 1):
        one = side_by_side(args.net, args.steps, threads=2, count=1)
        two = side_by_side(args.net, args.steps, threads=1, count=2)
        print(f"| {r} | {one:,.0f} | {two:,.0f} | {two / one:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
