"""The adversarial nets of Goodfellow et al. (2014), as in the configs released with the paper.

Sources: "Generative Adversarial Nets", NIPS 2014, section 5 ("the generator nets used a mixture
of rectifier linear activations and sigmoid activations, while the discriminator net used maxout
activations. Dropout was applied in training the discriminator net"), and goodfeli/adversarial
``mnist.yaml`` (Pylearn2): G = ReLU 1200 -> ReLU 1200 -> sigmoid 784, irange .05; D = maxout
240x5 -> maxout 240x5 -> sigmoid, irange .005, dropout on every layer's input (pixels kept with
p = .8, hidden units with p = .5, scaled by 1/p); weights U(-irange, irange), biases 0, except
G's output bias = logit of the training pixel means. See ../shared/reference/gan-2014-recipe.md.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pipeline.params import ModelSpec


class Maxout(nn.Module):
    """Maxout (Goodfellow et al., 2013): a linear map to units*pieces outputs; unit j is the max of
    its consecutive block of `pieces` outputs (Pylearn2 ``Maxout`` with pool_stride = pieces)."""

    def __init__(self, d_in: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(d_in, units * pieces)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x).unflatten(-1, (self.units, self.pieces)).amax(-1)


def _init_uniform(module: nn.Module, irange: float) -> None:
    """Pylearn2 "irange r": every weight ~ U(-r, r), every bias 0."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.uniform_(m.weight, -irange, irange)
            nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """G(z): ReLU hidden layers, sigmoid output of the data's dimension."""

    def __init__(self, spec: ModelSpec, d_out: int) -> None:
        super().__init__()
        widths = (spec.noise_dim, *spec.generator.hidden)
        layers: list[nn.Module] = []
        for d_in, d_hidden in zip(widths, widths[1:], strict=False):
            layers += [nn.Linear(d_in, d_hidden), nn.ReLU()]
        self.hidden = nn.Sequential(*layers)
        self.out = nn.Linear(widths[-1], d_out)
        _init_uniform(self, spec.generator.irange)

    def init_output_bias(self, pixel_mean: Tensor) -> None:
        """Output bias = logit of the training pixel means, clipped to [1e-7, 1 - 1e-7]."""
        with torch.no_grad():
            self.out.bias.copy_(torch.logit(pixel_mean.clamp(1e-7, 1 - 1e-7)))

    def forward(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.out(self.hidden(z)))


class Discriminator(nn.Module):
    """D(x) as a logit: dropout on each layer's input, maxout hidden layers, one sigmoid unit.

    Returns the pre-sigmoid activation so that log D and log(1 - D) are computed stably."""

    def __init__(self, spec: ModelSpec, d_in: int) -> None:
        super().__init__()
        d = spec.discriminator
        widths = (d_in, *d.units)
        self.keep = d.keep
        self.maxouts = nn.ModuleList(
            Maxout(a, b, d.pieces) for a, b in zip(widths, widths[1:], strict=False)
        )
        self.out = nn.Linear(widths[-1], 1)
        _init_uniform(self, d.irange)

    def forward(self, x: Tensor) -> Tensor:
        for keep, layer in zip(self.keep, self.maxouts, strict=False):
            x = layer(F.dropout(x, 1 - keep, self.training))
        return self.out(F.dropout(x, 1 - self.keep[-1], self.training)).squeeze(-1)


def sample_noise(spec: ModelSpec, n: int, generator: torch.Generator, device) -> Tensor:
    """z ~ p_z: uniform on (-sqrt 3, sqrt 3) (unit variance, the MNIST config) or N(0, I)."""
    if spec.noise == "uniform":
        u = torch.rand(n, spec.noise_dim, generator=generator, device=device)
        return (2 * u - 1) * math.sqrt(3)
    return torch.randn(n, spec.noise_dim, generator=generator, device=device)
