"""Stage `references`: the Parzen estimate's sanity rows (Theis, van den Oord & Bethge, 2016,
"A note on the evaluation of generative models"), each scored by Table 1's protocol (the
section's number of samples, sigma grid, validation and test sets: pipeline/parzen_protocol.py):

- ``training_set``: the first N training images as the samples (a model that memorised them);
- ``held_out``: N held-out real images, the validation rows, as the samples (a model that draws
  new images from the data distribution); sigma is then chosen on the first training rows,
  since the validation rows are the samples. Sections laid out in folds (TFD, LFW) have no such
  split of N images: null, with the reason;
- ``kmeans``: the centroids of k-means on the training set (k = ``references.kmeans``, at most a
  fifth of the training rows; Lloyd's iterations from k random training images), which Theis et
  al. found to beat the training images themselves;
- ``uniform_noise``: N images of uniform noise in [0, 1];
- and the training images' score against N (``references.sample_sizes`` up to the training set's
  size), beside the generator's from stage `quality` (``dvc plots show``).

Sections outside Table 1 (CIFAR-10, whose Parzen score is a diagnostic in GCN space) get a note.
"""

from __future__ import annotations

import json
import time

import numpy as np
import torch

from pipeline.artifacts import load_processed
from pipeline.datasets import in_table1
from pipeline.params import DatasetParams, Params, ReferencesSpec
from pipeline.parzen_protocol import BY_N_FIELDS, by_n, evaluate, evaluate_fold
from pipeline.paths import Paths, write_csv
from pipeline.plumbing.files import write_text

SEED = 0  # k-means initialisation and the noise images


def kmeans_centroids(train: np.ndarray, spec: ReferencesSpec) -> tuple[np.ndarray, dict]:
    from sklearn.cluster import KMeans

    k = min(spec.kmeans, len(train) // 5)
    start = time.perf_counter()
    # centroids start at k random training images: k-means++ seeding of 10,000 centroids takes
    # sklearn over 40 minutes on MNIST here (float64 distances), one Lloyd iteration 9 s
    fitted = KMeans(
        n_clusters=k, n_init=1, max_iter=spec.kmeans_iter, init="random", random_state=SEED
    ).fit(train)
    about = {
        "k": k,
        "iterations": int(fitted.n_iter_),
        "inertia": float(fitted.inertia_),
        "seconds": round(time.perf_counter() - start, 1),
    }
    return fitted.cluster_centers_.astype(np.float32), about


def run(params: Params, ds: DatasetParams) -> None:
    paths = Paths(ds.name)
    if not in_table1(ds.name):
        note = f"{ds.name} is not in Table 1 (its Parzen score is a diagnostic): no sanity rows"
        write_text(paths.references, json.dumps({"note": note}, indent=2) + "\n")
        write_csv(paths.parzen_by_n, BY_N_FIELDS, [])
        return
    data = load_processed(ds.name)
    n = ds.parzen.samples
    train = data.train

    def scored(samples: np.ndarray) -> dict:
        return evaluate(torch.from_numpy(samples), data, ds, fine=False)[0]

    if ds.folds == 1:
        held_out, _, _ = evaluate_fold(
            torch.from_numpy(data.valid(0)[:n]),
            torch.from_numpy(train[: ds.parzen.valid]),  # sigma on training rows
            torch.from_numpy(data.test(0)),
            ds.parzen,
            fine=False,
        )
        held_out["sigma_chosen_on"] = f"training rows 0-{ds.parzen.valid or len(train)}"
    else:
        held_out = {"note": f"TFD's layout has no held-out split of {n} images"}
    centroids, about = kmeans_centroids(train, params.references)
    noise = np.random.default_rng(SEED).random((n, train.shape[1]), dtype=np.float32)
    rows = {
        "training_set": {**scored(train[:n]), "n": min(n, len(train))},
        "held_out": held_out,
        "kmeans": {**scored(centroids), **about},
        "uniform_noise": scored(noise),
    }
    n_rows = by_n(torch.from_numpy(train), params.references.sample_sizes, data, ds)
    write_csv(paths.parzen_by_n, BY_N_FIELDS, n_rows)
    write_text(paths.references, json.dumps({**rows, "n_samples": n}, indent=2) + "\n")
