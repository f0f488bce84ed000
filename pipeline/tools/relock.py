"""`python -m pipeline relock STAGE...`: carry stages' dvc.lock entries across a code change
shown not to change what they compute, when their outputs are not on this machine.

After such a change (``python -m bench.same`` byte-identical on every dataset, named in the
commit message), `dvc commit` records the new code for a stage, but only where the stage's
outputs are in this machine's cache; a run that took days elsewhere is not. This rewrites the
code entries of each named stage's ``deps`` in dvc.lock (the files under pipeline/ that
dvc.yaml declares now, with their md5 and size) and keeps everything else of the entry: its
params, its outputs' hashes, its data deps' hashes. A param that dvc.yaml now declares and the
entry lacks (a new knob, whose present value the same check showed to compute what the stage
computed before) is recorded at that value, and so is a section that gained such a knob and
changed nothing else (`mnist.train` with a new `plateau`). It refuses, changing nothing, when a
stage's command, its data deps or a recorded param's value differ from what dvc.lock records:
those are not a code change.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from pipeline.plumbing.errors import PipelineError
from pipeline.plumbing.files import md5sum, write_text

LOCK = Path("dvc.lock")
CODE = "pipeline/"


def _code_entry(path: str) -> dict:
    return {
        "path": path,
        "hash": "md5",
        "md5": md5sum(Path(path)),
        "size": Path(path).stat().st_size,
    }


def carried(
    entry: dict, name: str, cmd: str, deps: list[str], params: dict[str, dict] | None = None
) -> dict:
    """`entry` (a stage's dvc.lock record) with its code deps replaced by `deps`' code files at
    their present content, and `params` (file -> key -> value) it lacks added; the rest kept."""
    if entry.get("cmd") != cmd:
        raise PipelineError(
            f"{LOCK}: '{name}' ran `{entry.get('cmd')}`, dvc.yaml now says `{cmd}`; rerun it"
        )
    old = {d["path"]: d for d in entry.get("deps", [])}
    data_then = sorted(p for p in old if not p.startswith(CODE))
    data_now = sorted(p for p in deps if not p.startswith(CODE))
    if data_then != data_now:
        raise PipelineError(
            f"{LOCK}: '{name}' depends on {data_now}, its record on {data_then}; rerun it"
        )
    new = [_code_entry(p) if p.startswith(CODE) else old[p] for p in sorted(deps)]
    recorded = entry.get("params", {})
    for file, values in (params or {}).items():
        recorded = {**recorded, file: dict(sorted({**recorded.get(file, {}), **values}.items()))}
    return {**entry, "deps": new, "params": recorded} if params else {**entry, "deps": new}


def only_added(then: object, now: object) -> bool:
    """Whether `now` is `then` with keys added to it or to mappings within it, and nothing else
    changed: a section that gained a knob."""
    if not (isinstance(then, dict) and isinstance(now, dict)):
        return False
    return then.keys() <= now.keys() and all(
        then[k] == now[k] or only_added(then[k], now[k]) for k in then
    )


def new_params(
    name: str,
    status: dict[str, dict[str, str]],
    present: dict[str, dict],
    recorded: dict[str, dict] | None = None,
) -> dict:
    """The params DVC calls new in `status` (file -> key -> "new" | "modified" | "deleted", as
    ParamsDependency.workspace_status gives it), and those modified only by keys added within
    them (`only_added` against their `recorded` values), at their `present` values; refuses
    when any recorded param changed otherwise or went."""
    for file, keys in status.items():
        for key, what in keys.items():
            then = (recorded or {}).get(file, {}).get(key)
            if what != "new" and not (what == "modified" and only_added(then, present[file][key])):
                raise PipelineError(
                    f"{LOCK}: '{name}' ran with {file} '{key}', now {what}; rerun it"
                )
    return {file: {key: present[file][key] for key in keys} for file, keys in status.items()}


def dump(lock: dict) -> str:
    """dvc.lock's text as DVC writes it (a null is an empty value)."""
    text = yaml.safe_dump(lock, sort_keys=False, width=float("inf"), allow_unicode=True)
    return re.sub(r": null$", ":", text, flags=re.M)


def run(stages: list[str]) -> str:
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo
    from dvc.utils.serialize import parse_yaml

    if not LOCK.is_file():
        raise PipelineError(f"{LOCK}: missing; run `dvc repro` first")
    text = LOCK.read_text()
    lock = yaml.safe_load(text)
    # the recorded params as DVC compares them (YAML 1.2: `1e-06` is a number, not a string)
    as_dvc_reads = parse_yaml(text, str(LOCK))["stages"]
    with Repo() as repo:
        defined = {s.addressing: s for s in repo.index.stages}
    unknown = [s for s in stages if s not in defined or s not in lock["stages"]]
    if unknown:
        raise PipelineError(
            f"{LOCK}: no stage {', '.join(map(repr, unknown))} both in dvc.yaml and in the lock "
            f"file; expected one of {', '.join(s for s in defined if s in lock['stages'])}"
        )
    for name in stages:
        stage = defined[name]
        deps = [str(d.def_path) for d in stage.deps if not isinstance(d, ParamsDependency)]
        status, present = {}, {}
        for d in stage.deps:
            if isinstance(d, ParamsDependency):
                status.update(d.workspace_status())
                present[str(d.def_path)] = d.read_params()
        params = new_params(name, status, present, as_dvc_reads[name].get("params"))
        lock["stages"][name] = carried(lock["stages"][name], name, stage.cmd, deps, params)
    write_text(LOCK, dump(lock))
    return f"{LOCK}: carried the code deps of {len(stages)} stages: {', '.join(stages)}"
