"""Stage `inception`: the Fréchet Inception Distance (Heusel et al., 2017) of every seed's samples
and of held-out real images against the test images, with the standard Inception-v3 pool
features (torchmetrics, which reads torch-fidelity's weights file, ``pt_inception-2015-12-05``).

It runs only when params ``inception.weights`` names a local weights file: this pipeline never
downloads weights. Without one it says so in one line and writes that to ``inception.json``;
the classifier-feature metrics of stage `quality` are the offline measure. Grey images are
repeated over three channels and every image is scaled to bytes as the figures show it
(images.py); torchmetrics resizes them to 299 x 299.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from pipeline.artifacts import load_processed, load_samples
from pipeline.datasets import SOURCES
from pipeline.images import for_display
from pipeline.params import DatasetParams, Params
from pipeline.paths import Paths
from pipeline.plumbing.errors import PipelineError
from pipeline.plumbing.files import md5sum, write_text


def as_bytes(images: np.ndarray, ds: DatasetParams, scale: float | None) -> torch.Tensor:
    """N x 3 x H x W uint8, as Inception-v3 expects."""
    shape = SOURCES[ds.source].image_shape
    x = for_display(images, SOURCES[ds.source].display, scale).reshape(len(images), -1, *shape[-2:])
    x = torch.from_numpy(np.clip(np.rint(255 * x), 0, 255).astype(np.uint8))
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def extractor(weights: Path):
    """torchmetrics' Inception-v3 (2048 pool features) with the weights at `weights`; a file
    that is not such weights is one error naming it."""
    from torchmetrics.image.fid import NoTrainInceptionV3

    if not weights.is_file():
        raise PipelineError(f"{weights}: no such file (params inception.weights)")
    try:
        return NoTrainInceptionV3("inception-v3-compat", ["2048"], str(weights))
    except Exception as err:  # torch.load and load_state_dict raise many kinds
        why = f"{type(err).__name__}: {(str(err).splitlines() or [''])[0][:200]}"
        raise PipelineError(
            f"{weights}: not Inception-v3 weights in torch-fidelity's format ({why})"
        ) from None


def frechet_inception(
    net, real: torch.Tensor, sets: dict[str, torch.Tensor], batch: int
) -> dict[str, float]:
    from torchmetrics.image.fid import FrechetInceptionDistance

    metric = FrechetInceptionDistance(feature=net, reset_real_features=False)
    for start in range(0, len(real), batch):
        metric.update(real[start : start + batch], real=True)
    out = {}
    for name, x in sets.items():
        metric.reset()
        for start in range(0, len(x), batch):
            metric.update(x[start : start + batch], real=False)
        out[name] = float(metric.compute())
    return out


def run(params: Params, ds: DatasetParams) -> None:
    paths = Paths(ds.name)
    spec = params.inception
    if spec.weights is None:
        note = (
            "no Inception-v3 weights (params inception.weights is null): Inception FID "
            "skipped; stage quality has the classifier-feature metrics"
        )
        print(f"{ds.name}: {note}")
        write_text(paths.inception, json.dumps({"fid": None, "note": note}, indent=2) + "\n")
        return
    weights = Path(spec.weights)
    net = extractor(weights)
    data = load_processed(ds.name)
    test = data.test(0)
    scale = float(np.abs(data.train).max())
    n = spec.samples
    sets = {str(s): as_bytes(load_samples(ds.name, s)[:n], ds, scale) for s in ds.seeds}
    sets["reference"] = as_bytes(data.valid(0)[:n], ds, scale)
    with torch.no_grad():
        fid = frechet_inception(net, as_bytes(test[:n], ds, scale), sets, spec.batch)
    out = {
        "fid": float(np.mean([fid[str(s)] for s in ds.seeds])),
        "reference": fid.pop("reference"),
        "seeds": fid,
        "n": min(n, len(test)),
        "weights": str(weights),
        "weights_md5": md5sum(weights),
    }
    write_text(paths.inception, json.dumps(out, indent=2) + "\n")
