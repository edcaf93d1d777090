"""The ``voiceagent`` command: the standalone emulator serves the real SDK."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import anyio
import pytest
from azure.ai.voicelive.aio import connect
from azure.core.credentials import AzureKeyCredential

from voiceagent.cli import main

from .helpers import recv_until, type_of


def test_help_and_no_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["emulator", "--help"])
    assert exc.value.code == 0
    assert "--speed" in capsys.readouterr().out
    assert main([]) == 2


def test_bad_speed_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["emulator", "--speed", "fast"])
    assert exc.value.code == 2
    assert "not a number" in capsys.readouterr().err


async def test_standalone_emulator_serves_the_sdk_and_logs_events() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await anyio.open_process(
        [sys.executable, "-m", "voiceagent", "emulator", "--port", "0", "--api-key", "k3y"],
        env=env,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    output = ""
    try:
        with anyio.fail_after(20):
            async for chunk in proc.stdout:
                output += chunk.decode()
                if "Ctrl-C" in output:
                    break
        endpoint = re.search(r"AZURE_VOICELIVE_ENDPOINT=(\S+)", output)
        assert endpoint is not None, output
        assert "AZURE_VOICELIVE_API_KEY=k3y" in output
        assert endpoint.group(1).startswith("http://127.0.0.1:")
        async with connect(
            endpoint=endpoint.group(1), credential=AzureKeyCredential("k3y")
        ) as conn:
            await conn.session.update(session={"instructions": "hi"})
            events = await recv_until(conn, "session.updated")
            assert [type_of(e) for e in events] == ["session.created", "session.updated"]
        with anyio.fail_after(20):
            async for chunk in proc.stdout:
                output += chunk.decode()
                if "-> session.updated" in output:
                    break
        assert "<- session.update" in output
        assert "k3y" not in output.split("AZURE_VOICELIVE_API_KEY=k3y", 1)[1]
        # Ctrl-C stops it cleanly: exit 0, no traceback.
        proc.send_signal(signal.SIGINT)
        with anyio.fail_after(20):
            async for chunk in proc.stdout:
                output += chunk.decode()
            assert await proc.wait() == 0
        assert "Traceback" not in output
        assert "emulator stopped" in output
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
