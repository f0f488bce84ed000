"""Bad params are refused with one message naming the key, the value and what was expected."""

import pytest
import yaml

from pipeline import params as P


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
        (lambda p: p.pop("seed"), "missing key 'seed'"),
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
