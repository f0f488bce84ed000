"""Do the metrics beyond Parzen flag a collapsed generator as Parzen does? Any generator
checkpoints of one dataset, each scored as stage `quality` scores a seed (the committed
classifier's features, against the test images) and by Table 1's Parzen protocol.

    python -m studies.beyond NAME=checkpoints/mnist/seed-2/generator_last.pt [NAME=PATH ...] \\
        [--dataset mnist] [--samples 10000]

Each generator draws `--samples` images from stream "samples" of seed 0 (the same noise for
every generator). Prints one row per generator: Parzen test LL, FCD, KID, precision, recall,
coverage, modes covered, class KL and the pixel memorisation share; then the same for held-out
real images.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from pipeline import classifier_nets, fidelity, streams
from pipeline import params as P
from pipeline.artifacts import load_processed, read_json, rerun
from pipeline.models import draw_samples, load_generator
from pipeline.parzen_protocol import evaluate, evaluate_fold
from pipeline.paths import Paths
from pipeline.stages.quality import in_features

COLUMNS = (
    "parzen",
    "fid",
    "kid",
    "precision",
    "recall",
    "coverage",
    "modes_covered",
    "class_kl",
    "pixel_closer",
)


def score(
    x: torch.Tensor,
    ds: P.DatasetParams,
    params: P.Params,
    data,
    net,
    real,
    record,
    typical,
    held_out: bool = False,
) -> dict:
    """`held_out`: `x` are validation rows, so sigma is chosen on training rows (as stage
    `references` does), not on the validation rows they contain."""
    feats, logits = classifier_nets.embed(net, x)
    found = in_features(feats, logits, real, np.asarray(record["class_share"]), params.quality)
    train = torch.from_numpy(data.train)
    pixels = fidelity.memorisation(fidelity.nearest_distances(x, train), typical)
    if held_out:
        test = torch.from_numpy(data.test(0))
        parzen = evaluate_fold(x, train[: ds.parzen.valid], test, ds.parzen, False)[0]
    else:
        parzen = evaluate(x, data, ds, fine=False)[0]
    return {**found, "parzen": parzen["test_ll"], "pixel_closer": pixels["closer_than_held_out"]}


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m studies.beyond", description=__doc__.splitlines()[0]
    )
    parser.add_argument("generators", nargs="+", help="NAME=PATH of a generator checkpoint")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--samples", type=int, default=10000)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args()
    params = P.load(args.params)
    ds = params.dataset(args.dataset)
    paths = Paths(ds.name)
    data = load_processed(ds.name)
    record = read_json(paths.classifier_record, f"classifier@{ds.name}", ("class_share",))
    net = classifier_nets.load(
        paths.classifier / classifier_nets.FILE, rerun("classifier", ds.name)
    )
    test = torch.from_numpy(data.test(0))
    real, _ = classifier_nets.embed(net, test)
    typical = fidelity.nearest_distances(test, torch.from_numpy(data.train))
    sets = {}
    for spec in args.generators:
        name, _, path = spec.partition("=")
        G = load_generator(Path(path), ds.model, data.image_shape, f"check {path}")
        sets[name] = draw_samples(G, ds.model, args.samples, streams.generator(0, "samples"))
    held_out = "held-out images (sigma on training rows)"
    sets[held_out] = torch.from_numpy(data.valid(0)[: args.samples])
    print("| set | " + " | ".join(COLUMNS) + " |\n|---|" + "---|" * len(COLUMNS))
    for name, x in sets.items():
        row = score(x, ds, params, data, net, real, record, typical, name == held_out)
        cells = [f"{row[c]:.3g}" if isinstance(row[c], float) else str(row[c]) for c in COLUMNS]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
