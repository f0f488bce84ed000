"""Committed results that older code made, and that wait for their dataset's rerun.

Table 1 and Figure 2 are built from every dataset's committed results, so one dataset still
holding the results of older code must not stop them: its cells read "rerun pending" and its
panel is left out, each with the command that brings it up to date. Older code is recognised
by the score it wrote: a Parzen score with no per-seed scores (no ``seeds``: written before
seeds were an axis of the pipeline). Anything else incomplete (a current score without its run
record, a stub, a partial write) stays an error, as artifacts.read_json raises it.
"""

from __future__ import annotations

import json

from pipeline.artifacts import rerun
from pipeline.paths import Paths


def older_results(dataset: str) -> str | None:
    """Why `dataset`'s committed results wait for a rerun, in one phrase; None when they are
    current (or broken in a way the readers report as an error)."""
    path = Paths(dataset).parzen
    try:
        score = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if isinstance(score, dict) and "test_ll" in score and "seeds" not in score:
        return f"results of older code ({path} has no per-seed scores); {rerun('parzen', dataset)}"
    return None
