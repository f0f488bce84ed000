"""Typed, validated view of ``params.yaml``.

Every stage loads the file once through :func:`load` and gets frozen dataclasses back. Any problem
(missing, unknown or duplicated key, wrong type, value out of range, a sample count that cannot
fit in memory, unknown dataset) raises :class:`ParamsError` naming the key, the value and what
was expected, before the stage writes anything. Every dataset section is checked, listed in
``datasets`` or not.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from pipeline.datasets import SOURCES
from pipeline.plumbing.errors import PipelineError

if TYPE_CHECKING:
    import numpy as np

UPDATES = ("simultaneous", "alternating")
GENERATOR_LOSSES = ("non_saturating", "minimax")
DEVICES = ("auto", "cpu", "cuda")
NOISES = ("uniform", "gaussian")
SCHEDULES = ("auto", "release", "cpu")
PRECISIONS = ("fp32", "bf16")
KERNELS = ("eager", "fused")
CLASSIFIER_NETS = ("lenet", "convnet")
STAGE_SECTIONS = ("quality", "references", "inception")  # top-level sections that are not datasets
ACTIVATION_NAMES = ("relu", "sigmoid")
OUTPUTS = ("sigmoid", "linear", "deconv")


SEED_MAX = 2**32 - 1  # NumPy's and most tools' seed range


class ParamsError(PipelineError):
    """A value in params.yaml is missing or invalid."""


def memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


# Upper bounds of the size-like params, past which a run cannot fit in memory or end in time:
# - epochs: the released learning rates reach their floor (1e-6) near epoch 6,000-6,700 on
#   every net, and 100,000 epochs of the smallest net take weeks on a CPU;
# - widths: a width x width float32 layer with its gradient and velocity in half of memory.
EPOCHS_MAX = 100_000


def width_max() -> int:
    return math.isqrt(memory_bytes() // 2 // (3 * 4))


class _DuplicateKey(yaml.YAMLError):
    pass


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error (PyYAML
    silently keeps the last value)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            first: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                if key in first:
                    raise _DuplicateKey(
                        f"line {line}: duplicate key '{key}' (first given at line {first[key]})"
                    )
                first[key] = line
        return super().construct_mapping(node, deep)


@dataclass(frozen=True)
class Split:
    """Rows of the official files (MNIST, CIFAR-10; recipe "training data")."""

    train: tuple[int, int]  # rows of the official training file used to train G and D
    valid: tuple[int, int]  # held-out rows of the training file (model selection, sigma)
    test: int  # first N rows of the official test file (all 10,000 for the paper)

    def take(self, train: np.ndarray, test: np.ndarray) -> dict[str, np.ndarray]:
        """These rows of the official training and test arrays (images or their labels), named
        as artifacts.Processed stores them."""
        return {
            "train": train[slice(*self.train)],
            "valid_0": train[slice(*self.valid)],
            "test_0": test[: self.test],
        }


@dataclass(frozen=True)
class FoldSplit:
    """TFD's protocol (and LFW laid out as TFD): train on the unlabeled split of `train_fold`;
    Parzen per fold with sigma from that fold's valid split, scored on its test split."""

    train_fold: int
    folds: int


@dataclass(frozen=True)
class Extension:
    """Layers put in front of a pretrained generator (TFD's second stage, tfd_pretrain/)."""

    hidden: tuple[int, ...]  # the last width feeds the pretrained net, so it equals noise_dim
    activations: tuple[str, ...]
    hidden_bias: tuple[float, ...]


@dataclass(frozen=True)
class DeconvSpec:
    """CIFAR-10 conv generator output: reshape to channels x size x size, transposed conv."""

    channels: int
    size: int
    kernel: int
    stride: int


