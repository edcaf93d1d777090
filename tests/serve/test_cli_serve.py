"""``voiceagent serve`` as a user runs it: real processes, real sockets, real signals.

The emulator runs in the test and the command finds it through the environment, as it
would find Azure, so the test can read the emulator's record.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import anyio
import pytest
from prometheus_client.parser import text_string_to_metric_families

from voiceagent.cli import main
from voiceagent.serve import BrowserClient
from voiceagent.testing import Emulator, synthesize

from .agents import ANSWER, QUESTION, SCRIPT
from .conftest import until

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from anyio.abc import Process

ROOT = Path(__file__).resolve().parents[2]
TARGET = "tests/serve/agents.py:WeatherAgent"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def status_of(url: str) -> int | None:
    try:
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            return response.status
    except aiohttp.ClientError:
        return None


async def active_sessions(base: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as response:
        text = await response.text()
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "voiceagent_active_sessions"
    )


class Served:
    """A ``voiceagent serve`` process and where it listens."""

    def __init__(self, process: Process, port: int) -> None:
        self.process = process
        self.base = f"http://127.0.0.1:{port}"
        self.ws = f"ws://127.0.0.1:{port}/ws"


@contextlib.asynccontextmanager
async def start_serve(emu: Emulator, log: Path, *args: str) -> AsyncIterator[Served]:
    port = free_port()
    env = {
        **os.environ,
        "AZURE_VOICELIVE_ENDPOINT": emu.endpoint,
        "AZURE_VOICELIVE_API_KEY": emu.api_key,
    }
    command = [sys.executable, "-m", "voiceagent", "serve", TARGET, "--port", str(port), *args]
    with log.open("wb") as stderr:
        process = await anyio.open_process(
            command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr
        )
    served = Served(process, port)
    try:
        await until(lambda: _ready(served), timeout=60)
        yield served
    finally:
        if process.returncode is None:
            process.kill()
        await process.aclose()


async def _ready(served: Served) -> bool:
    if served.process.returncode is not None:
        raise AssertionError(f"voiceagent serve exited with {served.process.returncode}")
    return await status_of(f"{served.base}/readyz") == 200


async def one_call(url: str, clients: list[BrowserClient]) -> BrowserClient:
    """A caller asks by voice, says it is done, and listens to the whole answer."""
    async with BrowserClient(url) as client:
        clients.append(client)
        await client.wait_for("ready")
        await client.stream(bytes(9600) + synthesize(QUESTION).audio + bytes(24000))
        await client.end()
        await client.wait_closed(timeout=60)
    return client


@pytest.mark.timeout(150)
async def test_two_workers_under_load_drain_on_sigterm(tmp_path: Path) -> None:
    calls = 6
    log = tmp_path / "serve.log"
    async with Emulator(script=SCRIPT, speed=1.0) as emu:
        async with start_serve(emu, log, "--workers", "2", "--drain-timeout", "60") as served:
            clients: list[BrowserClient] = []
            async with anyio.create_task_group() as tg:
                for _ in range(calls):
                    tg.start_soon(one_call, served.ws, clients)
                await until(lambda: len(clients) == calls, timeout=30)
                for client in clients:
                    await client.wait_for(
                        "state", predicate=lambda m: m["state"] == "agent_speaking", timeout=30
                    )
                # Both workers' metrics add up in /metrics, whichever answers.
                assert await active_sessions(served.base) == calls
                served.process.send_signal(signal.SIGTERM)
                await until(lambda: _status_is(served.base, 503), timeout=10)
                await anyio.sleep(0.2)  # both workers got the signal by now
                with pytest.raises(ConnectionRefusedError, match="1001"):
                    async with BrowserClient(served.ws):
                        pass
            # Every live call went on to its end and heard the whole answer.
            answer = len(synthesize(ANSWER).audio) // 2
            for client in clients:
                assert client.ended == {"type": "ended", "reason": "input_finished"}
                assert client.close_code == 1000
                assert client.received == answer
                assert client.played == answer
            with anyio.fail_after(30):
                assert await served.process.wait() == 0
    text = log.read_text(errors="replace")
    assert "Traceback" not in text
    assert "drained: no conversation open" in text
    assert len(emu.connections) == calls
    assert all(conn.closed for conn in emu.connections)


async def _status_is(base: str, status: int) -> bool:
    return await status_of(f"{base}/readyz") == status


@pytest.mark.timeout(60)
async def test_one_process_stops_calls_left_after_the_drain_timeout(tmp_path: Path) -> None:
    async with Emulator(script=SCRIPT, speed=1.0) as emu:
        async with start_serve(
            emu, tmp_path / "serve.log", "--drain-timeout", "0.5", "--max-sessions", "3"
        ) as served:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{served.base}/readyz") as response:
                    assert json.loads(await response.text())["max_sessions"] == 3
            async with BrowserClient(served.ws) as client:
                await client.wait_for("ready")
                await client.send_text(QUESTION)
                await client.wait_for("state", predicate=lambda m: m["state"] == "agent_speaking")
                served.process.send_signal(signal.SIGTERM)
                assert (await client.wait_for("ended", timeout=10))["reason"] == "shutdown"
                assert await client.wait_closed() == 1001
            with anyio.fail_after(20):
                assert await served.process.wait() == 0
    assert emu.connections[0].closed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "missing.py:Agent", "--emulator"], "no such file"),
        (["serve", TARGET, "--script", "x.py"], "--script sets what the emulator says"),
        (["serve", TARGET, "--speed", "2"], "--speed paces the emulator"),
    ],
)
def test_bad_usage_is_one_line_and_exit_code_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    os.chdir(ROOT)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_no_endpoint_without_emulator(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in (
        "AZURE_VOICELIVE_ENDPOINT",
        "AZURE_COGNITIVE_SERVICES_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(ROOT)
    assert main(["serve", TARGET]) == 2
    assert "--emulator" in capsys.readouterr().err


def test_workers_and_limits_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["serve", TARGET, "--workers", "0"], ["serve", TARGET, "--drain-timeout", "x"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
    assert "must be 1 or more" in capsys.readouterr().err
