"""The research studies (studies/) read the committed files and score as the stages do."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import ROOT, write_run_record


def write_log(folder, rows: list[tuple[float, float]]) -> None:
    """A seed's log as `train` writes it: one .tsv per signal, a row per epoch."""
    folder.mkdir(parents=True)
    columns = {
        "valid_parzen": [r[0] for r in rows],
        "spread": [r[1] for r in rows],
        "loss_d": [0.4] * len(rows),
        "acc_fake": [0.9] * len(rows),
    }
    for name, values in columns.items():
        lines = [f"step\t{name}"] + [f"{i}\t{v}" for i, v in enumerate(values, 1)]
        (folder / f"{name}.tsv").write_text("\n".join(lines) + "\n")


def test_the_collapse_study_counts_collapsed_seeds_and_checks_they_never_came_back(
    tmp_path, monkeypatch, capsys
):
    from studies import collapse

    write_log(tmp_path / "seed-0", [(-200, 0.03), (-50, 0.4), (20, 0.8), (60, 0.9)])
    write_log(tmp_path / "seed-1", [(-50, 0.03), (-300, 0.05), (-400, 0.01), (-500, 0.01)])
    write_log(tmp_path / "seed-2", [(-50, 0.03), (-300, 0.05), (-40, 0.6), (-500, 0.01)])
    rule = ["--epochs", "2", "--valid-parzen-below", "-150", "--spread-below", "0.2"]
    monkeypatch.setattr("sys.argv", ["collapse", "--logs", str(tmp_path), *rule])
    assert collapse.main() == 0
    out = capsys.readouterr().out
    assert "| 1 | 4 | -50 / 0.030 | -500 / 0.010 | 0.4 | 3 | no |" in out
    assert "| 2 | 4 | -50 / 0.030 | -500 / 0.010 | 0.4 | — | — |" in out  # low, not 2 in a row
    assert "collapsed: 1 of 3 seeds = 33% (95 % Wilson interval 6%-79%)" in out


def test_the_gap_budget_reads_each_factor_from_the_committed_files(tmp_path, monkeypatch, capsys):
    import json

    from studies import gap

    monkeypatch.chdir(tmp_path)
    base = tmp_path / "metrics/datasets/mnist"
    seeds = {"0": (180.0, 190.0, False), "1": (-400.0, -390.0, True), "2": (184.0, 193.0, False)}
    score = {
        "test_ll": 182.0,
        "n_seeds": 3,
        "seeds": {
            s: {"test_ll": t, "fine_sigma": {"test_ll": f}, "collapsed": c}
            for s, (t, f, c) in seeds.items()
        },
    }
    base.mkdir(parents=True)
    (base / "parzen.json").write_text(json.dumps(score))
    (base / "train.json").write_text(json.dumps({"epochs": 10}))
    (base / "references.json").write_text(json.dumps({"training_set": {"test_ll": 241.2}}))
    write_log(base / "train/seed-0", [(v, 0.9) for v in (1, 2, 3, 9, 4, 5, 6, 7, 8, 7)])
    write_log(base / "train/seed-2", [(v, 0.9) for v in (1, 2, 3, 4, 5, 6, 7, 8, 9, 11)])
    write_log(tmp_path / "long", [(v, 0.9) for v in (1, 2, 3, 9, 4, 5, 6, 7, 8, 7, 12, 13)])
    monkeypatch.setattr("sys.argv", ["gap", "--redraws", "0", "--long", "long", "--plot", "v.png"])
    assert gap.main() == 0
    out = capsys.readouterr().out
    assert "| more epochs (12 instead of 10) | +4.0 | validation nats, one seed |" in out
    assert (tmp_path / "v.png").read_bytes().startswith(b"\x89PNG")
    assert "| this project, mean of surviving seeds | 182.0 | 2 of 3 seeds, 10 epochs |" in out
    assert "| σ-grid resolution (91 values instead of 10) | +9.5 | per seed +10.0, +9.0 |" in out
    # seed 0: 9 at epoch 4, 7 at best of every 5th; seed 2: 11 at epoch 10 either way
    assert "| checkpoint every epoch instead of every 5th | +1.0 |" in out
    assert "| seed-to-seed spread (SD; best seed − mean) | 2.8; +2.0 | seeds 0, 2 |" in out
    assert "| ceiling: training images as samples | 241.2 |" in out


def test_the_plot_names_the_committed_seed_a_continued_log_repeats():
    """A seed continued past the schedule first repeats its committed epochs, and its line then
    hides that seed's: the legend says which seed it is."""
    from studies.gap import continued_label

    seeds = {"seed 0": {1: 5.0, 2: 7.0}, "seed 1": {1: 5.0, 2: 6.0}}
    assert continued_label(seeds, {1: 5.0, 2: 6.0, 3: 8.0}) == "seed 1, continued"
    assert continued_label(seeds, {1: 5.0, 2: 6.5, 3: 8.0}) == "continued"  # a rerun elsewhere


