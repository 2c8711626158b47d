"""``python -m support.step_gates``: fail when a feature uses an undefined step or a step
definition is never used (behave ``--dry-run`` with the ``steps.usage`` formatter).

The dry run writes its usage report and nothing else: behave.ini's formatters (Allure) and
outfiles are replaced, not added to as a ``-f``/``-o`` on the command line would be, and the
JUnit reporter is off, so ``allure-results/`` and ``reports/junit/`` are left as they were.
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

from behave.__main__ import run_behave
from behave.configuration import Configuration
from behave.formatter.base import StreamOpener  # type: ignore[import-untyped]

USAGE = Path("reports/steps-usage.txt")
_PROBLEMS = ("UNUSED STEP DEFINITIONS", "UNDEFINED STEPS")


def dry_run_config(formatter: str, outfile: Path) -> Configuration:
    """behave.ini's configuration for a ``--dry-run`` whose one formatter is ``formatter``,
    writing to ``outfile``, with no JUnit files."""
    # ``-f`` here too: behave loads a formatter named at start-up against the step registry that
    # the steps fill; one loaded later (after behave's runtime reset) would see an empty one.
    config = Configuration(command_args=["--dry-run", "--no-junit", "-f", formatter],
                           load_config=True)
    config.format = [formatter]
    config.outputs = [StreamOpener(str(outfile))]
    return config


def main() -> int:
    USAGE.parent.mkdir(parents=True, exist_ok=True)
    USAGE.unlink(missing_ok=True)
    said = io.StringIO()
    with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
        code = run_behave(dry_run_config("steps.usage", USAGE))
    report = USAGE.read_text(encoding="utf-8") if USAGE.exists() else ""
    problems = [section for section in _PROBLEMS if section in report]
    if code != 0 or problems:
        print(said.getvalue(), file=sys.stderr)
        start = min((report.find(p) for p in problems), default=0)
        print(report[start:], file=sys.stderr)
        print(f"step gate failed: {', '.join(problems) or 'behave --dry-run failed'}",
              file=sys.stderr)
        return 1
    print(f"step gate: every step is defined and every definition is used ({USAGE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
