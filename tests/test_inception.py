"""The optional Inception FID (stage `inception`): skipped in one line without weights, a clear
error for a file that is not weights, and the real loading and scoring path with a weights file
of the right layout (random values: the real file cannot be fetched here)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from pipeline import params as P
from pipeline.plumbing.errors import PipelineError
from pipeline.stages import inception
from tests.conftest import ROOT, tiny_params_dict


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    """torch-fidelity's Inception-v3 state dict with random values, saved as its weights file."""
    from torch_fidelity import feature_extractor_inceptionv3 as fx

    original = fx.FeatureExtractorInceptionV3.load_state_dict
    fx.FeatureExtractorInceptionV3.load_state_dict = lambda self, state: None
    loader = torch.load
    try:
        torch.load = lambda *a, **k: {}
        net = fx.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], "unused")
    finally:
        fx.FeatureExtractorInceptionV3.load_state_dict = original
        torch.load = loader
    path = tmp_path_factory.mktemp("weights") / "pt_inception-random.pth"
    torch.save(net.state_dict(), path)
    return path


def test_without_weights_the_stage_says_so_and_writes_why(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_params_dict()))
    p = P.load("params.yaml")
    inception.run(p, p.dataset("mnist"))
    assert "Inception FID skipped" in capsys.readouterr().out
    written = json.loads((tmp_path / "metrics/datasets/mnist/inception.json").read_text())
    assert written["fid"] is None and "inception.weights" in written["note"]


def test_a_file_that_is_not_weights_is_one_error_naming_it(tmp_path):
    bad = tmp_path / "weights.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(PipelineError, match=r"weights\.pth: not Inception-v3 weights"):
        inception.extractor(bad)
    with pytest.raises(PipelineError, match="no such file"):
        inception.extractor(tmp_path / "absent.pth")


def test_weights_of_the_right_layout_load_and_score(random_weights):
    net = inception.extractor(random_weights)
    rng = np.random.default_rng(0)
    real = torch.from_numpy(rng.integers(0, 256, (6, 3, 28, 28), dtype=np.uint8))
    fid = inception.frechet_inception(net, real, {"same": real, "noise": real.flip(0)}, batch=3)
    assert fid["same"] == pytest.approx(0, abs=1e-3)
    assert set(fid) == {"same", "noise"} and np.isfinite(fid["noise"])


def test_grey_images_become_three_channel_bytes():
    ds = P.load(ROOT / "params.yaml").dataset("mnist")
    x = inception.as_bytes(np.array([[0.0] * 783 + [1.0]], dtype=np.float32), ds, None)
    assert x.shape == (1, 3, 28, 28) and x.dtype == torch.uint8
    assert int(x[0, 2, 27, 27]) == 255 and int(x.sum()) == 3 * 255
