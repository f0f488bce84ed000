"""Seeds as an axis: the collapse rule, Table 1's cell over seeds, the seed the figures show, and
what a checkpoint must share with a run to be resumed by it."""

import json
import math

import numpy as np
import pytest

from pipeline import checkpoints, code
from pipeline.artifacts import shown_seed, survivors
from pipeline.params import load as load_params
from pipeline.stages import figures, train
from pipeline.stages.parzen import over_seeds
from pipeline.stages.table import _ours
from pipeline.stopping import (
    CollapseSpec,
    PlateauSpec,
    at_end,
    better,
    collapsed,
    flattened,
    gain_per_doubling,
    looks_collapsed,
    plateaued,
    read_log,
    spells,
)
from tests.conftest import ROOT

SIGNALS = ("valid_parzen", "spread", "phase")

RULE = CollapseSpec(valid_parzen_below=-150.0, spread_below=0.2, epochs=2, stop=True)
SPREAD = CollapseSpec(valid_parzen_below=None, spread_below=0.3, epochs=3, stop=False)
LABEL = CollapseSpec(valid_parzen_below=-150.0, spread_below=0.2, epochs=2, stop=False)


def epoch(valid_parzen: float | None, spread: float = 0.9) -> dict:
    return {} if valid_parzen is None else {"valid_parzen": valid_parzen, "spread": spread}


def test_a_run_collapses_when_its_score_and_spread_stay_low_for_the_rule_s_epochs():
    history = [epoch(-60), epoch(-300, 0.01), epoch(-320, 0.01), epoch(-330, 0.01)]
    # taken epoch by epoch, as training goes: it stops at the second low epoch in a row
    assert [collapsed(history[:n], RULE) for n in (1, 2, 3)] == [None, None, 3]
    assert spells(history, RULE) == [(3, 4)]


def test_a_dip_that_recovers_is_not_a_collapse():
    history = [epoch(-300, 0.01), epoch(-40, 0.5), epoch(-310, 0.01), epoch(20, 0.8)]
    assert collapsed(history, RULE) is None


def test_a_low_score_with_varied_samples_is_not_a_collapse():
    """Early epochs score badly too; a collapsed G also draws nearly the same image every time."""
    assert collapsed([epoch(-400, 0.6)] * 5, RULE) is None
    assert collapsed([epoch(50, 0.05)] * 5, RULE) is None


def test_epochs_without_a_validation_score_neither_count_nor_break_the_run_of_low_ones():
    history = [epoch(-300, 0.01), epoch(None), epoch(-300, 0.01)]
    assert collapsed(history, RULE) == 3


def test_no_rule_never_stops():
    assert collapsed([epoch(-900, 0.0)] * 10, None) is None


def test_without_stop_a_run_goes_on_and_is_collapsed_only_if_it_ends_so():
    """The study's collapsed seed came back 23 epochs later: a collapse is recorded, and counts
    against the seed only when the run ends in one."""
    came_back = [
        epoch(-60),
        epoch(-300, 0.01),
        epoch(-320, 0.01),
        epoch(-330, 0.01),
        epoch(-40, 0.6),
        epoch(30, 0.9),
    ]
    assert collapsed(came_back, LABEL) is None  # never stops
    assert spells(came_back, LABEL) == [(3, 4)] and not at_end(came_back, LABEL)
    stuck = came_back[:4]
    assert spells(stuck, LABEL) == [(3, 4)] and at_end(stuck, LABEL)
    twice = [*came_back, epoch(-400, 0.02), epoch(-410, 0.02), epoch(None)]
    assert spells(twice, LABEL) == [(3, 4), (8, 8)] and at_end(twice, LABEL)


