"""`dvc repro` end to end on a tiny configuration of every dataset: real code path, mirror data
(a synthetic TFD_48x48.mat in a second mirror), a few hundred images, narrow nets. Every declared
output appears, the metrics, Figure 2 and Table 1 are filled, a second repro does nothing, the
same seed gives the same numbers, a missing TFD file fails only TFD's stages, and
`dvc exp run -S k=2` reruns training."""

import json
import os
import shutil
import statistics
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ALL, sh, tiny_params_dict, tiny_repo, write_tfd

pytestmark = pytest.mark.slow  # whole pipelines in scratch repositories: the full tier

TIMING_KEYS = {"epoch_seconds", "train_seconds"}


@pytest.fixture(scope="module")
def repo(tmp_path_factory, mirror):
    """A fresh git + DVC copy of this repository with the tiny params of every dataset (TFD from
    a synthetic file in a second mirror), after one `dvc repro`."""
    licensed = tmp_path_factory.mktemp("licensed-mirror")
    write_tfd(licensed / "tfd" / "TFD_48x48.mat")
    return tiny_repo(tmp_path_factory.mktemp("repo"), ALL, [licensed, mirror])


def declared_outputs(repo: Path) -> list[Path]:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return [repo / out["path"] for stage in lock["stages"].values() for out in stage["outs"]]


def test_every_declared_output_exists(repo):
    root, _ = repo
    outs = declared_outputs(root)
    expected = {"metrics/table1.md", "metrics/table1.csv", "figures/figure2.png"}
    for name in ALL:
        expected |= {
            f"data/raw/{name}",
            f"data/processed/{name}.npz",
            f"models/{name}",
            f"data/samples/{name}",
            f"figures/datasets/{name}/figure2.png",
            f"figures/datasets/{name}/figure3.png",
            f"metrics/datasets/{name}/parzen.json",
            f"metrics/datasets/{name}/parzen_sigma",
            f"metrics/datasets/{name}/train.json",
            f"metrics/datasets/{name}/train",
        }
    assert {p.relative_to(root).as_posix() for p in outs} >= expected
    for path in outs:
        assert path.exists(), path
        assert path.is_dir() or path.stat().st_size > 0, path
    # one folder per seed (tiny MNIST has two)
    assert sorted(p.name for p in (root / "models/mnist").iterdir()) == ["seed-0", "seed-1"]
    assert sorted(p.name for p in (root / "models/mnist/seed-1").iterdir()) == [
        "generator_best.pt",
        "generator_last.pt",
    ]
    assert sorted(p.name for p in (root / "data/samples/mnist").iterdir()) == [
        "seed-0.npy",
        "seed-1.npy",
    ]
    # TFD's two phases: the pretrained generator is kept beside the extended one
    assert "generator_pretrained.pt" in {p.name for p in (root / "models/tfd/seed-0").iterdir()}


PAPER_SIGMAS = [pytest.approx(s) for s in [10 ** (-1 + i / 9) for i in range(10)]]


