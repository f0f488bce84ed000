"""When a run has collapsed, and so stops early (params ``<dataset>.train.collapse``).

The released MNIST recipe collapses on about one seed in three within its first epochs (README,
"Seeds and collapse"): D wins outright, G's sigmoid outputs saturate, every sample looks alike,
the validation Parzen score falls by hundreds of nats, and none of that recovers. A run is
marked collapsed at the first evaluated epoch e such that, at each of the last ``epochs``
evaluated epochs up to e:

- the validation Parzen score (the one that selects the generator) is below
  ``valid_parzen_below``, and
- the samples' spread, the mean over pixels of their standard deviation across the samples
  divided by the same for the validation images (1: as varied as the data; 0: one image), is
  below ``spread_below``.

The thresholds come from the collapse study (README): they separate every collapsed seed from
every surviving one there. A collapsed run stops after that epoch; its best generator and its
scores are kept and reported beside the surviving seeds, never averaged with them.

This module decides only *when to stop*: it never changes what an epoch computes, so it is not
part of the code a checkpoint must share with a run to be resumed (train.IDENTITY_CODE).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CollapseSpec:
    valid_parzen_below: float  # nats
    spread_below: float  # sample spread, relative to the validation images'
    epochs: int  # evaluated epochs in a row


def parse(r: Any) -> CollapseSpec:
    """The `collapse` mapping of a train section, read by params.py's reader (errors name the
    key)."""
    return CollapseSpec(
        valid_parzen_below=r.number("valid_parzen_below", low=-math.inf, high=math.inf),
        spread_below=r.number("spread_below", low=0.0, high=math.inf),
        epochs=r.integer("epochs"),
    )


def collapsed(history: list[dict], spec: CollapseSpec | None) -> int | None:
    """The epoch (counted from 1 over all phases) at which `history`, one dict of stats per
    epoch, meets the criterion; None if it never does (or `spec` is None: never stop)."""
    if spec is None:
        return None
    run = 0  # evaluated epochs in a row that meet it
    for step, stats in enumerate(history, 1):
        if "valid_parzen" not in stats:
            continue
        low = stats["valid_parzen"] < spec.valid_parzen_below
        alike = stats.get("spread", math.inf) < spec.spread_below
        run = run + 1 if low and alike else 0
        if run >= spec.epochs:
            return step
    return None
