"""Does capping the kernels to a common instruction set make MNIST's training bit-identical across
CPUs, and what does it cost? The first `--steps` steps of seed 0 on the real MNIST data, once with
the libraries' own kernel choice and once with each cap, each in a fresh process (the libraries
read these settings when they load):

- ATen's vectorised element-wise kernels: ``ATEN_CPU_CAPABILITY=avx2``;
- oneDNN: ``ONEDNN_MAX_CPU_ISA=AVX2``;
- MKL's matrix products: ``MKL_ENABLE_INSTRUCTIONS=AVX2`` (the newest instructions MKL may
  dispatch to), ``MKL_CBWR=AVX2,STRICT`` (conditional numerical reproducibility) and
  ``MKL_CBWR=COMPATIBLE`` (its SSE2 code paths, the ones meant to agree across vendors).

    python -m studies.isa [--steps 100] [--out metrics/studies/isa/<cpu>.csv]

Prints, per setting, the sha256 of G's and D's weights after the steps and the seconds a step
took. Two machines agree bit for bit under a setting when their hashes for it are equal: run it
on each kind of CPU and compare the committed files. Needs data/processed/mnist.npz.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CAPS = {
    "default": {},
    "aten avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "mkl avx2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "mkl cbwr": {"MKL_CBWR": "AVX2,STRICT"},
    "mkl compatible": {"MKL_CBWR": "COMPATIBLE"},
    "onednn avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
    "all avx2": {
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_CBWR": "AVX2,STRICT",
    },
}


def child(steps: int) -> None:
    """In a fresh process: train `steps` steps of seed 0 and print one JSON line."""
    import torch

    from pipeline import machine
    from pipeline import params as P
    from pipeline.adversarial import Trainer
    from pipeline.artifacts import load_processed

    torch.set_num_threads(1)
    params = P.load()
    ds = params.dataset("mnist")
    data = load_processed("mnist")
    train = torch.from_numpy(data.train[: steps * ds.train.batch_size])
    trainer = Trainer(params, ds, train, "cpu", data.image_shape, seed=0)
    tick = time.perf_counter()
    trainer.epoch(1)
    seconds = (time.perf_counter() - tick) / steps
    digest = hashlib.sha256()
    for net in (trainer.G, trainer.D):
        for tensor in net.state_dict().values():
            digest.update(tensor.numpy().tobytes())
    found = machine.describe()
    print(
        json.dumps(
            {
                "sha256": digest.hexdigest(),
                "seconds_per_step": seconds,
                "torch_cpu_capability": found["torch_cpu_capability"],
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m studies.isa", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.steps)
        return 0
    from pipeline import machine
    from pipeline.paths import write_csv

    rows = []
    width = max(map(len, CAPS))
    for name, caps in CAPS.items():
        command = [sys.executable, "-m", "studies.isa", "--child", "--steps", str(args.steps)]
        env = {**os.environ, **caps}
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append({"setting": name, **result})
        print(
            f"{name:{width}} {result['sha256'][:16]}  "
            f"{1000 * result['seconds_per_step']:.1f} ms a step"
            f"  (ATen: {result['torch_cpu_capability']})"
        )
    found = machine.describe()
    print(f"on {found['cpu']} ({', '.join(found['isa'])}), torch {found['torch']}")
    if args.out:
        write_csv(args.out, list(rows[0]), rows)
        meta = args.out.with_name(f"{args.out.stem}.json")
        meta.write_text(json.dumps({"machine": found, "steps": args.steps}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
