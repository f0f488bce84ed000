"""`compare` keeps, of dvc exp show's hundreds of columns, the params that differ and the scores."""

from pipeline.tools.compare import Run, _flatten, table

MNIST = "metrics/datasets/mnist/"


def run(name, k, test_ll, commit=False):
    params = {"k": k, "mnist": {"seeds": [0, 1], "train": {"lr": 0.1}}}
    metrics = (
        {}
        if test_ll is None
        else {
            f"{MNIST}parzen.json": {
                "test_ll": test_ll,
                "test_se": 2.0,
                "seed_std": 2.8,
                "n_seeds": 2,
                "collapsed": 0,
            },
            f"{MNIST}train.json": {"train_seconds": 90.0},
        }
    )
    return Run(name, commit, _flatten(params), metrics)


def test_one_row_per_experiment_and_dataset_with_only_the_params_that_differ():
    frame = table([run("main", 1, 180.0, commit=True), run("k2", 2, 150.0)])
    assert list(frame["experiment"]) == ["main", "k2"]
    assert list(frame["params that differ"]) == ["(baseline)", "k=2"]
    assert list(frame["test LL"]) == [180.0, 150.0] and list(frame["dataset"]) == ["mnist"] * 2


def test_the_workspace_and_experiments_are_compared_with_their_commit():
    """After `dvc exp run -S k=2` the workspace holds k = 2 too; the commit is the baseline."""
    runs = [
        run("workspace", 2, 150.0, commit=True),
        run("main", 1, 180.0, commit=True),
        run("k2", 2, 150.0),
    ]
    assert list(table(runs)["params that differ"]) == ["k=2", "(baseline)", "k=2"]


def test_nested_params_are_named_by_their_dotted_key():
    lr = run("lr", 1, 170.0)
    lr.params["mnist.train.lr"] = 0.05
    frame = table([run("main", 1, 180.0, commit=True), lr])
    assert list(frame["params that differ"]) == ["(baseline)", "mnist.train.lr=0.05"]


def test_datasets_an_experiment_did_not_score_are_left_out():
    assert table([run("main", 1, None, commit=True)]).empty
