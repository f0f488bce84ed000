"""Stage `figures`: Figure 2 of the paper as one image, a panel per dataset.

Panels in the paper's order, (a) MNIST, (b) TFD, (c) CIFAR-10 fully connected, (d) CIFAR-10
convolutional, from each dataset's `sample` stage (figures/datasets/<dataset>/figure2.png: 4 x 5
samples and the nearest training example of the fifth); the LFW stand-in sits where TFD would.
Every dataset with a panel and a score is shown, so an experiment that ran only some datasets
keeps the others' committed panels (not those whose results older code made: pending.py); each
panel's caption says which run produced it (schedule, epochs, why it stopped, its training time,
seed, k, update, precision, from train's run record) and how its data differ from the paper's.
With several seeds a panel shows the typical one (artifacts.shown_seed).
"""

from __future__ import annotations

import textwrap

from pipeline.artifacts import arithmetic, read_parzen, read_run, scored, shown_seed
from pipeline.datasets import SECTIONS
from pipeline.machine import trained_on
from pipeline.paths import FIGURE2, Paths
from pipeline.pending import older_results
from pipeline.plumbing.errors import PipelineError
from pipeline.plumbing.files import atomic_path

TITLE = "Figure 2: samples; rightmost column: nearest training example of the sample beside it"
PANEL_INCHES = 4.2


def caption(name: str) -> str:
    """The run behind a panel (and whether it ended collapsed), how its data differ from the
    paper's, and how its config departs from the release."""
    run, score = read_run(name), read_parzen(name)
    seed = shown_seed(run)
    alive = f", the median of {score['survived']} surviving" if score["n_seeds"] > 1 else ""
    this = run["seeds"][str(seed)]
    why = this.get("stopped_for")  # none in records made before the stopping rules
    stop = f" (stopped: {why}; at most {run['epochs']})" if why else ""
    n = run.get("threads")  # none in records made before it was recorded
    threads = f"{n} thread{'s' * (n != 1)}" if n else "threads not recorded"
    ended = this.get("collapse_epoch") if this["collapsed"] else None
    lines = [
        f"{run['schedule']} schedule, epoch {this['best_epoch']} of {this['epochs_run']}{stop}",
        f"COLLAPSED from epoch {ended} to the end (samples alike)" if ended else "",
        f"{this['train_seconds'] / 3600:.1f} h of training ({run['device']}, {threads}, "
        f"{trained_on(this.get('machines', []))})",
        f"seed {seed}{alive}, k = {run['k']}, {run['update']} update, {arithmetic(run)}",
        score.get("note", ""),
        score.get("deviation", ""),
    ]
    return "\n".join(line for line in lines if line)


def run() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image
    import matplotlib.pyplot as plt

    names = []
    for name in (n for n in scored() if (Paths(n).figures / "figure2.png").is_file()):
        why = older_results(name)
        if why:
            print(f"figures: no panel for {name}: {why}")
        else:
            names.append(name)
    if not names:
        raise PipelineError("figures/datasets: no dataset has a panel and a score; run `dvc repro`")
    width = PANEL_INCHES * len(names)
    fig, axes = plt.subplots(1, len(names), figsize=(width, 4.8), squeeze=False)
    for i, (ax, name) in enumerate(zip(axes[0], names, strict=True)):
        panel = Paths(name).figures / "figure2.png"
        ax.imshow(matplotlib.image.imread(panel), interpolation="nearest")
        title = SECTIONS[name].title if name in SECTIONS else name
        ax.set_title(f"{chr(ord('a') + i)}) {title}", fontsize=11)
        ax.set_xlabel(caption(name), fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    # about 11 characters of an 11-point title per inch
    fig.suptitle(textwrap.fill(TITLE, width=int(width * 11)), fontsize=11)
    fig.tight_layout()
    with atomic_path(FIGURE2) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
