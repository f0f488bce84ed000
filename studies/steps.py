"""The first steps of a run, one at a time: what the studies that replay epoch 1 share."""

from __future__ import annotations

from collections.abc import Callable

from pipeline.adversarial import Trainer


def first_steps(trainer: Trainer, after_step: Callable[[int], bool], epochs: int = 1) -> int:
    """Train epochs 1 to `epochs` of `trainer` as `train` does, calling `after_step(n)` after its
    n-th G update and stopping (through the trainer's own stop flag) once that returns True; the
    steps done."""
    done = 0
    inner = trainer.opt_g.step

    def step(grads, momentum) -> None:
        nonlocal done
        inner(grads, momentum)
        done += 1
        if after_step(done):
            trainer.stop = "the study's last step"

    trainer.opt_g.step = step
    try:
        for epoch in range(1, epochs + 1):
            trainer.epoch(epoch)
    except Exception as err:  # the trainer stops with Interrupted once asked
        print(f"stopped after step {done}: {type(err).__name__}")
    return done
