"""The TFD and CIFAR-10 nets are the released ones (tfd_pretrain/*.yaml,
cifar10_fully_connected.yaml, cifar10_convolutional.yaml, deconv.py): sizes, parameter counts,
the conv discriminator's pooled sizes, the deconv output, TFD's two phases, sparse init and the
max column norm."""

import pytest
import torch

from pipeline import params as P
from pipeline.adversarial import Trainer
from pipeline.models import Discriminator, Generator
from tests.conftest import ALL, ROOT

FACES, COLOUR = (48, 48), (3, 32, 32)


@pytest.fixture(scope="module")
def paper() -> P.Params:
    """params.yaml as committed, with every dataset section switched on (TFD included)."""
    return P.load(ROOT / "params.yaml", datasets=ALL)


def count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_tfd_nets_8000_unit_generator_and_1200x5_maxout_discriminator(paper):
    lfw, tfd = paper.dataset("lfw"), paper.dataset("tfd")
    # the stand-in runs exactly TFD's protocol: same nets, schedules, folds and Parzen settings
    assert (lfw.split, lfw.model, lfw.train, lfw.parzen) == (
        tfd.split,
        tfd.model,
        tfd.train,
        tfd.parzen,
    )
    spec = lfw.model
    pretrain = Generator(spec, FACES, extended=False)
    # 100 -> ReLU 8000 -> sigmoid 8000 -> sigmoid 2304, weights + biases
    assert count(pretrain) == (100 * 8000 + 8000) + (8000 * 8000 + 8000) + (8000 * 2304 + 2304)
    # phase 2 puts ReLU 8000 -> sigmoid 100 in front
    assert count(pretrain.extended(spec, FACES)) == count(pretrain) + 808_000 + 800_100
    D = Discriminator(spec, FACES)
    assert count(D) == (2304 * 6000 + 6000) + (1200 * 6000 + 6000) + (1200 + 1) == 21_037_201
    assert Generator(spec, FACES)(torch.randn(3, 100)).shape == (3, 2304)
    assert D(torch.rand(3, 2304)).shape == (3,)


def test_cifar_fully_connected_nets(paper):
    spec = paper.dataset("cifar10_fc").model
    G, D = Generator(spec, COLOUR), Discriminator(spec, COLOUR)
    assert count(G) == 808_000 + 64_008_000 + (8000 * 3072 + 3072) == 89_395_072
    assert count(D) == (3072 * 8000 + 8000) + (1600 * 8000 + 8000) + 1601 == 37_393_601
    # the one departure from the release, declared where results are shown: irange .05, not .5
    assert G.out.weight.abs().max() > 0.045 and G.out.weight.abs().max() <= 0.05
    assert "irange 0.05 (released 0.5" in paper.dataset("cifar10_fc").deviation
    assert [n for n in paper.by_name if paper.dataset(n).deviation] == ["cifar10_fc"]
    y = G(torch.randn(5, 100))
    assert y.shape == (5, 3072) and y.min() < 0  # linear output (GCN space)


def test_cifar_conv_discriminator_pools_32_to_16_to_7_to_5(paper):
    spec = paper.dataset("cifar10_conv").model
    D = Discriminator(spec, COLOUR)
    x = torch.zeros(2, 3, 32, 32)
    sizes = []
    for layer in D.convs:
        x = layer(x)
        sizes.append(tuple(x.shape[1:]))
    # conv 8x8 pad 4: 33, pool 4/2 (ceil) -> 16; conv 8x8 pad 3: 15 -> 7; conv 5x5 pad 3: 9 -> 5
    assert sizes == [(32, 16, 16), (32, 7, 7), (192, 5, 5)]
    assert [c.conv.out_channels for c in D.convs] == [64, 64, 384]  # channels x 2 pieces
    assert [m.linear.weight.shape for m in D.maxouts] == [(2500, 4800)]  # maxout 500 x 5
    assert count(D) == 12_454_073
    assert D(torch.zeros(4, 3072)).shape == (4,)


def test_cifar_deconv_generator_reshapes_to_80x10x10_and_outputs_3x32x32(paper):
    spec = paper.dataset("cifar10_conv").model
    G = Generator(spec, COLOUR)
    assert G.reshape == (80, 10, 10)
    conv = G.out.conv
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride) == (
        80,
        3,
        (5, 5),
        (3, 3),
    )
    assert G.out.bias.shape == (3, 32, 32)  # untied biases (tied_b: 0)
    assert count(G) == 808_000 + 64_008_000 + 80 * 3 * 25 + 3072
    assert G(torch.randn(2, 100)).shape == (2, 3072)


def test_tfd_output_layer_is_sparse_init_100_per_unit_and_hidden_bias_minus_2(paper):
    spec = paper.dataset("tfd").model
    G = Generator(spec, FACES, extended=True)
    nonzero = (G.out.weight != 0).sum(1)
    assert torch.all(nonzero == 100)
    assert torch.all(G.hidden[2].bias == -2.0)  # sigmoid 8000, init_bias -2
    assert torch.all(G.extension[2].bias == -2.0)  # sigmoid 100 of the extension
    assert torch.all(G.hidden[0].bias == 0.0)


def test_max_col_norm_holds_after_every_update_on_every_dense_layer(tiny_all):
    ds = tiny_all.dataset("tfd")
    data = torch.rand(200, 2304, generator=torch.Generator().manual_seed(0))
    trainer = Trainer(tiny_all, ds, data, "cpu", FACES, seed=0)
    trainer.epoch(1)
    c = ds.model.max_col_norm
    for net in (trainer.G, trainer.D):
        for m in net.modules():
            if isinstance(m, torch.nn.Linear):
                assert m.weight.norm(dim=1).max() <= c * (1 + 1e-6)
    # the sparse init starts far above the bound (100 N(0,1) weights): the constraint acted
    assert float(trainer.G.out.weight.detach().norm(dim=1).max()) == pytest.approx(c, rel=1e-4)


def test_phase_two_extends_the_pretrained_generator_with_a_fresh_discriminator(tiny_all):
    ds = tiny_all.dataset("tfd")
    data = torch.rand(200, 2304, generator=torch.Generator().manual_seed(0))
    trainer = Trainer(tiny_all, ds, data, "cpu", FACES, seed=0)
    trainer.epoch(1)
    pretrained = {k: v.clone() for k, v in trainer.G.state_dict().items()}
    old_d = trainer.D
    trainer.extend_generator()
    assert len(trainer.G.extension) == 4 and trainer.D is not old_d
    for key, value in pretrained.items():
        assert torch.equal(trainer.G.state_dict()[key], value)
    assert trainer.opt_g.steps == trainer.opt_d.steps == 0  # schedules restart
    trainer.epoch(1)
