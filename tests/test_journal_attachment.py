"""A failing scenario's Allure result carries the journal of its exchanges, from every client
the scenario used: a real behave run, with the suite's own steps, of a crafted feature that
stores a file in Codex, chats over gRPC and from a web page, founds a Status community, and
then fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.journal import ATTACHMENT

ROOT = Path(__file__).resolve().parent.parent
FEATURE = """\
@use.with_explicit_archive_window=true
Feature: A failing scenario carries its exchanges

  Scenario: A check fails after Codex, gRPC, web and community calls
    Given a Codex node "A" is running
    When Alice uploads a 1 byte file to node A
    Given a chat cluster with 1 server and 1 gate
    And "carol" is connected to gate 1 from a web page
    And "dave" is connected to gate 1
    And "carol" has joined "Crypto"
    And "dave" has joined "Crypto"
    When "dave" says "Hello from the app" in "Crypto"
    Then "carol" receives "Hello from the app" from "dave" within 5 seconds
    Given Alice owns the community "Builders" with the channels #general and #random
    Then the rooms are "General"
"""


def _run_failing_feature(tmp_path: Path) -> Path:
    """Run the feature from a scratch folder (behave finds the suite's steps and environment
    through links next to it); returns the Allure results folder."""
    (tmp_path / "features").mkdir()
    (tmp_path / "features" / "journal.feature").write_text(FEATURE)
    (tmp_path / "steps").symlink_to(ROOT / "steps")
    (tmp_path / "environment.py").symlink_to(ROOT / "environment.py")
    results = tmp_path / "allure-results"
    run = subprocess.run(
        [sys.executable, "-m", "behave", "features/journal.feature", "--no-junit",
         "-f", "allure_behave.formatter:AllureFormatter", "-o", str(results), "-f", "plain",
         "-D", f"artifacts_dir={tmp_path / 'artifacts'}"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
        text=True, timeout=120, check=False)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 failed" in run.stdout, run.stdout
    return results


def test_a_failing_scenario_carries_the_exchanges_of_every_client(tmp_path: Path) -> None:
    results = _run_failing_feature(tmp_path)
    (result,) = [json.loads(path.read_text()) for path in results.glob("*-result.json")]
    assert result["status"] == "failed"
    (attachment,) = [a for a in result["attachments"] if a["name"] == ATTACHMENT]
    assert attachment["type"] == "text/plain"
    journal = (results / attachment["source"]).read_text()
    assert "--- Alice uploads a 1 byte file to node A" in journal  # the Codex world's note
    assert "POST http://127.0.0.1:" in journal and "/api/codex/v1/data  ->  200" in journal
    assert "/api/v1/events/stream  ->  200" in journal  # carol's web page: its event stream
    assert "/objects/call/ChatRoom/ChatRoom-Crypto/Join  ->  200" in journal  # and a call
    assert "event from http://" in journal and 'message: "Hello from the app"' in journal
    assert "gRPC /gate.GateService/CallObject by dave on 127.0.0.1:" in journal
    assert "gRPC stream /gate.GateService/Register of dave" in journal
    assert "/statusgo/CreateAccountAndLogin  ->  200" in journal  # the community node's API
    assert "/statusgo/CallRPC wakuext_createCommunity  ->  200" in journal
    assert "websocket frame from ws://127.0.0.1:" in journal and '"node.login"' in journal
    assert journal.index("SendMessage") < journal.index("the scenario is over; releasing")
