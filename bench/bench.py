"""Benchmarks, measured side by side in one run on this machine; prints ratios, asserts nothing.

1. Training, per dataset's nets, precision and kernels (fp32 eager, fp32 fused, bf16): images/s
   of one epoch (MNIST in full, the 8000-unit nets on `--steps` minibatches; best of two, ours
   and the naive loop in turn) and
   achieved GFLOP/s (torch's FLOP counter over every matrix product and convolution of a step,
   forward and backward), against
   - the roofline: the same products, recorded from a real step (shapes, dtypes, layouts) and
     replayed back to back with nothing else (bench/kernels.py);
   - a straightforward implementation of the same nets and update (bench/naive.py: DataLoader,
     torch.optim.SGD per net, zero_grad/backward/step, .item() every step), in fp32;
   - fp32 eager, for the other rows.
2. Parzen: 10,000 test points against 10,000 samples at sigma 0.2 in 784 and 2304 dimensions,
   and the full cross-validation of the paper's 10 sigmas (1,000 validation points, then the
   10,000 test points at the chosen sigma), against scikit-learn's KernelDensity in its exact
   setting (one leaf holding every sample); the largest absolute difference of the answers.
   scikit-learn is timed on `--sklearn-points` points and scaled linearly: its exact KDE costs
   the same per point and, having nothing to reuse across sigmas, the same per sigma
   (`--sklearn-points 10000` times the single-sigma task in full).
3. Pipeline overhead: `python -m pipeline --help`, `dvc status`, and a no-op `dvc repro` of the
   stages `dvc status` calls up to date (so that it can never start a training run).

Data: MNIST from data/processed/mnist.npz when `dvc repro` has built it, else uniform noise of the
same shape (said in the output); the other nets train on noise (dense and conv kernels do not
depend on the values). Usage: python -m bench [--steps N] [--device cpu|cuda] [--quick]
[--nets mnist ...] [--training-only]; threads: torch's default, or OMP_NUM_THREADS
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from bench.kernels import record_step, replay_rate, sync, warmed_trainer
from bench.naive import NaiveGAN
from pipeline import machine
from pipeline import params as P
from pipeline import parzen_window as parzen
from pipeline.adversarial import check_kernels, check_precision
from pipeline.artifacts import load_processed
from pipeline.datasets import SOURCES
from pipeline.paths import Paths
from pipeline.plumbing.errors import PipelineError

NETS = ("mnist", "lfw", "cifar10_fc", "cifar10_conv")
VARIANTS = (("fp32", "eager"), ("fp32", "fused"), ("bf16", "eager"))  # (precision, kernels)


def training_data(ds: P.DatasetParams, steps: int | None) -> tuple[torch.Tensor, str]:
    """MNIST's real training set when built (all of it unless `steps`), else noise."""
    source = SOURCES[ds.source]
    rows = (ds.split.train[1] - ds.split.train[0]) if steps is None else steps * ds.train.batch_size
    if ds.name == "mnist" and Paths(ds.name).processed.is_file():
        return torch.from_numpy(load_processed(ds.name).train[:rows]), "real"
    gen = torch.Generator().manual_seed(0)
    return torch.rand(rows, source.dim, generator=gen), "noise"


def timed(fn, device):
    """(seconds, result) of fn(), with the device synchronised on both sides."""
    sync(device)
    start = time.perf_counter()
    result = fn()
    sync(device)
    return time.perf_counter() - start, result


def bench_net(
    p: P.Params, name: str, steps: int | None, device, variants, repeats: int = 2
) -> None:
    """One row per (precision, kernels) of `variants`; `× fp32` is against fp32 eager."""
    ds = p.dataset(name)
    shape = SOURCES[ds.source].image_shape
    data, kind = training_data(ds, steps)
    B = ds.train.batch_size
    n_steps = len(data) // B
    images = n_steps * B
    naive_rate, fp32_rate = 0.0, None
    for precision, kernels in variants:
        q = dataclasses.replace(p, precision=precision, kernels=kernels)
        label = precision if kernels == "eager" else f"{precision} {kernels}"
        try:
            check_precision(precision, device)
            check_kernels(q, ds)
        except PipelineError as err:
            print(f"| {name} | {label} | skipped: {err} |")
            continue
        trainer = warmed_trainer(q, ds, data, device, shape)
        rate = 0.0
        for _ in range(repeats):  # ours and the naive loop in turn, the best of each
            rate = max(rate, images / timed(lambda t=trainer: t.epoch(1), device)[0])
            if (precision, kernels) == ("fp32", "eager"):
                naive = NaiveGAN(ds, data, shape, device)
                naive_rate = max(naive_rate, images / timed(naive.epoch, device)[0])
                del naive
        trainer.data = trainer.data[:B]
        flops, calls = record_step(lambda t=trainer: t.epoch(1))
        roofline = replay_rate(calls, flops, device)
        del calls
        achieved = rate / B * flops / 1e9
        fp32_rate = rate if (precision, kernels) == ("fp32", "eager") else fp32_rate
        vs_fp32 = f"{rate / fp32_rate:.2f}x" if fp32_rate else "—"
        if precision == "bf16" and machine.emulated_bf16(device):
            label = f"{label} (emulated: no hardware bf16)"
        print(
            f"| {name} ({kind}) | {label} | {n_steps} | {rate:,.0f} | {achieved:.1f} |"
            f" {roofline:.1f} | {achieved / roofline:.2f}x | {naive_rate:,.0f} |"
            f" {rate / naive_rate:.2f}x | {vs_fp32} |",
            flush=True,
        )


