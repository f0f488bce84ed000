"""`dvc repro` end to end on a tiny configuration: real code path, mirror data, a few hundred
images. Every declared output appears, the metrics and Table 1 are filled, a second repro does
nothing, the same seed gives the same numbers, and `dvc exp run -S k=2` reruns training."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, tiny_params_dict

TIMING_KEYS = {"epoch_seconds", "train_seconds"}


def sh(*args, cwd, env, check=True):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def repo(tmp_path_factory, mirror):
    """A fresh git + DVC copy of this repository with the tiny params, after one `dvc repro`."""
    dest = tmp_path_factory.mktemp("repo")
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in listed:
        if (ROOT / name).is_file() and not name.startswith(("metrics/", "figures/", "dvc.lock")):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    (dest / "params.yaml").write_text(yaml.safe_dump(tiny_params_dict(), sort_keys=False))
    env = {
        **os.environ,
        "GAN_DATA_MIRROR": str(mirror),
        "OMP_NUM_THREADS": "1",
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    sh("git", "init", "-q", cwd=dest, env=env)
    sh("git", "add", "-A", cwd=dest, env=env)
    sh("git", "commit", "-qm", "tiny configuration", cwd=dest, env=env)
    sh("dvc", "repro", cwd=dest, env=env)
    return dest, env


def declared_outputs(repo: Path) -> list[Path]:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return [repo / out["path"] for stage in lock["stages"].values() for out in stage["outs"]]


def test_every_declared_output_exists(repo):
    root, _ = repo
    outs = declared_outputs(root)
    assert {p.relative_to(root).as_posix() for p in outs} >= {
        "data/raw/mnist",
        "data/processed/mnist.npz",
        "models/mnist",
        "data/samples/mnist.npy",
        "figures/mnist/figure2.png",
        "figures/mnist/figure3.png",
        "metrics/datasets/mnist/parzen.json",
        "metrics/datasets/mnist/parzen_sigma.csv",
        "metrics/datasets/mnist/train/metrics.json",
        "metrics/table1.md",
        "metrics/table1.csv",
    }
    for path in outs:
        assert path.exists(), path
        assert path.is_dir() or path.stat().st_size > 0, path
    assert sorted(p.name for p in (root / "models/mnist").iterdir()) == [
        "generator_best.pt",
        "generator_last.pt",
    ]


def test_metrics_and_table_are_filled(repo):
    root, _ = repo
    score = json.loads((root / "metrics/datasets/mnist/parzen.json").read_text())
    assert score["n_test"] == 200 and score["n_valid"] == 100 and score["n_samples"] == 300
    assert score["sigma"] in [pytest.approx(s) for s in [10 ** (-1 + i / 9) for i in range(10)]]
    assert score["test_se"] > 0
    # the finer grid contains the paper's 10 points, so it can only fit the validation set better
    assert score["fine_sigma"]["valid_ll"] >= score["valid_ll"] - 1e-9
    assert set(score["training_set"]) == {"test_ll", "test_se", "sigma", "valid_ll"}
    curve = (root / "metrics/datasets/mnist/parzen_sigma.csv").read_text().splitlines()
    assert curve[0] == "sigma,valid_ll" and len(curve) == 11
    train = json.loads((root / "metrics/datasets/mnist/train/metrics.json").read_text())
    assert train["best_epoch"] in (1, 2)
    curve = (root / "metrics/datasets/mnist/train/plots/metrics/valid_parzen.tsv").read_text()
    assert [line.split("\t")[0] for line in curve.splitlines()] == ["step", "1", "2"]
    table = (root / "metrics/table1.md").read_text()
    assert "| Adversarial nets | 225 ± 2 | 2057 ± 26 | paper |" in table
    assert f"{score['test_ll']:.1f} ± {score['test_se']:.1f}" in table
    reference = score["training_set"]
    assert f"| Training images as samples (reference) | {reference['test_ll']:.1f} ± " in table
    assert f"σ = {score['sigma']:.3g}, epoch {train['best_epoch']} of 2; seed 2, k = 1" in table


def test_second_repro_does_nothing(repo):
    root, env = repo
    out = sh("dvc", "repro", cwd=root, env=env).stdout
    assert "Running stage" not in out
    assert "up to date" in sh("dvc", "status", cwd=root, env=env).stdout


def test_same_seed_same_cpu_gives_identical_metrics(repo):
    root, env = repo
    before = {
        p: (root / p).read_text()
        for p in ("metrics/datasets/mnist/parzen.json", "metrics/table1.csv")
    }
    train_before = json.loads((root / "metrics/datasets/mnist/train/metrics.json").read_text())
    sh("dvc", "repro", "--force", "--downstream", "train@mnist", cwd=root, env=env)
    train_after = json.loads((root / "metrics/datasets/mnist/train/metrics.json").read_text())
    for key in TIMING_KEYS:
        train_before.pop(key), train_after.pop(key)
    assert train_after == train_before
    assert {p: (root / p).read_text() for p in before} == before


def test_bad_params_exit_nonzero_name_the_key_and_change_nothing(repo, tmp_path):
    root, env = repo
    params = tiny_params_dict()
    params["k"] = 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(params))
    models = {p.name: p.stat().st_mtime_ns for p in (root / "models/mnist").iterdir()}
    result = sh(
        sys.executable,
        "-m",
        "pipeline",
        "train",
        "mnist",
        "--params",
        str(bad),
        cwd=root,
        env=env,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {bad}: 'k' is 0; expected an integer >= 1"
    assert {p.name: p.stat().st_mtime_ns for p in (root / "models/mnist").iterdir()} == models
    result = sh(sys.executable, "-m", "pipeline", "sample", "svhn", cwd=root, env=env, check=False)
    assert result.returncode == 2 and "unknown dataset 'svhn'" in result.stderr


def test_exp_run_k2_reruns_training_and_shows_the_parzen_metric(repo):
    root, env = repo
    out = sh("dvc", "exp", "run", "-S", "k=2", "-n", "k2", cwd=root, env=env).stdout
    assert "Running stage 'train@mnist'" in out and "Running stage 'table'" in out
    assert "download@mnist' didn't change" in out or "Running stage 'download" not in out
    shown = sh("dvc", "exp", "show", "--csv", "--no-pager", cwd=root, env=env).stdout
    header, *rows = shown.splitlines()
    assert "test_ll" in header and any(r.startswith("k2,") for r in rows)
    diff = sh("dvc", "metrics", "diff", "HEAD", "k2", "--json", cwd=root, env=env).stdout
    assert "metrics/datasets/mnist/parzen.json" in json.loads(diff)


def test_plots_render_offline(repo):
    """`dvc plots show` uses the inlined-Vega template: the page loads nothing from a CDN."""
    root, env = repo
    sh(sys.executable, "-m", "pipeline", "offline-plots", cwd=root, env=env)
    sh("dvc", "plots", "show", "-o", "plots_html", cwd=root, env=env)
    page = (root / "plots_html" / "index.html").read_text()
    assert 'src="http' not in page and "cdn.jsdelivr" not in page
    assert "window.vegaEmbed=" in page
    for name in ("valid_parzen", "loss_d", "acc_real", "parzen_sigma.csv"):
        assert name in page