def test_a_run_stops_after_patience_evaluations_without_a_better_score():
    """MonitorBased(prop_decrease=0, N) of the release's configs, counted in evaluations."""
    scores = [10, 20, None, 15, 18, None, 19]  # best at epoch 2; every other epoch evaluated
    history = [epoch(s) for s in scores]
    assert [plateaued(history[:n], 2, 3) for n in range(3, 8)] == [None, None, None, None, 7]
    assert plateaued(history, 2, 4) is None and plateaued(history, 2, None) is None
    assert plateaued(history[:2], 2, 1) is None  # the epoch that set the best does not count


def test_patience_counts_only_the_last_phase():
    """A second phase (TFD) starts a fresh D: its first scores are not a plateau of the first."""
    in_final = [{}, {}, {}, epoch(-50), epoch(-60)]  # 3 epochs of phase 1, masked out
    assert plateaued(in_final, 0, 1) is None  # no best of the last phase yet
    assert plateaued(in_final, 4, 1) == 5


def test_the_gain_per_doubling_is_the_least_squares_slope_in_log2_epochs_over_the_last_half():
    rng = np.random.default_rng(0)
    scores = [100 + 14 * math.log2(e) + rng.normal(0, 2) for e in range(1, 401)]
    history = [epoch(s) if e % 2 == 0 else {} for e, s in enumerate(scores, 1)]
    kept = [(e, s) for e, s in enumerate(scores, 1) if e > 200 and e % 2 == 0]
    slope = np.polyfit(np.log2([e for e, _ in kept]), [s for _, s in kept], 1)[0]
    assert gain_per_doubling(history) == pytest.approx(slope, rel=1e-9)
    assert 12 < slope < 16  # 14 nats a doubling, through noise of 2 nats an epoch
    assert gain_per_doubling(history[:5]) is None  # fewer than 3 scores in the last half


def test_a_rising_curve_under_its_noise_trains_on_and_a_flat_one_stops():
    """The release schedule's rule: a run still gaining 14 nats a doubling (1.3 per 100 epochs
    at epoch 1,300, under its noise of 2 an epoch) trains on; a flat one stops, not before
    `after` epochs."""
    rule = PlateauSpec(gain_below=2.0, after=100)
    rng = np.random.default_rng(1)
    rising = [epoch(14 * math.log2(e) + rng.normal(0, 2)) for e in range(1, 1301)]
    assert [flattened(rising[:n], rule) for n in (100, 700, 1300)] == [None] * 3
    flat = [epoch(200 + rng.normal(0, 2)) for _ in range(300)]
    assert flattened(flat[:99], rule) is None and flattened(flat[:100], rule) == 100
    assert flattened(flat, None) is None


def test_the_plateau_rule_lets_the_measured_mnist_curves_train_on():
    """Table 1's five seeds (300 epochs) and seed 0 trained on to 1,300 gain at least 6 nats a
    doubling from epoch 100 on: the rule stops none of them."""
    rule = load_params(ROOT / "params.yaml").dataset("mnist").train.plateau
    seeds = ROOT / "metrics/datasets/mnist/train"
    curves = [read_log(seeds / f"seed-{s}") for s in range(5)]
    rows = (ROOT / "metrics/studies/long-mnist/seed-0-valid.tsv").read_text().splitlines()[1:]
    curves.append([epoch(float(row.split("\t")[1])) for row in rows[:1300]])
    assert [len(c) for c in curves] == [300] * 5 + [1300]
    for history in curves:
        gains = [gain_per_doubling(history[:n]) for n in range(rule.after, len(history) + 1)]
        assert min(gains) > 3 * rule.gain_below
        assert all(flattened(history[:n], rule) is None for n in range(1, len(history) + 1))


