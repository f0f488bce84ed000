"""TFD's Parzen protocol (Table 1): per fold, sigma is chosen on that fold's own valid split and
its test split is scored; the reported number is the mean over folds +- the standard error
across folds."""

import json
import math

import numpy as np
import pytest
import torch

from pipeline import parzen_protocol
from pipeline.parzen_window import log_likelihood, select_sigma
from pipeline.paths import Paths
from pipeline.stages import parzen
from tests.conftest import write_run_record


def test_each_fold_chooses_sigma_on_its_own_valid_split(tmp_path, monkeypatch, tiny_all):
    monkeypatch.chdir(tmp_path)
    ds = tiny_all.dataset("tfd")
    rng = np.random.default_rng(0)
    samples = rng.uniform(0, 1, size=(300, 20)).astype(np.float32)
    data = {"train": samples[:100], "note": np.array(""), "image_shape": np.array([4, 5])}
    for f in range(5):
        # fold f's points sit at distance ~ spread[f] from samples: its best sigma grows with f
        spread = [0.02, 0.1, 0.3, 0.6, 1.5][f]
        for split, n in (("valid", 40), ("test", 30)):
            pick = samples[rng.integers(0, 300, n)]
            noise = rng.normal(0, spread / math.sqrt(20), size=pick.shape)
            data[f"{split}_{f}"] = (pick + noise).astype(np.float32)
    Paths("tfd").processed.parent.mkdir(parents=True)
    np.savez(Paths("tfd").processed, **data)
    Paths("tfd").samples.mkdir(parents=True)
    np.save(Paths("tfd").seed_samples(0), samples)
    write_run_record("tfd", [2, 2], {"0": {"collapsed": False}})

    parzen.run(tiny_all, ds)
    summary = json.loads(Paths("tfd").parzen.read_text())
    score = summary["seeds"]["0"]  # one seed: its score is Table 1's
    assert (summary["test_ll"], summary["test_se"]) == (score["test_ll"], score["test_se"])
    mu = torch.from_numpy(samples)
    for f, fold in enumerate(score["folds"]):
        valid, test = (torch.from_numpy(data[f"{s}_{f}"]) for s in ("valid", "test"))
        chosen = select_sigma(valid, mu, ds.parzen)
        assert fold["sigma"] == pytest.approx(chosen.sigma)
        ll = log_likelihood(test, mu, [chosen.sigma])[0]
        assert fold["test_ll"] == pytest.approx(float(ll.mean()))
        assert fold["test_se"] == pytest.approx(float(ll.std(correction=0)) / math.sqrt(30))
        assert (fold["n_valid"], fold["n_test"]) == (40, 30)
    sigmas = [fold["sigma"] for fold in score["folds"]]
    assert sigmas == sorted(sigmas) and sigmas[0] < sigmas[-1]  # not one sigma for all folds
    means = np.array([fold["test_ll"] for fold in score["folds"]])
    assert score["test_ll"] == pytest.approx(means.mean())
    assert score["test_se"] == pytest.approx(means.std() / math.sqrt(5))  # across folds
    assert summary["n_folds"] == 5 and len(score["folds"]) == 5


def test_across_folds_is_mean_and_population_se():
    scores = [{"test_ll": v, "valid_ll": 0.0} for v in (1.0, 2.0, 4.0, 7.0, 11.0)]
    out = parzen_protocol.across_folds(scores)
    assert out["test_ll"] == pytest.approx(5.0)
    assert out["test_se"] == pytest.approx(np.std([1, 2, 4, 7, 11]) / math.sqrt(5))
