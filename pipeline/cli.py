"""Command line: one Typer command per DVC stage, each named as its stage and its module
(command `train`: stage `train@<dataset>`, module `pipeline/stages/train.py`), and the tools. It
parses arguments and calls the stage's ``run``; stages are imported inside their command, so
that ``--help`` does not load torch."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import typer

from pipeline import params as P
from pipeline.datasets import SECTIONS
from pipeline.plumbing import files
from pipeline.plumbing.errors import PipelineError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help=__doc__,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="markdown",
)
DATASET = typer.Argument(
    ..., help=f"a dataset section of params.yaml listed in its 'datasets': {', '.join(SECTIONS)}"
)
PARAMS = typer.Option(Path("params.yaml"), "--params", help="the params file")
LOCKED_STAGES = typer.Argument(..., help="stages as dvc.lock names them, e.g. train@lfw")


def _stage(run: Callable, params: Path | None, dataset: str | None = None, **options) -> None:
    """Load params once (stages that read only other stages' results take none) and call the
    stage's `run`. Bad input, or a file that cannot be written (read-only directory, full disk),
    is one line on stderr and exit 2; an interrupted run exits 130."""
    try:
        if params is None:
            run(**options)
        else:
            p = P.load(params)
            with files.checked_before_replacing(p.unchanged):
                run(p, p.dataset(dataset), **options)
    except PipelineError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    except OSError as err:  # what the OS refused, e.g. EACCES, EROFS, ENOSPC
        where = f"{err.filename}: " if err.filename else ""
        typer.echo(f"error: {where}{err.strerror or err}", err=True)
        sys.exit(2)


@app.command()
def download(dataset: str = DATASET, params: Path = PARAMS) -> None:
    """Fetch the official files (mirror directories in $GAN_DATA_MIRROR first), md5-checked."""
    from pipeline.stages import download as stage

    _stage(stage.run, params, dataset)


@app.command()
def preprocess(dataset: str = DATASET, params: Path = PARAMS) -> None:
    """Split into train / valid / test as in the paper and scale pixels."""
    from pipeline.stages import preprocess as stage

    _stage(stage.run, params, dataset)


@app.command()
def train(
    dataset: str = DATASET,
    params: Path = PARAMS,
    fresh: bool = typer.Option(
        False, "--fresh", help="ignore the seeds' checkpoints in checkpoints/ and start over"
    ),
    seed: int | None = typer.Option(
        None, "--seed", help="train only this seed of the section's `seeds` (a worker's job)"
    ),
    threads: int | None = typer.Option(None, "--threads", min=1, help="torch threads"),
) -> None:
    """Train G and D with Algorithm 1 (k, update, generator_loss from params.yaml), one run per
    seed of the section's `seeds`, side by side where the CPU allows; each resumes from its
    folder in checkpoints/ when params, data and code match."""
    from pipeline.stages import train as stage

    _stage(stage.run, params, dataset, fresh=fresh, seed=seed, threads=threads)


@app.command()
def sample(dataset: str = DATASET, params: Path = PARAMS) -> None:
    """Draw samples from the selected generator; write Figures 2 and 3."""
    from pipeline.stages import sample as stage

    _stage(stage.run, params, dataset)


@app.command()
def parzen(dataset: str = DATASET, params: Path = PARAMS) -> None:
    """Choose the Parzen sigma on the validation slice; score the test set."""
    from pipeline.stages import parzen as stage

    _stage(stage.run, params, dataset)


@app.command()
def classifier(dataset: str = DATASET, params: Path = PARAMS) -> None:
    """Train the section's classifier on its training rows; its features score samples in
    `quality` (a section without labels gets a note)."""
    from pipeline.stages import classifier as stage

    _stage(stage.run, params, dataset)


@app.command()
def quality(dataset: str = DATASET, params: Path = PARAMS) -> None:
    """Score every seed's samples beyond the Parzen window (classifier features, memorisation)
    beside real held-out images, and the Parzen score against the number of samples."""
    from pipeline.stages import quality as stage

    _stage(stage.run, params, dataset)


@app.command()
def references(dataset: str = DATASET, params: Path = PARAMS) -> None:
    """The Parzen estimate's sanity rows: training images, held-out images, k-means centroids
    and uniform noise as the samples, and the training images' score against N."""
    from pipeline.stages import references as stage

    _stage(stage.run, params, dataset)


@app.command()
def inception(dataset: str = DATASET, params: Path = PARAMS) -> None:
    """The Fréchet Inception Distance, when params `inception.weights` names a local
    Inception-v3 weights file (otherwise one line saying it was skipped)."""
    from pipeline.stages import inception as stage

    _stage(stage.run, params, dataset)


@app.command()
def figures() -> None:
    """Put the datasets' panels of Figure 2 together (figures/figure2.png), each captioned with
    its run's record."""
    from pipeline.stages import figures as stage

    _stage(stage.run, None)


@app.command()
def table() -> None:
    """Assemble Table 1 (Markdown and CSV under metrics/) from every dataset's scores and run
    record."""
    from pipeline.stages import table as stage

    _stage(stage.run, None)


@app.command("offline-plots")
def offline_plots() -> None:
    """Write the offline HTML template that `dvc plots show` uses (.dvc/plots/offline.html)."""
    from pipeline.tools import offline_plots as tool

    typer.echo(f"wrote {tool.run()}")


@app.command()
def compare() -> None:
    """One row per experiment and dataset: the params that differ from its commit, test LL ±
    SE, σ, best epoch, train seconds (a readable `dvc exp show`)."""
    from pipeline.tools import compare as tool

    typer.echo(tool.run())


@app.command()
def plan(params: Path = PARAMS) -> None:
    """Which stages `dvc repro` would run, in order, why, and about how long training takes
    (from the committed runs' seconds per epoch)."""
    from pipeline.tools import plan as tool

    try:
        typer.echo(tool.run(P.load(params)))
    except PipelineError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)


@app.command()
def relock(stages: list[str] = LOCKED_STAGES) -> None:
    """Carry stages' dvc.lock entries across a code change that `python -m bench.same` showed
    to leave their outputs byte-identical, where those outputs are not on this machine: their
    code deps take the present files' hashes, the rest of each entry stays."""
    from pipeline.tools import relock as tool

    try:
        typer.echo(tool.run(stages))
    except PipelineError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
