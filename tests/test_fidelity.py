"""Each metric beyond the Parzen window (pipeline/metrics/, pipeline/fidelity.py) against a
direct computation on small inputs: the libraries must compute what their papers define."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from pipeline import fidelity
from pipeline.metrics import classes, fid, inception_score, kid, prdc, registry


@pytest.fixture(scope="module")
def sets():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 6))
    fake = rng.normal(loc=0.3, scale=1.2, size=(250, 6))
    return real, fake


def test_frechet_is_the_distance_between_gaussians_fitted_to_the_features(sets):
    real, fake = sets
    mu_r, mu_f = real.mean(0), fake.mean(0)
    c_r, c_f = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    root = scipy.linalg.sqrtm(c_r @ c_f).real
    direct = ((mu_r - mu_f) ** 2).sum() + np.trace(c_r + c_f - 2 * root)
    got = fid.frechet(torch.from_numpy(real), torch.from_numpy(fake))
    assert got == pytest.approx(direct, rel=1e-6)
    assert fid.frechet(torch.from_numpy(real), torch.from_numpy(real)) == pytest.approx(0, abs=1e-6)


def unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    kernel = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    m, n = len(x), len(y)
    return (
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        - 2 * kxy.mean()
    )


def test_kernel_distance_is_the_unbiased_mmd_with_a_cubic_kernel(sets):
    real, fake = sets
    size = 250  # every fake row in each subset: the subsets differ only in which real rows
    mean, sd = kid.kernel_distance(torch.from_numpy(real), torch.from_numpy(fake), 1, size, 7)
    torch.manual_seed(7)
    rows = torch.randperm(len(real))[:size].numpy()
    assert mean == pytest.approx(unbiased_mmd2(real[rows], fake), rel=1e-9)
    assert sd == 0.0
    same = kid.kernel_distance(torch.from_numpy(real), torch.from_numpy(fake), 20, 100, 7)
    assert same == kid.kernel_distance(
        torch.from_numpy(real), torch.from_numpy(fake), 20, 100, 7
    )  # seeded: the same subsets every time
    assert same[1] > 0


def test_precision_recall_density_coverage_follow_their_definitions(sets):
    real, fake = sets
    k = 3
    d_rr = np.linalg.norm(real[:, None] - real[None], axis=2)
    d_ff = np.linalg.norm(fake[:, None] - fake[None], axis=2)
    d_rf = np.linalg.norm(real[:, None] - fake[None], axis=2)
    r_radius = np.sort(d_rr, axis=1)[:, k]  # k-th neighbour, itself excluded
    f_radius = np.sort(d_ff, axis=1)[:, k]
    inside = d_rf < r_radius[:, None]  # fake j inside real i's ball
    direct = {
        "precision": inside.any(axis=0).mean(),
        "recall": (d_rf < f_radius[None, :]).any(axis=1).mean(),
        "density": inside.sum(axis=0).mean() / k,
        "coverage": (d_rf.min(axis=1) < r_radius).mean(),
    }
    got = prdc.precision_recall(real.astype(np.float32), fake.astype(np.float32), k)
    assert got == pytest.approx(direct, abs=1e-6)


def test_inception_score_is_exp_of_the_mean_kl_to_the_marginal():
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=3, size=(200, 10))
    mean, sd = inception_score.inception_score(torch.from_numpy(logits), splits=4, seed=3)
    torch.manual_seed(3)
    order = torch.randperm(200).numpy()
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p = p[order]
    scores = [
        np.exp((part * (np.log(part) - np.log(part.mean(0)))).sum(1).mean())
        for part in np.split(p, 4)
    ]
    assert mean == pytest.approx(np.mean(scores), rel=1e-9)
    assert sd == pytest.approx(np.std(scores, ddof=1), rel=1e-9)
    one_class = np.full((100, 10), -30.0)
    one_class[:, 4] = 30.0
    score, _ = inception_score.inception_score(torch.from_numpy(one_class), 2, 0)
    assert score == pytest.approx(1.0)


def test_a_generator_of_one_class_covers_one_mode_and_pays_log_ten():
    data = np.full(10, 0.1)  # balanced classes
    one = classes.class_histogram(np.full(300, 4), data, 0.1)
    assert one["modes_covered"] == 1 and one["class_kl"] == pytest.approx(np.log(10))
    assert one["class_counts"][4] == 300
    every = classes.class_histogram(np.tile(np.arange(10), 30), data, 0.1)
    assert every["modes_covered"] == 10 and every["class_kl"] == pytest.approx(0)
    rare = np.concatenate([np.full(995, 0), np.arange(5)])  # classes 1-4 once: 0.1 % each
    assert classes.class_histogram(rare, data, 0.1)["modes_covered"] == 1


def test_nearest_distances_match_brute_force_and_a_copied_training_set_sits_at_zero():
    rng = np.random.default_rng(2)
    train = torch.from_numpy(rng.random((500, 20), dtype=np.float32))
    queries = torch.from_numpy(rng.random((130, 20), dtype=np.float32))
    direct = np.array(
        [
            min(np.linalg.norm(q - t) for t in train.numpy().astype(np.float64))
            for q in queries.numpy().astype(np.float64)
        ]
    )
    assert fidelity.nearest_distances(queries, train, batch=32) == pytest.approx(direct, rel=1e-6)
    held_out = fidelity.nearest_distances(
        torch.from_numpy(rng.random((100, 20), dtype=np.float32)), train
    )
    copied = fidelity.memorisation(fidelity.nearest_distances(train[:100], train), held_out)
    assert copied["closer_than_held_out"] == 1.0 and copied["sample_median"] == 0
    fresh = fidelity.memorisation(fidelity.nearest_distances(queries, train), held_out)
    assert 0.2 < fresh["closer_than_held_out"] < 0.8  # same distribution as the held-out rows


def test_histogram_rows_share_bins_and_sum_to_one():
    rows = fidelity.histogram({"a": np.array([0.0, 1.0, 2.0]), "b": np.array([2.0, 2.0])}, 4)
    for name in "ab":
        share = [r["share"] for r in rows if r["set"] == name]
        assert len(share) == 4 and sum(share) == pytest.approx(1)
    centres = {r["distance"] for r in rows}
    assert len(centres) == 4


def test_the_registry_gives_each_metric_its_own_columns_and_a_cell_for_every_row():
    columns = registry.columns()
    assert len(columns) == sum(len(m.columns) for m in registry.REGISTRY.values())
    row = {"fid": 12.345, "kid": 0.01234, "kid_sd": 0.002, "modes_covered": 7, "modes": 10}
    assert [registry.show(row, k) for k in ("fid", "kid", "modes_covered", "recall")] == [
        "12.3",
        "0.0123 ± 0.002",
        "7 of 10",
        "—",
    ]
