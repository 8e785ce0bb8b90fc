"""The package stays readable: the limits the training-package split set, kept by a test.

- no module of src/elman above 400 lines, no function above 60 (docstring included);
- no private name (a leading underscore) imported from another module, except from
  elman.validation, the one module of checks the others share. Package-private
  modules (elman._compiled, ...) may be imported; their private names may not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "elman"
MODULES = sorted(SRC.glob("*.py"))
MAX_MODULE, MAX_FUNCTION = 400, 60


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_and_function_sizes(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE, f"{path.name} has {lines} lines (at most {MAX_MODULE}): split it by concern"
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)" for node in ast.walk(_tree(path))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION]
    assert not long, f"{path.name}: functions above {MAX_FUNCTION} lines: {', '.join(long)}"


def _private_imports(tree: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level >= 1 and node.module != "validation":
            for alias in node.names:
                name = alias.name
                private = name.startswith("_") and not (name.startswith("__") and name.endswith("__"))
                # `from . import _compiled` imports a package-private module: allowed.
                is_module = node.module is None and (SRC / f"{name}.py").exists()
                if private and not is_module:
                    found.append(f"from {'.' * node.level}{node.module or ''} import {name}")
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_private_names_cross_modules(path):
    bad = _private_imports(_tree(path))
    assert not bad, f"{path.name} imports private names of other modules: {bad}"


def test_the_checker_sees_a_private_import():
    """The check above can fail: a private name from a module other than validation."""
    tree = ast.parse("from .keras import _keras\nfrom .validation import _count\nfrom . import _compiled\n")
    assert _private_imports(tree) == ["from .keras import _keras"]
