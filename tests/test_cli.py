"""The ``voiceagent`` command: the standalone emulator serves the real SDK; ``demo`` and
``run`` hold conversations with a live transcript; bad usage is one line and exit code 2.

The commands run as a user runs them (``python -m voiceagent`` in a subprocess) wherever
an exit code, stdout/stderr or a signal is what is checked; the many ways to get a target
wrong run in-process through :func:`voiceagent.cli.main`.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import textwrap
import wave
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
import pytest
from azure.ai.voicelive.aio import connect
from azure.core.credentials import AzureKeyCredential

from voiceagent import TurnState
from voiceagent.audio import read_wav_info
from voiceagent.cli import main
from voiceagent.demo import QUESTION, SCRIPT
from voiceagent.events import (
    AgentTranscript,
    Interrupted,
    Reconnected,
    Reconnecting,
    ServiceErrorReported,
    SessionStarted,
    ToolCallFinished,
    ToolCallStarted,
    TurnChanged,
    TurnMetrics,
    UserTranscript,
)
from voiceagent.testing import Emulator, synthesize

from .helpers import recv_until, type_of

if TYPE_CHECKING:
    from collections.abc import Iterator

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEMO_ANSWER = "It's 21 degrees and sunny in Paris right now."
STAMP = r"^\s*\d+\.\d\ds "  # the time since the session started, on every transcript line


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without Azure settings or forced colors, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AZURE_") and k not in ("FORCE_COLOR", "PY_COLORS", "TTY_COMPATIBLE")
    }
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


async def voiceagent(
    *args: str | Path,
    cwd: Path,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    python: tuple[str, ...] = ("-m", "voiceagent"),
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m voiceagent *args`` (or other ``python`` arguments) to its end."""
    with anyio.fail_after(90):  # a hang guard, not a timing assertion
        result = await anyio.run_process(
            [sys.executable, *python, *map(str, args)],
            cwd=cwd,
            env=env or clean_env(),
            input=None if stdin is None else stdin.encode(),
            check=False,
        )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


def assert_in_order(lines: list[str], *patterns: str) -> None:
    """Each pattern matches a line, after the line the previous pattern matched."""
    at = 0
    for pattern in patterns:
        for i in range(at, len(lines)):
            if re.search(pattern, lines[i]):
                at = i + 1
                break
        else:
            raise AssertionError(
                f"no line matches {pattern!r} after line {at}:\n" + "\n".join(lines)
            )


def wav_frames(path: Path) -> tuple[int, int, int, int]:
    """(frames, rate, channels, sample width) of a WAV file, read by the stdlib."""
    with wave.open(str(path)) as wav:
        return wav.getnframes(), wav.getframerate(), wav.getnchannels(), wav.getsampwidth()


