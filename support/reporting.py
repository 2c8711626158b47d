"""Allure helpers: attachments for failing scenarios and the run's environment.properties."""

from __future__ import annotations

import json
import os
import platform
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path

import allure
from behave.model import Scenario

from support.processes.launcher import ProcessLog, tail_of

_LOG_ATTACHMENT_LINES = 2000


def suite_version() -> str:
    try:
        return metadata.version("acceptance-suite")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def allure_results_dir(formats: Iterable[str], outputs: Iterable[object]) -> Path | None:
    """The folder behave's Allure formatter writes to (behave pairs formats and outfiles)."""
    for fmt, output in zip(formats, outputs, strict=False):
        if "AllureFormatter" in fmt:
            return Path(getattr(output, "name", str(output)))
    return None


ENVIRONMENT_FACTS = Path("reports/environment")


def write_environment(results_dir: Path, facts: Mapping[str, str]) -> None:
    """Write Allure's environment.properties (``key=value`` lines), and this process's facts to
    ``reports/environment/<pid>.json`` so that parallel workers' facts can be merged."""
    write_properties(results_dir, facts)
    ENVIRONMENT_FACTS.mkdir(parents=True, exist_ok=True)
    (ENVIRONMENT_FACTS / f"{os.getpid()}.json").write_text(json.dumps(dict(facts)),
                                                            encoding="utf-8")


def merge_environments(results_dir: Path) -> None:
    """One environment.properties from every worker's facts (later values win on a clash)."""
    merged: dict[str, str] = {}
    for path in sorted(ENVIRONMENT_FACTS.glob("*.json"), key=lambda p: p.stat().st_mtime):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    if merged:
        write_environment(results_dir, merged)


def write_properties(results_dir: Path, facts: Mapping[str, str]) -> None:
    """Allure's environment.properties in ``results_dir``: one ``key=value`` line per fact."""
    results_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"{key}={_escape(value)}" for key, value in facts.items()]
    (results_dir / "environment.properties").write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_properties(path: Path) -> dict[str, str]:
    """The facts of an environment.properties written by ``write_properties`` (none if there is
    no such file)."""
    if not path.is_file():
        return {}
    facts = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            facts[key] = _ESCAPED.sub(lambda m: "\n" if m.group(1) == "n" else m.group(1), value)
    return facts


_ESCAPED = re.compile(r"\\(.)")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def base_environment(codex_target: str) -> dict[str, str]:
    return {
        "suite.version": suite_version(),
        "python.version": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "codex.target": codex_target,
    }


def attach_logs(logs: Iterable[ProcessLog]) -> None:
    """Attach each process log (the last lines of big ones) to the current scenario; of a process
    that served earlier scenarios too, only what it wrote during this one."""
    for log in logs:
        if log.path.exists():
            text = tail_of(log.path, _LOG_ATTACHMENT_LINES, log.since)
            if log.since:
                text = (f"(this process also served earlier scenarios of the feature; these are "
                        f"the lines it wrote during this one; the whole log: {log.path})\n{text}")
            allure.attach(text, name=f"log: {log.name}",
                          attachment_type=allure.attachment_type.TEXT)


def describe(scenario: Scenario, skipped: str | None = None) -> None:
    """The scenario's description in the report: why it is skipped (if it is; allure-behave
    drops behave's skip reason), its feature's "As a … / I want … / So that …" and description
    (allure-behave records only the scenario's own), then the scenario's description."""
    parts = [f"Skipped: {skipped}"] if skipped else []
    if scenario.feature is not None:
        parts.append(description_markdown(scenario.feature.description))
    parts.append(description_markdown(scenario.description))
    if any(parts):
        allure.dynamic.description("\n\n".join(part for part in parts if part))


# The lines of a user story, each a paragraph of its own in the report.
_STORY = re.compile(r"(As an?|As the|I want|So that|In order to)\b")


def description_markdown(lines: Sequence[str]) -> str:
    """Gherkin description lines as Markdown paragraphs: each line of the user story ("As a …",
    "I want …", "So that …", with the lines that continue it in lower case) is one, and the prose
    after the story, hard-wrapped in the feature file, joins into paragraphs again (a blank line
    ends one)."""
    paragraphs: list[list[str]] = []
    in_story, fresh = True, True
    for line in (line.strip() for line in lines):
        if not line:
            fresh, in_story = True, False
        elif _STORY.match(line):
            paragraphs.append([line])
            in_story, fresh = True, False
        elif fresh or (in_story and not line[:1].islower()):
            paragraphs.append([line])
            in_story, fresh = False, False
        else:
            paragraphs[-1].append(line)
    return "\n\n".join("\n".join(paragraph) for paragraph in paragraphs)


def record_skip(scenario: Scenario, reason: str) -> None:
    """Say why a scenario is skipped: in the report and on the console."""
    describe(scenario, skipped=reason)
    print(f"SKIPPED {scenario.name}: {reason}", file=sys.__stderr__)  # past behave's capture


# The attachment of a scenario whose processes did not stop cleanly (the runner fails its result).
STOP_CHECKS = "stop checks"


def attach_text(name: str, text: str) -> None:
    allure.attach(text, name=name, attachment_type=allure.attachment_type.TEXT)
