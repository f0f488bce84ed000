"""Stage `quality`: every seed's samples scored beyond the Parzen window (fidelity.py), beside real
held-out images scored the same way (issue "Beyond Table 1").

- Feature space (sections with a classifier, stage `classifier`): the test images are the real
  set; each seed's samples and, as the reference row, the validation images (held-out real
  images, as many as the samples: what a perfect generator would get) are scored against them:
  Fréchet and kernel distance, precision / recall / density / coverage, the Inception-score
  analogue, and the class histogram (modes covered, KL to the training labels' shares).
- Memorisation (every section): each sample's distance to its nearest training image in pixel
  space (and in feature space), against the test images' own; the share of samples nearer to
  the training set than the median test image is. Histograms per seed are DVC plots.
- Parzen against N: the shown seed's generator draws the largest of ``references.sample_sizes``
  (its ``samples`` stream, so the first m rows are the stage `sample`'s) and the first N are
  scored by Table 1's protocol; stage `references` does the same for the training images.

Writes ``quality.json`` (DVC metrics: every seed, their mean over the surviving seeds, the
reference), ``classes.csv``, ``memorisation/seed-<n>.csv`` and ``parzen_n_gan.csv`` (DVC plots).
"""

from __future__ import annotations

import json

import numpy as np
import torch
from torch import Tensor

from pipeline import classifiers, fidelity, streams
from pipeline.artifacts import (
    load_processed,
    load_samples,
    read_json,
    read_run,
    rerun,
    shown_seed,
    survivors,
)
from pipeline.datasets import in_table1
from pipeline.models import load_generator, sample_noise
from pipeline.params import DatasetParams, Params, QualitySpec
from pipeline.parzen_protocol import BY_N_FIELDS, by_n
from pipeline.paths import Paths, atomic_dir, write_csv, write_text

SUMMARY_KEYS = ("fid", "kid", "precision", "recall", "density", "coverage", "inception_score",
                "modes_covered", "class_kl", "pixel_closer_than_held_out",
                "features_closer_than_held_out")  # fmt: skip


def in_features(feats: Tensor, logits: Tensor, real: Tensor, share: np.ndarray,
                spec: QualitySpec) -> dict:  # fmt: skip
    """One set of samples (features and logits) against the real test set's features."""
    kid, kid_sd = fidelity.kernel_distance(real, feats, spec.kid_subsets, spec.kid_subset_size,
                                           spec.seed)  # fmt: skip
    score, score_sd = fidelity.inception_score(logits, spec.is_splits, spec.seed)
    classes = fidelity.class_histogram(logits.argmax(1).numpy(), share, spec.mode_min_share)
    return {
        "fid": fidelity.frechet(real, feats),
        "kid": kid,
        "kid_sd": kid_sd,
        **fidelity.precision_recall(real.numpy(), feats.numpy(), spec.nearest_k),
        "inception_score": score,
        "inception_score_sd": score_sd,
        **classes,
    }


def parzen_by_n(ds: DatasetParams, sizes: tuple[int, ...], seed: int, data) -> list[dict]:
    """The shown seed's generator: the first N of max(sizes) samples scored for every N."""
    G = load_generator(Paths(ds.name).seed_models(seed) / "generator_best.pt", ds.model,
                       data.image_shape, rerun("train", ds.name))  # fmt: skip
    with torch.no_grad():
        drawn = G(sample_noise(ds.model, max(sizes), streams.generator(seed, "samples"), "cpu"))
    return by_n(drawn, sizes, data, ds)


def run(params: Params, ds: DatasetParams) -> None:
    paths = Paths(ds.name)
    spec = params.quality
    data = load_processed(ds.name)
    trained = read_run(ds.name)
    alive = [s for s in survivors(trained) if s in ds.seeds]
    train = torch.from_numpy(data.train)
    test = torch.from_numpy(data.test(0))
    held_out = torch.from_numpy(data.valid(0))
    sets = {str(s): torch.from_numpy(load_samples(ds.name, s)) for s in ds.seeds}
    sets["reference"] = held_out[: len(sets[str(ds.seeds[0])])]

    record = read_json(paths.classifier_record, f"classifier@{ds.name}", ("classes",))
    results: dict[str, dict] = {name: {} for name in sets}
    if record["classes"]:
        net = classifiers.load(paths.classifier / classifiers.FILE, rerun("classifier", ds.name))
        real, _ = classifiers.embed(net, test)
        train_feats, _ = classifiers.embed(net, train)
        typical = fidelity.nearest_distances(real, train_feats)
        share = np.asarray(record["class_share"])
        for name, x in sets.items():
            feats, logits = classifiers.embed(net, x)
            results[name] = in_features(feats, logits, real, share, spec)
            found = fidelity.memorisation(fidelity.nearest_distances(feats, train_feats), typical)
            results[name]["features_closer_than_held_out"] = found["closer_than_held_out"]
    typical = fidelity.nearest_distances(test, train)
    histograms = {}
    for name, x in sets.items():
        to_train = fidelity.nearest_distances(x, train)
        found = fidelity.memorisation(to_train, typical)
        results[name].update({f"pixel_{k}": v for k, v in found.items()})
        histograms[name] = fidelity.histogram({"samples": to_train, "test images": typical})
    class_rows = [{"set": name, "class": c, "share": n / len(sets[name])}
                  for name, r in results.items()
                  for c, n in enumerate(r.pop("class_counts", []))]  # fmt: skip
    shown = shown_seed(trained)
    n_rows = []
    if in_table1(ds.name):
        n_rows = parzen_by_n(ds, params.references.sample_sizes, shown, data)

    seeds = {s: {**results[s], "collapsed": int(s) not in alive} for s in map(str, ds.seeds)}
    summary = {key: float(np.mean([seeds[str(s)][key] for s in alive]))
               for key in SUMMARY_KEYS if alive and key in results["reference"]}  # fmt: skip
    out = {
        **summary,
        "survived": len(alive),
        "n_samples": len(sets[str(ds.seeds[0])]),
        "real_set": f"{len(test)} test images",
        "reference_set": f"{len(sets['reference'])} validation images",
        "classifier": bool(record["classes"]),
        "parzen_n_seed": shown,
        "reference": results["reference"],
        "seeds": seeds,
    }
    with atomic_dir(paths.memorisation) as folder:
        for name, rows in histograms.items():
            stem = name if name == "reference" else f"seed-{name}"
            write_csv(folder / f"{stem}.csv", list(rows[0]), rows)
    write_csv(paths.classes, ["set", "class", "share"], class_rows)  # none without labels
    write_csv(paths.parzen_by_n_gan, BY_N_FIELDS, n_rows)
    write_text(paths.quality, json.dumps(out, indent=2) + "\n")
