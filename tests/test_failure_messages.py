"""A guard: checks in steps and worlds fail in the domain's words (support.expect), never with a
matcher's bare ``Expected: <True>`` nor an ``assert`` that Python's ``-O`` would drop."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STEPS = sorted((ROOT / "steps").glob("*.py"))
WORLDS = sorted((ROOT / "support").glob("*/world.py"))
SUPPORT = sorted((ROOT / "support").rglob("*.py"))
# A matcher on a computed bool says only "Expected <True>".
BARE_BOOL = re.compile(r"\b(?:is_|equal_to|is_not)\(\s*(?:True|False)\s*\)")


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", [*STEPS, *SUPPORT], ids=_name)
def test_no_matcher_on_a_bool(path: Path) -> None:
    found = [f"{_name(path)}:{number}: {line.strip()}"
             for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1)
             if BARE_BOOL.search(line)]
    assert not found, "a matcher on a bool fails with a bare 'Expected <True>':\n" + \
        "\n".join(found)


@pytest.mark.parametrize("path", [*STEPS, *WORLDS], ids=_name)
def test_checks_go_through_support_expect(path: Path) -> None:
    """Steps and worlds import no matcher library, and keep ``assert`` only to narrow a type
    (``assert x is not None``, no message): every check is a support.expect call."""
    tree = ast.parse(path.read_text("utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom | ast.Import):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [alias.name for alias in node.names]
            found += [f"line {node.lineno}: imports {module}" for module in modules
                      if module.split(".")[0] == "hamcrest"]
        if isinstance(node, ast.Assert) and not _narrows_type(node):
            found.append(f"line {node.lineno}: assert {ast.unparse(node.test)}")
    assert not found, f"{_name(path)} checks without support.expect:\n" + "\n".join(found)


def _narrows_type(node: ast.Assert) -> bool:
    test = node.test
    return (node.msg is None and isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.IsNot)
            and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value is None)


def test_the_guard_sees_what_it_forbids() -> None:
    """The two rules above catch what they are meant to catch."""
    assert BARE_BOOL.search("assert_that(done, is_(True))")
    assert BARE_BOOL.search("assert_that(x, equal_to( False ))")
    assert not BARE_BOOL.search("assert_that(x, is_(none()))")
    checked = ast.parse("assert ok, 'message'").body[0]
    narrowed = ast.parse("assert item is not None").body[0]
    assert isinstance(checked, ast.Assert) and not _narrows_type(checked)
    assert isinstance(narrowed, ast.Assert) and _narrows_type(narrowed)