def test_a_continued_run_is_scored_as_the_stages_score_its_seed(tiny, tmp_path, monkeypatch):
    """studies.gap --long-generator draws the continued run's best generator from the seed it
    records, on that seed's samples stream, and scores it by Table 1's protocol: given the
    committed generator itself, it scores exactly the committed test LL of that seed."""
    import json

    import numpy as np

    from pipeline.artifacts import save_processed
    from pipeline.models import Generator, save_generator
    from pipeline.paths import Paths
    from pipeline.stages import parzen, sample
    from studies import gap

    monkeypatch.chdir(tmp_path)
    ds, paths = tiny.dataset("mnist"), Paths("mnist")
    rng = np.random.default_rng(0)
    splits = {
        k: rng.uniform(0, 1, (n, 784)).astype(np.float32)
        for k, n in (("train", 400), ("valid_0", 200), ("test_0", 200))
    }
    save_processed("mnist", splits, "", (28, 28))
    for seed in ds.seeds:  # a generator per seed, saved as train saves its best
        paths.seed_models(seed).mkdir(parents=True)
        G = Generator(ds.model, (28, 28))
        with torch.no_grad():  # samples far apart, so that another draw scores otherwise
            for weight in G.parameters():
                weight.mul_(20)
        save_generator(G, {"seed": seed, "epoch": 7}, paths.seed_models(seed) / "generator_best.pt")
    seeds = {str(s): {"collapsed": False, "best_valid_parzen": float(s)} for s in ds.seeds}
    write_run_record("mnist", [2], seeds)
    sample.run(tiny, ds)
    parzen.run(tiny, ds)
    committed = json.loads(paths.parzen.read_text())
    seed = ds.seeds[-1]
    before = committed["seeds"][str(seed)]
    ll, fine = before["test_ll"], before["fine_sigma"]["test_ll"]
    best = paths.seed_models(seed) / "generator_best.pt"
    same = f"{ll:.1f} → {ll:.1f} ± {before['test_se']:.1f}; 91-σ grid {fine:.1f} → {fine:.1f}"
    assert gap.continued(ds, best, committed, None) == (
        "more epochs: test LL of the best of them (epoch 7)",
        "+0.0",
        f"seed {seed}: {same}",
    )
    # against the same run's generator at the end of the schedule (a rerun on another CPU)
    assert gap.continued(ds, best, committed, best)[1:] == (
        "+0.0",
        f"seed {seed} (rerun; best of the schedule at epoch 7): {same}",
    )
    other = paths.seed_models(ds.seeds[0]) / "generator_best.pt"
    monkeypatch.setattr(gap, "draws", lambda *a, **k: pytest.fail("scored before the seed check"))
    with pytest.raises(SystemExit, match=f"seed {ds.seeds[0]}, but .* is seed {seed}"):
        gap.continued(ds, best, committed, other)


def test_the_validation_score_prefers_samples_like_the_data_to_a_flat_image():
    """studies.selection's question on data with known structure (five clusters in 64 dimensions):
    held-out rows are likelier under real images than under a constant image, and least likely
    under noise of the data's own spread in every pixel."""
    from pipeline.params import ParzenSpec
    from pipeline.parzen_window import select_sigma
    from studies.selection import candidates

    rng = torch.Generator().manual_seed(0)
    centres = 8 * torch.nn.functional.normalize(torch.randn(5, 64, generator=rng), dim=1)

    def draw(n: int) -> torch.Tensor:
        return centres[torch.randint(5, (n,), generator=rng)] + 0.3 * torch.randn(
            n, 64, generator=rng
        )

    train, valid = draw(1000), draw(200)
    spec = ParzenSpec(samples=300, sigma_range=(-1, 0), sigma_num=10, valid=None, batch=50)
    score = {
        name: float(select_sigma(valid, s, spec).valid_ll.max())
        for name, s in candidates(train, 300, seed=0).items()
    }
    real = score["300 training images"]
    flat = max(score["zeros"], score["the training mean"])
    assert real > flat + 10
    assert score["the mean + noise of the data's SD per pixel"] < min(real, flat)


