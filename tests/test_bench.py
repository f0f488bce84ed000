"""The benchmark's yardsticks measure what they claim (no timings are asserted): the FLOP count
of a step is the sum of its matrix products, the roofline replays exactly those products, and
the straightforward implementation trains the same nets."""

import torch

from bench.kernels import record_step, replay_rate
from bench.naive import NaiveGAN
from pipeline.adversarial import Trainer


def test_a_step_counts_every_product_of_the_simultaneous_update(tiny):
    """MNIST nets at k = 1. G: per layer a forward product, a weight gradient and an input
    gradient (none into z). D, per layer: forward and weight gradient on the real and the fake
    batch, D's loss's input gradients above the first layer on both, and G's loss going back
    through every layer of the fake branch once more."""
    ds = tiny.dataset("mnist")
    data = torch.rand(ds.train.batch_size, 784)
    trainer = Trainer(tiny, ds, data, "cpu", (28, 28), seed=0)
    flops, calls = record_step(lambda: trainer.epoch(1))
    B = ds.train.batch_size
    g_dims = [ds.model.noise_dim, *ds.model.generator.hidden, 784]
    units, pieces = ds.model.discriminator.units, ds.model.discriminator.pieces
    d_dims = list(zip([784, *units], [u * pieces for u in units] + [1], strict=True))
    mac = 0
    for i, (a, b) in enumerate(zip(g_dims, g_dims[1:], strict=False)):
        mac += B * a * b * (2 + (i > 0))  # forward, weight grad, input grad above z
    for i, (a, b) in enumerate(d_dims):
        mac += B * a * b * (2 * (2 + (i > 0)) + 1)
    assert flops == 2 * mac
    assert len(calls) == 3 * (len(g_dims) - 1) - 1 + 7 * len(d_dims) - 2
    assert replay_rate(calls, flops, torch.device("cpu"), seconds=0.05) > 0


def test_the_straightforward_loop_trains_the_same_nets(tiny):
    ds = tiny.dataset("mnist")
    data = torch.rand(3 * ds.train.batch_size, 784)
    naive = NaiveGAN(ds, data, (28, 28), "cpu")
    ours = Trainer(tiny, ds, data, "cpu", (28, 28), seed=0)
    shapes = [p.shape for p in naive.G.parameters()] + [p.shape for p in naive.D.parameters()]
    assert shapes == [p.shape for p in ours.G.parameters()] + [p.shape for p in ours.D.parameters()]
    before = [p.clone() for p in naive.D.parameters()]
    naive.epoch()
    assert len(naive.history) == 3
    assert all(not torch.equal(a, b) for a, b in zip(before, naive.D.parameters(), strict=True))


def write_log(folder, rows: list[tuple[float, float]]) -> None:
    """A seed's log as `train` writes it: one .tsv per signal, a row per epoch."""
    folder.mkdir(parents=True)
    columns = {"valid_parzen": [r[0] for r in rows], "spread": [r[1] for r in rows],
               "loss_d": [0.4] * len(rows), "acc_fake": [0.9] * len(rows)}  # fmt: skip
    for name, values in columns.items():
        lines = [f"step\t{name}"] + [f"{i}\t{v}" for i, v in enumerate(values, 1)]
        (folder / f"{name}.tsv").write_text("\n".join(lines) + "\n")


def test_the_collapse_study_counts_collapsed_seeds_and_checks_they_never_came_back(
    tmp_path, monkeypatch, capsys
):
    from bench import collapse

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

    from bench import gap

    monkeypatch.chdir(tmp_path)
    base = tmp_path / "metrics/datasets/mnist"
    seeds = {"0": (180.0, 190.0, False), "1": (-400.0, -390.0, True), "2": (184.0, 193.0, False)}
    score = {"test_ll": 182.0, "n_seeds": 3,
             "seeds": {s: {"test_ll": t, "fine_sigma": {"test_ll": f}, "collapsed": c}
                       for s, (t, f, c) in seeds.items()}}  # fmt: skip
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
