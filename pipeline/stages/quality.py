"""Stage `quality`: every seed's samples scored beyond the Parzen window (pipeline/metrics/,
fidelity.py), beside real held-out images scored the same way.

- Feature space (sections with a classifier, stage `classifier`): the test images are the real
  set; each seed's samples and, as the reference row, the validation images (held-out real
  images, as many as the samples: what a perfect generator would get) are scored against them:
  every metric of metrics/registry.py (Fréchet and kernel distance, precision / recall /
  density / coverage, the Inception-score analogue, the class histogram).
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

from pipeline import classifier_nets, fidelity, streams
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
from pipeline.metrics import Samples, registry
from pipeline.models import draw_samples, load_generator
from pipeline.params import DatasetParams, Params
from pipeline.parzen_protocol import BY_N_FIELDS, by_n
from pipeline.paths import Paths, csv_text
from pipeline.plumbing.files import outputs, put

MEMORISATION_KEYS = ("pixel_closer_than_held_out", "features_closer_than_held_out")
SUMMARY_KEYS = (*registry.columns(), *MEMORISATION_KEYS)  # averaged over the surviving seeds


def parzen_by_n(ds: DatasetParams, sizes: tuple[int, ...], seed: int, data) -> list[dict]:
    """The shown seed's generator: the first N of max(sizes) samples scored for every N."""
    G = load_generator(
        Paths(ds.name).seed_models(seed) / "generator_best.pt",
        ds.model,
        data.image_shape,
        rerun("train", ds.name),
    )
    drawn = draw_samples(G, ds.model, max(sizes), streams.generator(seed, "samples"))
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
        net = classifier_nets.load(
            paths.classifier / classifier_nets.FILE, rerun("classifier", ds.name)
        )
        real, _ = classifier_nets.embed(net, test)
        train_feats, _ = classifier_nets.embed(net, train)
        typical = fidelity.nearest_distances(real, train_feats)
        share = np.asarray(record["class_share"])
        for name, x in sets.items():
            feats, logits = classifier_nets.embed(net, x)
            results[name] = registry.compute(Samples(feats, logits, real, share, spec))
            found = fidelity.memorisation(fidelity.nearest_distances(feats, train_feats), typical)
            results[name]["features_closer_than_held_out"] = found["closer_than_held_out"]
    typical = fidelity.nearest_distances(test, train)
    histograms = {}
    for name, x in sets.items():
        to_train = fidelity.nearest_distances(x, train)
        found = fidelity.memorisation(to_train, typical)
        results[name].update({f"pixel_{k}": v for k, v in found.items()})
        histograms[name] = fidelity.histogram({"samples": to_train, "test images": typical})
    class_rows = [
        {"set": name, "class": c, "share": n / len(sets[name])}
        for name, r in results.items()
        for c, n in enumerate(r.pop("class_counts", []))
    ]
    shown = shown_seed(trained)
    n_rows = []
    if in_table1(ds.name):
        n_rows = parzen_by_n(ds, params.references.sample_sizes, shown, data)

    seeds = {s: {**results[s], "collapsed": int(s) not in alive} for s in map(str, ds.seeds)}
    summary = {
        key: float(np.mean([seeds[str(s)][key] for s in alive]))
        for key in SUMMARY_KEYS
        if alive and key in results["reference"]
    }
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
    with outputs() as staged:  # all four replaced together, or none
        folder = staged.folder(paths.memorisation)
        for name, rows in histograms.items():
            stem = name if name == "reference" else f"seed-{name}"
            put(folder / f"{stem}.csv", csv_text(list(rows[0]), rows))
        staged.text(paths.classes, csv_text(["set", "class", "share"], class_rows))
        staged.text(paths.parzen_by_n_gan, csv_text(BY_N_FIELDS, n_rows))
        staged.text(paths.quality, json.dumps(out, indent=2) + "\n")
