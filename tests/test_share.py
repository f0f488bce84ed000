"""Sharing runs through DVC's own remotes (README, "Share results" and "Sweeps on several
workers"), with real stand-ins: a local bare git repository as `origin` and a local folder as the
DVC remote. A clone that pulls has nothing to rerun and the same outputs, byte for byte; a pair
of queued experiments run by two `dvc queue` workers (one thread each) comes back through
`dvc exp push` / `dvc exp pull`."""

import hashlib
import json
import time
from pathlib import Path

import pytest

from tests.conftest import sh, tiny_repo

pytestmark = pytest.mark.slow  # whole pipelines in scratch repositories: the full tier

CACHED = ("data", "models", "checkpoints")  # the DVC-cached outputs that a pull restores


@pytest.fixture(scope="module")
def shared(tmp_path_factory, mirror):
    """The tiny MNIST pipeline run once, its results committed and pushed: git to a bare
    `origin`, DVC's outputs to a local remote named in the committed .dvc/config."""
    work, env = tiny_repo(tmp_path_factory.mktemp("work"), ["mnist"], [mirror])
    origin = tmp_path_factory.mktemp("origin") / "gan.git"
    sh("git", "init", "-q", "--bare", "-b", "main", str(origin), cwd=work, env=env)
    store = tmp_path_factory.mktemp("dvc-store")
    sh("dvc", "remote", "add", "-d", "storage", str(store), cwd=work, env=env)
    sh("git", "add", "-A", cwd=work, env=env)
    sh("git", "commit", "-qm", "results", cwd=work, env=env)
    sh("git", "remote", "add", "origin", str(origin), cwd=work, env=env)
    sh("git", "push", "-q", "origin", "main", cwd=work, env=env)
    sh("dvc", "push", cwd=work, env=env)
    return work, origin, env


def clone(origin: Path, dest: Path, env: dict) -> Path:
    sh("git", "clone", "-q", str(origin), str(dest), cwd=dest.parent, env=env)
    return dest


def digests(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.md5(path.read_bytes()).hexdigest()
        for top in CACHED
        for path in sorted((root / top).rglob("*"))
        if path.is_file()
    }


def test_a_pulled_clone_is_up_to_date_and_reruns_nothing(shared, tmp_path):
    work, origin, env = shared
    other = clone(origin, tmp_path / "other", env)
    assert "up to date" not in sh("dvc", "status", cwd=other, env=env).stdout  # nothing yet
    sh("dvc", "pull", cwd=other, env=env)
    assert "Data and pipelines are up to date" in sh("dvc", "status", cwd=other, env=env).stdout
    out = sh("dvc", "repro", cwd=other, env=env).stdout
    assert "Running stage" not in out
    assert digests(other) == digests(work)
    assert any(name.startswith("checkpoints/mnist/seed-1/") for name in digests(other))
    for name in ("parzen.json", "quality.json", "train.json"):
        path = f"metrics/datasets/mnist/{name}"
        assert (other / path).read_text() == (work / path).read_text()


def wait_for_queue(root: Path, env: dict, timeout: float = 900) -> str:
    """`dvc queue status` once no task is queued or running (workers exit when it is empty)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = sh("dvc", "queue", "status", cwd=root, env=env).stdout
        if not any(word in status for word in ("Queued", "Running")):
            return status
        time.sleep(3)
    raise AssertionError(f"the queue did not finish in {timeout} s:\n{status}")


def test_queued_experiments_run_on_two_workers_and_travel_with_exp_push(shared, tmp_path):
    work, origin, env = shared
    names = {"k2-queued": 2, "k3-queued": 3}
    for name, k in names.items():
        sh("dvc", "exp", "run", "--queue", "-n", name, "-S", f"k={k}", cwd=work, env=env)
    sh("dvc", "queue", "start", "-j", "2", cwd=work, env=env)
    status = wait_for_queue(work, env)
    assert status.count("Success") == 2, status
    sh("dvc", "exp", "push", "origin", *names, cwd=work, env=env)

    other = clone(origin, tmp_path / "other", env)
    sh("dvc", "exp", "pull", "origin", *names, cwd=other, env=env)
    shown = json.loads(sh("dvc", "exp", "show", "--json", cwd=other, env=env).stdout)
    found = {}
    for commit in shown:
        for exp in commit.get("experiments") or []:
            for rev in exp["revs"]:
                if rev["name"] in names:
                    data = rev["data"]
                    params = data["params"]["params.yaml"]["data"]
                    metrics = data["metrics"]
                    train = metrics["metrics/datasets/mnist/train.json"]["data"]
                    found[rev["name"]] = (
                        params["k"],
                        (train["workers"], train["threads"]),
                        metrics["metrics/datasets/mnist/parzen.json"]["data"]["test_ll"],
                    )
    assert set(found) == set(names)
    for name, (k, cores, test_ll) in found.items():
        assert k == names[name] and cores == (1, 1)  # one core per queue worker by default
        assert isinstance(test_ll, float)
    # the experiment's models came back with it: applying one restores them from the remote
    sh("dvc", "exp", "apply", "k2-queued", cwd=other, env=env)
    sh("dvc", "pull", cwd=other, env=env)
    assert (other / "models/mnist/seed-1/generator_best.pt").is_file()
    assert "up to date" in sh("dvc", "status", cwd=other, env=env).stdout