@dataclass(frozen=True)
class GeneratorSpec:
    hidden: tuple[int, ...]  # hidden layer widths
    activations: tuple[str, ...]  # "relu" | "sigmoid" per hidden layer
    hidden_bias: tuple[float, ...]  # initial bias per hidden layer (Pylearn2 init_bias)
    irange: float  # weights ~ U(-irange, irange), "irange" in the released configs
    output: str  # "sigmoid" (bias = logit of pixel means) | "linear" | "deconv"
    output_irange: float | None  # output weights ~ U(-r, r) ...
    output_sparse: int | None  # ... or this many N(0, 1) weights per unit (Pylearn2 sparse_init)
    deconv: DeconvSpec | None
    extend: Extension | None


@dataclass(frozen=True)
class ConvSpec:
    """A maxout convolutional layer (Pylearn2 MaxoutConvC01B) and its max pooling."""

    channels: int
    pieces: int
    kernel: int
    pad: int
    pool: int
    pool_stride: int


@dataclass(frozen=True)
class DiscriminatorSpec:
    conv: tuple[ConvSpec, ...]  # maxout conv layers before the dense ones (may be empty)
    units: tuple[int, ...]  # maxout units per dense hidden layer
    pieces: int  # linear pieces per maxout unit
    irange: float
    keep: tuple[float, ...]  # dropout keep probability of each layer's input


@dataclass(frozen=True)
class ModelSpec:
    noise: str  # prior p_z: "uniform" on (-sqrt 3, sqrt 3) or "gaussian" N(0, I)
    noise_dim: int
    max_col_norm: float | None  # Pylearn2 max_col_norm on every layer of G and D (TFD)
    generator: GeneratorSpec
    discriminator: DiscriminatorSpec


@dataclass(frozen=True)
class CollapseSpec:
    valid_parzen_below: float | None  # nats; None: the spread alone decides (CIFAR-10)
    spread_below: float  # sample spread, relative to the validation images'
    epochs: int  # evaluated epochs in a row
    stop: bool  # stop a run at its first collapse


@dataclass(frozen=True)
class PlateauSpec:
    """When a run has stopped rising (stopping.flattened): the validation score's least-squares
    gain over the last doubling of epochs is below `gain_below` nats."""

    gain_below: float  # nats per doubling of epochs
    after: int  # the rule looks at no run shorter than this many epochs


