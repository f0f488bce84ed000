"""Stage `sample`: draw from each seed's selected generator; Figures 2 and 3 of the paper.

- m = ``parzen.samples`` samples (10,000) from each seed's G without dropout, on the seed's
  ``samples`` stream (streams.py), saved for the Parzen stage.
- The figures show one seed: the typical one, the surviving seed with the median best
  validation score (artifacts.shown_seed), chosen without the test set.
- Figure 2 (this dataset's panel): fair random samples (the first 20 draws, not cherry-picked)
  in 4 rows x 5 columns, and in a sixth column the training example nearest (squared Euclidean
  distance in the model's input space) to the sample in the fifth column, as the released figure
  scripts drew it. GCN data (CIFAR-10) are shown as the released scripts did: divided by the
  largest |value| among the samples shown, so that [-1, 1] maps to black..white; the neighbours
  get the same scale. The stage `figures` puts the panels together.
- Figure 3: rows of linear interpolations between two random points in z space.
"""

from __future__ import annotations

import io

import numpy as np
import torch

from pipeline import streams
from pipeline.artifacts import load_processed, read_run, rerun, save_samples, shown_seed
from pipeline.datasets import SOURCES
from pipeline.images import for_display
from pipeline.models import draw_samples, load_generator, sample_noise
from pipeline.params import DatasetParams, Params
from pipeline.paths import Paths
from pipeline.plumbing.errors import PipelineError
from pipeline.plumbing.files import Outputs, outputs, put

ROWS, COLS = 4, 5  # Figure 2: 4 x 5 samples + 1 neighbour column
INTERPOLATIONS, STEPS = 6, 10  # Figure 3


def nearest(queries: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Index of the training row nearest each query in squared Euclidean distance."""
    q = torch.from_numpy(queries).double()
    t = torch.from_numpy(train).double()
    dist = (t * t).sum(1)[None, :] - 2 * q @ t.T  # + ||q||^2, constant per row
    return dist.argmin(1).numpy()


def grid(images: np.ndarray, rows: int, cols: int, shape: tuple[int, ...], pad: int = 1):
    """Tile (rows*cols, d) images in [0, 1] into one array with `pad` white pixels between."""
    h, w = shape[-2:]
    channels = shape[0] if len(shape) == 3 else 1
    canvas = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, channels), np.float32)
    for i, image in enumerate(images[: rows * cols]):
        r, c = divmod(i, cols)
        tile = image.reshape(channels, h, w).transpose(1, 2, 0)
        canvas[
            pad + r * (h + pad) : (r + 1) * (h + pad), pad + c * (w + pad) : (c + 1) * (w + pad)
        ] = tile
    return canvas.squeeze(-1) if channels == 1 else canvas


def save_png(path, image: np.ndarray, scale: int = 4) -> None:
    import matplotlib.image

    big = image.repeat(scale, 0).repeat(scale, 1).clip(0, 1)
    png = io.BytesIO()
    matplotlib.image.imsave(png, big, cmap="gray", vmin=0, vmax=1, format="png")
    put(path, png.getvalue())


@torch.no_grad()
def run(params: Params, ds: DatasetParams) -> None:
    paths = Paths(ds.name)
    data = load_processed(ds.name)
    train, shape = data.train, data.image_shape
    run = read_run(ds.name)
    if sorted(run["seeds"], key=int) != sorted(map(str, ds.seeds), key=int):
        raise PipelineError(
            f"{Paths(ds.name).train_record}: trained seeds {sorted(map(int, run['seeds']))}, but "
            f"params.yaml '{ds.name}.seeds' is {list(ds.seeds)}; {rerun('train', ds.name)}"
        )
    shown = shown_seed(run)
    with outputs() as out:  # the samples and both figures replaced together, or none
        folder = out.folder(paths.samples)
        for seed in ds.seeds:
            path = paths.seed_models(seed) / "generator_best.pt"
            G = load_generator(path, ds.model, shape, rerun("train", ds.name))
            rng = streams.generator(seed, "samples")
            samples = draw_samples(G, ds.model, ds.parzen.samples, rng).numpy()
            save_samples(folder / paths.seed_samples(seed).name, samples)
            if seed == shown:
                draw_figures(G, samples, rng, train, shape, ds, paths, out)


def draw_figures(
    G,
    samples: np.ndarray,
    rng: torch.Generator,
    train: np.ndarray,
    shape: tuple[int, ...],
    ds: DatasetParams,
    paths: Paths,
    out: Outputs,
) -> None:
    """This dataset's Figure 2 panel and Figure 3 from one seed's G and samples, staged in `out`;
    `rng` goes on from the samples' draws."""
    display = SOURCES[ds.source].display

    shown = samples[: ROWS * COLS].reshape(ROWS, COLS, -1)
    neighbours = train[nearest(shown[:, -1], train)]
    panel = np.concatenate([shown, neighbours[:, None]], axis=1).reshape(ROWS * (COLS + 1), -1)
    panel = for_display(panel, display, scale=float(np.abs(shown).max()))
    save_png(out.file(paths.figures / "figure2.png"), grid(panel, ROWS, COLS + 1, shape))

    ends = sample_noise(ds.model, 2 * INTERPOLATIONS, rng, "cpu").view(INTERPOLATIONS, 2, -1)
    t = torch.linspace(0, 1, STEPS)[None, :, None]
    z = (1 - t) * ends[:, :1] + t * ends[:, 1:]
    figure3 = for_display(G(z.reshape(INTERPOLATIONS * STEPS, -1)).numpy(), display)
    save_png(out.file(paths.figures / "figure3.png"), grid(figure3, INTERPOLATIONS, STEPS, shape))