def one_line_usage_error(result: subprocess.CompletedProcess[str], command: str) -> str:
    """Assert exit code 2 and a one-line error without a traceback; return the line."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"voiceagent {command}: "), result.stderr
    return lines[-1]


# -- voiceagent emulator ------------------------------------------------------------------------


def test_help_and_no_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["emulator", "--help"])
    assert exc.value.code == 0
    assert "--speed" in capsys.readouterr().out
    assert main([]) == 2
    for command in ("demo", "run"):
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0
        assert "--mic" in capsys.readouterr().out


def test_bad_speed_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["emulator", "--speed", "fast"])
    assert exc.value.code == 2
    assert "not a number" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["run", "x.py", "--emulator", "--text", "--speed", "-1"])
    assert exc.value.code == 2
    assert "must be 0 (unpaced) or a positive number" in capsys.readouterr().err


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


# -- voiceagent demo ----------------------------------------------------------------------------


async def test_demo_prints_a_live_transcript_and_writes_the_answer(tmp_path: Path) -> None:
    result = await voiceagent("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "voiceagent demo: WeatherAgent, from voiceagent/demo/weather.py (examples/weather.py)"
    )
    # Only what causality orders is asserted in order: events of different loops (a tool's
    # end, the first audio, a transcript) may interleave.
    tool_call = STAMP + r'tool +get_weather\(city="Paris"\)$'
    tool_result = (
        STAMP + r'tool +get_weather → \{"city":"Paris","temperature":21,"unit":"c","sky":'
        r'"sunny"\}  \(\d+ ms\)$'
    )
    agent = STAMP + "agent +" + re.escape(DEMO_ANSWER) + "$"
    ended = (
        r"^ended: the input ended and the agent answered · 1 agent message · 2\.9 s of agent "
        r"audio in voiceagent-demo\.wav$"
    )
    assert_in_order(
        lines,
        STAMP + r"session +connected · id sess_\w+ · model gpt-realtime$",
        STAMP + r"turn +idle → user speaking$",
        STAMP + r"turn +user speaking → thinking$",
        tool_call,
        tool_result,
        agent,
        ended,
    )
    latency = STAMP + r"latency +\d+\.\d{3} s  \(user stopped speaking → first agent audio\)$"
    assert_in_order(lines, tool_call, latency, agent)
    assert_in_order(lines, tool_call, STAMP + r"turn +thinking → agent speaking$", agent)
    assert_in_order(lines, agent, STAMP + r"turn +agent speaking → idle$", ended)
    assert_in_order(lines, STAMP + r"user +What's the weather like in Paris today\?$", ended)
    assert "\x1b[" not in result.stdout + result.stderr  # plain lines when not a terminal
    assert "the Voice Live emulator at http://127.0.0.1:" in result.stderr
    frames, rate, channels, width = wav_frames(tmp_path / "voiceagent-demo.wav")
    assert (rate, channels, width) == (24000, 1, 2)
    assert frames == len(synthesize(DEMO_ANSWER).audio) // 2


async def test_demo_talks_to_the_service_the_environment_configures(tmp_path: Path) -> None:
    async with Emulator(script=SCRIPT, speed=None) as service:
        endpoint, key = service.endpoint, service.api_key
        env = clean_env(AZURE_VOICELIVE_ENDPOINT=endpoint, AZURE_VOICELIVE_API_KEY=key)
        result = await voiceagent("demo", "--fast", "--output", "out.wav", cwd=tmp_path, env=env)
        assert len(service.connections) == 1
    assert result.returncode == 0, result.stderr
    assert f"Azure AI Voice Live at {endpoint}" in result.stderr
    assert "emulator" not in result.stderr
    assert key not in result.stdout + result.stderr
    assert re.search(STAMP + "agent +" + re.escape(DEMO_ANSWER), result.stdout, re.M)
    assert wav_frames(tmp_path / "out.wav")[0] == len(synthesize(DEMO_ANSWER).audio) // 2
    assert not (tmp_path / "voiceagent-demo.wav").exists()


async def test_demo_emulator_flag_wins_over_the_environment(tmp_path: Path) -> None:
    env = clean_env(AZURE_VOICELIVE_ENDPOINT="http://127.0.0.1:9", AZURE_VOICELIVE_API_KEY="k")
    result = await voiceagent("demo", "--emulator", "--fast", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "the Voice Live emulator at" in result.stderr
    assert (tmp_path / "voiceagent-demo.wav").exists()


async def test_demo_bad_usage(tmp_path: Path) -> None:
    result = await voiceagent("demo", "--azure", cwd=tmp_path)
    line = one_line_usage_error(result, "demo")
    assert "no Voice Live endpoint: set AZURE_VOICELIVE_ENDPOINT" in line
    result = await voiceagent("demo", "--azure", "--emulator", cwd=tmp_path)
    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr
    result = await voiceagent("demo", "--speaker", "--output", "x.wav", cwd=tmp_path)
    assert "cannot be used together" in one_line_usage_error(result, "demo")
    assert not os.listdir(tmp_path)  # bad usage leaves no file behind


BLOCK_SOUNDDEVICE = (
    "import sys; sys.modules['sounddevice'] = None; "
    "from voiceagent.cli import main; raise SystemExit(main(sys.argv[1:]))"
)


async def test_a_missing_audio_extra_is_a_one_line_error(tmp_path: Path) -> None:
    for flag in ("--mic", "--speaker"):
        result = await voiceagent("demo", flag, cwd=tmp_path, python=("-c", BLOCK_SOUNDDEVICE))
        line = one_line_usage_error(result, "demo")
        assert line.startswith(f"voiceagent demo: {flag}: ")
        assert 'pip install "voiceagent[audio]"' in line
    assert not os.listdir(tmp_path)


NULL_ALSA = "pcm.!default { type null }\npcm.nullout { type null }\n"


def null_alsa_home(tmp_path: Path) -> Path:
    """A HOME whose .asoundrc gives PortAudio null ALSA devices (they play and record
    nothing, as fast as asked); skips where PortAudio or its ALSA backend is missing."""
    if not sys.platform.startswith("linux"):
        pytest.skip("null ALSA devices need Linux")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text(NULL_ALSA)
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sounddevice as sd; "
            "print(any(d['name'] == 'nullout' for d in sd.query_devices()))",
        ],
        env={**clean_env(), "HOME": str(home)},
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.stdout.strip() != "True":
        pytest.skip(f"no PortAudio with an ALSA backend here: {probe.stderr.strip()[-200:]}")
    return home


async def test_demo_plays_the_answer_on_the_speaker(tmp_path: Path) -> None:
    home = await anyio.to_thread.run_sync(null_alsa_home, tmp_path)
    result = await voiceagent(
        "demo",
        "--speaker",
        "--speaker-device",
        "nullout",
        "--fast",
        cwd=tmp_path,
        env=clean_env(HOME=str(home)),
    )
    assert result.returncode == 0, result.stderr
    assert "agent audio: your speaker" in result.stderr
    assert result.stdout.splitlines()[-1] == (
        "ended: the input ended and the agent answered · 1 agent message · 2.9 s of agent "
        "audio played"
    )
    assert not (tmp_path / "voiceagent-demo.wav").exists()


async def test_a_live_demo_runs_until_ctrl_c(tmp_path: Path) -> None:
    home = await anyio.to_thread.run_sync(null_alsa_home, tmp_path)
    code, out, err = await run_until_then_interrupt(
        ["demo", "--mic", "--speaker", "--mic-device", "nullout", "--speaker-device", "nullout"],
        tmp_path,
        "session  connected",
        env=clean_env(HOME=str(home)),
    )
    assert code == 130, err
    assert "Traceback" not in err
    assert "the emulator does not understand speech" in err
    assert "user: your microphone · agent audio: your speaker" in err
    assert "ended: stopped (Ctrl-C)" in out


async def test_a_missing_device_is_a_one_line_error(tmp_path: Path) -> None:
    # Whatever this machine has (no PortAudio, no devices, other devices), there is no
    # device by this name: the error says so, or says what is missing.
    result = await voiceagent(
        "demo", "--speaker", "--speaker-device", "no such device 7f3a", cwd=tmp_path
    )
    assert one_line_usage_error(result, "demo").startswith("voiceagent demo: --speaker: ")


# -- voiceagent run: conversations --------------------------------------------------------------


async def test_run_a_file_target_from_wav_to_wav_with_the_module_script(tmp_path: Path) -> None:
    result = await voiceagent(
        "run",
        EXAMPLES / "weather.py:WeatherAgent",
        "--emulator",
        "--speed",
        "0",
        "--input",
        QUESTION,
        "--output",
        "answer.wav",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "weather.py:SCRIPT" in result.stderr  # the agent's module's script, found
    assert "unpaced" in result.stderr
    assert_in_order(
        result.stdout.splitlines(),
        r"^voiceagent run: .*weather\.py:WeatherAgent$",
        STAMP + r'tool +get_weather\(city="Paris"\)$',
        STAMP + "agent +" + re.escape(DEMO_ANSWER) + "$",
        r"^ended: the input ended and the agent answered · 1 agent message · 2\.9 s of agent "
        r"audio in answer\.wav$",
    )
    assert wav_frames(tmp_path / "answer.wav")[0] == len(synthesize(DEMO_ANSWER).audio) // 2


TEXT_SCRIPT = """\
from voiceagent.testing import Script, ToolCall, Turn

