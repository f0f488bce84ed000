"""Sample quality beyond the Parzen window: the metrics the field moved to after 2014, computed in
the feature space of a classifier trained inside the pipeline (Inception-v3 cannot be fetched
offline), and memorisation checks in pixel and feature space.

- Fréchet distance (Heusel et al., 2017, "FID") and kernel distance (Bińkowski et al., 2018,
  "KID": unbiased MMD², cubic polynomial kernel, mean and SD over random subsets):
  torchmetrics, fed precomputed features through an identity extractor;
- precision / recall (Kynkäänniemi et al., 2019) and density / coverage (Naeem et al., 2020),
  k nearest neighbours: the authors' ``prdc`` package;
- the Inception-score analogue (Salimans et al., 2016): exp E KL(p(y|x) || p(y)) over splits,
  from the classifier's logits: torchmetrics;
- the class histogram of the samples: modes covered and KL(samples || data) over the classes
  (as in the unrolled-GAN and VEEGAN mode counts);
- nearest-training-neighbour distances (memorisation): samples and held-out images against the
  training set; the share of samples nearer to a training image than the median held-out image.

Each is checked against a direct computation in tests/test_fidelity.py.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import torch
from torch import Tensor, nn


class _Given(nn.Identity):
    """torchmetrics' feature extractor slot, for features computed beforehand."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features


def _seeded(seed: int):
    """torchmetrics draws its subsets from torch's global generator: fork and seed it."""
    stack = contextlib.ExitStack()
    stack.enter_context(torch.random.fork_rng(devices=[]))
    torch.manual_seed(seed)
    return stack


def _quiet():
    """torchmetrics warns that KID and IS keep every feature: these sets are 10,000 rows."""
    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.filterwarnings("ignore", "Metric `.*` will save all extracted features")
    return stack


def frechet(real: Tensor, fake: Tensor) -> float:
    """||mu_r - mu_f||² + Tr(C_r + C_f - 2 (C_r C_f)^½) between the two feature sets."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    metric = FrechetInceptionDistance(feature=_Given(real.shape[1]), normalize=False)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    return float(metric.compute())


def kernel_distance(real: Tensor, fake: Tensor, subsets: int, subset_size: int, seed: int):
    """KID: the unbiased MMD² with k(x, y) = (x·y / d + 1)³ on `subsets` random subsets of
    `subset_size` from each set; (mean, SD over subsets)."""
    from torchmetrics.image.kid import KernelInceptionDistance

    size = min(subset_size, len(real), len(fake))
    with _quiet():
        metric = KernelInceptionDistance(feature=_Given(real.shape[1]), subsets=subsets,
                                         subset_size=size)  # fmt: skip
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    with _seeded(seed):
        mean, sd = metric.compute()
    return float(mean), float(sd)


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """Precision, recall, density and coverage with k nearest neighbours (prdc)."""
    from prdc import compute_prdc

    with contextlib.redirect_stdout(io.StringIO()):  # it prints the set sizes
        found = compute_prdc(real_features=real, fake_features=fake, nearest_k=k)
    return {key: float(value) for key, value in found.items()}


def inception_score(logits: Tensor, splits: int, seed: int) -> tuple[float, float]:
    """exp E_x KL(p(y|x) || p(y)) on `splits` parts of the samples (shuffled): mean and SD."""
    from torchmetrics.image.inception import InceptionScore

    with _quiet():
        metric = InceptionScore(feature=_Given(logits.shape[1]), splits=splits)
    metric.update(logits.double())
    with _seeded(seed):
        mean, sd = metric.compute()
    return float(mean), float(sd)


def class_histogram(predicted: np.ndarray, data_share: np.ndarray, min_share: float) -> dict:
    """The samples' predicted classes against the data's class shares: counts, modes covered
    (classes that get at least `min_share` of their share in the data) and KL(samples || data)
    in nats."""
    classes = len(data_share)
    got = np.bincount(predicted, minlength=classes) / len(predicted)
    covered = int((got >= min_share * data_share).sum())
    present = got > 0
    kl = float((got[present] * np.log(got[present] / data_share[present])).sum())
    return {
        "modes_covered": covered,
        "modes": classes,
        "class_kl": kl,
        "class_counts": np.bincount(predicted, minlength=classes).tolist(),
    }


def nearest_distances(queries: Tensor, reference: Tensor, batch: int = 1024) -> np.ndarray:
    """Euclidean distance from every query to its nearest reference row: the neighbour found
    with float32 products, its distance then computed exactly (float64, no cancellation)."""
    ref = reference.float()
    ref_sq = (ref * ref).sum(1)
    out = []
    for start in range(0, len(queries), batch):
        q = queries[start : start + batch].float()
        nearest = (ref_sq - 2 * q @ ref.T).argmin(1)  # |q|^2 is the same along a row
        out.append((q.double() - reference[nearest].double()).norm(dim=1))
    return torch.cat(out).numpy()


def memorisation(to_train: np.ndarray, held_out: np.ndarray) -> dict:
    """From nearest-training-image distances of the samples (`to_train`) and of held-out images:
    their medians, and the share of samples nearer to a training image than the median held-out
    image is (a model that copied its training set puts every sample at distance 0; one that
    draws new images like the held-out ones, about half)."""
    median = float(np.median(held_out))
    return {
        "sample_median": float(np.median(to_train)),
        "held_out_median": median,
        "closer_than_held_out": float((to_train < median).mean()),
        "sample_min": float(to_train.min()),
    }


def histogram(values: dict[str, np.ndarray], bins: int = 50) -> list[dict]:
    """Shared-bin histograms of several distance sets, as rows for a DVC plot."""
    top = max(float(v.max()) for v in values.values())
    edges = np.linspace(0.0, top if top > 0 else 1.0, bins + 1)
    rows = []
    for name, v in values.items():
        counts, _ = np.histogram(v, edges)
        rows += [{"set": name, "distance": float((a + b) / 2), "share": c / len(v)}
                 for a, b, c in zip(edges[:-1], edges[1:], counts, strict=True)]  # fmt: skip
    return rows
