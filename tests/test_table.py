"""Table 1 reads at a glance: short cells, what each cell is in a numbered note under it."""

from __future__ import annotations

import pandas as pd

from pipeline.stages.table import _footnoted, _sigma


def test_each_source_but_the_paper_becomes_one_numbered_note():
    table = pd.DataFrame(
        [
            {"model": "GAN", "MNIST": "225 ± 2", "source": "paper"},
            {"model": "ours", "MNIST": "184.9 ± 5.1", "source": "mean ± SD over 5 seeds"},
            {"model": "… seed 0", "MNIST": "188.0 ± 2.3", "source": "one seed"},
            {"model": "… seed 1", "MNIST": "177.5 ± 1.4", "source": "one seed"},
        ]
    )
    text = _footnoted(table)
    assert "| GAN | 225 ± 2 | paper |" in text and "| ours | 184.9 ± 5.1 | [1] |" in text
    assert text.count("| [2] |") == 2
    assert text.endswith("\n[1] mean ± SD over 5 seeds\n\n[2] one seed\n")


def test_one_sigma_for_every_fold_is_said_once():
    assert _sigma({"folds": [{"sigma": 0.129}] * 5}) == "σ = 0.129 (every fold)"
    assert _sigma({"folds": [{"sigma": 0.1}, {"sigma": 0.129}]}) == "σ per fold 0.1/0.129"
    assert _sigma({"sigma": 0.167}) == "σ = 0.167"


def test_a_result_names_the_machines_its_seeds_trained_on_each_once():
    """The same code, data and seed give other bits on another kind of CPU: every note and
    caption says where its run trained, or that an older record did not say."""
    from pipeline.machine import of_run, trained_on

    def machines(run: dict) -> str:
        return trained_on(of_run(run))

    epyc = {"cpu": "AMD EPYC", "isa": ["avx2", "avx512f", "avx512_bf16"]}
    epyc["torch_cpu_capability"] = "AVX512"
    xeon = {"cpu": "Intel Xeon", "isa": ["avx2", "avx512f"], "torch_cpu_capability": "AVX512"}
    run = {"seeds": {"0": {"machines": [epyc]}, "1": {"machines": [epyc, xeon]}}}
    assert machines(run) == "on AMD EPYC (AVX512, bf16) and Intel Xeon (AVX512)"
    assert machines({"seeds": {"0": {}, "1": {"machines": []}}}) == "machine not recorded"


def test_a_record_from_before_the_rename_reads_as_the_release_schedule(tmp_path, monkeypatch):
    """Older code said "paper" for a section's `train.epochs`; nothing shows that word now."""
    import json

    from pipeline.artifacts import RUN_KEYS, read_run
    from pipeline.paths import Paths

    monkeypatch.chdir(tmp_path)
    record = {key: None for key in RUN_KEYS} | {"schedule": "paper", "seeds": {}}
    path = Paths("lfw").train_record
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(record))
    assert read_run("lfw")["schedule"] == "release"
    path.write_text(json.dumps(record | {"schedule": "cpu"}))
    assert read_run("lfw")["schedule"] == "cpu"


def test_a_seed_trained_on_past_the_schedule_gets_a_row_at_its_last_mark(tmp_path):
    """The long-run study's rows: one per seed past 300 epochs, at its last mark, both grids."""
    import json

    from pipeline.stages.table import long_rows

    header = "epoch,best_epoch,valid_ll,test_ll,test_se,sigma,test_ll_fine,test_se_fine,sigma_fine"
    marks = {
        0: [
            "1200,1081,212.9,213.54,2.26,0.1668,218.95,1.94,0.1801",
            "1300,1262,215.1,217.52,2.25,0.1668,222.37,1.93,0.1801",
        ],
        1: ["300,300,177.8,177.51,1.42,0.2154,191.40,1.84,0.1896"],
    }
    epyc = {"cpu": "AMD EPYC", "isa": ["avx512_bf16"], "torch_cpu_capability": "AVX512"}
    for seed, rows in marks.items():
        (tmp_path / f"seed-{seed}.csv").write_text("\n".join([header, *rows]) + "\n")
        record = {"commit": "0b34e3d" + "0" * 33, "machine": epyc}
        (tmp_path / f"seed-{seed}.json").write_text(json.dumps(record))
    (row,) = long_rows({"MNIST": "—", "LFW": "—"}, tmp_path)
    assert row["model"] == "… seed 0, trained on to 1,300 epochs" and row["LFW"] == "—"
    assert row["MNIST"] == "217.5 ± 2.2, σ = 0.167, best epoch 1262; fine σ grid 222.4 ± 1.9"
    assert row["source"].endswith("commit 0b34e3d, on AMD EPYC (AVX512, bf16)")