script = Script(
    Turn(says="Hello! Ask me about the weather."),
    Turn(
        calls=[ToolCall("get_weather", {"city": "Tokyo"})],
        says=lambda ctx: f"{ctx.output('get_weather')['temperature']} degrees in Tokyo.",
    ),
)
"""


async def test_run_a_module_target_as_a_text_chat_with_a_script_file(tmp_path: Path) -> None:
    (tmp_path / "chat_script.py").write_text(TEXT_SCRIPT)
    result = await voiceagent(
        "run",
        "voiceagent.demo:WeatherAgent",
        "--emulator",
        "--script",
        "chat_script.py",
        "--text",
        cwd=tmp_path,
        stdin="hi\n\nand the weather in Tokyo?\n",
    )
    assert result.returncode == 0, result.stderr
    assert "chat_script.py:script" in result.stderr
    lines = result.stdout.splitlines()
    assert_in_order(
        lines,
        STAMP + "user +hi$",
        STAMP + "agent +Hello! Ask me about the weather.$",
        STAMP + r"user +and the weather in Tokyo\?$",
        STAMP + r'tool +get_weather\(city="Tokyo"\)$',
        STAMP + "agent +27 degrees in Tokyo.$",
        r"^ended: the conversation ended · 2 agent messages$",
    )
    assert_in_order(
        lines, STAMP + r'tool +get_weather → .*"temperature":27', r"^ended: the conversation"
    )
    assert not any(" turn " in line for line in lines)  # a text chat hides turn changes
    assert "you>" not in result.stdout  # no prompt when stdin is not a terminal


AGENTS = """\
from voiceagent import Agent


