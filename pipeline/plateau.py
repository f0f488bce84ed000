"""When a run has stopped improving (params ``<dataset>.train.patience``), so that it stops.

The release ran until stopped by hand; its configs carry, commented out, Pylearn2's
``MonitorBased`` termination criterion on the validation objective with ``prop_decrease: 0``
and ``N: 100``: stop once N epochs in a row bring no improvement. Here the monitored value is
the validation Parzen score that selects the generator (adversarial.fit), counted in
evaluations (``eval_every``) of the last phase, and the schedule's epochs are the most a run
may train. Like the collapse rule it decides only when a run stops, never what an epoch
computes (train.NOT_COMPUTING): a run stopped by it resumes, under a larger ``patience`` or
none, from where it stopped.
"""

from __future__ import annotations


def plateaued(in_final: list[dict], best_epoch: int, patience: int | None) -> int | None:
    """The epoch at which the run stops: the last of `in_final` (one dict of stats per epoch,
    counted from 1, empty outside the last phase) when `patience` evaluations have come after
    the best one, `best_epoch` (0: none yet), without beating it; else None."""
    if patience is None or best_epoch == 0:
        return None
    since = sum("valid_parzen" in stats for stats in in_final[best_epoch:])
    return len(in_final) if since >= patience else None
