"""Where the time of one training step goes: torch.profiler over `--steps` steps of a net.

Self CPU time per ATen operator, grouped as matrix products and convolutions, the momentum
update and max-norm (foreach and norm kernels), dropout masks (bernoulli), casts (bf16 autocast),
gradient accumulation and element-wise work. Usage:
python -m bench.profile_step [--net mnist] [--precision fp32] [--steps 20]
"""

from __future__ import annotations

import argparse
import dataclasses
from collections import defaultdict

import torch
from torch.profiler import ProfilerActivity, profile

from pipeline import params as P
from pipeline.sources import SOURCES
from pipeline.train import Trainer

GROUPS = [  # first match wins
    ("matrix products, convolutions", ("mm", "addmm", "bmm", "convolution", "mkldnn")),
    ("momentum update, max-norm", ("_foreach", "norm")),
    ("dropout masks", ("bernoulli",)),
    ("casts, copies", ("copy_", "_to_copy", "to")),
]


def group(op: str) -> str:
    name = op.removeprefix("aten::")
    for label, keys in GROUPS:
        if any(name == k or name.startswith(k) for k in keys):
            return label
    return "element-wise and the rest"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", default="mnist")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    p = dataclasses.replace(P.load("params.yaml", datasets=[args.net]), precision=args.precision)
    ds = p.dataset(args.net)
    source = SOURCES[ds.source]
    data = torch.rand(args.steps * ds.train.batch_size, source.dim)
    trainer = Trainer(p, ds, data[: ds.train.batch_size], "cpu", source.image_shape)
    trainer.epoch(1)  # warm-up
    trainer.data = data
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        trainer.epoch(1)
    totals: dict[str, float] = defaultdict(float)
    ops: dict[str, list[str]] = defaultdict(list)
    for event in prof.key_averages():
        if event.key.startswith("aten::") and event.self_cpu_time_total > 0:
            label = group(event.key)
            totals[label] += event.self_cpu_time_total
            ops[label].append(event.key.removeprefix("aten::"))
    total = sum(totals.values())
    print(f"{args.net}, {args.precision}: {total / 1e3 / args.steps:.1f} ms per step (profiled)")
    for label, us in sorted(totals.items(), key=lambda kv: -kv[1]):
        top = ", ".join(ops[label][:4])
        print(f"  {100 * us / total:5.1f} %  {label} ({top})")


if __name__ == "__main__":
    main()
