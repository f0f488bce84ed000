"""The code behind a stage: its module and every pipeline module it imports, transitively.

dvc.yaml declares exactly these files as each stage's code deps (tests/test_structure.py checks
it), train fingerprints them to decide whether a checkpoint may be resumed, and its run record
names their version. Imports are read from the source (ast), function-level ones included.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent  # pipeline/
ROOT = PACKAGE.parent
PLUMBING = "pipeline.plumbing"


def is_plumbing(module: str) -> bool:
    """Whether `module` is plumbing (pipeline/plumbing/): never a code dependency of a stage."""
    return module == PLUMBING or module.startswith(PLUMBING + ".")


def _imports(path: Path) -> set[str]:
    """Dotted names of the pipeline modules `path` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("pipeline"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pipeline"):
            # `from pipeline import x` and `from pipeline.datasets import y` may name modules
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def _file(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None  # a name imported from a module, not a module


def closure(module: str, plumbing: bool = False) -> list[str]:
    """Repository paths of `module` (e.g. "pipeline.stages.train") and of every pipeline module
    it imports, directly or not, with the __init__.py of each package on the way, the plumbing
    left out unless `plumbing`; sorted."""
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # a module's packages run their __init__ first
            prefix = ".".join(parts[:i])
            if is_plumbing(prefix) and not plumbing:
                break
            path = _file(prefix)
            if path is not None and prefix not in seen:
                seen[prefix] = path
                todo.extend(_imports(path))
    return sorted(str(p.relative_to(ROOT)) for p in seen.values())


def _without_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return tree


def version(module: str, exclude: frozenset[str] = frozenset()) -> str:
    """md5 over the code of `module`'s closure (plumbing aside), less the paths in `exclude`:
    over each file's syntax tree without docstrings, so that comments, docstrings and layout do
    not change it and any change to what the code does does."""
    digest = hashlib.md5()
    for name in closure(module):
        if name in exclude:
            continue
        tree = _without_docstrings(ast.parse((ROOT / name).read_text(), name))
        digest.update(name.encode() + b"\0" + ast.dump(tree).encode() + b"\0")
    return digest.hexdigest()
