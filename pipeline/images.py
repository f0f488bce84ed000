"""Images as people (and Inception-v3) see them: the pipeline stores each dataset in the space
its nets model (pixels in [0, 1], or CIFAR-10's global contrast normalised values)."""

from __future__ import annotations

import numpy as np


def for_display(images: np.ndarray, display: str, scale: float | None = None) -> np.ndarray:
    """Pixels in [0, 1]: as they are ("unit"), or x / scale mapped from [-1, 1] ("symmetric",
    scale = the largest |x| of `images` unless given)."""
    if display == "unit":
        return images
    scale = float(np.abs(images).max()) if scale is None else scale
    return (images / scale + 1) / 2
