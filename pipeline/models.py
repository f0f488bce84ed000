"""The adversarial nets of Goodfellow et al. (2014), as in the configs released with the paper.

Sources: "Generative Adversarial Nets", NIPS 2014, section 5 ("the generator nets used a mixture
of rectifier linear activations and sigmoid activations, while the discriminator net used maxout
activations. Dropout was applied in training the discriminator net"), and goodfeli/adversarial
(Pylearn2): ``mnist.yaml``, ``tfd_pretrain/{pretrain,train}.yaml``,
``cifar10_fully_connected.yaml``, ``cifar10_convolutional.yaml`` and ``deconv.py``. See
../shared/reference/gan-2014-recipe.md; every size comes from params.yaml.

- G: dense hidden layers (ReLU or sigmoid), then a sigmoid output (bias = logit of the training
  pixel means), a linear output, or a "deconvolutional" output (reshape to 80 x 10 x 10, 5 x 5
  transposed convolution with stride 3 -> 3 x 32 x 32, untied biases). TFD's generator is
  pretrained, then extended with new layers in front (:meth:`Generator.extended`).
- D: maxout conv layers (conv to channels * pieces maps, max over each block of pieces, max
  pooling with Pylearn2's ceil-mode output size), maxout dense layers, one sigmoid unit (returned
  as a logit); dropout on every layer's input.
- Init: weights U(-irange, irange) ("irange") or `sparse` N(0, 1) weights per unit
  ("sparse_init"); biases 0 unless set ("init_bias").
- Checkpoints of G (what `train` hands `sample`): its state_dict beside the run's metadata.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pipeline import checkpoints
from pipeline.params import ConvSpec, ModelSpec
from pipeline.plumbing.errors import PipelineError

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}


class Maxout(nn.Module):
    """Maxout (Goodfellow et al., 2013): a linear map to units*pieces outputs; unit j is the max of
    its consecutive block of `pieces` outputs (Pylearn2 ``Maxout`` with pool_stride = pieces)."""

    def __init__(self, d_in: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(d_in, units * pieces)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x).unflatten(-1, (self.units, self.pieces)).amax(-1)


class MaxoutConv(nn.Module):
    """Pylearn2 ``MaxoutConvC01B``: a convolution to channels*pieces maps (zero padding `pad`),
    the max over each consecutive block of `pieces` maps, then max pooling. cuda-convnet pools
    to ceil((n - pool) / stride) + 1 positions, which is PyTorch's ceil_mode."""

    def __init__(self, c_in: int, spec: ConvSpec) -> None:
        super().__init__()
        self.channels, self.pieces = spec.channels, spec.pieces
        self.conv = nn.Conv2d(c_in, spec.channels * spec.pieces, spec.kernel, padding=spec.pad)
        self.pool = nn.MaxPool2d(spec.pool, spec.pool_stride, ceil_mode=True)

    def forward(self, x: Tensor) -> Tensor:
        z = self.conv(x).unflatten(1, (self.channels, self.pieces)).amax(2)
        return self.pool(z)  # max over pieces and max over the window commute