def test_metrics_and_table_are_filled(repo):
    root, _ = repo
    score = json.loads((root / "metrics/datasets/mnist/parzen.json").read_text())
    assert score["n_samples"] == 300 and score["n_seeds"] == 2 and score["survived"] == 2
    seeds = score["seeds"]
    for one in seeds.values():
        assert one["n_test"] == 200 and one["n_valid"] == 100 and one["sigma"] in PAPER_SIGMAS
        assert one["test_se"] > 0 and not one["collapsed"]
        # the finer grid holds the paper's 10 points, so it can only fit the validation set better
        assert one["fine_sigma"]["valid_ll"] >= one["valid_ll"] - 1e-9
    lls = [seeds[s]["test_ll"] for s in ("0", "1")]
    assert seeds["0"]["test_ll"] != seeds["1"]["test_ll"]  # two runs, not one twice
    assert score["test_ll"] == pytest.approx(statistics.mean(lls))
    assert score["seed_std"] == pytest.approx(statistics.stdev(lls))
    assert score["test_se"] == pytest.approx(statistics.stdev(lls) / 2**0.5)
    assert "training_set" not in score  # stage references' row
    curve = (root / "metrics/datasets/mnist/parzen_sigma/seed-1.csv").read_text().splitlines()
    assert curve[0] == "sigma,valid_ll" and len(curve) == 11
    train = json.loads((root / "metrics/datasets/mnist/train.json").read_text())
    assert train["schedule"] == "cpu" and list(train["seeds"]) == ["0", "1"]
    assert all(r["best_epoch"] in (1, 2) and not r["collapsed"] for r in train["seeds"].values())
    curve = (root / "metrics/datasets/mnist/train/seed-1/valid_parzen.tsv").read_text()
    assert [line.split("\t")[0] for line in curve.splitlines()] == ["step", "1", "2"]
    table = (root / "metrics/table1.md").read_text()
    assert "| Adversarial nets | 225 ± 2 | 2057 ± 26 | — | paper |" in table
    assert f"{score['test_ll']:.1f} ± {score['seed_std']:.1f} (2 of 2 seeds; 0 collapsed)" in table
    for seed in ("0", "1"):  # a row per seed
        one, run = seeds[seed], train["seeds"][seed]
        cell = (
            f"{one['test_ll']:.1f} ± {one['test_se']:.1f}, σ = {one['sigma']:.3g}, "
            f"best epoch {run['best_epoch']}"
        )
        assert f"| … seed {seed} | {cell} |" in table
    references = json.loads((root / "metrics/datasets/mnist/references.json").read_text())
    reference = references["training_set"]
    assert set(reference) == {"test_ll", "test_se", "sigma", "valid_ll", "n_test", "n_valid", "n"}
    assert f"| Training images as samples (reference) | {reference['test_ll']:.1f} ± " in table
    assert "MNIST: mean ± SD over the seeds that did not collapse, each seed cpu schedule" in table
    assert "2 epochs, seeds 0, 1, k = 1, simultaneous update" in table