def test_a_checkpoint_of_an_equivalent_earlier_code_resumes(tmp_path, monkeypatch):
    """train.SAME_COMPUTATION: versions shown side by side to compute the same epochs."""
    identity = {
        "params": {"k": 1},
        "data": "d",
        "training code": train.training_code(),
        "device": "cpu",
    }
    path = tmp_path / "state.pt"
    for code_version, resumes in (("0" * 32, True), ("1" * 32, False)):
        rest = {"trainer": {}, "best": {}, "history": [], "seconds": 0.0}
        theirs = {**identity, "training code": code_version}
        checkpoints.save({"identity": theirs, "done": 3, **rest}, path)
        monkeypatch.setattr(train, "SAME_COMPUTATION", {"0" * 32: "an edit to a docstring"})
        events = []
        saved = train.resumable(path, identity, False, 10, "retrain", events.append)
        assert (saved is not None) == resumes
        assert events[-1]["event"] == ("resume" if resumes else "fresh")
    assert events[-1]["changed"] == ["training code"]


def test_table1_cell_is_the_survivors_mean_and_sd_with_the_collapse_count():
    score = {"n_seeds": 5, "survived": 4, "test_ll": 181.23, "seed_std": 5.67, "test_se": 2.8}
    assert _ours(score) == "181.2 ± 5.7 (4 of 5 seeds; 1 collapsed)"
    one = {"n_seeds": 1, "survived": 1, "test_ll": 179.8, "seed_std": None, "test_se": 2.4}
    assert _ours(one) == "179.8 ± 2.4"  # one seed: its own standard error, as the paper
    alone = {"n_seeds": 5, "survived": 1, "test_ll": 170.0, "seed_std": None, "test_se": 2.0}
    assert _ours(alone) == "170.0 ± 2.0 (1 of 5 seeds; 4 collapsed)"
    assert _ours({"n_seeds": 3, "survived": 0}) == "— (all 3 seeds collapsed)"


def test_over_seeds_leaves_collapsed_seeds_out_of_the_mean():
    scores = {
        "0": {"test_ll": 180.0, "test_se": 2.0},
        "1": {"test_ll": -500.0, "test_se": 9.0},
        "2": {"test_ll": 190.0, "test_se": 2.0},
    }
    summary = over_seeds(scores, [0, 2])
    assert summary["test_ll"] == 185.0
    assert summary["seed_std"] == pytest.approx(math.sqrt(50))  # ddof = 1
    assert summary["test_se"] == pytest.approx(math.sqrt(50) / math.sqrt(2))
    assert over_seeds(scores, [2]) == {"test_ll": 190.0, "test_se": 2.0, "seed_std": None}


def test_the_figures_show_the_median_surviving_seed_by_validation_score():
    run = {
        "seeds": {
            str(s): {"collapsed": c, "best_valid_parzen": v}
            for s, c, v in [
                (0, False, 150),
                (1, True, -400),
                (2, False, 170),
                (3, False, 160),
                (4, False, 140),
            ]
        }
    }
    assert survivors(run) == [0, 2, 3, 4]
    assert shown_seed(run) == 0  # 140, 150, 160, 170: the lower of the middle two


def test_a_panel_s_caption_says_where_its_run_stopped_why_and_how_long_it_trained(monkeypatch):
    seed = {
        "collapsed": False,
        "best_valid_parzen": -50.0,
        "best_epoch": 24,
        "epochs_run": 34,
        "stopped_for": "no improvement",
        "train_seconds": 6 * 3600,
        "machines": [{"cpu": "AMD EPYC", "isa": ["avx2"], "torch_cpu_capability": "AVX2"}],
    }
    run = {
        "schedule": "cpu",
        "epochs": 100,
        "device": "cpu",
        "threads": 1,
        "k": 1,
        "update": "simultaneous",
        "precision": "fp32",
        "seeds": {"0": seed},
    }
    monkeypatch.setattr(figures, "read_run", lambda name: run)
    monkeypatch.setattr(figures, "read_parzen", lambda name: {"n_seeds": 1})
    lines = figures.caption("cifar10_fc").splitlines()
    assert lines[:2] == [
        "cpu schedule, epoch 24 of 34 (stopped: no improvement; at most 100)",
        "6.0 h of training (cpu, 1 thread, on AMD EPYC (AVX2))",
    ]
    # a run that ended collapsed says so, under its schedule
    seed.update(collapsed=True, collapse_epoch=3, stopped_for=None, best_epoch=3, epochs_run=30)
    assert figures.caption("cifar10_fc").splitlines()[:2] == [
        "cpu schedule, epoch 3 of 30",
        "COLLAPSED from epoch 3 to the end (samples alike)",
    ]


