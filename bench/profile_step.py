"""Where the time of one training step goes: torch.profiler over `--steps` steps of a net.

Self CPU time of every ATen operator, credited to the outermost call around it that is grouped,
as matrix products and convolutions, the momentum update and max-norm, dropout masks, casts and
copies (bf16 autocast), and element-wise work (activations, maxout, gradient sums). Usage:
python -m bench.profile_step [--net mnist] [--precision fp32] [--kernels eager] [--steps 20]
"""

from __future__ import annotations

import argparse
import dataclasses
from collections import defaultdict

import torch
from torch.profiler import ProfilerActivity, profile

from bench.kernels import warmed_trainer
from pipeline import params as P
from pipeline.datasets import SECTIONS, SOURCES

GROUPS = [  # label, ATen operator names
    (
        "matrix products, convolutions",
        {"mm", "addmm", "bmm", "convolution", "convolution_backward"},
    ),
    ("momentum update, max-norm", {"_foreach_mul_", "_foreach_add_", "linalg_vector_norm"}),
    ("dropout masks", {"bernoulli_"}),
    ("casts, copies", {"copy_", "_to_copy", "to"}),
]


def group(event) -> tuple[str, str]:
    """(label, operator) for an ATen event: the outermost call around it (or itself) that a group
    names, e.g. the mul_ that _foreach_mul_ runs per tensor on a CPU belongs to the update, the
    mm inside linear to the products."""
    chain = []
    while event is not None:
        chain.append(event.name.removeprefix("aten::"))
        event = event.cpu_parent
    for op in reversed(chain):  # outermost first
        for label, names in GROUPS:
            if op in names:
                return label, op
    return "element-wise and the rest", chain[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile_step", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--net", default="mnist", choices=list(SECTIONS), help="a dataset section")
    parser.add_argument(
        "--precision",
        default="fp32",
        choices=["fp32", "bf16"],
        help="params.yaml precision to profile",
    )
    parser.add_argument(
        "--kernels", default="eager", choices=P.KERNELS, help="params.yaml kernels to profile"
    )
    parser.add_argument("--steps", type=int, default=20, help="training steps profiled")
    args = parser.parse_args()
    p = P.load("params.yaml", datasets=[args.net])
    p = dataclasses.replace(p, precision=args.precision, kernels=args.kernels)
    ds = p.dataset(args.net)
    source = SOURCES[ds.source]
    data = torch.rand(args.steps * ds.train.batch_size, source.dim)
    trainer = warmed_trainer(p, ds, data, "cpu", source.image_shape)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        trainer.epoch(1)
    totals: dict[str, float] = defaultdict(float)
    ops: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for event in prof.events():
        if event.name.startswith("aten::") and event.self_cpu_time_total > 0:
            label, op = group(event)
            totals[label] += event.self_cpu_time_total
            ops[label][op] += event.self_cpu_time_total
    total = sum(totals.values())
    where = f"{args.net}, {args.precision}, {args.kernels}"
    print(f"{where}: {total / 1e3 / args.steps:.1f} ms per step (profiled)")
    for label, us in sorted(totals.items(), key=lambda kv: -kv[1]):
        top = ", ".join(sorted(ops[label], key=ops[label].get, reverse=True)[:4])
        print(f"  {100 * us / total:5.1f} %  {label} ({top})")


if __name__ == "__main__":
    main()