def test_the_selection_bench_scores_a_set_as_train_does():
    """studies.selection's per-row scores pick the σ that `train`'s select_sigma picks, and their
    mean is the score `train` logs."""
    from pipeline.params import ParzenSpec
    from pipeline.parzen_window import select_sigma
    from studies.selection import scored

    rng = torch.Generator().manual_seed(1)
    samples, valid = torch.randn(300, 16, generator=rng), torch.randn(50, 16, generator=rng)
    spec = ParzenSpec(samples=300, sigma_range=(-1, 0.5), sigma_num=7, valid=None, batch=20)
    sigma, ll = scored(valid, samples, spec)
    chosen = select_sigma(valid, samples, spec)
    assert ll.shape == (50,)
    assert sigma == chosen.sigma and 0.1 < sigma < 10**0.5
    assert float(ll.mean()) == pytest.approx(chosen.valid_ll.max(), abs=1e-9)


@pytest.mark.slow
def test_the_long_run_scores_the_best_generator_so_far_at_every_mark_and_continues(
    tmp_path, monkeypatch, capfd
):
    """studies.long trains in chunks that resume one run, and scores each mark as Table 1 would."""
    import csv

    import numpy as np
    import yaml

    from pipeline.artifacts import save_processed
    from studies import long
    from tests.conftest import tiny_params_dict

    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_params_dict(["mnist"])))
    rng = np.random.default_rng(0)
    splits = {
        k: rng.random((n, 784), dtype=np.float32)
        for k, n in (("train", 400), ("valid_0", 200), ("test_0", 200))
    }
    save_processed("mnist", splits, "", (28, 28))
    run = ["long", "--seed", "1", "--every", "2", "--keep", "2", "--out", "out"]
    monkeypatch.setattr("sys.argv", [*run, "--until", "4"])
    assert long.main() == 0
    monkeypatch.setattr("sys.argv", [*run, "--until", "6"])
    assert long.main() == 0
    assert "resuming after epoch 4 of 6" in capfd.readouterr().out
    with open("out/seed-1.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [2, 4, 6]
    assert all(1 <= int(r["best_epoch"]) <= int(r["epoch"]) for r in rows)
    assert all(float(r["test_se"]) > 0 and float(r["sigma_fine"]) > 0 for r in rows)
    assert (tmp_path / "checkpoints/mnist/seed-1-at-2/state.pt").is_file()
    assert len((tmp_path / "out/seed-1-valid.tsv").read_text().splitlines()) == 1 + 6


def test_the_long_run_report_draws_every_mark_against_the_paper_and_the_ceiling(
    tmp_path, monkeypatch
):
    import csv
    import json
    import shutil

    from studies import long

    monkeypatch.chdir(tmp_path)
    shutil.copyfile(ROOT / "params.yaml", "params.yaml")
    references = tmp_path / "references.json"
    references.write_text(json.dumps({"training_set": {"test_ll": 241.2}}))
    out = tmp_path / "out"
    out.mkdir()
    for seed, scores in ((0, [164.7, 190.2]), (1, [152.6])):
        with open(out / f"seed-{seed}.csv", "w") as f:
            writer = csv.DictWriter(f, fieldnames=long.FIELDS)
            writer.writeheader()
            for mark, ll in zip((100, 200), scores, strict=False):
                writer.writerow(
                    {
                        **dict.fromkeys(long.FIELDS, 0.2),
                        "epoch": mark,
                        "best_epoch": mark - 1,
                        "test_ll": ll,
                        "test_ll_fine": ll + 10,
                    }
                )
    table = long.report(out, references)
    assert (out / "test_ll.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert table.splitlines()[2:] == [
        "| 0 | 100 | 99 | 164.7 ± 0.2 | 0.200 | 174.7 ± 0.2 | 0.200 |",
        "| 0 | 200 | 199 | 190.2 ± 0.2 | 0.200 | 200.2 ± 0.2 | 0.200 |",
        "| 1 | 100 | 99 | 152.6 ± 0.2 | 0.200 | 162.6 ± 0.2 | 0.200 |",
    ]
    assert long.paper_mnist() == (225.0, 2.0)


def test_the_release_s_learning_rate_floors_in_epoch_5757_on_mnist_and_6330_on_cifar10():
    """MNIST and CIFAR-10 had no stopping rule: lr / 1.000004^u reaches 1e-6 after 2,878,237
    updates on MNIST (500 an epoch) and 2,531,663 on CIFAR-10 (400)."""
    from pipeline import params as P

    params = P.load(ROOT / "params.yaml")
    assert 0.1 / 1.000004 ** (5756 * 500) > 1e-6 > 0.1 / 1.000004 ** (5757 * 500)
    assert 0.025 / 1.000004 ** (6329 * 400) > 1e-6 > 0.025 / 1.000004 ** (6330 * 400)
    for name, rows, floor in (("mnist", 50_000, 5757), ("cifar10_fc", 40_000, 6330)):
        assert params.dataset(name).train.floor_epoch(rows) == floor


def test_the_jpeg_round_trip_keeps_smooth_images_and_removes_grain():
    """The mirror's JPEG (quality 75, 4:2:0) smooths pixel-level colour noise, not gradients."""
    import numpy as np

    from studies.jpeg_cue import blur, jpeg_round_trip

    shape = (3, 32, 32)
    ramp = np.broadcast_to(np.linspace(-1, 1, 32, dtype=np.float32), (3, 32, 32)).reshape(1, -1)
    grain = np.random.default_rng(0).standard_normal((1, 3 * 32 * 32)).astype(np.float32)
    for images in (ramp, grain, 13 * grain + 5):
        assert jpeg_round_trip(images, shape).shape == images.shape
    smooth_error = np.abs(jpeg_round_trip(ramp, shape) - ramp).mean() / ramp.std()
    grain_error = np.abs(jpeg_round_trip(grain, shape) - grain).mean() / grain.std()
    assert smooth_error < 0.05 < 0.3 < grain_error
    scaled = jpeg_round_trip(13 * grain + 5, shape)  # an image keeps its own scale and offset
    assert abs(scaled.mean() - 5) < 0.5 and 6 < scaled.std() < 13
    assert blur(grain, shape).std() < 0.7 * grain.std()
    inside = (..., slice(2, 30))  # a linear ramp is its own blur away from the edges
    smoothed = blur(ramp, shape).reshape(3, 32, 32)
    assert np.allclose(smoothed[inside], ramp.reshape(3, 32, 32)[inside], atol=1e-5)


def test_chroma_subsampling_alone_keeps_brightness_and_averages_colour_over_2x2_pixels():
    import numpy as np

    from studies.jpeg_cue import chroma_420, jpeg_round_trip

    shape = (3, 4, 4)
    grey = np.random.default_rng(1).random((1, 1, 4, 4)).astype(np.float32)
    grey_image = np.repeat(grey, 3, axis=1).reshape(1, -1)  # no colour: nothing to average
    assert np.allclose(chroma_420(grey_image, shape), grey_image, atol=1e-5)
    colour = np.random.default_rng(2).random((1, 48)).astype(np.float32)
    out = chroma_420(colour, shape).reshape(3, 4, 4)
    luma = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    assert np.allclose(
        np.einsum("c,chw->hw", luma, out),
        np.einsum("c,chw->hw", luma, colour.reshape(3, 4, 4)),
        atol=1e-5,
    )
    blue_minus_luma = out[2] - np.einsum("c,chw->hw", luma, out)
    assert np.allclose(blue_minus_luma[0, 0], blue_minus_luma[1, 1], atol=1e-5)  # one 2x2 block
    eight_bit = jpeg_round_trip(colour, shape, subsampling=None)
    assert np.abs(eight_bit - colour).max() <= (colour.max() - colour.min()) / 510 + 1e-6


def test_the_fc_start_replay_logs_every_step_and_the_spread_and_grids_it_is_asked_for(
    tiny, tmp_path
):
    """`studies.fc_start` past epoch 1: a row per step, the spread every N steps from fixed draws
    that leave the run's own streams alone, 20 samples at each epoch's end, and norms that are
    the weights'."""
    from pipeline.adversarial import Trainer
    from studies.fc_start import Log, replay

    ds = tiny.dataset("mnist")
    data = torch.rand(400, 784, generator=torch.Generator().manual_seed(1))
    valid = torch.rand(100, 784, generator=torch.Generator().manual_seed(2))

    def run(every: int, grids=None) -> tuple[Trainer, Log, int, list]:
        trainer = Trainer(tiny, ds, data, "cpu", (28, 28), seed=0)
        log = Log()
        trainer.D.register_forward_hook(log.logits)
        log.watch(trainer.opt_d, trainer.D, "D")
        log.watch(trainer.opt_g, trainer.G, "G")
        return trainer, log, *replay(trainer, log, 10, valid, every, grids)

    trainer, log, done, spreads = run(every=2, grids=tmp_path / "grids")
    assert done == 10 and [row["step"] for row in log.rows] == list(range(1, 11))
    assert [step for step, _ in spreads] == [2, 4, 6, 8, 10]
    assert all(0 < value < 5 for _, value in spreads)
    assert sorted(p.name for p in (tmp_path / "grids").iterdir()) == ["step-4.png", "step-8.png"]
    for name, w in trainer.G.named_parameters():
        assert log.rows[-1][f"G.{name} |w|"] == pytest.approx(float(w.detach().norm()), rel=1e-6)
    # looking at G does not move the run: the same weights without the looks
    quiet, *_ = run(every=0)
    for a, b in zip(trainer.G.parameters(), quiet.G.parameters(), strict=True):
        assert torch.equal(a, b)
