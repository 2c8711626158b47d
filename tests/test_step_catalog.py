"""The step catalog (``make steps``): every step definition under its domain, with its docstring."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

from support.step_catalog import readable

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {"given": "Given", "when": "When", "then": "Then", "step": "Given/When/Then"}


def catalog(*args: str, steps: Path | None = None) -> str:
    """The catalog as ``python -m support.step_catalog`` prints it (in a process of its own:
    loading steps fills behave's one step registry)."""
    code = "import sys; from support import step_catalog as c; sys.exit(c.main(sys.argv[1:]))"
    if steps is not None:
        code = ("import sys; from pathlib import Path; from support import step_catalog as c; "
                f"print(c.render(c.load(Path({str(steps)!r})), sys.argv[1:]), end='')")
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    return done.stdout


def blocks(text: str) -> dict[tuple[str, str], list[str]]:
    """Each step's line, its docstring lines and its location, by (domain, module)."""
    found: dict[tuple[str, str], list[str]] = {}
    domain = module = ""
    for line in text.splitlines():
        if match := re.fullmatch(r"=== .* \(features/(\w+)/\) ===", line):
            domain = match[1]
        elif match := re.fullmatch(r"--- steps/(\w+)\.py ---", line):
            module = match[1]
        elif line.startswith("  ") and domain and module:
            found.setdefault((domain, module), []).append(line.strip())
    return found


def defined_steps(path: Path) -> list[tuple[str, str, str]]:
    """(keywords, pattern, first docstring line) of each step function, read from the source."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.FunctionDef):
            continue
        by_pattern: dict[str, list[str]] = {}
        for decorator in node.decorator_list:
            if isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Name) and \
                    decorator.func.id in KEYWORDS:
                pattern = ast.literal_eval(decorator.args[0])
                by_pattern.setdefault(pattern, []).append(decorator.func.id)
        doc = (ast.get_docstring(node) or "").splitlines()
        for pattern, keywords in by_pattern.items():
            ordered = sorted(set(keywords), key=list(KEYWORDS).index)
            found.append(("/".join(KEYWORDS[k] for k in ordered), pattern, doc[0] if doc else ""))
    return found


def test_fields_read_as_names_and_types() -> None:
    assert readable("{owner:Name} waits {seconds:d} seconds for {:Text} and {what}") == \
        "<owner: Name> waits <seconds: number> seconds for <value: Text> and <what>"


def test_the_catalog_lists_every_step_under_its_domain_with_its_docstring() -> None:
    shown = blocks(catalog())
    modules = sorted((ROOT / "steps").glob("*_steps.py"))
    assert sorted(module for _, module in shown) == sorted(m.stem for m in modules)
    for module in modules:
        domain = module.stem.split("_", 1)[0]
        assert (ROOT / "features" / domain).is_dir(), f"{module.name}: no features/{domain}/"
        lines = shown[(domain, module.stem)]
        for keywords, pattern, doc in defined_steps(module):
            text = f"{keywords} {readable(pattern)}"
            assert text in lines, f"{module.name}: {text!r} is not in the catalog under {domain}"
            assert doc, f"{module.name}: {text!r} has no docstring (the catalog shows it)"
            assert lines[lines.index(text) + 1] == doc, f"{text!r} shows no docstring"


def test_a_module_s_steps_are_grouped_by_domain_and_section_and_can_be_found(
        tmp_path: Path) -> None:
    (tmp_path / "demo_steps.py").write_text('''
from behave import given, step, then

# --- the first part -------
@given("a {thing:d} thing")
@then("a {thing:d} thing")
def one(context, thing):
    """Makes the thing.

    More than anyone needs to read in the catalog."""

# --- the second part ---
@step('"{what}" is done')
def two(context, what):
    pass
''')
    (tmp_path / "other_steps.py").write_text(
        'from behave import when\n@when("nothing")\ndef three(context):\n    """Nothing."""\n')
    text = catalog(steps=tmp_path)
    where = os.path.relpath(tmp_path / "demo_steps.py", ROOT)
    assert "=== Demo (features/demo/) ===\n\n--- steps/demo_steps.py ---\n\n  [the first part]\n" \
           "  Given/Then a <thing: number> thing\n      Makes the thing.\n" \
           f"      ({where}:5)\n\n  [the second part]\n" \
           f'  Given/When/Then "<what>" is done\n      ({where}:13)\n' in text
    assert "More than anyone" not in text
    assert text.index("=== Demo") < text.index("=== Other")
    assert "  number: a whole number" in text
    found = catalog("thing", "makes", steps=tmp_path)
    assert found.startswith("Step catalog: 1 of 3 step definitions (matching thing makes)")
    assert "Nothing" not in found
