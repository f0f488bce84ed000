"""Does D tell CIFAR-10's real images from G's by their JPEG smoothing? The mirror's CIFAR-10 is
JPEG (quality 75, 4:2:0 chroma: mean abs. error 5.8/255), which smooths the colour detail that a
fully connected G draws as grain. The fully connected run is trained as the pipeline trains it,
and every `--every` steps D (without dropout, as Pylearn2 evaluates) scores held-out images:

- real validation images as stored, and the same passed once more through the JPEG round trip;
- G's samples as drawn, passed through the JPEG round trip, and blurred (Gaussian, σ 0.5 px);
  and, to tell the JPEG's parts apart, through 8 bits alone, through a JPEG without chroma
  subsampling (4:4:4), and through the 4:2:0 chroma subsampling alone (no DCT, no rounding).

An image goes through JPEG as the mirror's went: GCN space is mapped to 0..255 per image by its
own minimum and maximum, saved as JPEG by Pillow at quality 75 (the quantisation tables of the
mirror's files), read back and mapped back (so each image keeps its own scale and offset). If D
calls G's JPEG'd samples real where it calls the plain ones fake, the JPEG smoothing is a cue it
uses; if the round trip changes little, it is not the reason D wins.

    python -m studies.jpeg_cue [--steps 300] [--every 50] [--n 1000] [--seed 0] [--g-chroma]
                               [--out metrics/studies/jpeg-cue/seed-0.csv]

`--g-chroma` trains G with its output's colour subsampled 4:2:0, as the mirror stored the real
images' (a fixed linear map after G's output layer): if D then loses its early lead, the JPEG
colour cue is why it wins. Every mark also records the samples' spread (as `train` logs it,
against the scored real images').
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from pipeline import params as P
from pipeline.adversarial import Trainer
from pipeline.artifacts import load_processed
from pipeline.models import sample_noise
from pipeline.paths import write_csv
from studies.steps import first_steps

QUALITY = 75  # the mirror's files carry the standard tables at quality 75 (Pillow's default)
SETS = (
    "real",
    "real_jpeg",
    "fake",
    "fake_jpeg",
    "fake_blur",
    "fake_8bit",
    "fake_jpeg_444",
    "fake_chroma_420",
)


def jpeg_round_trip(
    images: np.ndarray, shape: tuple[int, int, int], subsampling: int | None = 2
) -> np.ndarray:
    """Images (N x C*H*W, channels first, any scale) through 8 bits and a JPEG at QUALITY and
    back to their own scale and offset: only the JPEG's loss of detail changes them.
    `subsampling`: Pillow's chroma subsampling (2: 4:2:0 as the mirror's files, 0: 4:4:4);
    None: 8 bits alone, no JPEG."""
    out = np.empty_like(images)
    for i, x in enumerate(images):
        low, high = float(x.min()), float(x.max())
        span = high - low if high > low else 1.0
        pixels = np.rint((x - low) / span * 255).clip(0, 255).astype(np.uint8)
        if subsampling is not None:
            buffer = io.BytesIO()
            Image.fromarray(pixels.reshape(shape).transpose(1, 2, 0)).save(
                buffer, "JPEG", quality=QUALITY, subsampling=subsampling
            )
            pixels = np.asarray(Image.open(buffer)).transpose(2, 0, 1).reshape(-1)
        out[i] = pixels.astype(np.float32) / 255 * span + low
    return out


def chroma_420_tensor(x: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    """Each image's colour (JPEG's YCbCr, BT.601) averaged over 2x2 pixels and spread back, its
    brightness untouched: the 4:2:0 subsampling alone, in floating point, no DCT (a linear map,
    so gradients pass through it)."""
    to_ycc = torch.tensor(
        [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]],
        dtype=x.dtype,
    )
    ycc = torch.einsum("ij,njhw->nihw", to_ycc, x.reshape(-1, *shape))
    chroma = F.interpolate(F.avg_pool2d(ycc[:, 1:], 2), scale_factor=2, mode="nearest")
    back = torch.einsum(
        "ij,njhw->nihw", torch.linalg.inv(to_ycc), torch.cat([ycc[:, :1], chroma], 1)
    )
    return back.reshape(x.shape)


def chroma_420(images: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """`chroma_420_tensor` on an array of images (N x C*H*W)."""
    return chroma_420_tensor(torch.from_numpy(images), shape).numpy()


def blur(images: np.ndarray, shape: tuple[int, int, int], sigma: float = 0.5) -> np.ndarray:
    """A Gaussian blur of each channel (σ in pixels, 5x5 kernel, edges reflected)."""
    r = torch.arange(-2, 3, dtype=torch.float32)
    k1 = torch.exp(-(r**2) / (2 * sigma**2))
    kernel = (k1[:, None] * k1[None, :] / k1.sum() ** 2).expand(shape[0], 1, 5, 5)
    x = torch.from_numpy(images).view(-1, *shape)
    smooth = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), kernel, groups=shape[0])
    return smooth.reshape(len(images), -1).numpy()


@torch.no_grad()
def score(trainer: Trainer, real: np.ndarray, n: int, seed: int) -> dict[str, float]:
    """D's accuracy (real called real, generated called generated) and mean logit on each set."""
    shape = trainer.image_shape
    rng = torch.Generator().manual_seed(seed)
    fake = trainer.G.eval()(sample_noise(trainer.ds.model, n, rng, "cpu")).numpy()
    trainer.G.train()
    sets = {
        "real": real,
        "real_jpeg": jpeg_round_trip(real, shape),
        "fake": fake,
        "fake_jpeg": jpeg_round_trip(fake, shape),
        "fake_blur": blur(fake, shape),
        "fake_8bit": jpeg_round_trip(fake, shape, subsampling=None),
        "fake_jpeg_444": jpeg_round_trip(fake, shape, subsampling=0),
        "fake_chroma_420": chroma_420(fake, shape),
    }
    D = trainer.D.eval()
    row = {"spread": float(fake.std(0).mean() / real.std(0).mean())}
    for name, images in sets.items():
        logit = D(torch.from_numpy(images)).float().view(-1)
        said_real = (logit > 0).float().mean().item()
        row[f"acc_{name}"] = said_real if name.startswith("real") else 1 - said_real
        row[f"logit_{name}"] = logit.mean().item()
    trainer.D.train()
    return row


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m studies.jpeg_cue", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--dataset", default="cifar10_fc")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--n", type=int, default=1000, help="images in each scored set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--g-chroma",
        action="store_true",
        help="train G with its output's colour subsampled 4:2:0, as the real images' is",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    params = P.load()
    ds = params.dataset(args.dataset)
    data = load_processed(ds.name)
    trainer = Trainer(params, ds, torch.from_numpy(data.train), "cpu", data.image_shape, args.seed)
    if args.g_chroma:  # G's samples leave it with the mirror's 4:2:0 colour resolution
        shape = data.image_shape
        trainer.G.register_forward_hook(lambda m, i, out: chroma_420_tensor(out, shape))
    real = data.valid(0)[: args.n]
    rows = [{"step": 0, **score(trainer, real, args.n, args.seed)}]

    def scored(done: int) -> bool:  # scored after every `every` steps
        if done % args.every == 0:
            rows.append({"step": done, **score(trainer, real, args.n, args.seed)})
            print(" ".join(f"{k}={v:.3g}" for k, v in rows[-1].items()), flush=True)
        return done >= args.steps

    first_steps(trainer, scored)
    print("| step | " + " | ".join(f"D right on {name}" for name in SETS) + " |")
    print("|---" * (len(SETS) + 1) + "|")
    for row in rows:
        print(f"| {row['step']} | " + " | ".join(f"{row[f'acc_{s}']:.3f}" for s in SETS) + " |")
    if args.out:
        write_csv(args.out, list(rows[0]), rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
