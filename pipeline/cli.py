"""Command line: one Typer command per DVC stage. It parses arguments and calls the stage."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import typer

from pipeline import params as P
from pipeline.errors import PipelineError

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help=__doc__, pretty_exceptions_show_locals=False
)
DATASET = typer.Argument(..., help="a dataset section of params.yaml, e.g. mnist")
PARAMS = typer.Option(Path("params.yaml"), "--params", help="the params file")


def _stage(module: str, params: Path, dataset: str | None = None, **options) -> None:
    """Load params once, run `pipeline.<module>.run`. Bad input, or a file that cannot be
    written (read-only directory, full disk), is one line on stderr and exit 2; an interrupted
    run exits 130."""
    try:
        p = P.load(params)
        stage = importlib.import_module(f"pipeline.{module}")
        if dataset is None:
            stage.run(p, **options)
        else:
            stage.run(p, p.dataset(dataset), **options)
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
    _stage("download", params, dataset)


@app.command()
def preprocess(dataset: str = DATASET, params: Path = PARAMS) -> None:
    """Split into train / valid / test as in the paper and scale pixels."""
    _stage("preprocess", params, dataset)


@app.command()
def train(
    dataset: str = DATASET,
    params: Path = PARAMS,
    fresh: bool = typer.Option(
        False, "--fresh", help="ignore checkpoints/<dataset>/ and start over"
    ),
) -> None:
    """Train G and D with Algorithm 1 (k, update, generator_loss from params.yaml); resumes from
    checkpoints/<dataset>/ when params, data and code match."""
    _stage("train", params, dataset, fresh=fresh)


@app.command()
def sample(dataset: str = DATASET, params: Path = PARAMS) -> None:
    """Draw samples from the selected generator; write Figures 2 and 3."""
    _stage("sample", params, dataset)


@app.command()
def parzen(dataset: str = DATASET, params: Path = PARAMS) -> None:
    """Choose the Parzen sigma on the validation slice; score the test set."""
    _stage("evaluate", params, dataset)


@app.command()
def figures(params: Path = PARAMS) -> None:
    """Put the datasets' panels of Figure 2 together (figures/figure2.png)."""
    _stage("figures", params)


@app.command()
def table(params: Path = PARAMS) -> None:
    """Assemble Table 1 (Markdown and CSV under metrics/)."""
    _stage("table", params)


@app.command("offline-plots")
def offline_plots() -> None:
    """Write the offline HTML template that `dvc plots show` uses (.dvc/plots/offline.html)."""
    from pipeline import offline_plots as tool

    typer.echo(f"wrote {tool.run()}")
