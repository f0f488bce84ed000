"""The collapse study: how often the released MNIST recipe collapses, and whether the rule that
stops a collapsed run (pipeline/collapse.py) separates the seeds that collapse from those that
do not.

    dvc exp run -n collapse-study -S 'datasets=[mnist]' -S 'mnist.seeds=[0,1,...,19]' \\
        -S mnist.train.cpu_epochs=15 -S mnist.train.collapse=null
    python -m studies.collapse [--logs metrics/datasets/mnist/train] [--params params.yaml]

Reads every seed's per-epoch log (seed-<n>/*.tsv, as `train` writes them) of a run made without
a rule, so that a collapsed seed went on and shows whether it recovers. Prints, per seed, the
validation Parzen score and the samples' spread at the first and last epochs, the epoch at which
params.yaml's rule (or --valid-parzen-below / --spread-below / --epochs) marks it collapsed, and
whether any later epoch came back above either threshold; then the collapse rate with its 95 %
Wilson interval (scipy), and the margins: the best score and spread of the collapsed seeds after
their collapse, and when the other seeds had both signals low.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from scipy.stats import binomtest

from pipeline import params as P
from pipeline.stopping import CollapseSpec, read_log, spells


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m studies.collapse", description=__doc__.splitlines()[0]
    )
    logs = "a folder of seed-<n>/ logs (train's, or checkpoints/mnist)"
    default = Path("metrics/datasets/mnist/train")
    parser.add_argument("--logs", type=Path, default=default, help=logs)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--valid-parzen-below", type=float, help="override the rule's threshold")
    parser.add_argument("--spread-below", type=float, help="override the rule's threshold")
    parser.add_argument("--epochs", type=int, help="override the rule's epochs in a row")
    args = parser.parse_args()
    rule = P.load(args.params, datasets=["mnist"]).dataset("mnist").train.collapse
    given = {
        "valid_parzen_below": args.valid_parzen_below,
        "spread_below": args.spread_below,
        "epochs": args.epochs,
    }
    given = {k: v for k, v in given.items() if v is not None}
    if rule is None and len(given) < 3:
        sys.exit(f"{args.params}: 'mnist.train.collapse' is null; give the rule's three values")
    rule = replace(rule, **given) if rule is not None else CollapseSpec(**given, stop=False)
    seeds = sorted((int(p.name.removeprefix("seed-")), p) for p in args.logs.glob("seed-*"))
    if not seeds:
        sys.exit(f"{args.logs}: no seed-<n>/ logs; run the study first (see --help)")
    print(
        f"rule: validation Parzen < {rule.valid_parzen_below} and spread < {rule.spread_below}"
        f" for {rule.epochs} evaluated epochs in a row\n"
    )
    print(
        "| seed | epochs | LL / spread, epoch 1 | LL / spread, last | D loss, last | collapsed "
        "at | came back after |"
    )
    print("|---|---|---|---|---|---|---|")
    flagged, after, others, longest = 0, [], [], 0
    for seed, folder in seeds:
        log = read_log(folder)
        found = spells(log, rule)
        at = found[0][0] if found else None  # the first collapse
        first, last = log[0], log[-1]
        back = "—"
        if at is not None:
            flagged += 1
            later = log[at:]
            after += later
            rose = [
                i
                for i, e in enumerate(later, at + 1)
                if e["valid_parzen"] >= rule.valid_parzen_below or e["spread"] >= rule.spread_below
            ]
            back = f"yes, epoch {rose[0]}" if rose else "no"
        else:
            run = 0
            for step, e in enumerate(log, 1):
                low = (
                    e["valid_parzen"] < rule.valid_parzen_below and e["spread"] < rule.spread_below
                )
                run = run + 1 if low else 0
                longest = max(longest, run)
                others += [step] * low
        print(
            f"| {seed} | {len(log)} | {first['valid_parzen']:.0f} / {first['spread']:.3f} | "
            f"{last['valid_parzen']:.0f} / {last['spread']:.3f} | {last['loss_d']:.2g} | "
            f"{at or '—'} | {back} |"
        )
    n = len(seeds)
    ci = binomtest(flagged, n).proportion_ci(confidence_level=0.95, method="wilson")
    print(
        f"\ncollapsed: {flagged} of {n} seeds = {flagged / n:.0%} "
        f"(95 % Wilson interval {ci.low:.0%}-{ci.high:.0%})"
    )
    if after:
        print(
            f"collapsed seeds after their collapse: validation Parzen at most "
            f"{max(e['valid_parzen'] for e in after):.0f}, spread at most "
            f"{max(e['spread'] for e in after):.3f}"
        )
    epochs = ", ".join(f"{e}: {others.count(e)}" for e in sorted(set(others)))
    print(
        f"epochs of the other seeds with both signals low: {len(others)}"
        + (f" (by epoch, {epochs}; at most {longest} in a row)" if others else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
