"""Stage `table`: Table 1 of the paper rebuilt, with this project's row beside the published ones.

Published rows: Parzen-window log-likelihood of the test set (MNIST: mean over test examples
+- standard error; TFD: mean over 5 folds +- standard error across folds). This project's row
fills every Table 1 column whose dataset has results in metrics/datasets/ (MNIST; TFD when it was
supplied and run; the LFW stand-in in its own column, TFD's protocol on LFW faces), each from its
own run: an experiment that ran only some datasets keeps the others' committed columns (a column
whose results older code made reads "rerun pending", pending.py), and every column says which
run it comes from (seeds, k, update, precision and schedule, read from train's run record, never
from params.yaml) and how its data differ from the paper's. With several
seeds the cell is the mean ± standard deviation over the seeds that did not collapse, with the
collapse count beside it, and a row per seed follows (test LL ± SE, σ, best epoch). A seed that
the long-run study (studies/long.py) trained on past the cpu schedule gets a row of its own at
its last mark, both σ grids beside each other.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd

from pipeline.artifacts import arithmetic, read_json, read_parzen, read_run, scored
from pipeline.datasets import SECTIONS
from pipeline.machine import of_run, trained_on
from pipeline.metrics import registry
from pipeline.paths import BEYOND_CSV, BEYOND_MD, LONG_MNIST, TABLE_CSV, TABLE_MD, Paths
from pipeline.pending import older_results
from pipeline.plumbing.files import outputs

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
    <precision>[, fused kernels], on <machine>" for a dataset's training, from its run record."""
    run = read_run(name)
    return (
        f"{run['schedule']} schedule, {run['epochs']} epochs, "
        f"seed{'s' * (len(run['seeds']) > 1)} {', '.join(run['seeds'])}, k = {run['k']}, "
        f"{run['update']} update, {arithmetic(run)}, {trained_on(of_run(run))}"
    )


def _sigma(score: dict) -> str:
    """ "σ = s", or "σ per fold s0/s1/..." (TFD's protocol)."""
    sigma = [f["sigma"] for f in score["folds"]] if "folds" in score else score["sigma"]
    if isinstance(sigma, list) and len(set(sigma)) == 1:
        return f"σ = {sigma[0]:.3g} (every fold)"
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
    per_seed: dict[str, dict] = {}  # seed -> row
    details = []
    for name in (n for n in scored() if n in COLUMNS):
        column = COLUMNS[name]
        why = older_results(name)
        if why:
            ours[column] = "— (rerun pending)"
            details.append(f"{column}: {why}")
            print(f"table: {column}: {why}")
            continue
        score, run = read_parzen(name), read_run(name)
        ours[column] = _ours(score)
        for seed, seed_score in score["seeds"].items():
            row = per_seed.setdefault(seed, {"model": f"… seed {seed}", **empty})
            row[column] = _seed_cell(seed_score, run["seeds"][seed])
        folds = f"mean of {score['n_folds']} folds ± SE across folds, " * (score["n_folds"] > 1)
        if score["n_seeds"] > 1:
            folds = f"mean ± SD over the seeds that did not collapse, each seed {folds}"
        note = f", {score['note']}" if score.get("note") else ""
        details.append(f"{column}: {folds}{describe_run(name)}{note}")
    ours["source"] = "; ".join(details)
    for row in per_seed.values():
        row["source"] = "test LL ± SE, σ, best epoch (validation) of one seed"
    seeds = [per_seed[s] for s in sorted(per_seed, key=int)]
    return pd.DataFrame(rows + [ours, *seeds, *long_rows(empty), *sanity_rows(empty)])


def long_run_tables(folder: Path = LONG_MNIST) -> list[tuple[int, Path]]:
    """The long-run study's tables in `folder`, seed-<s>.csv, as (seed, table) by seed."""
    return sorted((int(p.stem.split("-")[1]), p) for p in folder.glob("seed-*.csv"))


def long_rows(empty: dict, folder: Path = LONG_MNIST, schedule: int = 300) -> list[dict]:
    """A row per seed of the long-run study whose last mark is past `schedule` epochs: the test
    LL ± SE, σ and best epoch of its best generator so far, on the paper's σ grid and the fine
    one, with the run that made it (its commit and machine)."""
    rows = []
    for seed, table in long_run_tables(folder):
        with open(table) as f:
            last = list(csv.DictReader(f))[-1]
        epochs = int(last["epoch"])
        if epochs <= schedule:
            continue
        record = json.loads(table.with_suffix(".json").read_text())
        where = trained_on([record["machine"]])
        cell = (
            f"{float(last['test_ll']):.1f} ± {float(last['test_se']):.1f}, "
            f"σ = {float(last['sigma']):.3g}, best epoch {last['best_epoch']}; fine σ grid "
            f"{float(last['test_ll_fine']):.1f} ± {float(last['test_se_fine']):.1f}"
        )
        source = (
            f"studies.long: seed {seed} trained on past the {schedule}-epoch cpu schedule with "
            f"the release's learning-rate schedule, marked every 100 epochs; the best generator "
            f"so far by validation score, σ chosen on validation rows from the paper's 10 values "
            f"and from 91; commit {record['commit'][:7]}, {where}"
        )
        model = f"… seed {seed}, trained on to {epochs:,} epochs"
        rows.append({"model": model, **empty, "MNIST": cell, "source": source})
    return rows


