"""The Parzen-window estimate of parzen_ll.py: exact against a direct float64 sum, sigma chosen as
the argmax of the validation likelihood, standard error std/sqrt(N) with ddof = 0."""

import math

import numpy as np
import pytest
import torch
from sklearn.neighbors import KernelDensity

from pipeline.params import ParzenSpec
from pipeline.parzen_window import log_likelihood, mean_and_se, select_sigma, sigmas


def direct(x: np.ndarray, mu: np.ndarray, sigma: float) -> np.ndarray:
    """The definition, term by term in float64: no ||x||^2 + ||mu||^2 - 2 x.mu expansion."""
    x, mu = x.astype(np.float64), mu.astype(np.float64)
    out = []
    for xi in x:
        a = -((xi - mu) ** 2).sum(1) / (2 * sigma**2)
        top = a.max()
        out.append(
            top
            + math.log(np.exp(a - top).sum())
            - math.log(len(mu))
            - x.shape[1] * math.log(sigma * math.sqrt(2 * math.pi))
        )
    return np.array(out)


def mnist_like(n: int, seed: int) -> np.ndarray:
    """Sparse [0, 1] images: ~80% zero pixels like MNIST, so distances are realistic."""
    rng = np.random.default_rng(seed)
    return (rng.random((n, 784)) * (rng.random((n, 784)) < 0.2)).astype(np.float32)


@pytest.mark.parametrize("sigma", [0.1, 0.2, 1.0])
def test_matches_direct_float64_sum_in_784_dimensions(sigma):
    x, mu = mnist_like(50, 0), mnist_like(400, 1)
    mu[:5] = x[:5] + 0.01  # some samples close to test points: the hard case at small sigma
    got = log_likelihood(torch.from_numpy(x), torch.from_numpy(mu), [sigma], batch=16)[0].numpy()
    np.testing.assert_allclose(got, direct(x, mu, sigma), rtol=1e-6)


def test_matches_direct_float64_sum_at_sigma_01_in_2304_dimensions():
    """Faces-sized (48 x 48), dense pixels, the smallest sigma of the grid: the hardest case for
    the ||x||^2 + ||mu||^2 - 2 x.mu expansion: in float32 it errs here by up to 0.017 nats per
    point (5e-6 relative), 0.004 after centring (1.2e-6); float64 from centred data passes."""
    rng = np.random.default_rng(8)
    mu = rng.random((300, 2304)).astype(np.float32)
    x = np.concatenate([mu[:10] + 0.005, rng.random((20, 2304)).astype(np.float32)])
    got = log_likelihood(torch.from_numpy(x), torch.from_numpy(mu), [0.1], batch=8)[0].numpy()
    np.testing.assert_allclose(got, direct(x, mu, 0.1), rtol=1e-6)


def test_blocks_bound_memory_without_changing_the_answer():
    x, mu = mnist_like(37, 9), mnist_like(120, 10)
    one = log_likelihood(torch.from_numpy(x), torch.from_numpy(mu), [0.2, 0.5], batch=37)
    for batch in (1, 5, 16):
        blocked = log_likelihood(torch.from_numpy(x), torch.from_numpy(mu), [0.2, 0.5], batch)
        np.testing.assert_allclose(blocked.numpy(), one.numpy(), rtol=1e-12)


def test_every_sigma_from_one_distance_computation():
    x, mu = mnist_like(20, 2), mnist_like(100, 3)
    grid = [0.1, 0.3, 1.0]
    together = log_likelihood(torch.from_numpy(x), torch.from_numpy(mu), grid)
    for row, s in zip(together, grid, strict=True):
        np.testing.assert_allclose(row.numpy(), direct(x, mu, s), rtol=1e-6)


def test_agrees_with_scikit_learn_brute_force_kernel_density():
    x, mu = mnist_like(30, 4), mnist_like(200, 5)
    # exact only when one leaf holds every sample (its default tree was measured +32 nats off)
    kde = KernelDensity(bandwidth=0.2, leaf_size=len(mu)).fit(mu.astype(np.float64))
    got = log_likelihood(torch.from_numpy(x), torch.from_numpy(mu), [0.2])[0].numpy()
    np.testing.assert_allclose(got, kde.score_samples(x.astype(np.float64)), rtol=1e-6)


def test_sigma_is_the_argmax_of_mean_validation_likelihood():
    spec = ParzenSpec(samples=0, sigma_range=(-1, 0), sigma_num=10, valid=0, batch=100)
    np.testing.assert_allclose(sigmas(spec), np.logspace(-1, 0, 10))
    valid, mu = mnist_like(40, 6), mnist_like(300, 7)
    chosen = select_sigma(torch.from_numpy(valid), torch.from_numpy(mu), spec)
    by_hand = [direct(valid, mu, s).mean() for s in sigmas(spec)]
    np.testing.assert_allclose(chosen.valid_ll, by_hand, rtol=1e-6)
    assert chosen.sigma == sigmas(spec)[int(np.argmax(by_hand))]
    assert 0.1 < chosen.sigma < 1.0  # an interior optimum: the grid brackets it


def test_standard_error_is_population_std_over_sqrt_n():
    ll = torch.tensor([1.0, 2.0, 4.0, 7.0])
    mean, se = mean_and_se(ll)
    assert mean == 3.5
    assert se == pytest.approx(np.std([1, 2, 4, 7], ddof=0) / 2)
