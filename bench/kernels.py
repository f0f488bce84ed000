"""The FLOP-carrying kernels of one training step: counted, recorded, and replayed alone.

``record_step`` runs one step under torch's FlopCounterMode (matrix products and convolutions,
forward and backward) and a dispatch mode that keeps every such call with its operands, exactly
as the step issued them (shapes, dtypes after autocast, layouts). ``replay_rate`` runs those
calls (on copies of their operands) back to back and nothing else: the GFLOP/s this machine
reaches on this step's own products, i.e. the roofline a training loop can at best approach.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map
from torch.utils.flop_counter import FlopCounterMode

from pipeline.adversarial import Trainer
from pipeline.params import DatasetParams, Params

aten = torch.ops.aten
PRODUCTS = {
    aten.mm.default,
    aten.addmm.default,
    aten.bmm.default,
    aten.convolution.default,
    aten.convolution_backward.default,
}


class _Recorder(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple] = []
        self.copies: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def _copy(self, x):
        """A detached copy with the same strides (one per tensor, however often it is used; the
        original is kept alive so that its id is not reused within the step)."""
        if not isinstance(x, torch.Tensor):
            return x
        if id(x) not in self.copies:
            self.copies[id(x)] = (x, x.detach().clone(memory_format=torch.preserve_format))
        return self.copies[id(x)][1]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in PRODUCTS:
            self.calls.append((func, tree_map(self._copy, args), tree_map(self._copy, kwargs)))
        return func(*args, **kwargs)


def warmed_trainer(params: Params, ds: DatasetParams, data: Tensor, device, image_shape) -> Trainer:
    """A Trainer on `data` (on `device`) after one warm-up step on its first minibatch, so that
    first-call costs stay out of what is timed or profiled next."""
    trainer = Trainer(params, ds, data[: ds.train.batch_size], device, image_shape, seed=0)
    trainer.epoch(1)
    trainer.data = data.to(trainer.device)
    return trainer


def record_step(step: Callable[[], object]) -> tuple[float, list[tuple]]:
    """(FLOPs of one call of `step`, its matrix-product and convolution calls)."""
    recorder = _Recorder()
    with FlopCounterMode(display=False) as counter, recorder:
        step()
    return float(counter.get_total_flops()), recorder.calls


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def replay_rate(
    calls: list[tuple], flops: float, device: torch.device, seconds: float = 2.0
) -> float:
    """GFLOP/s of the recorded calls replayed back to back (after one warm-up pass)."""
    for func, args, kwargs in calls:
        func(*args, **kwargs)
    sync(device)
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for func, args, kwargs in calls:
            func(*args, **kwargs)
        sync(device)
        reps += 1
    return reps * flops / (time.perf_counter() - start) / 1e9