@dataclass(frozen=True)
class TrainSpec:
    epochs: tuple[int, ...]  # the release schedule: epochs per phase (a 2nd phase extends G)
    cpu_epochs: tuple[int, ...]  # the schedule for a CPU, same nets (this project's choice)
    batch_size: int
    lr: float  # lr0
    lr_decay: float  # lr_t = max(lr0 / lr_decay**t, lr_min)
    lr_min: float
    momentum: tuple[float, float]  # (initial, final)
    momentum_epochs: int  # epoch at which the final momentum is reached
    eval_every: int  # epochs between validation Parzen scores
    collapse: CollapseSpec | None  # when a run counts as collapsed and stops (None: never)
    patience: int | None  # evaluations without a better score before a run stops (stopping.py)
    plateau: PlateauSpec | None = None  # stop once the score stops rising (stopping.py)

    def schedule(self, name: str) -> tuple[int, ...]:
        """Epochs per phase under schedule "release" or "cpu"."""
        return self.epochs if name == "release" else self.cpu_epochs

    def floor_epoch(self, rows: int) -> int:
        """The epoch in which the learning rate, lr / lr_decay^update, reaches lr_min with
        `rows` training rows: where the release's MNIST and CIFAR-10 schedules end at the latest."""
        updates = math.log(self.lr / self.lr_min) / math.log(self.lr_decay)
        return math.ceil(updates / (rows // self.batch_size))


@dataclass(frozen=True)
class ParzenSpec:
    samples: int  # m samples drawn from G
    sigma_range: tuple[float, float]  # log10 of the smallest and largest sigma
    sigma_num: int  # np.logspace(sigma_range[0], sigma_range[1], sigma_num)
    valid: int | None  # sigma is chosen on the first `valid` validation rows (None: all)
    batch: int  # test points per distance block (bounds memory)


@dataclass(frozen=True)
class ClassifierSpec:
    """The section's in-pipeline classifier (stage `classifier`), whose features and class
    predictions score samples beyond the Parzen window (fidelity.py). Trained with Adam on the
    section's training rows, its validation rows reported; never on the test rows."""

    net: str  # "lenet" (28 x 28 grey) | "convnet" (3 x 32 x 32 colour): classifiers.py
    epochs: int
    batch_size: int
    lr: float
    seed: int


@dataclass(frozen=True)
class QualitySpec:
    """Top-level `quality`: how the stage `quality` scores every run (fidelity.py)."""

    kid_subsets: int  # KID: random subsets ...
    kid_subset_size: int  # ... of this many rows from each set
    nearest_k: int  # precision / recall / density / coverage neighbourhood
    is_splits: int  # Inception-score analogue: parts of the samples
    mode_min_share: float  # a class is covered with at least this share of its data share
    seed: int  # subsets and splits


@dataclass(frozen=True)
class ReferencesSpec:
    """Top-level `references`: the Parzen estimate's sanity rows (stage `references`)."""

    kmeans: int  # centroids of the training set used as samples (Theis et al., 2016)
    kmeans_iter: int  # Lloyd iterations
    sample_sizes: tuple[int, ...]  # N for the score-against-N curve


@dataclass(frozen=True)
class InceptionSpec:
    """Top-level `inception`: the optional Inception FID (stage `inception`)."""

    weights: str | None  # a local torch-fidelity weights file; None: the stage only says so
    samples: int  # images per set (samples, held-out, test)
    batch: int


@dataclass(frozen=True)
class DatasetParams:
    name: str
    source: str
    split: Split | FoldSplit
    model: ModelSpec
    train: TrainSpec
    parzen: ParzenSpec
    seeds: tuple[int, ...]  # one run per seed (independent streams, pipeline/streams.py)
    deviation: str | None = None  # how the section departs from the released config, if it does
    classifier: ClassifierSpec | None = None  # None: no labels, no classifier features

    @property
    def folds(self) -> int:
        """Number of (valid, test) pairs the Parzen stage scores: 1, or TFD's 5 folds."""
        return self.split.folds if isinstance(self.split, FoldSplit) else 1


@dataclass(frozen=True)
class Params:
    k: int  # discriminator steps per generator step (Algorithm 1)
    update: str
    generator_loss: str
    device: str
    schedule: str  # "release" | "cpu" | "auto" (release on CUDA, cpu otherwise)
    precision: str  # "fp32" (the paper's arithmetic) | "bf16" (autocast matmuls and convs)
    kernels: str  # "eager" (the committed results' step) | "fused" (fused.py)
    datasets: tuple[str, ...]
    by_name: dict[str, DatasetParams]
    quality: QualitySpec
    references: ReferencesSpec
    inception: InceptionSpec
    file: Path = Path("params.yaml")  # where they were read from
    text: str = dataclasses.field(default="", repr=False)  # the file as it was read

    def unchanged(self) -> None:
        """Raise unless the file still holds what was read: a second `dvc exp run` in this
        workspace writes its `-S` values there while the first still runs."""
        try:
            now = self.file.read_text()
        except OSError:
            now = None
        if now != self.text:
            raise ParamsError(
                f"{self.file}: changed while this stage ran (a second `dvc exp run` in this "
                "workspace?); no output was replaced. Run experiments side by side with "
                "`dvc exp run --queue` then `dvc queue start`, or `dvc exp run --temp`"
            )

    def dataset(self, name: str) -> DatasetParams:
        if name not in self.by_name:
            raise ParamsError(
                f"unknown dataset {name!r}: params.yaml 'datasets' lists {list(self.datasets)}"
                " (a section runs only when listed there)"
            )
        return self.by_name[name]

    def resolved_schedule(self, cuda: bool) -> str:
        if self.schedule == "auto":
            return "release" if cuda else "cpu"
        return self.schedule


class _Reader:
    """Reads one mapping and names the full dotted key in every error."""

    def __init__(self, data: Any, prefix: str, file: Path) -> None:
        if not isinstance(data, dict):
            where = prefix or "top level"
            raise ParamsError(f"{file}: {where} must be a mapping, got {data!r}")
        self.data, self.prefix, self.file = data, prefix, file
        self.read: set[str] = set()  # keys looked at: every other key is unknown
        self.children: list[_Reader] = []

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def raw(self, name: str) -> Any:
        if name not in self.data:
            raise ParamsError(f"{self.file}: missing key '{self.key(name)}'")
        self.read.add(name)
        return self.data[name]

    def child(self, data: Any, prefix: str) -> _Reader:
        reader = _Reader(data, prefix, self.file)
        self.children.append(reader)
        return reader

    def check_unknown(self) -> None:
        """An unknown key (a misspelling would otherwise be ignored) names itself, the nearest
        known key when one is close, else all of them; then the same for every sub-mapping."""
        for name in self.data:
            if name in self.read:
                continue
            known = sorted(self.read)
            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f"did you mean '{self.key(close[0])}'?" if close else f"expected one of {known}"
            raise ParamsError(f"{self.file}: unknown key '{self.key(name)}' ({hint})")
        for child in self.children:
            child.check_unknown()

    def fail(self, name: str, value: Any, expected: str) -> ParamsError:
        return ParamsError(f"{self.file}: '{self.key(name)}' is {value!r}; expected {expected}")

    def sub(self, name: str) -> _Reader:
        return self.child(self.raw(name), self.key(name))

    def is_null(self, name: str) -> bool:
        """The key is present and null (an optional feature switched off)."""
        return self.raw(name) is None

    def subs(self, name: str) -> list[_Reader]:
        value = self.raw(name)
        if not isinstance(value, list):
            raise self.fail(name, value, "a list of mappings")
        return [self.child(v, f"{self.key(name)}[{i}]") for i, v in enumerate(value)]

    def choices(self, name: str, options: tuple[str, ...], length: int) -> tuple[str, ...]:
        value = self.raw(name)
        if (
            not isinstance(value, list)
            or len(value) != length
            or any(v not in options for v in value)
        ):
            raise self.fail(name, value, f"a list of {length} of {list(options)}")
        return tuple(value)

    def integer(self, name: str, minimum: int = 1, maximum: int | None = None) -> int:
        value = self.raw(name)
        ok = not isinstance(value, bool) and isinstance(value, int) and value >= minimum
        if not ok or (maximum is not None and value > maximum):
            bounds = f"in [{minimum}, {maximum}]" if maximum is not None else f">= {minimum}"
            raise self.fail(name, value, f"an integer {bounds}")
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

    def text_or_null(self, name: str) -> str | None:
        value = self.raw(name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.fail(name, value, "null or a non-empty string")
        return value

    def choice(self, name: str, options: tuple[str, ...]) -> str:
        value = self.raw(name)
        if value not in options:
            raise self.fail(name, value, f"one of {list(options)}")
        return value

    def int_list(
        self, name: str, length: int | None = None, minimum: int = 1, maximum: int | None = None
    ) -> tuple[int, ...]:
        value = self.raw(name)
        ok = isinstance(value, list) and (length is None or len(value) == length) and len(value)
        ok = ok and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        if not ok or any(v < minimum or (maximum is not None and v > maximum) for v in value):
            size = f"{length} " if length else ""
            bounds = f"in [{minimum}, {maximum}]" if maximum is not None else f">= {minimum}"
            raise self.fail(name, value, f"a list of {size}integers {bounds}")
        return tuple(value)

    def widths(self, name: str) -> tuple[int, ...]:
        """Layer widths: each at most what half of this machine's memory holds (width_max)."""
        widest = width_max()
        value = self.raw(name)
        if isinstance(value, list) and any(
            isinstance(v, int) and not isinstance(v, bool) and v > widest for v in value
        ):
            raise self.fail(
                name,
                value,
                f"widths of at most {widest:,} (a layer that wide, its gradient and velocity "
                f"fill half of {memory_bytes() / 2**30:.0f} GiB of memory)",
            )
        return self.int_list(name)

    def per_phase(self, name: str, phases: int) -> tuple[int, ...]:
        """Epochs of each training phase: a list of `phases` integers, or one integer when there
        is one phase (so that `dvc exp run -S mnist.train.cpu_epochs=5` works)."""
        value = self.raw(name)
        values = [value] if phases == 1 and not isinstance(value, list) else value
        ok = isinstance(values, list) and len(values) == phases
        if not ok or not all(
            isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= EPOCHS_MAX for v in values
        ):
            bounds = f"in [1, {EPOCHS_MAX}]"
            one = f"an integer {bounds} or " if phases == 1 else ""
            raise self.fail(name, value, f"{one}a list of {phases} integers {bounds}")
        return tuple(values)

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


def _split(s: _Reader, folds_layout: bool) -> Split | FoldSplit:
    if folds_layout:
        folds = s.integer("folds")
        train_fold = s.integer("train_fold", minimum=0)
        if train_fold >= folds:
            raise s.fail("train_fold", train_fold, f"a fold index below folds = {folds}")
        return FoldSplit(train_fold=train_fold, folds=folds)
    train, valid = _range(s, "train"), _range(s, "valid")
    if valid[0] < train[1] and train[0] < valid[1]:
        raise s.fail("valid", list(valid), f"rows disjoint from 'train' {list(train)}")
    return Split(train=train, valid=valid, test=s.integer("test"))


def _generator(g: _Reader, noise_dim: int, image_shape: tuple[int, ...]) -> GeneratorSpec:
    hidden = g.widths("hidden")
    n = len(hidden)
    output = g.choice("output", OUTPUTS)
    output_irange = None if g.is_null("output_irange") else g.number("output_irange")
    output_sparse = None if g.is_null("output_sparse") else g.integer("output_sparse")
    if (output_irange is None) == (output_sparse is None):
        raise g.fail("output_sparse", output_sparse, "null when output_irange is set, else set")
    deconv = None
    if output != "deconv" and not g.is_null("deconv"):
        raise g.fail("deconv", g.raw("deconv"), f"null when output is {output!r}")
    if output == "deconv":
        c = g.sub("deconv")
        deconv = DeconvSpec(
            c.integer("channels"), c.integer("size"), c.integer("kernel"), c.integer("stride")
        )
        side = (deconv.size - 1) * deconv.stride + deconv.kernel
        if len(image_shape) != 3 or side != image_shape[-1]:
            raise g.fail("deconv", g.raw("deconv"), f"an output of shape {image_shape}, not {side}")
        if deconv.channels * deconv.size**2 != hidden[-1]:
            raise g.fail(
                "hidden",
                list(hidden),
                f"a last width of channels x size^2 = {deconv.channels * deconv.size**2}",
            )
    extend = None
    if not g.is_null("extend"):
        e = g.sub("extend")
        widths = e.widths("hidden")
        extend = Extension(
            hidden=widths,
            activations=e.choices("activations", ACTIVATION_NAMES, len(widths)),
            hidden_bias=e.number_list("hidden_bias", -math.inf, math.inf, len(widths)),
        )
        if widths[-1] != noise_dim:
            raise e.fail("hidden", list(widths), f"a last width equal to noise_dim = {noise_dim}")
    return GeneratorSpec(
        hidden=hidden,
        activations=g.choices("activations", ACTIVATION_NAMES, n),
        hidden_bias=g.number_list("hidden_bias", -math.inf, math.inf, n),
        irange=g.number("irange"),
        output=output,
        output_irange=output_irange,
        output_sparse=output_sparse,
        deconv=deconv,
        extend=extend,
    )


def _discriminator(d: _Reader) -> DiscriminatorSpec:
    conv = tuple(
        ConvSpec(
            channels=c.integer("channels"),
            pieces=c.integer("pieces"),
            kernel=c.integer("kernel"),
            pad=c.integer("pad", minimum=0),
            pool=c.integer("pool"),
            pool_stride=c.integer("pool_stride"),
        )
        for c in d.subs("conv")
    )
    units = d.widths("units")
    return DiscriminatorSpec(
        conv=conv,
        units=units,
        pieces=d.integer("pieces"),
        irange=d.number("irange"),
        keep=d.number_list("keep", 0.0, 1.0, length=len(conv) + len(units) + 1),
    )


def _plateau(r: _Reader) -> PlateauSpec:
    """The `plateau` mapping of a train section (stopping.flattened); errors name the key."""
    return PlateauSpec(
        gain_below=r.number("gain_below"),
        after=r.integer("after", maximum=EPOCHS_MAX),
    )


def _collapse(r: _Reader) -> CollapseSpec:
    """The `collapse` mapping of a train section (stopping.py); errors name the key."""
    spec = CollapseSpec(
        valid_parzen_below=None
        if r.is_null("valid_parzen_below")
        else r.number("valid_parzen_below", low=-float("inf")),
        spread_below=r.number("spread_below"),
        epochs=r.integer("epochs"),
        stop=r.raw("stop"),
    )
    if not isinstance(spec.stop, bool):
        raise r.fail("stop", spec.stop, "true or false")
    return spec


def _dataset(name: str, r: _Reader) -> DatasetParams:
    source = SOURCES[r.choice("source", tuple(SOURCES))]
    split = _split(r.sub("split"), source.folds)

    m = r.sub("model")
    noise_dim = m.integer("noise_dim", maximum=width_max())
    model = ModelSpec(
        noise=m.choice("noise", NOISES),
        noise_dim=noise_dim,
        max_col_norm=None if m.is_null("max_col_norm") else m.number("max_col_norm"),
        generator=_generator(m.sub("generator"), noise_dim, source.image_shape),
        discriminator=_discriminator(m.sub("discriminator")),
    )

    t = r.sub("train")
    momentum = t.number_list("momentum", 0.0, 1.0, length=2)
    phases = 1 + (model.generator.extend is not None)
    train = TrainSpec(
        epochs=t.per_phase("epochs", phases),
        cpu_epochs=t.per_phase("cpu_epochs", phases),
        batch_size=t.integer("batch_size"),
        lr=t.number("lr"),
        lr_decay=t.number("lr_decay", low=1.0, open_low=False),
        lr_min=t.number("lr_min", open_low=False),
        momentum=(momentum[0], momentum[1]),
        momentum_epochs=t.integer("momentum_epochs", maximum=EPOCHS_MAX),
        eval_every=t.integer("eval_every", maximum=EPOCHS_MAX),
        collapse=None if t.is_null("collapse") else _collapse(t.sub("collapse")),
        patience=None if t.is_null("patience") else t.integer("patience", maximum=EPOCHS_MAX),
        plateau=None if t.is_null("plateau") else _plateau(t.sub("plateau")),
    )
    if isinstance(split, Split) and train.batch_size > split.train[1] - split.train[0]:
        raise t.fail("batch_size", train.batch_size, "at most the number of training rows")

    p = r.sub("parzen")
    low, high = p.number_list("sigma_range", -math.inf, math.inf, length=2)
    if low > high:
        raise p.fail("sigma_range", [low, high], "[log10 low, log10 high] with low <= high")
    parzen = ParzenSpec(
        samples=p.integer("samples"),
        sigma_range=(low, high),
        sigma_num=p.integer("sigma_num"),
        valid=None if p.is_null("valid") else p.integer("valid"),
        batch=p.integer("batch"),
    )
    if isinstance(split, Split) and (parzen.valid or 0) > split.valid[1] - split.valid[0]:
        raise p.fail("valid", parzen.valid, "at most the number of validation rows")
    # m samples (float32) and Parzen's float64 copy, and two batch x m float64 distance blocks,
    # in at most half of this machine's memory: refused now, not after hours of training
    per_sample = 12 * source.dim + 16 * parzen.batch
    most = memory_bytes() // 2 // per_sample
    if parzen.samples > most:
        raise p.fail(
            "samples",
            parzen.samples,
            f"at most {most:,} (with batch {parzen.batch}, "
            f"{source.dim}-d samples must fit in half of {memory_bytes() / 2**30:.0f} GiB"
            " of memory)",
        )
    seeds = r.int_list("seeds", minimum=0)
    if len(set(seeds)) < len(seeds) or max(seeds) > SEED_MAX:
        raise r.fail("seeds", list(seeds), f"distinct integers in [0, {SEED_MAX}]")
    deviation = r.text_or_null("deviation")
    classifier = None
    if not r.is_null("classifier"):
        if not source.classes:
            raise r.fail("classifier", r.raw("classifier"), f"null: {source.name} has no labels")
        c = r.sub("classifier")
        classifier = ClassifierSpec(
            net=c.choice("net", CLASSIFIER_NETS),
            epochs=c.integer("epochs"),
            batch_size=c.integer("batch_size"),
            lr=c.number("lr"),
            seed=c.integer("seed", minimum=0, maximum=SEED_MAX),
        )
        wanted = "lenet" if source.image_shape == (28, 28) else "convnet"
        if classifier.net != wanted:
            raise c.fail("net", classifier.net, f"{wanted!r} for {source.name}'s images")
    return DatasetParams(
        name, source.name, split, model, train, parzen, seeds, deviation, classifier
    )


def _quality(q: _Reader) -> QualitySpec:
    return QualitySpec(
        kid_subsets=q.integer("kid_subsets"),
        kid_subset_size=q.integer("kid_subset_size", minimum=2),
        nearest_k=q.integer("nearest_k"),
        is_splits=q.integer("is_splits"),
        mode_min_share=q.number("mode_min_share", high=1.0),
        seed=q.integer("seed", minimum=0, maximum=SEED_MAX),
    )


def _inception(r: _Reader) -> InceptionSpec:
    return InceptionSpec(
        weights=r.text_or_null("weights"),
        samples=r.integer("samples", minimum=2),
        batch=r.integer("batch"),
    )


def _references(r: _Reader) -> ReferencesSpec:
    return ReferencesSpec(
        kmeans=r.integer("kmeans"),
        kmeans_iter=r.integer("kmeans_iter"),
        sample_sizes=r.int_list("sample_sizes"),
    )


def load(path: str | Path = "params.yaml", datasets: list[str] | None = None) -> Params:
    """Read and validate params.yaml; raise ParamsError naming the first bad key. `datasets`
    overrides the file's list (benchmarks and tests read every section, TFD included)."""
    file = Path(path)
    try:
        text = file.read_text()
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader)
    except FileNotFoundError:
        raise ParamsError(f"{file}: no such params file") from None
    except _DuplicateKey as err:
        raise ParamsError(f"{file}: {err}") from None
    except yaml.YAMLError as err:
        raise ParamsError(f"{file}: not valid YAML: {' '.join(str(err).split())}") from None
    r = _Reader(data, "", file)
    listed = r.raw("datasets")
    names = listed if datasets is None else list(datasets)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or not names:
        raise r.fail("datasets", names, "a non-empty list of dataset section names")
    if len(set(names)) < len(names):
        raise r.fail("datasets", names, "a list of distinct dataset section names")
    # every dataset section is checked, listed in `datasets` or not
    sections = dict.fromkeys(
        [*names, *(n for n, v in data.items() if isinstance(v, dict) and n not in STAGE_SECTIONS)]
    )
    params = Params(
        k=r.integer("k"),
        update=r.choice("update", UPDATES),
        generator_loss=r.choice("generator_loss", GENERATOR_LOSSES),
        device=r.choice("device", DEVICES),
        schedule=r.choice("schedule", SCHEDULES),
        precision=r.choice("precision", PRECISIONS),
        kernels=r.choice("kernels", KERNELS),
        datasets=tuple(names),
        by_name={n: _dataset(n, r.sub(n)) for n in sections},
        quality=_quality(r.sub("quality")),
        references=_references(r.sub("references")),
        inception=_inception(r.sub("inception")),
        file=file,
        text=text,
    )
    r.check_unknown()
    return params


def as_dict(obj: Any) -> Any:
    """Plain-dict form of a params dataclass (stored next to checkpoints)."""
    return dataclasses.asdict(obj)
