"""``voiceagent emulator`` as a user runs it: with a script, the quickstart's program gets
the documented output; bad arguments get one line and exit 2."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import anyio
import pytest
from azure.ai.voicelive.aio import connect
from azure.core.credentials import AzureKeyCredential

from ..helpers import recv_until, type_of
from ..test_quickstart import QUICKSTART, blocks, commands, environment

if TYPE_CHECKING:
    from pathlib import Path

    from anyio.abc import Process


async def start(*args: str, cwd: Path | None = None) -> tuple[Process, str, str]:
    """Start ``voiceagent emulator`` and read its banner: (process, endpoint, banner)."""
    proc = await anyio.open_process(
        [sys.executable, "-m", "voiceagent", "emulator", "--port", "0", "--api-key", "k", *args],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stderr=subprocess.STDOUT,
        cwd=cwd,
    )
    assert proc.stdout is not None
    banner = ""
    with anyio.fail_after(20):
        async for chunk in proc.stdout:
            banner += chunk.decode()
            if "Ctrl-C" in banner:
                break
    found = re.search(r"AZURE_VOICELIVE_ENDPOINT=(\S+)", banner)
    assert found is not None, banner
    return proc, found.group(1), banner


async def stop(proc: Process) -> None:
    proc.terminate()
    with anyio.fail_after(20):
        await proc.wait()


async def test_the_quickstart_program_against_the_standalone_emulator(tmp_path: Path) -> None:
    # docs/quickstart.md, "Run it from Python": main.py against `voiceagent emulator`
    # playing script.py prints exactly what the page shows.
    page = QUICKSTART.read_text()
    for language, attributes, body in blocks(page):
        title = re.search(r'title="([^"]+)"', attributes)
        if language == "python" and title:
            (tmp_path / title.group(1)).write_text(body)
    [expected] = [
        c for _, _, body in blocks(page) for c in commands(body) if c.line == "python main.py"
    ]
    await anyio.run_process(
        [
            sys.executable,
            "-c",
            "import shutil; from voiceagent.demo import QUESTION; "
            "shutil.copy(QUESTION, 'question.wav')",
        ],
        cwd=tmp_path,
    )
    proc, endpoint, banner = await start("--script", "script.py", "--speed", "0", cwd=tmp_path)
    try:
        assert "Playing the script script.py:script" in banner
        with anyio.fail_after(90):  # a hang guard
            result = await anyio.run_process(
                [sys.executable, "main.py"],
                cwd=tmp_path,
                env=environment(AZURE_VOICELIVE_ENDPOINT=endpoint, AZURE_VOICELIVE_API_KEY="k"),
                check=False,
            )
    finally:
        await stop(proc)
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert out.splitlines() == list(expected.output)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "99999"], "voiceagent emulator: --port must be 0 to 65535, got 99999"),
        (["--port", "-1"], "voiceagent emulator: --port must be 0 to 65535, got -1"),
        (["--script", "missing.py"], "voiceagent emulator: no such file: missing.py"),
        (
            ["--session-max-s", "0"],
            "voiceagent emulator: --session-max-s must be a positive number of seconds, got 0",
        ),
    ],
)
async def test_bad_arguments_get_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = await anyio.run_process(
        [sys.executable, "-m", "voiceagent", "emulator", *args], check=False
    )
    assert result.returncode == 2
    assert result.stdout == b""
    assert result.stderr.decode().splitlines() == [message]


async def test_a_script_module_attribute_and_session_expiry(tmp_path: Path) -> None:
    (tmp_path / "brain.py").write_text(
        "from voiceagent.testing import Script, Turn\n"
        "GREETER = Script(greeting='Welcome to the test desk.')\n"
    )
    proc, endpoint, _ = await start(
        "--script", "brain.py:GREETER", "--session-max-s", "60", "--speed", "60", cwd=tmp_path
    )
    try:
        async with connect(endpoint=endpoint, credential=AzureKeyCredential("k")) as conn:
            await conn.recv()
            await conn.session.update(session={"modalities": ["text"], "turn_detection": None})
            await recv_until(conn, "session.updated")
            await conn.response.create()
            events = await recv_until(conn, "response.text.done")
            assert events[-1].text == "Welcome to the test desk."
            # One emulated minute at speed 60: the session ends after a second.
            *_, error = await recv_until(conn, "error", timeout=10)
            assert error.error.code == "session_expired"
            assert [type_of(e) async for e in conn] == []
    finally:
        await stop(proc)
