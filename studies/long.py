"""The long-run study: one MNIST seed trained past the 300-epoch schedule, toward where the
release's learning rate reaches its floor, and after every `--every` epochs the test score of
its best generator so far by validation, as Table 1 would report it had the run stopped there:
σ from the paper's 10-value grid on validation rows, and from the 91-value grid beside it.

    python -m studies.long --seed 0 --until 2000 [--every 100] [--out DIR] [--keep 300]
                           [--commit REPO]

Run it in a checkout whose data/processed/mnist.npz is in place (`dvc repro preprocess@mnist`).
Each chunk is `python -m pipeline train mnist --seed s` with the last phase lengthened to the
next mark, so the run resumes its checkpoint in checkpoints/mnist/seed-<s>/ (a finished run
resumes into a longer one, bit-identical to an uninterrupted run), and the samples are drawn as
stage `sample` draws them. Run the command again after a kill: it continues after the last mark
it scored. Writes to `--out`:

- seed-<s>.csv: per mark, the best epoch so far, its validation score, and its test LL ± SE and
  σ on the paper's grid and on the fine grid;
- seed-<s>-valid.tsv: the validation score of every epoch so far;
- seed-<s>.json: the run (commit, params of the section, the machine: CPU, ISA, versions).

`--report` trains nothing: it draws test_ll.png in `--out` (every seed's marks against
log-epochs, both grids, the paper's 225 ± 2 and the training images' ceiling) and prints the
marks as a Markdown table.

`--keep E` keeps a copy of the checkpoint folder at mark E (checkpoints/mnist/seed-<s>-at-E/:
the 300-epoch run Table 1 uses). `--commit REPO` commits `--out` in that git repository after
each mark, so a lost machine loses at most one chunk of the story.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from pipeline import checkpoints, machine, streams
from pipeline import params as P
from pipeline.artifacts import load_processed
from pipeline.models import draw_samples, load_generator
from pipeline.parzen_protocol import evaluate
from pipeline.paths import Paths, write_csv
from pipeline.plumbing.files import atomic_path, write_text
from pipeline.stages.table import long_run_tables

FIELDS = [
    "epoch",
    "best_epoch",
    "valid_ll",
    "test_ll",
    "test_se",
    "sigma",
    "test_ll_fine",
    "test_se_fine",
    "sigma_fine",
]


def chunk_params(seed: int, epochs: int) -> Path:
    """params.yaml with MNIST alone, this seed alone and a last phase of `epochs` epochs."""
    params = yaml.safe_load(Path("params.yaml").read_text())
    params["datasets"] = ["mnist"]
    params["mnist"]["seeds"] = [seed]
    params["mnist"]["train"].update(epochs=[epochs], cpu_epochs=[epochs])
    path = Path(f"long-seed-{seed}.yaml")
    write_text(path, yaml.safe_dump(params, sort_keys=False))
    return path


def train_to(seed: int, epochs: int) -> P.DatasetParams:
    path = chunk_params(seed, epochs)
    command = [sys.executable, "-m", "pipeline", "train", "mnist", "--params", str(path)]
    subprocess.run([*command, "--seed", str(seed), "--threads", "1"], check=True)
    return P.load(path).dataset("mnist")


def score(ds: P.DatasetParams, seed: int, epoch: int) -> dict:
    """The best generator so far, scored on the test set as stages `sample` and `parzen` do."""
    best = Paths("mnist").seed_checkpoints(seed) / "generator_best.pt"
    data = load_processed("mnist")
    meta = checkpoints.load(best, "train the seed first")
    G = load_generator(best, ds.model, data.image_shape, "train the seed first")
    rng = streams.generator(seed, "samples")
    samples = draw_samples(G, ds.model, ds.parzen.samples, rng)
    result, _ = evaluate(samples, data, ds, fine=True)
    fine = result["fine_sigma"]
    return {
        "epoch": epoch,
        "best_epoch": meta["epoch"],
        "valid_ll": meta["valid_ll"],
        "test_ll": result["test_ll"],
        "test_se": result["test_se"],
        "sigma": result["sigma"],
        "test_ll_fine": fine["test_ll"],
        "test_se_fine": fine["test_se"],
        "sigma_fine": fine["sigma"],
    }


def read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def commit(repo: Path, out: Path, message: str) -> None:
    """Commit `out` alone in `repo` (other staged or changed files stay as they are)."""
    subprocess.run(["git", "-C", str(repo), "add", "--", str(out)], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "commit", "-q", "-m", message, "--", str(out)], check=False
    )


def paper_mnist() -> tuple[float, float]:
    """The paper's adversarial-nets MNIST cell of Table 1, as stage `table` quotes it."""
    from pipeline.stages.table import PUBLISHED

    cell = dict((model, mnist) for model, mnist, _ in PUBLISHED)["Adversarial nets"]
    mean, se = cell.split(" ± ")
    return float(mean), float(se)


