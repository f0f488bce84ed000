"""The in-pipeline classifiers (stage `classifier`): their penultimate features and class
predictions score a generator's samples beyond the Parzen window (fidelity.py), standing in for
Inception-v3, whose weights cannot be fetched on an offline machine.

- ``lenet``: MNIST, 28 x 28 grey, pixels in [0, 1]. LeNet-5's layout (LeCun et al., 1998) with
  ReLU and max-pooling: conv 5x5 (32), pool, conv 5x5 (64), pool, 128 features, dropout, 10.
- ``convnet``: CIFAR-10 as the generators see it (global contrast normalised, 3 x 32 x 32): three
  conv 3x3 + batch-norm + pool blocks (32, 64, 128), 256 features, dropout, 10.

Both take images flattened as the pipeline stores them. ``embed`` gives the features the metrics
use (after the ReLU, before dropout), ``forward`` the logits.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from pipeline import checkpoints
from pipeline.plumbing.errors import PipelineError


class _Classifier(nn.Module):
    """conv layers, then `features` ReLU units (what the metrics use), dropout and the logits."""

    image_shape: tuple[int, int, int]
    features: int

    def embed(self, x: Tensor) -> Tensor:
        return torch.relu(self.hidden(self.conv(x.view(-1, *self.image_shape)).flatten(1)))

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.embed(x))


class LeNet(_Classifier):
    image_shape = (1, 28, 28)
    features = 128

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.hidden = nn.Linear(64 * 7 * 7, self.features)
        self.out = nn.Sequential(nn.Dropout(0.5), nn.Linear(self.features, classes))


class ConvNet(_Classifier):
    image_shape = (3, 32, 32)
    features = 256

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        blocks = []
        for c_in, c_out in ((3, 32), (32, 64), (64, 128)):
            blocks += [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
        self.conv = nn.Sequential(*blocks)
        self.hidden = nn.Linear(128 * 4 * 4, self.features)
        self.out = nn.Sequential(nn.Dropout(0.5), nn.Linear(self.features, classes))


NETS: dict[str, type[_Classifier]] = {"lenet": LeNet, "convnet": ConvNet}
FILE = "classifier.pt"


def save(net: nn.Module, name: str, path: Path) -> None:
    torch.save({"net": name, "state": net.state_dict()}, path)


def load(path: Path, rerun: str) -> _Classifier:
    """The classifier saved at `path`, in eval mode; an unreadable file is one error."""
    saved = checkpoints.load(path, rerun, "classifier", ("net", "state"))
    try:
        net = NETS[saved["net"]]()
        net.load_state_dict(saved["state"])
    except (RuntimeError, KeyError, TypeError, AttributeError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise PipelineError(
            f"{path}: not a classifier this code saved ({first[:120]}); {rerun}"
        ) from None
    return net.eval()


@torch.no_grad()
def embed(net: _Classifier, images: Tensor, batch: int = 1000) -> tuple[Tensor, Tensor]:
    """Features and logits of `images` (N x d), float32, in eval mode."""
    net.eval()
    features, logits = [], []
    for start in range(0, len(images), batch):
        h = net.embed(images[start : start + batch].float())
        features.append(h)
        logits.append(net.out(h))
    return torch.cat(features), torch.cat(logits)
