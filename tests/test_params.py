"""Bad params are refused with one message naming the key, the value and what was expected."""

import pytest
import yaml

from pipeline import params as P
from tests.conftest import tiny_params_dict


def write(tmp_path, data) -> str:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_repo_params_load_and_match_the_paper():
    p = P.load(P.Path(__file__).resolve().parents[1] / "params.yaml")
    mnist = p.dataset("mnist")
    assert (p.k, p.update, p.generator_loss) == (1, "simultaneous", "non_saturating")
    assert mnist.split.train == (0, 50000) and mnist.split.valid == (50000, 60000)
    assert mnist.split.test == 10000 and mnist.parzen.valid == 1000
    assert (mnist.train.lr, mnist.train.lr_decay, mnist.train.lr_min) == (0.1, 1.000004, 1e-6)
    assert mnist.model.discriminator.keep == (0.8, 0.5, 0.5)


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda p: p.update(k=0), "'k' is 0; expected an integer >= 1"),
        (lambda p: p["mnist"]["train"].update(lr=-0.1), "'mnist.train.lr' is -0.1"),
        (lambda p: p["mnist"]["train"].pop("lr_decay"), "missing key 'mnist.train.lr_decay'"),
        (lambda p: p["mnist"].pop("seeds"), "missing key 'mnist.seeds'"),
        (lambda p: p["mnist"].update(seeds=[1, 1]), "'mnist.seeds' is [1, 1]; expected distinct"),
        (lambda p: p["mnist"].update(seeds=[]), "'mnist.seeds' is []; expected a list of"),
        (
            lambda p: p["mnist"]["train"].update(collapse={"valid_parzen_below": -100}),
            "missing key 'mnist.train.collapse.spread_below'",
        ),
        (
            lambda p: p["mnist"]["train"]["collapse"].update(stop="no"),
            "'mnist.train.collapse.stop' is 'no'; expected true or false",
        ),
        (lambda p: p.update(update="sideways"), "'update' is 'sideways'"),
        (lambda p: p["mnist"].update(source="imagenet"), "'mnist.source' is 'imagenet'"),
        (
            lambda p: p["mnist"]["model"]["discriminator"].update(keep=[0.8, 0.5]),
            "'mnist.model.discriminator.keep'",
        ),
        (lambda p: p["mnist"]["split"].update(train=[100, 10]), "'mnist.split.train'"),
        (lambda p: p.update(datasets=["mnist", "svhn"]), "missing key 'svhn'"),
        (lambda p: p["mnist"].update(deviation=3), "'mnist.deviation' is 3; expected null or"),
        (lambda p: p.update(precision="fp16"), "'precision' is 'fp16'; expected one of"),
        (
            lambda p: p["mnist"].update(seeds=[0, 2**70]),
            f"'mnist.seeds' is [0, {2**70}]; expected distinct integers in [0, 4294967295]",
        ),
        (
            lambda p: p["mnist"]["train"].update(lerning_rate=5),
            "unknown key 'mnist.train.lerning_rate' (expected one of ['batch_size',",
        ),
        (lambda p: p.update(kk=3), "unknown key 'kk' (did you mean 'k'?)"),
        (
            lambda p: p["mnist"]["train"].update(lr_deacy=1),
            "unknown key 'mnist.train.lr_deacy' (did you mean 'mnist.train.lr_decay'?)",
        ),
        (
            lambda p: p["tfd"]["parzen"].update(sample=5),
            "unknown key 'tfd.parzen.sample' (did you mean 'tfd.parzen.samples'?)",
        ),
        (
            lambda p: p["mnist"]["model"]["generator"].update(deconv={"channels": 2}),
            "'mnist.model.generator.deconv' is {'channels': 2}; expected null when output is",
        ),
        (
            lambda p: p["mnist"]["parzen"].update(samples=10**12),
            "'mnist.parzen.samples' is 1000000000000; expected at most",
        ),
        (
            lambda p: p["lfw"].update(classifier={"net": "lenet"}),
            "'lfw.classifier' is {'net': 'lenet'}; expected null: lfw has no labels",
        ),
        (
            lambda p: p["mnist"]["classifier"].update(net="convnet"),
            "'mnist.classifier.net' is 'convnet'; expected 'lenet' for mnist's images",
        ),
        (lambda p: p["quality"].update(nearest_k=0), "'quality.nearest_k' is 0"),
        (lambda p: p["references"].update(sample_sizes=[]), "'references.sample_sizes' is []"),
        (lambda p: p["inception"].update(weights=5), "'inception.weights' is 5; expected null"),
    ],
)
def test_bad_value_names_its_key(tmp_path, tiny_dict, edit, needle):
    edit(tiny_dict)
    with pytest.raises(P.ParamsError) as err:
        P.load(write(tmp_path, tiny_dict))
    assert needle in str(err.value)


def test_unknown_dataset_names_the_known_ones(tiny):
    with pytest.raises(P.ParamsError, match=r"unknown dataset 'svhn'.*\['mnist'\]"):
        tiny.dataset("svhn")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(P.ParamsError, match="no such params file"):
        P.load(tmp_path / "nope.yaml")


def test_a_key_given_twice_is_an_error_naming_both_lines(tmp_path):
    """PyYAML would silently keep the last value; a duplicated key is a mistake to point at."""
    path = tmp_path / "params.yaml"
    path.write_text("k: 1\nupdate: alternating\nk: 3\n")
    with pytest.raises(
        P.ParamsError, match="line 3: duplicate key 'k' \\(first given at line 1\\)"
    ):
        P.load(path)


def test_sample_counts_are_bounded_by_this_machines_memory(tmp_path, tiny_dict, monkeypatch):
    """10,000 samples fit in 1 GiB; the bound follows the machine's memory."""
    monkeypatch.setattr(P, "memory_bytes", lambda: 2**30)
    tiny_dict["mnist"]["parzen"].update(samples=10_000, batch=100)
    P.load(write(tmp_path, tiny_dict))
    tiny_dict["mnist"]["parzen"]["samples"] = 100_000
    most = 2**30 // 2 // (12 * 784 + 16 * 100)
    with pytest.raises(P.ParamsError, match=f"expected at most {most:,} "):
        P.load(write(tmp_path, tiny_dict))


def test_a_one_phase_schedule_may_be_a_bare_integer(tmp_path):
    """`dvc exp run -S mnist.train.cpu_epochs=5` writes a scalar; TFD's two phases need a list."""
    p = tiny_params_dict(["mnist", "tfd"])
    p["mnist"]["train"]["cpu_epochs"] = 5
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(p))
    assert P.load(path).dataset("mnist").train.cpu_epochs == (5,)
    p["tfd"]["train"]["cpu_epochs"] = 5
    path.write_text(yaml.safe_dump(p))
    with pytest.raises(P.ParamsError, match=r"'tfd.train.cpu_epochs' is 5; expected a list of 2 "):
        P.load(path)


def test_dvc_exp_run_set_param_changes_only_the_value_it_sets(tmp_path):
    """params.yaml is laid out as DVC's `-S` rewrites it: no reformatting of the other lines."""
    from dvc.utils.hydra import apply_overrides

    from tests.conftest import ROOT

    original = (ROOT / "params.yaml").read_text()
    path = tmp_path / "params.yaml"
    path.write_text(original)
    apply_overrides(str(path), ["k=1"])
    assert path.read_text() == original
    apply_overrides(str(path), ["k=2"])
    lines = zip(original.splitlines(), path.read_text().splitlines(), strict=True)
    assert [(a, b) for a, b in lines if a != b] == [("k: 1", "k: 2")]
