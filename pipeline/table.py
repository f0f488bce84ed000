"""Stage `table`: Table 1 of the paper rebuilt, with this run's row beside the published ones.

Published rows: Parzen-window log-likelihood of the test set (MNIST: mean over test examples
+- standard error; TFD: mean over 5 folds +- standard error across folds). This run's row carries
its sigma, the epoch of the selected generator, the seed, k and the update rule.
"""

from __future__ import annotations

import json

import pandas as pd

from pipeline.errors import PipelineError
from pipeline.params import Params
from pipeline.paths import TABLE_CSV, TABLE_MD, Paths, atomic_path, write_text

PUBLISHED = [  # model, MNIST, TFD (Table 1, Goodfellow et al., 2014)
    ("DBN", "138 ± 2", "1909 ± 66"),
    ("Stacked CAE", "121 ± 1.6", "2110 ± 50"),
    ("Deep GSN", "214 ± 1.1", "1890 ± 29"),
    ("Adversarial nets", "225 ± 2", "2057 ± 26"),
]
COLUMNS = {"mnist": "MNIST"}  # dataset section -> Table 1 column


def _read_json(path) -> dict:
    if not path.is_file():
        raise PipelineError(f"{path}: missing; run the stages before `table`")
    return json.loads(path.read_text())


def _cell(score: dict) -> str:
    return f"{score['test_ll']:.1f} ± {score['test_se']:.1f}"


def build(params: Params) -> pd.DataFrame:
    rows = [
        {"model": m, "MNIST": mnist, "TFD": tfd, "source": "paper"} for m, mnist, tfd in PUBLISHED
    ]
    ours = {"model": "Adversarial nets (this run)", "MNIST": "—", "TFD": "—"}
    memorised = {"model": "Training images as samples (reference)", "MNIST": "—", "TFD": "—"}
    details, reference_details = [], []
    for name in params.datasets:
        paths = Paths(name)
        score = _read_json(paths.parzen)
        train = _read_json(paths.train_log / "metrics.json")
        column = COLUMNS.get(name, name)
        ours[column] = _cell(score)
        memorised[column] = _cell(score["training_set"])
        details.append(
            f"{column}: σ = {score['sigma']:.3g}, epoch {train['best_epoch']}"
            f" of {params.by_name[name].train.epochs}"
        )
        reference_details.append(
            f"{column}: first {score['n_samples']} training images, σ = "
            f"{score['training_set']['sigma']:.3g} (Theis et al., 2016)"
        )
    details.append(f"seed {params.seed}, k = {params.k}, {params.update} update")
    ours["source"] = "this run: " + "; ".join(details)
    memorised["source"] = "this run: " + "; ".join(reference_details)
    return pd.DataFrame(rows + [ours, memorised])


def run(params: Params) -> None:
    table = build(params)
    with atomic_path(TABLE_CSV) as tmp:
        table.to_csv(tmp, index=False)
    header = "| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns) + "\n"
    body = "".join("| " + " | ".join(map(str, row)) + " |\n" for row in table.itertuples(False))
    write_text(
        TABLE_MD, "Parzen-window log-likelihood of the test set (Table 1)\n\n" + header + body
    )