class Bot(Agent):
    instructions = "Be brief."


def make() -> Agent:
    return Bot(instructions="Be very brief.")


bot = Bot()
"""


@pytest.mark.parametrize("name", ["agents.py", "agents.py:bot", "agents.py:Bot", "agents.py:make"])
async def test_run_targets_an_instance_a_class_or_a_factory(tmp_path: Path, name: str) -> None:
    (tmp_path / "agents.py").write_text(AGENTS)
    result = await voiceagent("run", name, "--emulator", "--text", cwd=tmp_path, stdin="ping\n")
    assert result.returncode == 0, result.stderr
    assert re.search(STAMP + "agent +You said: ping$", result.stdout, re.M), result.stdout


async def test_run_talks_to_the_configured_service_with_its_key(tmp_path: Path) -> None:
    async with Emulator(speed=None) as service:
        endpoint = service.endpoint
        env = clean_env(AZURE_VOICELIVE_ENDPOINT=endpoint, AZURE_VOICELIVE_API_KEY=service.api_key)
        result = await voiceagent(
            "run", "voiceagent.demo:WeatherAgent", "--text", cwd=tmp_path, env=env, stdin="yo\n"
        )
        assert len(service.connections) == 1
    assert result.returncode == 0, result.stderr
    assert f"Azure AI Voice Live at {endpoint}" in result.stderr
    assert re.search(STAMP + "agent +You said: yo$", result.stdout, re.M)


async def test_a_failed_conversation_is_one_line_and_exit_code_1(tmp_path: Path) -> None:
    async with Emulator(speed=None, api_key="right") as service:
        env = clean_env(AZURE_VOICELIVE_ENDPOINT=service.endpoint, AZURE_VOICELIVE_API_KEY="wrong")
        result = await voiceagent("run", "voiceagent.demo", "--text", cwd=tmp_path, env=env)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("voiceagent run: Voice Live at http://127.0.0.1:")
    assert "refused the credential (HTTP 401)" in last
    assert "wrong" not in result.stdout + result.stderr
    assert "ended:" not in result.stdout  # a conversation that never started has no summary


def write_wav(path: Path, rate: int, seconds: float) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(bytes(int(rate * seconds) * 2))


async def test_audio_that_needs_resampling_without_the_extra_is_a_usage_error(
    tmp_path: Path,
) -> None:
    write_wav(tmp_path / "cd.wav", 44100, 0.5)
    block_numpy = BLOCK_SOUNDDEVICE.replace("'sounddevice'] = None", "'numpy'] = None")
    result = await voiceagent(
        "run",
        "voiceagent.demo:WeatherAgent",
        "--emulator",
        "--input",
        "cd.wav",
        cwd=tmp_path,
        python=("-c", block_numpy),
    )
    line = one_line_usage_error(result, "run")
    assert "needs numpy and soxr" in line
    assert "pcm16 mono at 8, 16 or 24 kHz" in line


# -- Ctrl-C -------------------------------------------------------------------------------------


async def run_until_then_interrupt(
    args: list[str],
    cwd: Path,
    wait_for: str,
    *,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    """Start ``python -m voiceagent *args``, wait for ``wait_for`` on stdout, press Ctrl-C."""
    proc = await anyio.open_process(
        [sys.executable, "-m", "voiceagent", *args],
        cwd=cwd,
        env=env or clean_env(),
        stdin=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    assert proc.stdin is not None
    out = err = ""
    try:
        if stdin is not None:
            await proc.stdin.send(stdin)  # kept open: the chat waits for more
        with anyio.fail_after(60):
            async for chunk in proc.stdout:
                out += chunk.decode()
                if wait_for in out:
                    break
            proc.send_signal(signal.SIGINT)
            async for chunk in proc.stdout:
                out += chunk.decode()
            async for chunk in proc.stderr:
                err += chunk.decode()
            code = await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return code, out, err


async def test_ctrl_c_ends_cleanly_and_leaves_a_valid_wav(tmp_path: Path) -> None:
    long_input = EXAMPLES / "audio" / "ticket.wav"
    code, out, err = await run_until_then_interrupt(
        [
            "run",
            "voiceagent.demo:WeatherAgent",
            "--emulator",
            "--input",
            str(long_input),
            "--realtime",
            "--output",
            "partial.wav",
        ],
        tmp_path,
        "idle → user speaking",
    )
    assert code == 130, err
    assert "Traceback" not in err
    assert "ended: stopped (Ctrl-C)" in out
    info = read_wav_info(tmp_path / "partial.wav")
    assert info.data_offset + info.data_bytes == (tmp_path / "partial.wav").stat().st_size
    wav_frames(tmp_path / "partial.wav")  # the stdlib reads it too


async def test_ctrl_c_ends_a_text_chat_waiting_for_input(tmp_path: Path) -> None:
    code, out, err = await run_until_then_interrupt(
        ["run", "voiceagent.demo:WeatherAgent", "--emulator", "--text"],
        tmp_path,
        "It's 21 degrees",
        stdin=b"first\n",
    )
    assert code == 130, err
    assert "Traceback" not in err
    assert "Fatal Python error" not in err
    assert "ended: stopped (Ctrl-C) · 1 agent message" in out


# -- voiceagent run: bad usage ------------------------------------------------------------------


@pytest.fixture
def isolated_imports() -> Iterator[None]:
    """Undo what loading targets does to ``sys.path`` and ``sys.modules``."""
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


FILES = {
    "agents.py": AGENTS
    + textwrap.dedent(
        """
        import os

        NOT_AN_AGENT = "hello"


        def needs_args(name: str) -> Agent:
            return Bot(instructions=name)


        def not_an_agent() -> int:
            return 42


        class Picky(Bot):
            def __init__(self, mood: str) -> None:
                super().__init__()
        """
    ),
    "two.py": "from voiceagent import Agent\n\nclass A(Agent): pass\n\nclass B(Agent): pass\n",
    "none.py": "X = 1\n",
    "broken.py": "def oops(:\n",
    "badtool.py": (
        "from voiceagent import Agent, tool\n\n"
        "class Bot(Agent):\n"
        "    @tool\n"
        "    def lookup(self, query) -> str:\n"
        "        return query\n"
    ),
    "badoption.py": "from voiceagent import Agent\n\nclass Bot(Agent):\n    temperature = 9\n",
    "noscript.py": "Y = 2\n",
}

BAD_USAGE = [
    (["missing.py:Bot", "--emulator", "--text"], "no such file: missing.py"),
    (["sub/:Bot", "--emulator", "--text"], "sub/ is a directory, not a Python file"),
    (
        ["agents.py:Nope", "--emulator", "--text"],
        "agents.py has no attribute 'Nope'; its agents: bot",
    ),
    (["agents.py:NOT_AN_AGENT", "--emulator", "--text"], "is a str, not an Agent subclass"),
    (["agents.py:needs_args", "--emulator", "--text"], "cannot be called without arguments"),
    (["agents.py:Picky", "--emulator", "--text"], "cannot be called without arguments"),
    (["agents.py:not_an_agent", "--emulator", "--text"], "returned a int, not an Agent"),
    (["agents.py:os", "--emulator", "--text"], "is the module os, not an Agent"),
    (["nosuchmodule:Bot", "--emulator", "--text"], "no module named 'nosuchmodule'"),
    (["two.py", "--emulator", "--text"], "two.py defines several (A, B): name the agent"),
    (["none.py", "--emulator", "--text"], "none.py defines no Agent instance or subclass"),
    (["broken.py:X", "--emulator", "--text"], "broken.py, line 1: "),
    (["badtool.py:Bot", "--emulator", "--text"], "lookup"),
    (["badoption.py:Bot", "--emulator", "--text"], "temperature"),
    (["agents.py:Bot", "--text"], "no Voice Live endpoint: set AZURE_VOICELIVE_ENDPOINT"),
    (["agents.py:Bot", "--emulator"], "say where the user's side comes from"),
    (["agents.py:Bot", "--emulator", "--text", "--input", "a.wav"], "--text and --input cannot"),
    (["agents.py:Bot", "--emulator", "--mic", "--input", "a.wav"], "--input and --mic cannot"),
    (["agents.py:Bot", "--emulator", "--input", "a.wav"], "WAV file 'a.wav': cannot be read"),
    (["agents.py:Bot", "--emulator", "--input", "none.py"], "not a WAV file"),
    (["agents.py:Bot", "--text", "--script", "noscript.py"], "--script sets what the emulator"),
    (["agents.py:Bot", "--text", "--speed", "2"], "--speed paces the emulator"),
    (["agents.py:Bot", "--emulator", "--text", "--script", "noscript.py"], "no 'script' or"),
    (["agents.py:Bot", "--emulator", "--text", "--script", "agents.py:bot"], "not a voiceagent"),
    (
        ["agents.py:Bot", "--emulator", "--input", "ok.wav", "--output", "nodir/out.wav"],
        "WAV file 'nodir/out.wav': cannot be written",
    ),
]


@pytest.mark.usefixtures("isolated_imports")
@pytest.mark.parametrize(("args", "message"), BAD_USAGE)
def test_bad_usage_is_one_line_and_exit_code_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "sub").mkdir()
    write_wav(tmp_path / "ok.wav", 16000, 0.1)
    monkeypatch.chdir(tmp_path)
    for name in [k for k in os.environ if k.startswith("AZURE_")]:
        monkeypatch.delenv(name)
    assert main(["run", *args]) == 2
    captured = capsys.readouterr()
    error = captured.err.strip().splitlines()
    assert error[-1].startswith("voiceagent run: "), captured
    assert message in error[-1]
    assert "Traceback" not in captured.err


@pytest.mark.usefixtures("isolated_imports")
async def test_an_error_in_the_users_module_shows_one_line_and_the_users_frames(
    tmp_path: Path,
) -> None:
    (tmp_path / "helper.py").write_text(
        "def load():\n    raise RuntimeError('the agent module is broken')\n"
    )
    (tmp_path / "crashing.py").write_text("import helper\n\nhelper.load()\n")
    result = await voiceagent("run", "crashing.py:Bot", "--emulator", "--text", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "voiceagent run: importing crashing.py failed: RuntimeError: the agent module is broken"
    )
    assert 'crashing.py", line 3, in <module>' in result.stderr
    assert 'helper.py", line 2, in load' in result.stderr
    assert "voiceagent/" not in result.stderr.replace(
        "voiceagent run", ""
    )  # only the user's frames
    assert "importlib" not in result.stderr


async def test_bad_usage_in_a_subprocess_has_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "agents.py").write_text(AGENTS + "\nNOT_AN_AGENT = 3\n")
    for target, message in [
        ("agents.py:NOT_AN_AGENT", "agents.py:NOT_AN_AGENT is a int, not an Agent subclass"),
        ("gone.py:Bot", "no such file: gone.py"),
        ("agents.py:Nope", "agents.py has no attribute 'Nope'"),
    ]:
        result = await voiceagent("run", target, "--emulator", "--text", cwd=tmp_path)
        assert message in one_line_usage_error(result, "run")


# -- the transcript -----------------------------------------------------------------------------


def transcript_of(*events: object, text_mode: bool = False) -> list[str]:
    """What the printer prints for ``events``, as plain lines without the time column."""
    from voiceagent._cli.printer import Printer, console

    out, err = io.StringIO(), io.StringIO()
    printer = Printer(console(out), console(err), text_mode=text_mode)
    for event in events:
        printer.show(event)  # type: ignore[arg-type]
    return [re.sub(STAMP, "", line) for line in out.getvalue().splitlines()]


def test_the_transcript_shows_each_kind_of_event() -> None:
    lines = transcript_of(
        SessionStarted(session_id="sess_1", model="gpt-realtime"),
        TurnChanged(old=TurnState.IDLE, new=TurnState.USER_SPEAKING),
        UserTranscript(item_id="i1", text="Book [bold]two[/bold] seats :smile:"),
        ToolCallStarted(call_id="c1", name="book", arguments='{"seats": 2, "note": "é"}'),
        ToolCallFinished(
            call_id="c1",
            name="book",
            arguments="{}",
            result=None,
            output='{"error": "full"}',
            error="the flight is full",
            duration_s=0.25,
        ),
        ToolCallStarted(call_id="c2", name="raw", arguments="not json"),
        TurnMetrics(response_id="r1", latency_s=0.4567),
        AgentTranscript(item_id="i2", text="Sorry, the flight", interrupted=True),
        Interrupted(item_id="i2", heard_ms=1250.0),
        TurnChanged(old=TurnState.AGENT_SPEAKING, new=TurnState.CONFIRMING),
        Reconnecting(attempt=2, reason="the connection closed (code 1006)"),
        Reconnected(gap_ms=830.0, replayed_items=4),
        ServiceErrorReported(code="invalid_value", message="bad voice"),
    )
    assert lines == [
        "session  connected · id sess_1 · model gpt-realtime",
        "turn     idle → user speaking",
        "user     Book [bold]two[/bold] seats :smile:",  # user text is never markup
        'tool     book(seats=2, note="é")',
        "tool     book failed: the flight is full  (250 ms)",
        "tool     raw(not json)",
        "latency  0.457 s  (user stopped speaking → first agent audio)",
        "agent    Sorry, the flight  [interrupted]",
        "barge-in the user interrupted; 1.25 s of the answer was heard",
        "turn     agent speaking → confirming",
        "network  reconnecting (attempt 2): the connection closed (code 1006)",
        "network  reconnected after 0.83 s; 4 conversation items replayed",
        "error    service error invalid_value: bad voice",
    ]


def test_a_text_chat_transcript_measures_to_the_first_text_and_hides_turns() -> None:
    lines = transcript_of(
        TurnChanged(old=TurnState.IDLE, new=TurnState.THINKING),
        TurnMetrics(response_id="r1", latency_s=0.1),
        text_mode=True,
    )
    assert lines == ["latency  0.100 s  (your message → first agent text)"]


@pytest.mark.parametrize(
    ("target", "parts"),
    [
        ("agent.py:Bot", ("agent.py", "Bot")),
        ("pkg.mod:make.agent", ("pkg.mod", "make.agent")),
        ("agent.py", ("agent.py", None)),
        (r"C:\agents\bot.py", (r"C:\agents\bot.py", None)),
        (r"C:\agents\bot.py:Bot", (r"C:\agents\bot.py", "Bot")),
        ("dir/with:colon/agent.py", ("dir/with:colon/agent.py", None)),
    ],
)
def test_targets_split_at_the_last_colon_before_a_python_name(
    target: str, parts: tuple[str, str | None]
) -> None:
    from voiceagent._cli.targets import split_target

    assert split_target(target) == parts
