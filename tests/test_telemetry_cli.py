"""``voiceagent demo --report`` and ``voiceagent run --report``, run as a user runs them."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from voiceagent.demo import QUESTION

from .test_cli import EXAMPLES, clean_env, one_line_usage_error, voiceagent

if TYPE_CHECKING:
    from pathlib import Path


async def test_demo_writes_an_html_report(tmp_path: Path) -> None:
    result = await voiceagent("demo", "--fast", "--report", "call.html", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "report: call.html" in result.stderr
    page = (tmp_path / "call.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "WeatherAgent conversation" in page
    assert "get_weather" in page
    assert "<svg" in page


async def test_run_writes_a_json_report(tmp_path: Path) -> None:
    result = await voiceagent(
        "run",
        EXAMPLES / "weather.py:WeatherAgent",
        "--emulator",
        "--speed",
        "0",
        "--input",
        QUESTION,
        "--report",
        "call.json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "call.json").read_text())
    assert report["agent"] == "WeatherAgent"
    assert report["end_reason"] == "input_finished"
    assert report["summary"]["turns"] == 1
    [turn] = report["turns"]
    assert turn["trigger"] == "speech"
    assert turn["latency_s"] > 0
    [call] = turn["tool_calls"]
    assert (call["name"], call["outcome"]) == ("get_weather", "ok")


async def test_a_text_chat_report(tmp_path: Path) -> None:
    script = tmp_path / "chat_script.py"
    script.write_text(
        "from voiceagent.testing import Script, Turn\n\nscript = Script(Turn(says='Hi there.'))\n"
    )
    result = await voiceagent(
        "run",
        EXAMPLES / "weather.py:WeatherAgent",
        "--emulator",
        "--script",
        script,
        "--text",
        "--report",
        "chat.json",
        cwd=tmp_path,
        stdin="Hello\n",
    )
    assert result.returncode == 0, result.stderr
    [turn] = json.loads((tmp_path / "chat.json").read_text())["turns"]
    assert (turn["trigger"], turn["user_text"], turn["agent_text"]) == (
        "request",
        "Hello",
        "Hi there.",
    )


async def test_bad_report_paths_are_usage_errors_before_anything_runs(tmp_path: Path) -> None:
    for path, message in (
        ("call.txt", "--report: a report is written as .json or .html, not 'call.txt'"),
        ("missing/call.json", "--report: the directory 'missing' does not exist"),
    ):
        result = await voiceagent("demo", "--fast", "--report", path, cwd=tmp_path)
        assert message in one_line_usage_error(result, "demo")
    assert not os.listdir(tmp_path)  # not even the demo's WAV was created


async def test_an_agent_without_a_report_cannot_write_one(tmp_path: Path) -> None:
    (tmp_path / "quiet.py").write_text(
        "from voiceagent import Agent\n"
        "from voiceagent.telemetry import Telemetry\n\n"
        "agent = Agent(telemetry=Telemetry.off())\n"
    )
    result = await voiceagent(
        "run",
        "quiet.py",
        "--emulator",
        "--text",
        "--report",
        "r.json",
        cwd=tmp_path,
        env=clean_env(),
    )
    line = one_line_usage_error(result, "run")
    assert line.endswith("--report: this agent keeps no report (its telemetry has report=False)")
