"""``kernels: fused``: the simultaneous update's discriminator pass with the real and the generated
minibatch as one batch, and its backward written out (issue 40).

The eager step (adversarial.Trainer.epoch) runs D twice, on x and on G(z), and autograd twice:
once for D's loss (D's weights), once for G's (through D to G(z)). Here D runs once on the 2B
rows [x; G(z)], each row with its own dropout masks as before, and one backward carries 3B rows
of gradient: D's loss on all 2B rows and G's loss on the B generated ones, through the same
masks and maxout choices (G's loss reuses the dropout-perturbed D(G(z)), as the release's
``AdversaryCost2`` does). D's weight gradients are then one product per layer over 2B rows, not
two products and a sum; the gradient reaching G(z) goes on through autograd in G.

The arithmetic is the eager step's up to float32 rounding (tests/test_fused.py); the masks are
drawn per layer for both halves at once, so the random stream, and with it every later bit,
differs from an eager run's. Fully connected discriminators only (MNIST, TFD, LFW, CIFAR-10
fully connected), the simultaneous update, fp32.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from pipeline.models import Discriminator


@dataclass
class DiscriminatorPass:
    grads: list[Tensor]  # dL_D / dθ_D, in D.parameters() order
    to_fake: Tensor | None  # dL_G / dG(z), (B, d); None without a generator step
    real_logit: Tensor
    fake_logit: Tensor


def dropout_mask(like: Tensor, keep: float) -> Tensor | None:
    """F.dropout's multiplier, Bernoulli(keep) / keep, drawn as [U < keep] / keep with U uniform
    (2.4 times faster than bernoulli_ on this project's CPU); None, drawing nothing, when keep
    is 1."""
    if keep == 1:
        return None
    return torch.rand_like(like).lt_(keep).div_(keep)


def discriminator_pass(
    D: Discriminator, x: Tensor, fake: Tensor, generator_loss: str | None, masks=None
) -> DiscriminatorPass:
    """D's loss gradients and, with `generator_loss` ("non_saturating" | "minimax"), G's loss
    gradient at G(z), from one forward pass over [x; fake]. `masks`: one dropout multiplier per
    layer input (2B rows each; None: keep everything), instead of drawing them (tests)."""
    B = len(x)
    h = torch.cat([x, fake.detach()])
    inputs, choices, used = [], [], []
    for i, keep in enumerate(D.keep):
        m = dropout_mask(h, keep) if masks is None else masks[i]
        h = h if m is None else h * m
        inputs.append(h)
        used.append(m)
        if i < len(D.maxouts):
            layer = D.maxouts[i]
            z = F.linear(h, layer.linear.weight, layer.linear.bias)
            h, chosen = z.view(len(z), layer.units, layer.pieces).max(-1)
            choices.append(chosen)
    logit = F.linear(h, D.out.weight, D.out.bias).squeeze(-1)
    real, fake_logit = logit[:B], logit[B:]
    # dL/dlogit, rows [x; fake] for D's loss 0.5 (softplus(-real) + softplus(fake)) / B each
    upstream = [-0.5 * torch.sigmoid(-real) / B, 0.5 * torch.sigmoid(fake_logit) / B]
    if generator_loss == "non_saturating":  # softplus(-fake).mean()
        upstream.append(-torch.sigmoid(-fake_logit) / B)
    elif generator_loss == "minimax":  # -softplus(fake).mean()
        upstream.append(-torch.sigmoid(fake_logit) / B)
    delta = torch.cat(upstream).unsqueeze(1)  # (2B or 3B, 1)
    rows = len(delta)

    def also_g(t: Tensor) -> Tensor:  # G's rows reuse the generated rows' masks and choices
        return t if rows == 2 * B else torch.cat([t, t[B:]])

    grads = [delta[: 2 * B].T @ inputs[-1], delta[: 2 * B].sum(0)]
    back = delta @ D.out.weight
    to_fake = None
    for i in range(len(D.maxouts) - 1, -1, -1):
        layer = D.maxouts[i]
        if used[i + 1] is not None:
            back = back * also_g(used[i + 1])
        spread = back.new_zeros(rows, layer.units, layer.pieces)
        spread.scatter_(2, also_g(choices[i]).unsqueeze(-1), back.unsqueeze(-1))
        spread = spread.view(rows, -1)
        grads[:0] = [spread[: 2 * B].T @ inputs[i], spread[: 2 * B].sum(0)]
        if i > 0:
            back = spread @ layer.linear.weight
        elif rows > 2 * B:
            to_fake = spread[2 * B :] @ layer.linear.weight
            if used[0] is not None:
                to_fake = to_fake * used[0][B:]
    return DiscriminatorPass(grads, to_fake, real, fake_logit)
