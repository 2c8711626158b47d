"""``python -m support.step_catalog [WORD…]`` (``make steps``, ``make steps FIND=upload``): every
step definition the features can use, grouped by domain and by the sections of its step module,
each with its keyword and text, what its docstring says and where it is defined; the parameter
types the texts use are explained at the end. With words, only the steps whose text or docstring
holds all of them.

The catalog is read from behave's own step registry after behave has loaded ``steps/`` as it
does for a run, so it lists exactly what a feature can match.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from behave.matchers import ParseMatcher
from behave.runner_util import load_step_modules
from behave.step_registry import registry

STEPS = Path(__file__).resolve().parents[1] / "steps"
# A step module's domain is the part of its name before the first "_" (codex_network_steps.py:
# codex), the name of the domain's folder under features/; its heading:
DOMAINS = {"codex": "Codex storage and networks", "chat": "Goverse chat",
           "archive": "Community history archives"}
KEYWORDS = {"given": "Given", "when": "When", "then": "Then", "step": "Given/When/Then"}
# The parse library's own types the patterns use, and the names the catalog gives them.
BUILT_IN_TYPES = {"d": "a whole number: 2, 30"}
TYPE_NAMES = {"d": "number"}
_SECTION = re.compile(r"^# --- (?P<title>.+?) -*$")
_FIELD = re.compile(r"\{(?P<name>\w*)(?::(?P<type>\w+))?\}")


@dataclass(frozen=True)
class Step:
    """One step definition: its keyword(s), pattern, docstring, domain, module section and
    where it is defined (its file and line)."""

    keywords: tuple[str, ...]
    pattern: str
    doc: str
    domain: str
    module: str
    section: str
    filename: str
    line: int

    @property
    def location(self) -> str:
        """Where it is defined: ``steps/x.py:12``."""
        return f"{self.filename}:{self.line}"

    @property
    def text(self) -> str:
        """The keyword(s) and the pattern, each field shown as ``<name: Type>``."""
        return f"{'/'.join(KEYWORDS[k] for k in self.keywords)} {readable(self.pattern)}"


def readable(pattern: str) -> str:
    """``{owner:Name} logs out`` → ``<owner: Name> logs out`` (``d`` reads ``number``; a field
    with no type, any text, reads ``<what>``)."""
    def field(match: re.Match[str]) -> str:
        name, kind = match["name"] or "value", match["type"]
        return f"<{name}>" if kind is None else f"<{name}: {TYPE_NAMES.get(kind, kind)}>"
    return _FIELD.sub(field, pattern)


def domain_of(module: str) -> str:
    """The domain a step module belongs to: ``codex_network_steps`` → ``codex``."""
    return module.split("_", 1)[0]


def _sections(path: Path) -> list[tuple[int, str]]:
    """The ``# --- title ---`` comments of a step module, with their line numbers."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(number, match["title"]) for number, line in enumerate(lines, 1)
            if (match := _SECTION.match(line))]


def load(steps: Path = STEPS) -> list[Step]:
    """Every step definition of the step modules in ``steps``, in module and line order."""
    load_step_modules([str(steps)])
    found: dict[tuple[object, str], list[str]] = {}
    where: dict[tuple[object, str], tuple[str, int]] = {}
    for step_type, matchers in registry.steps.items():
        for matcher in matchers:
            key = (matcher.func, matcher.pattern)
            found.setdefault(key, []).append(step_type)
            where[key] = (matcher.location.filename, matcher.location.line)
    sections = {path.stem: _sections(path) for path in steps.glob("*.py")}
    catalog = []
    for (func, pattern), step_types in found.items():
        filename, line = where[(func, pattern)]
        module = Path(filename).stem
        titles = [title for number, title in sections.get(module, []) if number < line]
        doc = inspect.getdoc(func) or ""
        catalog.append(Step(tuple(sorted(set(step_types), key=list(KEYWORDS).index)), pattern,
                            doc.split("\n\n", 1)[0], domain_of(module), module,
                            titles[-1] if titles else "", filename, line))
    return sorted(catalog, key=lambda s: (s.domain, s.module, s.line))


def type_help(name: str) -> str:
    """What a parameter type of the step patterns admits, from its docstring or pattern."""
    if name in BUILT_IN_TYPES:
        return BUILT_IN_TYPES[name]
    converter = ParseMatcher.TYPE_REGISTRY.get(name)
    if converter is None:
        return "(unknown type)"
    doc = inspect.getdoc(converter)
    if doc and doc != inspect.getdoc(type(converter)):
        return " ".join(doc.replace("``", "").split())
    return "one of: " + ", ".join(getattr(converter, "pattern", "?").split("|"))


def render(steps: Sequence[Step], words: Sequence[str] = ()) -> str:
    """The catalog as text: domains, their modules and sections, each step with its docstring
    and location; the parameter types used at the end."""
    wanted = [w.lower() for w in words]
    shown = [s for s in steps if all(w in f"{s.text} {s.doc}".lower() for w in wanted)]
    out = [f"Step catalog: {len(shown)} of {len(steps)} step definitions"
           + (f" (matching {' '.join(words)})" if words else "")
           + ". A <name: Type> field takes what the types at the end describe.", ""]
    domain = module = section = None
    for step in shown:
        if step.domain != domain:
            domain, module = step.domain, None
            title = DOMAINS.get(domain, domain.capitalize())
            out += [f"=== {title} (features/{domain}/) ===", ""]
        if step.module != module:
            module, section = step.module, None
            out += [f"--- steps/{module}.py ---", ""]
        if step.section != section and step.section:
            section = step.section
            out += [f"  [{section}]"]
        out.append(f"  {step.text}")
        out += [f"      {line}" for line in step.doc.splitlines()]
        out += [f"      ({step.location})", ""]
    used = sorted({m["type"] for s in shown for m in _FIELD.finditer(s.pattern) if m["type"]})
    if used:
        out += ["=== Parameter types ===", ""]
        out += [f"  {TYPE_NAMES.get(name, name)}: {type_help(name)}" for name in used]
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("words", nargs="*", help="show only steps whose text or docstring "
                                                 "holds all these words")
    args = parser.parse_args(argv)
    sys.stdout.write(render(load(), args.words))
    return 0


if __name__ == "__main__":
    sys.exit(main())