def test_beyond_table1_every_seed_and_the_real_reference_are_scored(repo):
    root, _ = repo
    metrics = root / "metrics/datasets"
    accuracy = json.loads((metrics / "mnist/classifier.json").read_text())
    assert accuracy["test_accuracy"] > 0.3 and accuracy["n_train"] == 400  # chance is 0.1
    assert accuracy["class_share"] == pytest.approx([0.1] * 10, abs=0.05)
    quality = json.loads((metrics / "mnist/quality.json").read_text())
    assert set(quality["seeds"]) == {"0", "1"} and quality["classifier"]
    for row in [*quality["seeds"].values(), quality["reference"]]:
        assert row["fid"] >= 0 and row["kid_sd"] >= 0 and 1 <= row["inception_score"] <= 10
        assert 0 <= row["precision"] <= 1 and 0 <= row["coverage"] <= 1
        assert 0 <= row["modes_covered"] <= 10 and 0 <= row["pixel_closer_than_held_out"] <= 1
    # held-out real images are nearer the test images in the classifier's space than samples of
    # a two-epoch generator are
    assert quality["reference"]["fid"] < min(r["fid"] for r in quality["seeds"].values())
    assert quality["fid"] == pytest.approx(
        statistics.mean(r["fid"] for r in quality["seeds"].values())
    )
    beyond = (root / "metrics/beyond.md").read_text().splitlines()
    one = quality["seeds"]["0"]
    row = next(r for r in beyond if r.startswith("| MNIST | seed 0 |"))
    assert f"| {one['kid']:.3g} ± {one['kid_sd']:.3g} |" in row  # as quality.json stores it
    faces = json.loads((metrics / "lfw/quality.json").read_text())
    assert not faces["classifier"] and "fid" not in faces["reference"]
    assert 0 <= faces["seeds"]["0"]["pixel_closer_than_held_out"] <= 1
    assert (root / "models/classifiers/lfw/none.txt").is_file()
    references = json.loads((metrics / "mnist/references.json").read_text())
    # Theis et al. (2016): noise scores far below real images, whatever the estimator's faults
    assert references["uniform_noise"]["test_ll"] < references["training_set"]["test_ll"] - 100
    assert references["kmeans"]["k"] == 40 and references["held_out"]["n_test"] == 200
    by_n = (metrics / "mnist/parzen_n_training.csv").read_text().splitlines()
    assert by_n[0] == "n,test_ll,test_se" and [r.split(",")[0] for r in by_n[1:]] == ["100", "300"]
    gan = (metrics / "mnist/parzen_n_gan.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in gan[1:]] == ["100", "300", "1000"]
    assert "note" in json.loads((metrics / "cifar10_fc/references.json").read_text())


@pytest.mark.parametrize("name", ["tfd", "lfw"])
def test_faces_are_scored_per_fold_with_the_se_across_folds(repo, name):
    root, _ = repo
    score = json.loads((root / f"metrics/datasets/{name}/parzen.json").read_text())
    assert score["n_seeds"] == 1
    one = score["seeds"]["0"]
    assert (score["test_ll"], score["test_se"]) == (one["test_ll"], one["test_se"])
    folds = one["folds"]
    assert score["n_folds"] == 5 and len(folds) == 5
    assert all(f["sigma"] in PAPER_SIGMAS for f in folds)
    means = [f["test_ll"] for f in folds]
    assert score["test_ll"] == pytest.approx(sum(means) / 5)
    assert score["test_se"] == pytest.approx(statistics.pstdev(means) / 5**0.5)
    curve = (root / f"metrics/datasets/{name}/parzen_sigma/seed-0.csv").read_text().splitlines()
    assert curve[0] == "sigma,valid_ll,fold_0,fold_1,fold_2,fold_3,fold_4"
    train = json.loads((root / f"metrics/datasets/{name}/train.json").read_text())
    assert train["epochs"] == 4 and train["seeds"]["0"]["best_epoch"] in (3, 4)  # phase 2 only
    table = (root / "metrics/table1.md").read_text()
    column = {"tfd": "TFD", "lfw": "LFW 48×48, TFD protocol"}[name]
    assert f"{column}: mean of 5 folds ± SE across folds, cpu schedule, 4 epochs, seed 0" in table
    assert "σ per fold " in table
    row = next(line for line in table.splitlines() if "(this project)" in line)
    assert f"{score['test_ll']:.1f} ± {score['test_se']:.1f}" in row


def test_lossy_and_stand_in_data_are_labelled(repo):
    root, _ = repo
    table = (root / "metrics/table1.md").read_text()
    assert "LFW 48x48 (grayscale mirror), TFD protocol (stand-in for TFD)" in table
    for name in ("cifar10_fc", "cifar10_conv"):
        score = json.loads((root / f"metrics/datasets/{name}/parzen.json").read_text())
        assert "JPEG" in score["note"] and "lossy" in score["note"]
    assert json.loads((root / "metrics/datasets/tfd/parzen.json").read_text())["note"] == ""


def test_a_departure_from_the_release_is_shown_with_its_results(repo):
    root, _ = repo
    score = json.loads((root / "metrics/datasets/cifar10_fc/parzen.json").read_text())
    assert score["deviation"].startswith("G output irange 0.05")
    assert "deviation" not in json.loads((root / "metrics/datasets/mnist/parzen.json").read_text())


def test_second_repro_does_nothing(repo):
    root, env = repo
    out = sh("dvc", "repro", cwd=root, env=env).stdout
    assert "Running stage" not in out
    assert "up to date" in sh("dvc", "status", cwd=root, env=env).stdout


def test_plan_names_what_a_param_change_reruns_and_nothing_else(repo):
    root, env = repo
    plan = sh(sys.executable, "-m", "pipeline", "plan", cwd=root, env=env).stdout
    assert "everything is up to date" in plan
    params = (root / "params.yaml").read_text()
    edited = yaml.safe_load(params)
    edited["mnist"]["parzen"]["batch"] = 50
    try:
        (root / "params.yaml").write_text(yaml.safe_dump(edited, sort_keys=False))
        plan = sh(sys.executable, "-m", "pipeline", "plan", cwd=root, env=env).stdout
    finally:
        (root / "params.yaml").write_text(params)
    stages = [line.split()[0] for line in plan.splitlines() if line.startswith("  ")]
    # parzen's own params changed; train, references and quality read mnist.parzen too; the
    # rest runs downstream
    assert stages[0] == "train@mnist" and "params.yaml (mnist.parzen)" in plan
    assert set(stages) == {
        "train@mnist",
        "sample@mnist",
        "parzen@mnist",
        "references@mnist",
        "quality@mnist",
        "inception@mnist",
        "table",
        "figures",
    }
    assert "epochs ×" in plan  # an estimate from the run record


def test_same_seed_same_cpu_gives_identical_metrics(repo):
    root, env = repo
    before = {
        p: (root / p).read_text()
        for p in ("metrics/datasets/mnist/parzen.json", "metrics/table1.csv")
    }
    train_before = json.loads((root / "metrics/datasets/mnist/train.json").read_text())
    shutil.rmtree(root / "checkpoints" / "mnist")  # retrain from scratch, not resume
    sh(
        "dvc",
        "repro",
        "--force",
        "--single-item",
        "train@mnist",
        "sample@mnist",
        "parzen@mnist",
        "table",
        cwd=root,
        env=env,
    )
    train_after = json.loads((root / "metrics/datasets/mnist/train.json").read_text())
    for record in (train_before, train_after):
        for run in (record, *record["seeds"].values()):
            for key in TIMING_KEYS:
                run.pop(key, None)
    assert train_after == train_before
    assert {p: (root / p).read_text() for p in before} == before


def test_bad_params_exit_nonzero_name_the_key_and_change_nothing(repo, tmp_path):
    root, env = repo
    params = tiny_params_dict()
    params["k"] = 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(params))
    models = {p.name: p.stat().st_mtime_ns for p in (root / "models/mnist").rglob("*")}
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
    assert {p.name: p.stat().st_mtime_ns for p in (root / "models/mnist").rglob("*")} == models
    result = sh(sys.executable, "-m", "pipeline", "sample", "svhn", cwd=root, env=env, check=False)
    assert result.returncode == 2 and "unknown dataset 'svhn'" in result.stderr