def parzen_points(d: int) -> tuple[np.ndarray, np.ndarray]:
    """10,000 samples and 10,000 test points: MNIST's training and test rows for d = 784 when
    built, else uniform noise in [0, 1]^d."""
    if d == 784 and Paths("mnist").processed.is_file():
        data = load_processed("mnist")
        samples, test = data.train[:10_000], data.test(0)[:10_000]
        return samples.astype(np.float64), test.astype(np.float64)
    rng = np.random.default_rng(0)
    return rng.random((10_000, d)), rng.random((10_000, d))


def sklearn_ll(samples: np.ndarray, x: np.ndarray, sigma: float) -> tuple[np.ndarray, float]:
    from sklearn.neighbors import KernelDensity

    start = time.perf_counter()
    kde = KernelDensity(bandwidth=sigma, leaf_size=len(samples)).fit(samples)  # exact: one leaf
    ll = kde.score_samples(x)
    return ll, time.perf_counter() - start


def bench_parzen(d: int, n_sk: int, device, spec: P.ParzenSpec) -> None:
    samples, test = parzen_points(d)
    valid = test[-1000:]  # stands in for the validation rows; only timing and agreement matter
    mu = torch.from_numpy(samples).to(device)
    x = torch.from_numpy(test).to(device)

    t_ours, ll = timed(lambda: parzen.log_likelihood(x, mu, [0.2])[0].cpu().numpy(), device)
    theirs, t_sk = sklearn_ll(samples, test[:n_sk], 0.2)
    t_sk_full = t_sk * len(test) / n_sk
    diff = np.abs(ll[:n_sk] - theirs).max()
    print(
        f"| {d} | score 10,000 points, σ 0.2 | {t_ours:.2f} s | {t_sk_full:.1f} s |"
        f" {t_sk_full / t_ours:.0f}x | {diff:.1e} |"
    )

    def ours_cv() -> float:
        chosen = parzen.select_sigma(torch.from_numpy(valid).to(device), mu, spec)
        parzen.log_likelihood(x, mu, [chosen.sigma]).cpu()
        return chosen.sigma

    t_ours, sigma = timed(ours_cv, device)
    grid = parzen.sigmas(spec)
    # scikit-learn has no reuse across sigmas: one full pass per sigma, linear in the points
    t_sk_full = t_sk / n_sk * (len(grid) * len(valid) + len(test))
    # agreement on every sigma of the grid, on the first n_sk / 10 validation points
    few = valid[: max(n_sk // 10, 1)]
    ours_grid = parzen.log_likelihood(torch.from_numpy(few).to(device), mu, grid).cpu().numpy()
    diff = max(
        np.abs(ours_grid[i] - sklearn_ll(samples, few, s)[0]).max() for i, s in enumerate(grid)
    )
    print(
        f"| {d} | cross-validate 10 σ on 1,000, score 10,000 at σ {sigma:.3g} |"
        f" {t_ours:.2f} s | {t_sk_full:.1f} s | {t_sk_full / t_ours:.0f}x |"
        f" {diff:.1e} (all 10 σ, {len(few)} points) |",
        flush=True,
    )


def bench_overhead() -> None:
    """CLI start-up, `dvc status`, and `dvc repro` of the stages that status calls up to date
    (all of them on a clean checkout): a no-op that can never start a training run."""

    def seconds(*cmd: str) -> float:
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        return time.perf_counter() - start

    print(f"python -m pipeline --help: {seconds(sys.executable, '-m', 'pipeline', '--help'):.2f} s")
    dvc = str(Path(sys.executable).with_name("dvc"))  # the environment's own dvc
    start = time.perf_counter()
    status = subprocess.run([dvc, "status", "--json"], capture_output=True, text=True, check=True)
    print(f"dvc status: {time.perf_counter() - start:.2f} s")
    changed = set(json.loads(status.stdout or "{}"))
    listed = subprocess.run(
        [dvc, "stage", "list", "--name-only"], capture_output=True, text=True, check=True
    )
    stages = listed.stdout.split()
    fresh = [s for s in stages if s not in changed]
    if not fresh:
        print("dvc repro (no-op): skipped, no stage is up to date")
        return
    what = "all stages" if len(fresh) == len(stages) else f"{len(fresh)} of {len(stages)} stages"
    print(f"dvc repro (no-op, {what}): {seconds(dvc, 'repro', '--single-item', *fresh):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="minibatches for 8000-unit nets")
    parser.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "cuda"],
        help="where to time (auto: CUDA if present)",
    )
    parser.add_argument(
        "--sklearn-points",
        type=int,
        default=1000,
        help="test points for the scikit-learn Parzen comparison",
    )
    parser.add_argument("--quick", action="store_true", help="MNIST on --steps batches too")
    parser.add_argument(
        "--nets", nargs="+", default=list(NETS), choices=NETS, help="training rows for these only"
    )
    parser.add_argument("--training-only", action="store_true", help="skip Parzen and overhead")
    args = parser.parse_args()
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    p = P.load("params.yaml", datasets=list(NETS))
    threads = torch.get_num_threads()
    here = machine.describe(device)
    print(
        f"{machine.in_words(here)}: {' '.join(here['isa'])}; torch {torch.__version__},"
        f" {device}, {threads} thread{'s' * (threads != 1)}\n"
    )
    print(
        "| nets | step | steps | images/s | GFLOP/s | roofline GFLOP/s | × roofline |"
        " naive fp32 images/s | × naive | × fp32 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.nets:
        steps = None if name == "mnist" and not args.quick else args.steps
        bench_net(p, name, steps, device, VARIANTS)
    if args.training_only:
        return
    print("\n| d | Parzen task | ours | scikit-learn exact | × faster | max abs diff (nats) |")
    print("|---|---|---|---|---|---|")
    for d in (784, 2304):
        bench_parzen(d, args.sklearn_points, device, p.dataset("mnist").parzen)
    print()
    bench_overhead()


if __name__ == "__main__":
    main()
