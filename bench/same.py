"""Side-by-side check that a code change leaves every stage's outputs byte-identical.

    python -m bench.same [--base HEAD] [--datasets mnist lfw cifar10_fc cifar10_conv]
                         [--new-param KEY ...]   (KEY: kernels, *.train.plateau, ...)

Runs preprocess, train, sample and parzen for each dataset, then figures and table, twice in two
scratch directories: once with `pipeline/` as committed at `--base`, once with this work tree's.
Both read this checkout's data/raw/ (run `dvc repro download` first) and the same small
configuration of params.yaml (the tests' one: a few hundred images, narrow nets, 2 epochs, but
every dataset's real layers and code paths). Prints each output file that differs (wall times
and the code version in train's run record aside; keys of train.json that only one side
writes are listed, not counted) and exits 1 if any does. A commit that changes a stage's
code without changing what it computes names this check before `dvc commit` of that stage.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from pipeline.datasets import SECTIONS

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = ("data/processed", "data/samples", "models", "metrics", "figures")
IGNORED = {"epoch_seconds", "train_seconds", "code"}  # wall times; the version of the code
DATASETS = [n for n in SECTIONS if n != "tfd"]  # TFD is licensed: not in data/raw here


def without(params: dict, key: str) -> dict:
    """`params` less the dotted `key` (`kernels`, `mnist.train.plateau`; `*` stands for every
    dataset section: `*.train.plateau`), wherever it is present."""
    head, _, rest = key.partition(".")
    names = [n for n in SECTIONS if n in params] if head == "*" else [head]
    for name in names:
        if not rest:
            params.pop(name, None)
        elif isinstance(params.get(name), dict):
            without(params[name], rest)
    return params


def setup(where: Path, code: Path, datasets: list[str], unknown: list[str] = ()) -> None:
    """A scratch repository running `code` on the small configuration, less the params
    `unknown` (knobs newer than that code; dotted keys, see `without`)."""
    from tests.conftest import tiny_params_dict

    where.mkdir(parents=True)
    shutil.copytree(code, where / "pipeline")
    params = tiny_params_dict(datasets)
    for key in unknown:
        without(params, key)
    (where / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (where / "data").mkdir()
    (where / "data/raw").symlink_to(ROOT / "data/raw")


def committed_code(base: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "archive", base, "pipeline"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x"], cwd=into, input=archive, check=True)
    return into / "pipeline"


def run(where: Path, datasets: list[str]) -> None:
    stages = ("preprocess", "train", "sample", "parzen")
    steps = [[stage, ds] for ds in datasets for stage in stages]
    for step in [*steps, ["figures"], ["table"]]:
        result = subprocess.run(
            [sys.executable, "-m", "pipeline", *step], cwd=where, capture_output=True, text=True
        )
        if result.returncode != 0:
            sys.exit(f"{where.name}: `pipeline {' '.join(step)}` failed:\n{result.stderr}")


def outputs(where: Path, tops=OUTPUTS, ignored=IGNORED) -> dict[str, object]:
    """Every file under `tops` of `where`, by path: its bytes, or for train's run record
    (train.json) its keys and each seed's but the `ignored` ones (wall times, the code
    version)."""
    files: dict[str, object] = {
        str(p.relative_to(where)): p.read_bytes()
        for top in tops
        for p in sorted((where / top).rglob("*"))
        if p.is_file()
    }
    for name, data in files.items():
        if name.endswith("train.json"):
            record = {k: v for k, v in json.loads(data).items() if k not in ignored}
            record["seeds"] = {
                seed: {k: v for k, v in run.items() if k not in ignored}
                for seed, run in record.get("seeds", {}).items()
            }
            files[name] = record
    return files


def only_in_one(a: dict, b: dict) -> tuple[dict, dict]:
    """Drop from train's run record the keys that only one side writes, at its top level and in
    each seed's entry; say which."""
    for name in a.keys() & b.keys():
        if isinstance(a[name], dict) and isinstance(b[name], dict):
            a[name], b[name] = _common(a[name], b[name], name)
            seeds = a[name].get("seeds", {}), b[name].get("seeds", {})
            for seed in seeds[0].keys() & seeds[1].keys():
                ours, theirs = _common(seeds[0][seed], seeds[1][seed], f"{name} seed {seed}")
                a[name]["seeds"][seed], b[name]["seeds"][seed] = ours, theirs
    return a, b


def _common(a: dict, b: dict, where: str) -> tuple[dict, dict]:
    extra = a.keys() ^ b.keys()
    if extra:
        print(f"{where}: keys only one side writes (not compared): {sorted(extra)}")
    return (
        {k: v for k, v in a.items() if k not in extra},
        {k: v for k, v in b.items() if k not in extra},
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.same", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--base", default="HEAD", help="git revision of the code to compare with")
    parser.add_argument(
        "--datasets", nargs="+", default=DATASETS, choices=DATASETS, help="dataset sections to run"
    )
    parser.add_argument(
        "--new-param",
        action="append",
        default=[],
        metavar="KEY",
        help="a param the base code does not know, left out of its params.yaml (a dotted key; "
        "*.train.plateau: in every dataset section): its value here must be the one that "
        "computes what the base did (e.g. kernels: eager)",
    )
    args = parser.parse_args()
    for ds in args.datasets:
        if not (ROOT / "data/raw" / ds).is_dir():
            sys.exit(f"data/raw/{ds}: missing; run `dvc repro download@{ds}` first")
    scratch = Path(tempfile.mkdtemp(prefix="gan-same-"))
    try:
        base, new = scratch / "base", scratch / "worktree"
        setup(base, committed_code(args.base, scratch / "code"), args.datasets, args.new_param)
        setup(new, ROOT / "pipeline", args.datasets)
        for where in (base, new):
            run(where, args.datasets)
        a, b = only_in_one(outputs(base), outputs(new))
        differ = sorted(name for name in a.keys() | b.keys() if a.get(name) != b.get(name))
        for name in differ:
            print(f"differs: {name}" + ("" if name in a and name in b else " (only in one)"))
        print(
            f"{args.base} vs work tree, {', '.join(args.datasets)}: {len(a)} output files, "
            f"{len(differ)} differ (wall times aside)"
        )
        return 1 if differ else 0
    finally:
        shutil.rmtree(scratch)


if __name__ == "__main__":
    sys.exit(main())
