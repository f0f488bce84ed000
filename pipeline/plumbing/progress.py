"""Plumbing: what a training run reports, shown as text and progress bars.

A run reports structured events (plain dicts; adversarial.fit and stages/train.py emit them),
never text for someone to parse back:

- ``{"event": "epoch", "step": s, "total": n, "stats": {...}, "stopping": None | "collapse" |
  "no improvement", "best_epoch": b}`` after each epoch, its checkpoint saved;
- ``{"event": "resume", "done": e, "total": n, "path": p}`` when a run continues a checkpoint;
- ``{"event": "fresh", "why": ..., "path": p, ...}`` when it discards one and starts over;
- ``{"event": "start", "done": e, "total": n}`` as its first epoch begins (not shown as a line).

Each carries ``run`` (e.g. "mnist seed 0") and ``seed``. A worker process writes them as JSON
lines on stdout; the `train` that started it reads them back (`Progress.line`), keeps one bar
over every seed's epochs and prints each as a sentence (`describe`). The wording lives here
only, so rewording a line changes no stage's code dependencies and no checkpoint's identity.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable

from tqdm import tqdm

Report = Callable[[dict], None]


def describe(event: dict) -> str:
    """One event as the sentence a log shows."""
    run, kind = event["run"], event["event"]
    if kind == "epoch":
        stats = " ".join(f"{k}={v:.4g}" for k, v in event["stats"].items())
        stop = {
            None: "",
            "collapse": "  COLLAPSED: stopping",
            "no improvement": f"  NO IMPROVEMENT (best epoch {event.get('best_epoch')}): stopping",
        }[event.get("stopping")]
        return f"{run} epoch {event['step']}/{event['total']} {stats}{stop}"
    if kind == "resume":
        return f"{run}: resuming after epoch {event['done']} of {event['total']} ({event['path']})"
    if kind == "fresh":
        why, kept = event["why"], "; the old run is kept until this one saves its first epoch"
        if why == "asked":
            return f"{run}: starting fresh (--fresh) over {event['path']}{kept}"
        if why == "beyond":
            return (
                f"{run}: starting fresh: the checkpoint ({event['path']}) is at epoch "
                f"{event['done']}, beyond this run's {event['total']}{kept}"
            )
        changed = " and ".join(event["changed"])
        return (
            f"{run}: starting fresh: the {changed} differ from those of the checkpoint at "
            f"epoch {event['done']} ({event['path']}){kept}"
        )
    return f"{run}: {kind}"


def as_json_line(event: dict) -> None:
    """A worker's report: one JSON line on stdout, flushed (its `train` reads it at once)."""
    print(json.dumps(event), flush=True)


class Progress:
    """One bar over every seed's epochs, fed with events (or a worker's lines, JSON or not),
    each of which it prints as a line above the bar."""

    def __init__(self, desc: str) -> None:
        self.done: dict[int, int] = {}  # seed -> epochs finished
        self.totals: dict[int, int] = {}  # seed -> its epochs (up to a stopping rule)
        self.bar = tqdm(desc=desc, unit="epoch", disable=None)

    def event(self, event: dict) -> None:
        if event["event"] != "start":
            self.bar.write(describe(event), file=sys.stdout)
            sys.stdout.flush()
        if event["event"] not in ("epoch", "start"):
            return
        seed = event["seed"]
        done = event["step"] if event["event"] == "epoch" else event["done"]
        total = done if event.get("stopping") else event["total"]
        self.done[seed] = done
        self.bar.total = (self.bar.total or 0) + total - self.totals.get(seed, 0)
        self.totals[seed] = total
        self.bar.n = sum(self.done.values())
        self.bar.refresh()

    def line(self, text: str) -> None:
        """A line a worker printed: an event when it is one, else shown as it is."""
        try:
            event = json.loads(text)
        except json.JSONDecodeError:
            event = None
        if isinstance(event, dict) and "event" in event:
            self.event(event)
        else:
            self.bar.write(text.rstrip("\n"), file=sys.stdout)
            sys.stdout.flush()

    def close(self) -> None:
        self.bar.close()


def steps(n: int, desc: str, show: bool) -> Iterable[int]:
    """range(n), with a bar (elapsed time, ETA) when `show` and stdout is a terminal."""
    return tqdm(range(n), desc, leave=False, unit="step", disable=None if show else True)