def test_exp_run_k2_reruns_training_and_shows_the_parzen_metric(repo):
    root, env = repo
    out = sh("dvc", "exp", "run", "-S", "k=2", "-n", "k2", cwd=root, env=env).stdout
    for name in ALL:
        assert f"Running stage 'train@{name}'" in out
    assert "Running stage 'table'" in out
    assert "download@mnist' didn't change" in out or "Running stage 'download" not in out
    shown = sh("dvc", "exp", "show", "--csv", "--no-pager", cwd=root, env=env).stdout
    header, *rows = shown.splitlines()
    assert "test_ll" in header and any(r.startswith("k2,") for r in rows)
    diff = sh("dvc", "metrics", "diff", "HEAD", "k2", "--json", cwd=root, env=env).stdout
    assert "metrics/datasets/mnist/parzen.json" in json.loads(diff)
    rows = sh(sys.executable, "-m", "pipeline", "compare", cwd=root, env=env).stdout
    header, *lines = rows.splitlines()
    assert header.split()[:2] == ["experiment", "dataset"] and "test LL" in header
    k2 = [line for line in lines if line.split()[0] == "k2"]
    assert len(k2) == len(ALL) and all(" k=2 " in line for line in k2)
    # the work tree holds the experiment's results and params: it differs from its commit too
    workspace = [line for line in lines if line.split()[0] == "workspace"]
    assert len(workspace) == len(ALL) and all(" k=2 " in line for line in workspace)


def test_plots_render_offline(repo):
    """`dvc plots show` works on a plain clone (DVC's own page), and after `offline-plots` (as
    the set-up script runs it) uses the inlined-Vega template: the page loads nothing from a
    CDN."""
    root, env = repo
    sh("dvc", "plots", "show", "-o", "plain_html", cwd=root, env=env)
    assert "cdn.jsdelivr" in (root / "plain_html" / "index.html").read_text()
    sh(sys.executable, "-m", "pipeline", "offline-plots", cwd=root, env=env)
    sh("dvc", "plots", "show", "-o", "plots_html", cwd=root, env=env)
    page = (root / "plots_html" / "index.html").read_text()
    assert 'src="http' not in page and "cdn.jsdelivr" not in page
    assert "window.vegaEmbed=" in page
    for name in ("valid_parzen", "loss_d", "acc_real", "spread", "parzen_sigma/seed-0.csv"):
        assert name in page


def test_missing_tfd_fails_its_own_stage_with_the_reason(repo):
    """Without TFD_48x48.mat the download says why and where to put it; the other datasets'
    stages stay as they were."""
    root, env = repo
    public = env["GAN_DATA_MIRROR"].split(os.pathsep)[-1]
    result = sh(
        "dvc",
        "repro",
        "--force",
        "--single-item",
        "download@tfd",
        cwd=root,
        env={**env, "GAN_DATA_MIRROR": public},
        check=False,
    )
    assert result.returncode != 0
    assert "found no verified copy of tfd/TFD_48x48.mat" in result.stderr + result.stdout
    assert "licensed" in result.stderr + result.stdout
    status = sh("dvc", "status", *(f"parzen@{n}" for n in ALL if n != "tfd"), cwd=root, env=env)
    assert "changed" not in status.stdout
    sh("dvc", "checkout", "data/raw/tfd", cwd=root, env=env)  # restore for the other tests