SANITY = {  # references.json key -> Table 1 row (Theis, van den Oord & Bethge, 2016)
    "training_set": "Training images as samples (reference)",
    "held_out": "Held-out images as samples (reference)",
    "kmeans": "k-means centroids of the training set (reference)",
    "uniform_noise": "Uniform noise in [0, 1] (reference)",
}


def sanity_rows(empty: dict) -> list[dict]:
    """The Parzen estimate's other reference rows (stage `references`), same protocol."""
    rows = {key: {"model": label, **empty} for key, label in SANITY.items()}
    sources: dict[str, list[str]] = {key: [] for key in SANITY}
    for name in (n for n in scored() if n in COLUMNS):
        path = Paths(name).references
        if not path.is_file():
            continue
        found = read_json(path, f"references@{name}", ("n_samples",))
        for key, row in rows.items():
            if "test_ll" in found[key]:
                row[COLUMNS[name]] = _cell(found[key])
                extra = {
                    "kmeans": f"k = {found[key].get('k')}, ",
                    "training_set": f"the first {found[key].get('n')} training images, ",
                }.get(key, "")
                if "sigma_chosen_on" in found[key]:
                    extra += f"σ chosen on {found[key]['sigma_chosen_on']}, "
                sources[key].append(f"{COLUMNS[name]}: {extra}{_sigma(found[key])}")
            else:
                sources[key].append(f"{COLUMNS[name]}: {found[key]['note']}")
    for key, row in rows.items():
        row["source"] = "; ".join(sources[key])
    return [row for key, row in rows.items() if sources[key]]


BEYOND = {  # quality.json key -> column of the second table
    **registry.columns(),
    "pixel_closer_than_held_out": "nearer than test (pixels)",
    "features_closer_than_held_out": "nearer than test (features)",
}


def _metric(row: dict, key: str) -> str:
    if key in registry.columns():
        return registry.show(row, key)
    return f"{row[key]:.3f}" if key in row else "—"


def build_beyond() -> pd.DataFrame:
    """Every run's metrics beyond Parzen (stage `quality`), its seeds' mean first, then each
    seed, then held-out real images scored the same way."""
    rows = []
    for name in scored():
        path = Paths(name).quality
        if not path.is_file():
            continue
        found = read_json(path, f"quality@{name}", ("seeds", "reference"))
        title = SECTIONS[name].title if name in SECTIONS else name
        alive = found["survived"]
        entries = [(f"mean of {alive} surviving seeds", found)] * (len(found["seeds"]) > 1)
        entries += [
            (f"seed {s}" + " (collapsed)" * r["collapsed"], r) for s, r in found["seeds"].items()
        ]
        entries.append((f"held-out real images ({found['reference_set']})", found["reference"]))
        for label, row in entries:
            metrics = {column: _metric(row, key) for key, column in BEYOND.items()}
            rows.append({"dataset": title, "set": label, **metrics})
    return pd.DataFrame(rows, columns=["dataset", "set", *BEYOND.values()])


def _markdown(table: pd.DataFrame) -> str:
    header = "| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns) + "\n"
    body = "".join("| " + " | ".join(map(str, r)) + " |\n" for r in table.itertuples(False))
    return header + body


def _footnoted(table: pd.DataFrame) -> str:
    """Table 1 in Markdown with short cells: each source but "paper" is a numbered note under
    the table (the CSV keeps it in its cell)."""
    notes: list[str] = []

    def mark(text: str) -> str:
        if text == "paper":
            return text
        if text not in notes:
            notes.append(text)
        return f"[{notes.index(text) + 1}]"

    short = table.assign(source=table["source"].map(mark))
    return _markdown(short) + "".join(f"\n[{i}] {note}\n" for i, note in enumerate(notes, 1))


TABLE_TITLE = "Parzen-window log-likelihood of the test set (Table 1)\n\n"
BEYOND_TITLE = (
    "Beyond Table 1: in the feature space of the in-pipeline classifier, the "
    "samples against the test images (FCD: Fréchet classifier distance), and "
    "memorisation: the share of samples nearer to a training image than the median "
    "test image is\n\n"
)


def run() -> None:
    table1, beyond = build(), build_beyond()
    with outputs() as out:  # the four files replaced together, or none
        for table, csv_path, md_path, text in (
            (table1, TABLE_CSV, TABLE_MD, TABLE_TITLE + _footnoted(table1)),
            (beyond, BEYOND_CSV, BEYOND_MD, BEYOND_TITLE + _markdown(beyond)),
        ):
            out.text(csv_path, table.to_csv(index=False))
            out.text(md_path, text)