class Deconv(nn.Module):
    """goodfeli/adversarial ``deconv.Deconv``: the transpose of a strided convolution, output side
    stride * (n - 1) + kernel, with one bias per output unit (tied_b: 0)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, side: int) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(c_in, c_out, kernel, stride=stride, bias=False)
        self.bias = nn.Parameter(torch.zeros(c_out, side, side))

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x) + self.bias


def _init(module: nn.Module, irange: float) -> None:
    """Pylearn2 "irange r": every weight ~ U(-r, r), every bias 0."""
    for m in module.modules():
        if isinstance(m, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
            nn.init.uniform_(m.weight, -irange, irange)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def sparse_init_(weight: Tensor, nonzero: int) -> None:
    """Pylearn2 ``sparse_init``: each output unit gets `nonzero` incoming weights ~ N(0, 1) at
    distinct random inputs, all others 0."""
    with torch.no_grad():
        d_out, d_in = weight.shape
        chosen = torch.rand(d_out, d_in).argsort(1)[:, :nonzero]
        weight.zero_().scatter_(1, chosen, torch.randn(d_out, nonzero))


def _dense(widths, activations) -> nn.Sequential:
    layers: list[nn.Module] = []
    for d_in, d_out, act in zip(widths, widths[1:], activations, strict=False):
        layers += [nn.Linear(d_in, d_out), ACTIVATIONS[act]()]
    return nn.Sequential(*layers)


def _fill_biases(layers: nn.Sequential, biases) -> None:
    """Pylearn2 ``init_bias``: each Linear layer's bias set to a constant."""
    linears = [m for m in layers if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for linear, bias in zip(linears, biases, strict=True):
            linear.bias.fill_(bias)


class Generator(nn.Module):
    """G(z) -> flattened image. ``extension`` is empty unless built with ``extended=True`` for a
    spec with ``generator.extend`` (TFD's second phase)."""

    def __init__(self, spec: ModelSpec, image_shape: tuple[int, ...], extended: bool = True):
        super().__init__()
        g = spec.generator
        d_out = math.prod(image_shape)
        widths = (spec.noise_dim, *g.hidden)
        self.hidden = _dense(widths, g.activations)
        if g.output == "deconv":
            c = g.deconv
            self.reshape = (c.channels, c.size, c.size)
            self.out = Deconv(c.channels, image_shape[0], c.kernel, c.stride, image_shape[-1])
        else:
            self.reshape = None
            self.out = nn.Linear(widths[-1], d_out)
        self.squash = g.output == "sigmoid"
        e = g.extend if extended else None
        self.extension = (
            _dense((spec.noise_dim, *e.hidden), e.activations) if e else nn.Sequential()
        )
        _init(self.hidden, g.irange)
        if g.output_irange is not None:
            _init(self.out, g.output_irange)
        else:
            _init(self.out, 0.0)
            sparse_init_(self.out.weight, g.output_sparse)
        _init(self.extension, g.irange)
        _fill_biases(self.hidden, g.hidden_bias)
        if e:
            _fill_biases(self.extension, e.hidden_bias)

    def init_output_bias(self, pixel_mean: Tensor) -> None:
        """Sigmoid output bias = logit of the training pixel means, clipped to [1e-7, 1 - 1e-7]
        (Pylearn2 init_sigmoid_bias_from_marginals). No-op for linear outputs."""
        if self.squash:
            with torch.no_grad():
                self.out.bias.copy_(torch.logit(pixel_mean.clamp(1e-7, 1 - 1e-7)))

    def extended(self, spec: ModelSpec, image_shape: tuple[int, ...]) -> Generator:
        """A generator with spec.generator.extend's new layers in front of this (pretrained) one
        (goodfeli/adversarial ``add_layers``)."""
        bigger = Generator(spec, image_shape, extended=True).to(next(self.parameters()).device)
        bigger.hidden.load_state_dict(self.hidden.state_dict())
        bigger.out.load_state_dict(self.out.state_dict())
        return bigger

    def forward(self, z: Tensor) -> Tensor:
        h = self.hidden(self.extension(z))
        if self.reshape is not None:
            return self.out(h.view(-1, *self.reshape)).flatten(1)
        y = self.out(h)
        return torch.sigmoid(y) if self.squash else y


class Discriminator(nn.Module):
    """D(x) as a logit: dropout on each layer's input, maxout conv then maxout dense hidden
    layers, one sigmoid unit. Returns the pre-sigmoid activation so that log D and log(1 - D)
    are computed stably."""

    def __init__(self, spec: ModelSpec, image_shape: tuple[int, ...]) -> None:
        super().__init__()
        d = spec.discriminator
        self.keep = d.keep
        self.image_shape = image_shape
        self.convs = nn.ModuleList()
        channels = image_shape[0] if len(image_shape) == 3 else 1
        for c in d.conv:
            self.convs.append(MaxoutConv(channels, c))
            channels = c.channels
        with torch.no_grad():  # the flattened size after the conv layers
            probe = torch.zeros(1, math.prod(image_shape))
            d_flat = self._conv(probe).shape[1] if d.conv else probe.shape[1]
        widths = (d_flat, *d.units)
        self.maxouts = nn.ModuleList(
            Maxout(a, b, d.pieces) for a, b in zip(widths, widths[1:], strict=False)
        )
        self.out = nn.Linear(widths[-1], 1)
        _init(self, d.irange)

    def _conv(self, x: Tensor, keep=None) -> Tensor:
        side = self.image_shape[-2:]
        x = x.view(len(x), -1, *side)
        for i, layer in enumerate(self.convs):
            x = layer(F.dropout(x, 1 - keep[i], self.training) if keep else x)
        return x.flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        n_conv = len(self.convs)
        if n_conv:
            x = self._conv(x, self.keep[:n_conv])
        for keep, layer in zip(self.keep[n_conv:], self.maxouts, strict=False):
            x = layer(F.dropout(x, 1 - keep, self.training))
        return self.out(F.dropout(x, 1 - self.keep[-1], self.training)).squeeze(-1)


def constrained_weights(*nets: nn.Module) -> list[Tensor]:
    """The weight matrices Pylearn2's max_col_norm applies to: every dense layer's (one norm per
    output unit, i.e. per row of a PyTorch Linear weight)."""
    return [m.weight for net in nets for m in net.modules() if isinstance(m, nn.Linear)]


def sample_noise(spec: ModelSpec, n: int, generator: torch.Generator, device) -> Tensor:
    """z ~ p_z: uniform on (-sqrt 3, sqrt 3) (unit variance, the MNIST config) or N(0, I)."""
    if spec.noise == "uniform":
        u = torch.rand(n, spec.noise_dim, generator=generator, device=device)
        return (2 * u - 1) * math.sqrt(3)
    return torch.randn(n, spec.noise_dim, generator=generator, device=device)


@torch.no_grad()
def draw_samples(
    G: Generator, spec: ModelSpec, n: int, rng: torch.Generator, device="cpu"
) -> Tensor:
    """n samples of G without dropout, from the next n draws of `rng` (one of streams.py's, so
    that every stage and study draws a seed's samples alike); `rng` goes on from there."""
    G.eval()
    return G(sample_noise(spec, n, rng, device))


def save_generator(G: Generator, meta: dict, path: Path) -> None:
    """G's weights and `meta` (the run: params, epoch, validation score) in one checkpoint."""
    checkpoints.save({"state_dict": G.state_dict(), **meta}, path)


def load_generator(
    path: Path, spec: ModelSpec, image_shape: tuple[int, ...], rerun: str
) -> Generator:
    """The generator saved at `path`, in eval mode; `rerun` says what makes the file again. A
    file that holds no generator, or one of other layers than `spec`'s, is one error."""
    G = Generator(spec, image_shape)
    saved = checkpoints.load(path, rerun, "generator", ("state_dict",))
    try:
        G.load_state_dict(saved["state_dict"])
    except (RuntimeError, TypeError, AttributeError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise PipelineError(
            f"{path}: not a generator of these layers ({first[:120]}); {rerun}"
        ) from None
    return G.eval()
