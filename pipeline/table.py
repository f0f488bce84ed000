"""Stage `table`: Table 1 of the paper rebuilt, with this project's row beside the published ones.

Published rows: Parzen-window log-likelihood of the test set (MNIST: mean over test examples
+- standard error; TFD: mean over 5 folds +- standard error across folds). This project's row
fills every Table 1 column whose dataset has results in metrics/datasets/ (MNIST; TFD when it was
supplied and run; the LFW stand-in in its own column, TFD's protocol on LFW faces), each from its
own run: an experiment that ran only some datasets keeps the others' committed columns, and every
column says which run it comes from (seeds, k, update, precision and schedule, read from train's
run record, never from params.yaml) and how its data differ from the paper's. With several
seeds the cell is the mean ± standard deviation over the seeds that did not collapse, with the
collapse count beside it, and a row per seed follows (test LL ± SE, σ, best epoch).
"""

from __future__ import annotations

import pandas as pd

from pipeline.artifacts import read_parzen, read_run, scored
from pipeline.datasets import SECTIONS
from pipeline.paths import TABLE_CSV, TABLE_MD, atomic_path, write_text

PUBLISHED = [  # model, MNIST, TFD (Table 1, Goodfellow et al., 2014)
    ("DBN", "138 ± 2", "1909 ± 66"),
    ("Stacked CAE", "121 ± 1.6", "2110 ± 50"),
    ("Deep GSN", "214 ± 1.1", "1890 ± 29"),
    ("Adversarial nets", "225 ± 2", "2057 ± 26"),
]
COLUMNS = {s.name: s.column for s in SECTIONS.values() if s.column}  # dataset -> column


def _cell(score: dict) -> str:
    return f"{score['test_ll']:.1f} ± {score['test_se']:.1f}"


def _ours(score: dict) -> str:
    """Table 1's cell for this project: one seed, test LL ± SE; several, the surviving seeds'
    mean ± standard deviation, with how many survived and how many collapsed."""
    n, alive = score["n_seeds"], score["survived"]
    if alive == 0:
        return f"— (all {n} seeds collapsed)"
    if n == 1:
        return _cell(score)
    spread = score["seed_std"] if alive > 1 else score["test_se"]
    seeds = f"{alive} of {n} seeds; {n - alive} collapsed"
    return f"{score['test_ll']:.1f} ± {spread:.1f} ({seeds})"


def _seed_cell(score: dict, run: dict) -> str:
    """One seed's test LL ± SE, σ, best epoch, and when it collapsed (or collapsed and came
    back)."""
    spells = run.get("collapsed_epochs", [])
    if run["collapsed"]:
        note = f", collapsed from epoch {run['collapse_epoch']}"
    elif spells:
        note = ", collapsed in epochs " + ", ".join(f"{a}–{b}" for a, b in spells) + ", came back"
    else:
        note = ""
    return f"{_cell(score)}, {_sigma(score)}, best epoch {run['best_epoch']}{note}"


def describe_run(name: str) -> str:
    """ "<schedule> schedule, <n> epochs, seeds s0, s1, ..., k = k, <update> update,
    <precision>" for a dataset's training, from its run record."""
    run = read_run(name)
    return (f"{run['schedule']} schedule, {run['epochs']} epochs, "
            f"seed{'s' * (len(run['seeds']) > 1)} {', '.join(run['seeds'])}, k = {run['k']}, "
            f"{run['update']} update, {run['precision']}")  # fmt: skip


def _sigma(score: dict) -> str:
    """ "σ = s", or "σ per fold s0/s1/..." (TFD's protocol)."""
    sigma = [f["sigma"] for f in score["folds"]] if "folds" in score else score["sigma"]
    if isinstance(sigma, list):
        return "σ per fold " + "/".join(f"{s:.3g}" for s in sigma)
    return f"σ = {sigma:.3g}"


def build() -> pd.DataFrame:
    empty = dict.fromkeys(COLUMNS.values(), "—")
    rows = [
        {"model": m, **empty, "MNIST": mnist, "TFD": tfd, "source": "paper"}
        for m, mnist, tfd in PUBLISHED
    ]
    ours = {"model": "Adversarial nets (this project)", **empty}
    memorised = {"model": "Training images as samples (reference)", **empty}
    per_seed: dict[str, dict] = {}  # seed -> row
    details, reference_details = [], []
    for name in (n for n in scored() if n in COLUMNS):
        score, run = read_parzen(name), read_run(name)
        column = COLUMNS[name]
        ours[column] = _ours(score)
        memorised[column] = _cell(score["training_set"])
        for seed, seed_score in score["seeds"].items():
            row = per_seed.setdefault(seed, {"model": f"… seed {seed}", **empty})
            row[column] = _seed_cell(seed_score, run["seeds"][seed])
        folds = f"mean of {score['n_folds']} folds ± SE across folds, " * (score["n_folds"] > 1)
        if score["n_seeds"] > 1:
            folds = f"mean ± SD over the seeds that did not collapse, each seed {folds}"
        note = f", {score['note']}" if score.get("note") else ""
        details.append(f"{column}: {folds}{describe_run(name)}{note}")
        reference_details.append(
            f"{column}: the first {score['n_samples']} training images (all if fewer), "
            f"{_sigma(score['training_set'])} (Theis et al., 2016)"
        )
    ours["source"] = "; ".join(details)
    memorised["source"] = "; ".join(reference_details)
    for row in per_seed.values():
        row["source"] = "test LL ± SE, σ, best epoch (validation) of one seed"
    seeds = [per_seed[s] for s in sorted(per_seed, key=int)]
    return pd.DataFrame(rows + [ours, *seeds, memorised])


def run() -> None:
    table = build()
    with atomic_path(TABLE_CSV) as tmp:
        table.to_csv(tmp, index=False)
    header = "| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns) + "\n"
    body = "".join("| " + " | ".join(map(str, row)) + " |\n" for row in table.itertuples(False))
    write_text(
        TABLE_MD, "Parzen-window log-likelihood of the test set (Table 1)\n\n" + header + body
    )
