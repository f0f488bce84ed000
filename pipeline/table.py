"""Stage `table`: Table 1 of the paper rebuilt, with this project's row beside the published ones.

Published rows: Parzen-window log-likelihood of the test set (MNIST: mean over test examples
+- standard error; TFD: mean over 5 folds +- standard error across folds). This project's row
fills every Table 1 column whose dataset has results in metrics/datasets/ (MNIST; TFD when it was
supplied and run; the LFW stand-in in its own column, TFD's protocol on LFW faces), each from its
own run: an experiment that ran only some datasets keeps the others' committed columns, and every
column says which run it comes from (seed, k, update, precision, schedule and epoch of the
selected generator, read from train's run record, never from params.yaml) and how its data
differ from the paper's.
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


def describe_run(name: str) -> str:
    """ "<schedule> schedule, epoch <best> of <total>, seed s, k = k, <update> update, <precision>"
    for a dataset's selected generator, from its run record."""
    run = read_run(name)
    return (f"{run['schedule']} schedule, epoch {run['best_epoch']} of {run['epochs']}, "
            f"seed {run['seed']}, k = {run['k']}, {run['update']} update, "
            f"{run['precision']}")  # fmt: skip


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
    details, reference_details = [], []
    for name in (n for n in scored() if n in COLUMNS):
        score = read_parzen(name)
        column = COLUMNS[name]
        ours[column] = _cell(score)
        memorised[column] = _cell(score["training_set"])
        folds = f"mean of {score['n_folds']} folds ± SE across folds, " if "folds" in score else ""
        note = f", {score['note']}" if score.get("note") else ""
        details.append(f"{column}: {folds}{_sigma(score)}, {describe_run(name)}{note}")
        reference_details.append(
            f"{column}: the first {score['n_samples']} training images (all if fewer), "
            f"{_sigma(score['training_set'])} (Theis et al., 2016)"
        )
    ours["source"] = "; ".join(details)
    memorised["source"] = "; ".join(reference_details)
    return pd.DataFrame(rows + [ours, memorised])


def run() -> None:
    table = build()
    with atomic_path(TABLE_CSV) as tmp:
        table.to_csv(tmp, index=False)
    header = "| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns) + "\n"
    body = "".join("| " + " | ".join(map(str, row)) + " |\n" for row in table.itertuples(False))
    write_text(
        TABLE_MD, "Parzen-window log-likelihood of the test set (Table 1)\n\n" + header + body
    )
