"""Helpers shared by the conformance suite's own tests."""

from __future__ import annotations

import ast
from pathlib import Path

import conformance


def suite_checks(pattern: str = "test_*.py") -> set[str]:
    """Names of the test functions of the suite's modules matching ``pattern`` (parsed,
    not imported: the modules use the suite's markers, registered only when its plugin is
    loaded)."""
    names = set()
    for path in Path(conformance.__file__).parent.glob(pattern):
        tree = ast.parse(path.read_text("utf-8"))
        names |= {
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
        }
    return names
