"""Stage `table`: Table 1 of the paper rebuilt, with this run's row beside the published ones.

Published rows: Parzen-window log-likelihood of the test set (MNIST: mean over test examples
+- standard error; TFD: mean over 5 folds +- standard error across folds). This run's row fills
MNIST, TFD when it was supplied and run, and the LFW stand-in's own column (TFD's protocol on LFW
faces); it carries the sigma(s), the schedule and epoch of the selected generator, how the data
differ from the paper's, the seed, k, the update rule and the precision.
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
# dataset section -> Table 1 column; the LFW stand-in has its own column, never TFD's
COLUMNS = {"mnist": "MNIST", "tfd": "TFD", "lfw": "LFW 48×48, TFD protocol"}


TRAIN_KEYS = ("best_epoch", "device")  # what the captions read from train's metrics.json
PARZEN_KEYS = ("test_ll", "test_se", "training_set", "n_samples")  # n_folds: with folds only


def read_json(path, stage: str, keys: tuple[str, ...]) -> dict:
    """A stage's JSON output with the `keys` read from it; a missing, partial or stub file (a
    run that failed) is one error naming the stage to rerun."""
    rerun = f"rerun `dvc repro {stage}`"
    if not path.is_file():
        raise PipelineError(f"{path}: missing; {rerun}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise PipelineError(f"{path}: not valid JSON ({err}), a partial write; {rerun}") from None
    missing = [key for key in keys if not isinstance(data, dict) or key not in data]
    if missing:
        raise PipelineError(f"{path}: incomplete (no {', '.join(missing)}); {rerun}")
    return data


def read_parzen(name: str) -> dict:
    return read_json(Paths(name).parzen, f"parzen@{name}", PARZEN_KEYS)


def _cell(score: dict) -> str:
    return f"{score['test_ll']:.1f} ± {score['test_se']:.1f}"


def trained(params: Params, name: str) -> str:
    """ "<schedule> schedule, epoch <best> of <total>" for a dataset's selected generator."""
    train = read_json(Paths(name).train_log / "metrics.json", f"train@{name}", TRAIN_KEYS)
    schedule, epochs = params.epochs_on(name, train["device"])
    return f"{schedule} schedule, epoch {train['best_epoch']} of {sum(epochs)}"


def _sigma(score: dict) -> str:
    """ "σ = s", or "σ per fold s0/s1/..." (TFD's protocol)."""
    sigma = [f["sigma"] for f in score["folds"]] if "folds" in score else score["sigma"]
    if isinstance(sigma, list):
        return "σ per fold " + "/".join(f"{s:.3g}" for s in sigma)
    return f"σ = {sigma:.3g}"


def build(params: Params) -> pd.DataFrame:
    empty = dict.fromkeys(COLUMNS.values(), "—")
    rows = [
        {"model": m, **empty, "MNIST": mnist, "TFD": tfd, "source": "paper"}
        for m, mnist, tfd in PUBLISHED
    ]
    ours = {"model": "Adversarial nets (this run)", **empty}
    memorised = {"model": "Training images as samples (reference)", **empty}
    details, reference_details = [], []
    for name in params.datasets:
        if name not in COLUMNS:
            continue
        score = read_parzen(name)
        column = COLUMNS[name]
        ours[column] = _cell(score)
        memorised[column] = _cell(score["training_set"])
        folds = f"mean of {score['n_folds']} folds ± SE across folds, " if "folds" in score else ""
        note = f", {score['note']}" if score.get("note") else ""
        details.append(f"{column}: {folds}{_sigma(score)}, {trained(params, name)}{note}")
        reference_details.append(
            f"{column}: the first {score['n_samples']} training images (all if fewer), "
            f"{_sigma(score['training_set'])} (Theis et al., 2016)"
        )
    details.append(
        f"seed {params.seed}, k = {params.k}, {params.update} update, {params.precision}"
    )
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
