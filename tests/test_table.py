"""Table 1 reads at a glance: short cells, what each cell is in a numbered note under it."""

from __future__ import annotations

import pandas as pd

from pipeline.stages.table import _footnoted, _sigma


def test_each_source_but_the_paper_becomes_one_numbered_note():
    table = pd.DataFrame(
        [
            {"model": "GAN", "MNIST": "225 ± 2", "source": "paper"},
            {"model": "ours", "MNIST": "184.9 ± 5.1", "source": "mean ± SD over 5 seeds"},
            {"model": "… seed 0", "MNIST": "188.0 ± 2.3", "source": "one seed"},
            {"model": "… seed 1", "MNIST": "177.5 ± 1.4", "source": "one seed"},
        ]
    )
    text = _footnoted(table)
    assert "| GAN | 225 ± 2 | paper |" in text and "| ours | 184.9 ± 5.1 | [1] |" in text
    assert text.count("| [2] |") == 2
    assert text.endswith("\n[1] mean ± SD over 5 seeds\n\n[2] one seed\n")


def test_one_sigma_for_every_fold_is_said_once():
    assert _sigma({"folds": [{"sigma": 0.129}] * 5}) == "σ = 0.129 (every fold)"
    assert _sigma({"folds": [{"sigma": 0.1}, {"sigma": 0.129}]}) == "σ per fold 0.1/0.129"
    assert _sigma({"sigma": 0.167}) == "σ = 0.167"
