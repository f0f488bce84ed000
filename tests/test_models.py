"""The nets are the released ones: maxout over consecutive units, dropout keep .8 / .5, irange
initialisation, G's output bias at the logit of the pixel means, the uniform prior."""

import math

import torch

from pipeline import params as P
from pipeline.models import Discriminator, Generator, Maxout, sample_noise
from tests.conftest import ROOT


def test_maxout_unit_is_max_of_its_consecutive_pieces():
    layer = Maxout(3, units=2, pieces=3)
    x = torch.randn(4, 3)
    z = layer.linear(x)
    out = layer(x)
    assert torch.equal(out[:, 0], z[:, 0:3].max(1).values)
    assert torch.equal(out[:, 1], z[:, 3:6].max(1).values)


def test_paper_mnist_shapes():
    full = P.load(ROOT / "params.yaml").dataset("mnist").model  # the paper's sizes
    G, D = Generator(full, (28, 28)), Discriminator(full, (28, 28))
    assert [m.weight.shape for m in G.modules() if isinstance(m, torch.nn.Linear)] == [
        (1200, 100),
        (1200, 1200),
        (784, 1200),
    ]
    assert [m.weight.shape for m in D.modules() if isinstance(m, torch.nn.Linear)] == [
        (1200, 784),
        (1200, 240),
        (1, 240),
    ]
    assert G(torch.zeros(7, 100)).shape == (7, 784)
    assert D(torch.zeros(7, 784)).shape == (7,)


def test_irange_initialisation_and_zero_biases(tiny):
    spec = tiny.dataset("mnist").model
    G, D = Generator(spec, (28, 28)), Discriminator(spec, (28, 28))
    for net, r in ((G.hidden, 0.05), (D, 0.005)):
        for name, p in net.named_parameters():
            if name.endswith("weight"):
                assert p.abs().max() <= r
                if p.numel() >= 100:  # U(-r, r) fills the interval
                    assert p.abs().max() > 0.9 * r
            else:
                assert torch.all(p == 0)


def test_generator_output_bias_is_logit_of_pixel_means(tiny):
    G = Generator(tiny.dataset("mnist").model, (2, 2))
    G.init_output_bias(torch.tensor([0.0, 0.25, 0.5, 1.0]))
    expected = torch.logit(torch.tensor([1e-7, 0.25, 0.5, 1 - 1e-7]))
    assert torch.allclose(G.out.bias, expected)


def _dropout_inputs(D, x):
    """Inputs each layer of D saw (after dropout) and the outputs of each maxout layer."""
    seen, produced = [], []
    layers = [*D.maxouts, D.out]
    for layer in layers:
        layer.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach()))
    for layer in D.maxouts:
        layer.register_forward_hook(lambda m, args, out: produced.append(out.detach()))
    D(x)
    return seen, produced


def test_dropout_keeps_pixels_with_p08_and_hidden_inputs_with_p05(tiny):
    torch.manual_seed(0)
    D = Discriminator(tiny.dataset("mnist").model, (28, 28)).train()
    x = torch.ones(2000, 784)
    seen, produced = _dropout_inputs(D, x)
    pixels = seen[0]
    assert set(pixels.unique().tolist()) == {0.0, 1.25}
    assert abs((pixels > 0).float().mean().item() - 0.8) < 0.005
    for before, after in zip(produced, seen[1:], strict=True):
        alive = before != 0
        kept = after[alive] != 0
        assert abs(kept.float().mean().item() - 0.5) < 0.02
        assert torch.allclose(after[alive][kept], 2 * before[alive][kept])


def test_no_dropout_at_evaluation(tiny):
    D = Discriminator(tiny.dataset("mnist").model, (28, 28)).eval()
    x = torch.rand(5, 784)
    assert torch.equal(D(x), D(x))


def test_uniform_prior_has_unit_variance_on_open_interval(tiny):
    spec = tiny.dataset("mnist").model
    z = sample_noise(spec, 20000, torch.Generator().manual_seed(0), "cpu")
    assert z.shape == (20000, 100)
    assert z.abs().max() < math.sqrt(3)
    assert abs(z.var().item() - 1) < 0.01
