"""Independent random streams, one per purpose, all derived from params.yaml's one `seed`.

numpy's ``SeedSequence(seed).spawn`` gives each purpose its own seed (its hashing makes the
children's streams independent, whatever the parent seed); each seeds one torch generator:

- ``init``: the weights of G and D (and the new layers and fresh D of TFD's second phase);
- ``dropout``: D's dropout masks (torch's global generator: ``F.dropout`` takes no other);
- ``shuffle``: the order of the training examples in each epoch;
- ``noise``: z of every training step;
- ``eval``: the fixed z of the validation scores during training;
- ``samples``: z of the `sample` stage (the samples scored by `parzen`, Figures 2 and 3).

Before, one seed started both the global and the training generator, so epoch 1's noise
repeated the very numbers that had initialised the weights (issue 11).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

PURPOSES = ("init", "dropout", "shuffle", "noise", "eval", "samples")


def seeds(seed: int) -> dict[str, int]:
    """One 64-bit seed per purpose, derived from `seed`."""
    children = np.random.SeedSequence(seed).spawn(len(PURPOSES))
    return {
        p: int(c.generate_state(1, np.uint64)[0]) for p, c in zip(PURPOSES, children, strict=True)
    }


def generator(seed: int, purpose: str, device="cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seeds(seed)[purpose])


@contextmanager
def drawing_from(stream: torch.Generator) -> Iterator[None]:
    """Run a block that draws from torch's global CPU generator (module constructors,
    ``nn.init``) on `stream` instead; the global generator is left where it was, and `stream`
    continues after what the block drew."""
    with torch.random.fork_rng(devices=[]):
        torch.set_rng_state(stream.get_state())
        yield
        stream.set_state(torch.get_rng_state())
