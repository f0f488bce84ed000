"""Typed, validated view of ``params.yaml``.

Every stage loads the file once through :func:`load` and gets frozen dataclasses back. Any problem
(missing key, wrong type, value out of range, unknown dataset) raises :class:`ParamsError` naming
the key, the value and what was expected, before the stage writes anything.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import PipelineError

UPDATES = ("simultaneous", "alternating")
GENERATOR_LOSSES = ("non_saturating", "minimax")
DEVICES = ("auto", "cpu", "cuda")
NOISES = ("uniform", "gaussian")


class ParamsError(PipelineError):
    """A value in params.yaml is missing or invalid."""


@dataclass(frozen=True)
class Split:
    """Index ranges of the paper's splits (section 5; recipe "training data")."""

    train: tuple[int, int]  # rows of the official training file used to train G and D
    valid: tuple[int, int]  # held-out rows of the training file (model selection, sigma)
    test: int  # first N rows of the official test file (all 10,000 for the paper)


@dataclass(frozen=True)
class GeneratorSpec:
    hidden: tuple[int, ...]  # ReLU layer widths
    irange: float  # weights ~ U(-irange, irange), "irange" in the released configs


@dataclass(frozen=True)
class DiscriminatorSpec:
    units: tuple[int, ...]  # maxout units per hidden layer
    pieces: int  # linear pieces per maxout unit
    irange: float
    keep: tuple[float, ...]  # dropout keep probability of each layer's input


@dataclass(frozen=True)
class ModelSpec:
    noise: str  # prior p_z: "uniform" on (-sqrt 3, sqrt 3) or "gaussian" N(0, I)
    noise_dim: int
    generator: GeneratorSpec
    discriminator: DiscriminatorSpec


@dataclass(frozen=True)
class TrainSpec:
    epochs: int
    batch_size: int
    lr: float  # lr0
    lr_decay: float  # lr_t = max(lr0 / lr_decay**t, lr_min)
    lr_min: float
    momentum: tuple[float, float]  # (initial, final)
    momentum_epochs: int  # epoch at which the final momentum is reached
    eval_every: int  # epochs between validation Parzen scores


@dataclass(frozen=True)
class ParzenSpec:
    samples: int  # m samples drawn from G
    sigma_range: tuple[float, float]  # log10 of the smallest and largest sigma
    sigma_num: int  # np.logspace(sigma_range[0], sigma_range[1], sigma_num)
    valid: int  # sigma is chosen on the first `valid` validation rows
    batch: int  # test points per distance block (bounds memory)


@dataclass(frozen=True)
class DatasetParams:
    name: str
    source: str
    split: Split
    model: ModelSpec
    train: TrainSpec
    parzen: ParzenSpec


@dataclass(frozen=True)
class Params:
    k: int  # discriminator steps per generator step (Algorithm 1)
    update: str
    generator_loss: str
    seed: int
    device: str
    datasets: tuple[str, ...]
    by_name: dict[str, DatasetParams]

    def dataset(self, name: str) -> DatasetParams:
        if name not in self.by_name:
            raise ParamsError(
                f"unknown dataset {name!r}: params.yaml 'datasets' lists {list(self.datasets)}"
            )
        return self.by_name[name]


