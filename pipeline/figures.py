"""Stage `figures`: Figure 2 of the paper as one image, a panel per dataset.

Panels in the paper's order, (a) MNIST, (b) TFD, (c) CIFAR-10 fully connected, (d) CIFAR-10
convolutional, from each dataset's `sample` stage (figures/datasets/<dataset>/figure2.png: 4 x 5
samples and the nearest training example of the fifth). The LFW stand-in takes TFD's place when
TFD was not run, and sits beside it when it was. Every panel's title says which schedule and how
many epochs produced it, and how its data differ from the paper's.
"""

from __future__ import annotations

from pipeline.errors import PipelineError
from pipeline.params import Params
from pipeline.paths import FIGURE2, Paths, atomic_path
from pipeline.table import read_parzen, trained

ORDER = ("mnist", "tfd", "lfw", "cifar10_fc", "cifar10_conv")
TITLES = {
    "mnist": "MNIST",
    "tfd": "TFD",
    "lfw": "LFW 48×48 (stand-in for TFD)",
    "cifar10_fc": "CIFAR-10 (fully connected)",
    "cifar10_conv": "CIFAR-10 (convolutional)",
}


def caption(name: str, params: Params) -> str:
    """The schedule and epochs behind a panel, how its data differ from the paper's, and how its
    config departs from the release."""
    score = read_parzen(name)
    lines = [trained(params, name), score.get("note", ""), score.get("deviation", "")]
    return "\n".join(line for line in lines if line)


def run(params: Params) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image
    import matplotlib.pyplot as plt

    names = [n for n in ORDER if n in params.datasets]
    names += [n for n in params.datasets if n not in ORDER]
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 4.6), squeeze=False)
    for i, (ax, name) in enumerate(zip(axes[0], names, strict=True)):
        panel = Paths(name).figures / "figure2.png"
        if not panel.is_file():
            raise PipelineError(f"{panel}: missing; run `python -m pipeline sample {name}`")
        ax.imshow(matplotlib.image.imread(panel), interpolation="nearest")
        ax.set_title(f"{chr(ord('a') + i)}) {TITLES.get(name, name)}", fontsize=11)
        ax.set_xlabel(caption(name, params), fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(
        "Figure 2: samples; rightmost column: nearest training example of the sample beside it",
        fontsize=11,
    )
    fig.tight_layout()
    with atomic_path(FIGURE2) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
