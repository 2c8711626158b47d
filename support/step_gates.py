"""``python -m support.step_gates``: fail when a feature uses an undefined step or a step
definition is never used (behave ``--dry-run`` with the ``steps.usage`` formatter)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

USAGE = Path("reports/steps-usage.txt")
_PROBLEMS = ("UNUSED STEP DEFINITIONS", "UNDEFINED STEPS")


def main() -> int:
    USAGE.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "behave", "--dry-run", "--no-junit", "-f", "steps.usage",
         "-o", str(USAGE)],
        capture_output=True, text=True, check=False,
    )
    report = USAGE.read_text(encoding="utf-8") if USAGE.exists() else ""
    problems = [section for section in _PROBLEMS if section in report]
    if done.returncode != 0 or problems:
        print(done.stdout + done.stderr, file=sys.stderr)
        start = min((report.find(p) for p in problems), default=0)
        print(report[start:], file=sys.stderr)
        print(f"step gate failed: {', '.join(problems) or 'behave --dry-run failed'}",
              file=sys.stderr)
        return 1
    print(f"step gate: every step is defined and every definition is used ({USAGE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