class _Reader:
    """Reads one mapping and names the full dotted key in every error."""

    def __init__(self, data: Any, prefix: str, file: Path) -> None:
        if not isinstance(data, dict):
            where = prefix or "top level"
            raise ParamsError(f"{file}: {where} must be a mapping, got {data!r}")
        self.data, self.prefix, self.file = data, prefix, file

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def raw(self, name: str) -> Any:
        if name not in self.data:
            raise ParamsError(f"{self.file}: missing key '{self.key(name)}'")
        return self.data[name]

    def fail(self, name: str, value: Any, expected: str) -> ParamsError:
        return ParamsError(f"{self.file}: '{self.key(name)}' is {value!r}; expected {expected}")

    def sub(self, name: str) -> _Reader:
        return _Reader(self.raw(name), self.key(name), self.file)

    def integer(self, name: str, minimum: int = 1) -> int:
        value = self.raw(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(name, value, f"an integer >= {minimum}")
        return value

    def number(self, name: str, low: float = 0.0, high: float = math.inf, open_low=True) -> float:
        value = self.raw(name)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok:
            ok = (value > low if open_low else value >= low) and value <= high
        if not ok:
            bracket = "(" if open_low else "["
            raise self.fail(name, value, f"a number in {bracket}{low}, {high}]")
        return float(value)

    def choice(self, name: str, options: tuple[str, ...]) -> str:
        value = self.raw(name)
        if value not in options:
            raise self.fail(name, value, f"one of {list(options)}")
        return value

    def int_list(self, name: str, length: int | None = None, minimum: int = 1) -> tuple[int, ...]:
        value = self.raw(name)
        ok = isinstance(value, list) and (length is None or len(value) == length) and len(value)
        ok = ok and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        if not ok or any(v < minimum for v in value):
            size = f"{length} " if length else ""
            raise self.fail(name, value, f"a list of {size}integers >= {minimum}")
        return tuple(value)

    def number_list(self, name: str, low: float, high: float, length: int | None = None):
        value = self.raw(name)
        ok = isinstance(value, list) and (length is None or len(value) == length) and len(value)
        ok = ok and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        if not ok or not all(low < v <= high for v in value):
            size = f"{length} " if length else ""
            raise self.fail(name, value, f"a list of {size}numbers in ({low}, {high}]")
        return tuple(float(v) for v in value)


def _range(r: _Reader, name: str) -> tuple[int, int]:
    start, stop = r.int_list(name, length=2, minimum=0)
    if stop <= start:
        raise r.fail(name, [start, stop], "[start, stop] with start < stop")
    return start, stop


def _dataset(name: str, r: _Reader) -> DatasetParams:
    from pipeline.sources import SOURCES  # late import: sources imports errors only

    source = r.choice("source", tuple(SOURCES))
    s = r.sub("split")
    split = Split(train=_range(s, "train"), valid=_range(s, "valid"), test=s.integer("test"))

    m = r.sub("model")
    g, d = m.sub("generator"), m.sub("discriminator")
    units = d.int_list("units")
    model = ModelSpec(
        noise=m.choice("noise", NOISES),
        noise_dim=m.integer("noise_dim"),
        generator=GeneratorSpec(hidden=g.int_list("hidden"), irange=g.number("irange")),
        discriminator=DiscriminatorSpec(
            units=units,
            pieces=d.integer("pieces"),
            irange=d.number("irange"),
            keep=d.number_list("keep", 0.0, 1.0, length=len(units) + 1),
        ),
    )

    t = r.sub("train")
    momentum = t.number_list("momentum", 0.0, 1.0, length=2)
    train = TrainSpec(
        epochs=t.integer("epochs"),
        batch_size=t.integer("batch_size"),
        lr=t.number("lr"),
        lr_decay=t.number("lr_decay", low=1.0, open_low=False),
        lr_min=t.number("lr_min", open_low=False),
        momentum=(momentum[0], momentum[1]),
        momentum_epochs=t.integer("momentum_epochs"),
        eval_every=t.integer("eval_every"),
    )
    if train.batch_size > split.train[1] - split.train[0]:
        raise t.fail("batch_size", train.batch_size, "at most the number of training rows")

    p = r.sub("parzen")
    low, high = p.number_list("sigma_range", -math.inf, math.inf, length=2)
    if low > high:
        raise p.fail("sigma_range", [low, high], "[log10 low, log10 high] with low <= high")
    parzen = ParzenSpec(
        samples=p.integer("samples"),
        sigma_range=(low, high),
        sigma_num=p.integer("sigma_num"),
        valid=p.integer("valid"),
        batch=p.integer("batch"),
    )
    if parzen.valid > split.valid[1] - split.valid[0]:
        raise p.fail("valid", parzen.valid, "at most the number of validation rows")
    return DatasetParams(name, source, split, model, train, parzen)


def load(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml; raise ParamsError naming the first bad key."""
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text())
    except FileNotFoundError:
        raise ParamsError(f"{file}: no such params file") from None
    except yaml.YAMLError as err:
        raise ParamsError(f"{file}: not valid YAML: {err}") from None
    r = _Reader(data, "", file)
    names = r.raw("datasets")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or not names:
        raise r.fail("datasets", names, "a non-empty list of dataset section names")
    return Params(
        k=r.integer("k"),
        update=r.choice("update", UPDATES),
        generator_loss=r.choice("generator_loss", GENERATOR_LOSSES),
        seed=r.integer("seed", minimum=0),
        device=r.choice("device", DEVICES),
        datasets=tuple(names),
        by_name={n: _dataset(n, r.sub(n)) for n in names},
    )


def as_dict(obj: Any) -> Any:
    """Plain-dict form of a params dataclass (stored next to checkpoints)."""
    return dataclasses.asdict(obj)
