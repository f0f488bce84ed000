"""Kill-and-resume check on the paper's MNIST nets and full training set (README, Reliability).

    python -m bench.resume [--epochs 20] [--kill-after 7 14]

Trains params.yaml's MNIST section (its first seed) for `--epochs` epochs twice, in two scratch
directories reading this checkout's data/processed/mnist.npz (run `dvc repro preprocess@mnist`
first): once straight through, once killed with SIGKILL after each epoch in `--kill-after` and
resumed by rerunning the same command. Prints where each kill landed, what each rerun resumed
from, the wall times, and whether the two runs' generators (bytes) and logged metrics (all but
wall times) are identical. Exit status 1 if they are not.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.same import outputs

ROOT = Path(__file__).resolve().parents[1]
KEPT = (("models", "metrics"), {"epoch_seconds", "train_seconds"})  # compared; ignored keys


def setup(where: Path, epochs: int) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["datasets"] = ["mnist"]
    params["schedule"] = "cpu"
    params["mnist"]["train"]["cpu_epochs"] = [epochs]
    params["mnist"]["seeds"] = params["mnist"]["seeds"][:1]
    where.mkdir(parents=True)
    (where / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (where / "data/processed").mkdir(parents=True)
    (where / "data/processed/mnist.npz").symlink_to(ROOT / "data/processed/mnist.npz")


def train(where: Path, kill_after: int | None = None) -> tuple[int, str, float]:
    """One `train mnist` in `where`; with `kill_after`, SIGKILL once that epoch's line is out.
    Returns the exit status, the first line it printed and the wall time."""
    tick = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "train", "mnist"],
        cwd=where,
        stdout=subprocess.PIPE,
        text=True,
    )
    first = ""
    for line in proc.stdout:
        first = first or line.strip()
        if kill_after is not None and f" epoch {kill_after}/" in line:
            proc.kill()
            break
    proc.wait()
    return proc.returncode, first, time.perf_counter() - tick


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.resume", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--epochs", type=int, default=20, help="MNIST epochs per run")
    parser.add_argument(
        "--kill-after",
        type=int,
        nargs="+",
        default=[7, 14],
        help="epochs after which the second run is killed",
    )
    args = parser.parse_args()
    if not (ROOT / "data/processed/mnist.npz").is_file():
        sys.exit("data/processed/mnist.npz: missing; run `dvc repro preprocess@mnist` first")
    scratch = Path(tempfile.mkdtemp(prefix="gan-resume-"))
    try:
        straight, killed = scratch / "straight", scratch / "killed"
        setup(straight, args.epochs)
        setup(killed, args.epochs)
        status, _, seconds = train(straight)
        print(f"uninterrupted: {args.epochs} epochs, exit {status}, {seconds:.0f} s", flush=True)
        total = 0.0
        for kill in [*args.kill_after, None]:
            status, first, seconds = train(killed, kill)
            total += seconds
            what = f"SIGKILL after the line of epoch {kill}" if kill else "ran to the end"
            print(f"killed run: {what}; exit {status}; {first}; {seconds:.0f} s", flush=True)
        resumed = outputs(killed, *KEPT)
        same = outputs(straight, *KEPT) == resumed
        names = sorted(resumed)
        print(
            f"killed {len(args.kill_after)} times, {total:.0f} s in all; {len(names)} output "
            f"files ({', '.join(names)}) identical to the uninterrupted run's: "
            f"{same}"
        )
        return 0 if same else 1
    finally:
        shutil.rmtree(scratch)


if __name__ == "__main__":
    sys.exit(main())
