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


def test_the_stacked_seeds_do_the_products_of_that_many_pipeline_steps(tiny):
    """bench.batched_seeds measures the same work: S seeds' products, batched."""
    from bench.batched_seeds import Stacked

    ds = tiny.dataset("mnist")
    B = ds.train.batch_size
    trainer = Trainer(tiny, ds, torch.rand(B, 784), "cpu", (28, 28), seed=0)
    one, _ = record_step(lambda: trainer.epoch(1))
    nets = Stacked(ds, 3)
    three, _ = record_step(lambda: nets.step(torch.rand(3, B, 784), 0.1, 0.5))
    assert three == 3 * one


def test_bench_same_leaves_out_a_new_param_by_dotted_key_in_every_section():
    """`--new-param` keys the base code does not know: top level, one section, or `*`."""
    from bench.same import without

    params = {"k": 1, "kernels": "eager", "mnist": {"train": {"lr": 0.1, "plateau": None}}}
    params["lfw"] = {"train": {"lr": 0.05, "plateau": None}}
    without(params, "*.train.plateau")
    assert params["mnist"] == {"train": {"lr": 0.1}} and params["lfw"] == {"train": {"lr": 0.05}}
    without(params, "kernels")
    without(params, "mnist.train.lr")
    assert params == {"k": 1, "mnist": {"train": {}}, "lfw": {"train": {"lr": 0.05}}}


def test_bench_same_compares_train_records_less_the_keys_only_one_side_writes(capsys):
    """A record key new code adds (a seed's `machines`) is named, not counted as a difference;
    every other value still is."""
    from bench.same import only_in_one

    def record(**seed):
        return {"train.json": {"k": 1, "seeds": {"0": {"best_epoch": 3, **seed}}}}

    a, b = only_in_one(record(), record(machines=[{"cpu": "x"}]))
    assert a == b == record()
    assert (
        "seed 0: keys only one side writes (not compared): ['machines']" in capsys.readouterr().out
    )
    a, b = only_in_one(record(best_epoch=4), record(machines=[]))
    assert a != b