def report(out: Path, references: Path = Path("metrics/datasets/mnist/references.json")) -> str:
    """Draw out/test_ll.png (each seed's test LL at every mark against log-epochs, both σ grids,
    the paper's 225 ± 2 and the training images' ceiling) and return the marks as Markdown."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paper, paper_se = paper_mnist()
    ceiling = json.loads(references.read_text())["training_set"]["test_ll"]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.axhspan(paper - paper_se, paper + paper_se, color="tab:red", alpha=0.15, lw=0)
    ax.axhline(paper, color="tab:red", lw=1, label=f"paper: {paper:.0f} ± {paper_se:.0f}")
    ax.axhline(ceiling, color="k", lw=1, ls=":", label=f"training images as samples: {ceiling:.1f}")
    for seed, table in long_run_tables(out):
        rows = read_rows(table)
        x = [int(r["epoch"]) for r in rows]
        y, se = ([float(r[k]) for r in rows] for k in ("test_ll", "test_se"))
        shown = ax.errorbar(x, y, yerr=se, marker="o", ms=3, capsize=2, label=f"seed {seed}")
        fine = [float(r["test_ll_fine"]) for r in rows]
        ax.plot(x, fine, ls="--", color=shown[0].get_color(), lw=1)
    floor = P.load("params.yaml").dataset("mnist").train.floor_epoch(50_000)
    ax.axvline(floor, color="0.5", lw=1, ls="-.", label=f"the release's lr floor: epoch {floor:,}")
    ax.set_xscale("log")
    ax.set_xlim(50, 8000)
    ax.set_xticks([50, 100, 200, 300, 500, 1000, 2000, 3000, 5000, 8000])
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel("epochs trained (log scale)")
    ax.set_ylabel("test log-likelihood (nats)")
    ax.set_title("MNIST: test score of the best generator so far (dashed: the fine σ grid)")
    ax.legend(fontsize=8, loc="upper left", ncol=2)
    fig.tight_layout()
    with atomic_path(out / "test_ll.png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return marks_table(out)


def marks_table(out: Path) -> str:
    """Every seed's marks in `out` as a Markdown table (docs/results.md shows it as it is)."""
    lines = [
        "| seed | epochs | best epoch | test LL ± SE (paper grid) | σ | fine grid | σ |",
        "|---|---|---|---|---|---|---|",
    ]
    for seed, table in long_run_tables(out):
        for r in read_rows(table):
            lines.append(
                f"| {seed} | {r['epoch']} | {r['best_epoch']} | "
                f"{float(r['test_ll']):.1f} ± {float(r['test_se']):.1f} | "
                f"{float(r['sigma']):.3f} | {float(r['test_ll_fine']):.1f} ± "
                f"{float(r['test_se_fine']):.1f} | {float(r['sigma_fine']):.3f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m studies.long", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--until", type=int, default=2000, help="the last mark, in epochs")
    parser.add_argument("--every", type=int, default=100, help="epochs between marks")
    parser.add_argument("--out", type=Path, default=Path("metrics/studies/long-mnist"))
    parser.add_argument("--keep", type=int, nargs="*", default=[300], help="marks to copy")
    parser.add_argument("--commit", type=Path, help="a git repository to commit --out in")
    parser.add_argument("--report", action="store_true", help="only draw and print the marks")
    args = parser.parse_args()
    if args.report:
        print(report(args.out), end="")
        return 0
    table = args.out / f"seed-{args.seed}.csv"
    rows = read_rows(table)
    done = int(rows[-1]["epoch"]) if rows else 0
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)
    for mark in range(done + args.every, args.until + 1, args.every):
        ds = train_to(args.seed, mark)
        folder = Paths("mnist").seed_checkpoints(args.seed)
        if mark in args.keep:
            kept = folder.with_name(f"{folder.name}-at-{mark}")
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(folder, kept)
        rows.append(score(ds, args.seed, mark))
        write_csv(table, FIELDS, rows)
        shutil.copyfile(
            folder / "live" / "plots" / "metrics" / "valid_parzen.tsv",
            args.out / f"seed-{args.seed}-valid.tsv",
        )
        record = {
            "commit": head.stdout.strip(),
            "seed": args.seed,
            "epochs": mark,
            "mnist": P.as_dict(ds),
            "machine": machine.describe(),
        }
        write_text(args.out / f"seed-{args.seed}.json", json.dumps(record, indent=2) + "\n")
        last = rows[-1]
        print(
            f"seed {args.seed} epoch {mark}: best epoch {last['best_epoch']}, "
            f"test {float(last['test_ll']):.1f} ± {float(last['test_se']):.1f} "
            f"(fine grid {float(last['test_ll_fine']):.1f})",
            flush=True,
        )
        if args.commit:
            commit(args.commit, args.out, f"Long MNIST run: seed {args.seed} to epoch {mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
