"""A straightforward PyTorch implementation of the same nets and update, for comparison only.

What typical public GAN re-implementations do: a ``DataLoader`` over the in-memory training
set (shuffled, collated per batch), one ``torch.optim.SGD`` (momentum) and one per-step
``ExponentialLR`` per net, ``zero_grad`` / ``backward`` / ``step``, the losses logged with
``.item()`` every step, Pylearn2's max-norm applied module by module. The nets are
pipeline.models' (same layers, same maxout and dropout) and the update is the released
simultaneous one with k = 1, so per step the arithmetic matches pipeline/train.py; only the loop
around it differs. (PyTorch's SGD keeps lr outside the velocity, which changes nothing while lr
is constant and negligibly little under the 1.000004 decay.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from pipeline.models import Discriminator, Generator, sample_noise
from pipeline.params import DatasetParams


class NaiveGAN:
    def __init__(self, ds: DatasetParams, train: Tensor, image_shape, device) -> None:
        self.ds, self.device = ds, torch.device(device)
        self.G = Generator(ds.model, image_shape).to(self.device)
        self.D = Discriminator(ds.model, image_shape).to(self.device)
        t = ds.train
        self.loader = DataLoader(
            TensorDataset(train), batch_size=t.batch_size, shuffle=True, drop_last=True
        )
        self.opt_g = torch.optim.SGD(self.G.parameters(), lr=t.lr, momentum=t.momentum[0])
        self.opt_d = torch.optim.SGD(self.D.parameters(), lr=t.lr, momentum=t.momentum[0])
        gamma = 1 / t.lr_decay
        self.sched_g = torch.optim.lr_scheduler.ExponentialLR(self.opt_g, gamma)
        self.sched_d = torch.optim.lr_scheduler.ExponentialLR(self.opt_d, gamma)
        self.history: list[tuple[float, float]] = []

    def max_norm(self) -> None:
        c = self.ds.model.max_col_norm
        if c is None:
            return
        with torch.no_grad():
            for net in (self.G, self.D):
                for m in net.modules():
                    if isinstance(m, nn.Linear):
                        m.weight.copy_(torch.renorm(m.weight, 2, 0, c))

    def epoch(self) -> None:
        self.G.train()
        self.D.train()
        for (x,) in self.loader:
            x = x.to(self.device)
            B = len(x)
            z = sample_noise(self.ds.model, B, None, self.device)
            fake = self.G(z)
            real_logit, fake_logit = self.D(x), self.D(fake)
            ones, zeros = torch.ones(B, device=self.device), torch.zeros(B, device=self.device)
            loss_d = 0.5 * (
                F.binary_cross_entropy_with_logits(real_logit, ones)
                + F.binary_cross_entropy_with_logits(fake_logit, zeros)
            )
            loss_g = F.binary_cross_entropy_with_logits(fake_logit, ones)
            self.opt_d.zero_grad()
            self.opt_g.zero_grad()
            loss_d.backward(retain_graph=True, inputs=list(self.D.parameters()))
            loss_g.backward(inputs=list(self.G.parameters()))
            self.opt_d.step()
            self.opt_g.step()
            self.sched_d.step()
            self.sched_g.step()
            self.max_norm()
            self.history.append((loss_d.item(), loss_g.item()))
