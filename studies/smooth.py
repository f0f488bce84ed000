"""Does stage `quality`'s pixel memorisation measure read smoothness as closeness? Real test
images, made smoother without copying anything, scored by the same nearest-training-image
distance (pipeline/fidelity.nearest_distances) that the measure compares with the test images'
median.

    python -m studies.smooth [--dataset lfw] [--fold 0]

Prints the median nearest-training distance of: the test images as they are (the measure's
threshold), the same images blurred (Gaussian, σ in pixels), the same images pulled toward the
mean training image, and the mean training image itself. A drop below the first line means the
measure would count such images as "nearer than test" although none is a copy.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from torchvision.transforms.functional import gaussian_blur

from pipeline.artifacts import load_processed
from pipeline.fidelity import nearest_distances

BLUR_SIGMAS = (1.0, 2.0, 3.0)
TOWARD_MEAN = (0.25, 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="lfw")
    parser.add_argument("--fold", type=int, default=0)
    args = parser.parse_args()
    data = load_processed(args.dataset)
    train = torch.from_numpy(data.train)
    test = torch.from_numpy(data.test(args.fold))
    shape = data.image_shape
    images = test.view(-1, *((1, *shape) if len(shape) == 2 else shape))
    mean = train.mean(0, keepdim=True)

    def median(x: torch.Tensor) -> float:
        return float(np.median(nearest_distances(x.reshape(len(x), -1), train)))

    print(f"{args.dataset}, fold {args.fold}: median distance to the nearest training image")
    print(f"  {len(test)} test images as they are: {median(test):.2f} (the measure's threshold)")
    for sigma in BLUR_SIGMAS:
        blurred = gaussian_blur(images, kernel_size=2 * int(3 * sigma) + 1, sigma=sigma)
        print(f"  the same, blurred (σ = {sigma:g} px): {median(blurred):.2f}")
    for a in TOWARD_MEAN:
        print(
            f"  the same, {a:.0%} of the way to the mean training image: "
            f"{median((1 - a) * test + a * mean):.2f}"
        )
    print(f"  the mean training image: {median(mean):.2f}")


if __name__ == "__main__":
    main()
