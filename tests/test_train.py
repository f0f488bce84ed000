"""Algorithm 1 and the released optimiser: k D steps per G step, the simultaneous update sharing
one forward pass, classical momentum with lr inside the velocity, the recipe's schedules."""

import copy
import dataclasses
import math

import pytest
import torch

from pipeline import streams
from pipeline.adversarial import (
    Momentum,
    Trainer,
    check_precision,
    discriminator_loss,
    generator_loss,
    learning_rate_at,
    momentum_at,
)
from pipeline.plumbing.errors import PipelineError


@pytest.fixture
def data():
    return torch.rand(300, 784, generator=torch.Generator().manual_seed(1))


def test_momentum_rises_linearly_from_05_at_epoch_1_to_07_at_epoch_250(tiny):
    spec = tiny.dataset("mnist").train
    assert momentum_at(1, spec) == 0.5
    assert momentum_at(126, spec) == pytest.approx(0.5 + 0.2 * 125 / 249)
    assert momentum_at(250, spec) == pytest.approx(0.7)
    assert momentum_at(400, spec) == pytest.approx(0.7)


def test_learning_rate_decays_by_1000004_per_step_to_a_floor_of_1e6(tiny):
    spec = tiny.dataset("mnist").train
    assert learning_rate_at(0, spec) == 0.1
    assert learning_rate_at(125_000, spec) == pytest.approx(0.1 / 1.000004**125_000)
    assert learning_rate_at(125_000, spec) == pytest.approx(0.1 * math.exp(-0.5), rel=1e-5)
    assert learning_rate_at(10**7, spec) == 1e-6


def test_momentum_keeps_the_learning_rate_inside_the_velocity(tiny):
    spec = tiny.dataset("mnist").train
    theta = torch.tensor([1.0, -2.0])
    opt = Momentum([theta], spec)
    g1, g2 = torch.tensor([0.5, 1.0]), torch.tensor([-1.0, 2.0])
    opt.step((g1,), momentum=0.5)
    v1 = -0.1 * g1
    assert torch.allclose(theta, torch.tensor([1.0, -2.0]) + v1)
    opt.step((g2,), momentum=0.5)
    v2 = 0.5 * v1 - learning_rate_at(1, spec) * g2
    assert torch.allclose(theta, torch.tensor([1.0, -2.0]) + v1 + v2)


def test_losses_are_the_released_objectives():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    bce = torch.nn.functional.binary_cross_entropy
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    expected_d = 0.5 * (bce(d_real, torch.ones(2)) + bce(d_fake, torch.zeros(2)))
    assert torch.allclose(discriminator_loss(real, fake), expected_d)
    assert torch.allclose(generator_loss(fake, "non_saturating"), -torch.log(d_fake).mean())
    assert torch.allclose(generator_loss(fake, "minimax"), torch.log(1 - d_fake).mean())


@pytest.mark.parametrize("update", ["simultaneous", "alternating"])
def test_k3_steps_the_discriminator_three_times_per_generator_step(tiny, data, update):
    params = dataclasses.replace(tiny, k=3, update=update)
    trainer = Trainer(params, params.dataset("mnist"), data, "cpu", (28, 28), seed=0)
    trainer.epoch(1)  # 300 rows / batch 100 = 3 D steps
    trainer.epoch(2)
    assert (trainer.opt_d.steps, trainer.opt_g.steps) == (6, 2)


def test_k1_simultaneous_update_shares_one_forward_pass(tiny, data):
    """With k = 1 both gradients come from the same minibatch, noise and dropout masks, and both
    nets move from their old values: exactly the released code's update."""
    ds = dataclasses.replace(
        tiny.dataset("mnist"), train=dataclasses.replace(tiny.dataset("mnist").train, epochs=1)
    )
    one_batch = data[:100]
    trainer = Trainer(tiny, ds, one_batch, "cpu", (28, 28), seed=0)
    G, D = copy.deepcopy(trainer.G), copy.deepcopy(trainer.D)
    states = trainer.shuffle.get_state(), trainer.noise_rng.get_state(), torch.get_rng_state()
    trainer.epoch(1)

    # replay the same random draws by hand
    shuffle, noise = torch.Generator(), torch.Generator()
    shuffle.set_state(states[0])
    noise.set_state(states[1])
    torch.set_rng_state(states[2])
    perm = torch.randperm(100, generator=shuffle)
    z = (2 * torch.rand(100, 100, generator=noise) - 1) * math.sqrt(3)
    fake = G(z)
    real_logit, fake_logit = D(one_batch[perm]), D(fake)
    grads_d = torch.autograd.grad(
        discriminator_loss(real_logit, fake_logit), D.parameters(), retain_graph=True
    )
    grads_g = torch.autograd.grad(generator_loss(fake_logit, "non_saturating"), G.parameters())
    for net, grads, new in ((D, grads_d, trainer.D), (G, grads_g, trainer.G)):
        for old, g, p in zip(net.parameters(), grads, new.parameters(), strict=True):
            assert torch.allclose(p, old - 0.1 * g, atol=1e-7)


def test_same_seed_same_cpu_gives_identical_nets(tiny, data):
    runs = []
    for _ in range(2):
        trainer = Trainer(tiny, tiny.dataset("mnist"), data, "cpu", (28, 28), seed=0)
        stats = trainer.epoch(1)
        runs.append((stats, [p.clone() for p in trainer.G.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1], strict=True))