def test_a_run_s_identity_leaves_out_what_only_decides_when_it_stops(tiny):
    """The collapse rule, the seed list and the last phase's length do not change what an epoch
    computes, so changing them resumes a run; the seed and everything else does not."""
    ds = tiny.dataset("mnist")
    meta = train.trajectory(tiny, ds, 1, (2,))
    assert meta["seed"] == 1 and meta["earlier phases"] == []
    assert "seeds" not in meta["dataset"]
    stopping = {"collapse", "patience", "plateau", "epochs", "cpu_epochs"}
    assert not stopping & set(meta["dataset"]["train"])
    assert meta["dataset"]["train"]["lr"] == ds.train.lr
    two_phases = train.trajectory(tiny, ds, 0, (8, 4))
    assert two_phases["earlier phases"] == [8] and two_phases["seed"] == 0


def test_the_training_code_is_the_trainer_s_closure_less_what_does_not_compute():
    closure = set(code.closure("pipeline.adversarial"))
    assert set(train.NOT_COMPUTING) <= closure  # the list names real members
    assert "pipeline/stages/train.py" not in closure  # it runs the seeds, gathers their outputs
    assert not any(path.startswith("pipeline/plumbing/") for path in closure)
    assert {
        "pipeline/adversarial.py",
        "pipeline/models.py",
        "pipeline/streams.py",
        "pipeline/parzen_window.py",
    } <= closure - set(train.NOT_COMPUTING)


def test_a_generator_that_looks_collapsed_is_never_kept_over_one_that_does_not():
    """CIFAR-10's case: a blur near the mean outscores varied samples at sigma = 1."""
    blur, varied = epoch(-4366.0, spread=0.04), epoch(-4600.0, spread=0.6)
    assert looks_collapsed(blur, SPREAD) and not looks_collapsed(varied, SPREAD)
    assert better(varied, blur, SPREAD) and not better(blur, varied, SPREAD)
    assert better(blur, None, SPREAD)  # the first evaluated epoch is kept, whatever it looks like


def test_between_like_generators_and_without_a_rule_the_validation_score_decides():
    assert better(epoch(-120.0), epoch(-130.0), RULE)
    assert not better(epoch(-130.0), epoch(-120.0), RULE)
    blur, varied = epoch(-4366.0, spread=0.04), epoch(-4600.0, spread=0.6)
    assert better(blur, varied, None) and not better(epoch(math.nan), None, RULE)


def test_every_committed_run_kept_the_generator_the_selection_rule_picks_from_its_log():
    """Replays adversarial.fit's selection over each committed seed's log (the last phase only)
    and finds the best epoch its train.json records, for every section that has one."""
    params = load_params(ROOT / "params.yaml")
    checked = 0
    for record in sorted((ROOT / "metrics/datasets").glob("*/train.json")):
        section = record.parent.name
        rule = params.dataset(section).train.collapse
        for seed, result in json.loads(record.read_text())["seeds"].items():
            log = read_log(record.parent / "train" / f"seed-{seed}", SIGNALS)
            final = max(stats.get("phase", 0) for stats in log)
            best = 0
            for step, stats in enumerate(log, 1):
                kept = log[best - 1] if best else None
                if stats.get("phase", 0) == final and "valid_parzen" in stats:
                    best = step if better(stats, kept, rule) else best
            assert best == result["best_epoch"], (section, seed)
            checked += 1
    assert checked >= 8