def test_a_diverged_run_stops_with_a_clear_error(tiny):
    """Non-finite losses end training at the end of that epoch instead of running on NaNs."""
    ds = tiny.dataset("mnist")
    data = torch.rand(200, 784, generator=torch.Generator().manual_seed(0))
    trainer = Trainer(tiny, ds, data, "cpu", (28, 28), seed=0)
    with torch.no_grad():
        trainer.D.out.weight.fill_(float("nan"))
    with pytest.raises(PipelineError, match="mnist: training diverged in epoch 1 of phase 1"):
        trainer.epoch(1)


def _cpu_has_bf16() -> bool:
    try:
        check_precision("bf16", torch.device("cpu"))
    except PipelineError:
        return False
    return True


@pytest.mark.skipif(not _cpu_has_bf16(), reason="this CPU has no bfloat16 kernels")
def test_bf16_runs_the_same_update_in_a_coarser_arithmetic(tiny, data):
    """precision: bf16 autocasts the products, not the algorithm: the weights stay float32 and
    one epoch moves them by what the fp32 epoch does, to bfloat16 accuracy."""
    moved = {}
    for precision in ("fp32", "bf16"):
        params = dataclasses.replace(tiny, precision=precision)
        trainer = Trainer(params, params.dataset("mnist"), data, "cpu", (28, 28), seed=0)
        before = [p.clone() for p in trainer.D.parameters()]
        trainer.epoch(1)
        assert all(p.dtype == torch.float32 for p in trainer.D.parameters())
        moved[precision] = torch.cat(
            [(p - b).flatten() for p, b in zip(trainer.D.parameters(), before, strict=True)]
        )
    fp32, bf16 = moved["fp32"], moved["bf16"]
    assert not torch.equal(fp32, bf16)  # bf16 really ran
    assert (bf16 - fp32).norm() < 0.1 * fp32.norm()  # bf16 keeps 3 significant digits


def test_bf16_without_hardware_support_is_refused(tiny, data, monkeypatch):
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
    params = dataclasses.replace(tiny, precision="bf16")
    with pytest.raises(PipelineError, match="'precision' is 'bf16' but cpu has no bfloat16"):
        Trainer(params, params.dataset("mnist"), data, "cpu", (28, 28), seed=0)


def test_the_seed_gives_each_purpose_its_own_stream(tiny, data):
    """Init, dropout, shuffle, noise, eval and sample draws come from independent streams of the
    one seed: no stream repeats another's numbers (before, epoch 1's noise reused the uniforms
    that had initialised G's weights), and another seed changes them all."""
    draws = {
        p: torch.randint(2**62, (1000,), generator=streams.generator(2, p))
        for p in streams.PURPOSES
    }
    values = torch.cat(list(draws.values()))
    assert len(values.unique()) == len(values)
    other = {
        p: torch.randint(2**62, (1000,), generator=streams.generator(3, p))
        for p in streams.PURPOSES
    }
    assert all(not torch.equal(draws[p], other[p]) for p in streams.PURPOSES)

    trainer = Trainer(tiny, tiny.dataset("mnist"), data, "cpu", (28, 28), seed=0)
    seed = 0
    for purpose, used in (("shuffle", trainer.shuffle), ("noise", trainer.noise_rng)):
        assert torch.equal(used.get_state(), streams.generator(seed, purpose).get_state())
    # building G and D drew from the init stream only: the global one is where dropout starts
    assert torch.equal(torch.get_rng_state(), streams.generator(seed, "dropout").get_state())


def test_building_a_net_does_not_move_the_dropout_stream(tiny, data):
    """TFD's second phase builds new layers and a fresh D mid-run from the init stream; the
    dropout masks that follow are those the run would draw without it."""
    trainer = Trainer(tiny, tiny.dataset("mnist"), data, "cpu", (28, 28), seed=0)
    before = torch.get_rng_state()
    trainer.start_phase()
    assert torch.equal(torch.get_rng_state(), before)


def test_bf16_on_a_cpu_without_hardware_bf16_is_said_to_be_emulated(monkeypatch):
    """oneDNN emulates bf16 with AVX-512 where the CPU lacks it: slower than fp32 (issue 40)."""
    from pipeline import machine

    xeon = ("Intel Xeon", {"avx2", "fma", "avx512f"})
    monkeypatch.setattr(machine, "_cpuinfo", lambda: xeon)
    why = machine.emulated_bf16("cpu")
    assert why is not None and why.startswith("Intel Xeon has no hardware bfloat16")
    assert "0.33-0.42x the speed of fp32" in why
    assert machine.emulated_bf16("cuda") is None  # a GPU answers for itself (check_precision)
    monkeypatch.setattr(machine, "_cpuinfo", lambda: ("AMD EPYC", {"avx512f", "avx512_bf16"}))
    assert machine.emulated_bf16("cpu") is None
    monkeypatch.setattr(machine, "_cpuinfo", lambda: ("Xeon 4th gen", {"amx_bf16"}))
    assert machine.emulated_bf16("cpu") is None


def test_a_machine_in_words_names_its_cpu_and_kernels():
    from pipeline import machine

    epyc = {"cpu": "AMD EPYC", "isa": ["avx512f", "avx512_bf16"], "torch_cpu_capability": "AVX512"}
    assert machine.in_words(epyc) == "AMD EPYC (AVX512, bf16)"
    assert machine.in_words({**epyc, "isa": ["avx2"], "torch_cpu_capability": "AVX2"}) == (
        "AMD EPYC (AVX2)"
    )
    assert machine.in_words({**epyc, "gpu": "NVIDIA H100"}) == "NVIDIA H100"
