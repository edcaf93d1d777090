"""Every example runs, as a user runs it, against the emulator; and ``voiceagent.demo``
(the demo's agent and the helper the examples share) keeps its promises."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import wave
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from voiceagent.audio import AudioFormat, Encoding, MemorySink, read_wav_info
from voiceagent.testing import Emulator, service, synthesize
from voiceagent.testing._service import azure_endpoint

from .telephony.test_examples import check_acs_line, check_twilio_line

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


async def run_example(
    name: str, tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    with anyio.fail_after(60):  # a hang guard, not a timing assertion
        result = await anyio.run_process(
            # Every example leaves nothing open (the session closes its audio ends).
            [sys.executable, "-W", "error::ResourceWarning", str(EXAMPLES / name), *args],
            cwd=tmp_path,
            env=env or clean_env(),
            check=False,
        )
    completed = subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    return completed


def frames(path: Path) -> int:
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (24000, 1, 2)
        count: int = wav.getnframes()
    return count


def speech_frames(*texts: str) -> int:
    """Frames of the emulator's speech for ``texts``, at 24 kHz."""
    return sum(len(synthesize(text).audio) for text in texts) // 2


# -- each example ----------------------------------------------------------------------------


async def check_weather(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    answer = "It's 21 degrees and sunny in Paris right now."
    assert result.stdout.splitlines() == [
        "user:  What's the weather like in Paris today?",
        f"agent: {answer}",
        "session ended (input_finished); the answer is in weather-answer.wav",
    ]
    # The class's typed handler logs each tool call.
    assert 'weather: tool get_weather({"city":"Paris"}) -> {"city":"Paris"' in result.stderr
    assert frames(tmp_path / "weather-answer.wav") == speech_frames(answer)


async def check_push_to_talk(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    answers = ("Yes, the pool is open until ten tonight.", "Breakfast starts at seven.")
    assert result.stdout.splitlines() == [
        "user:  Is the pool open tonight?",
        f"agent: {answers[0]}",
        "user:  And when does breakfast start?",
        f"agent: {answers[1]}",
        "4 messages; the answers are in push-to-talk.wav",
    ]
    assert frames(tmp_path / "push-to-talk.wav") == speech_frames(*answers)


async def check_translator(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    assert result.stdout.splitlines() == [
        "english: Excuse me, where is the train station?",
        "french:  Excusez-moi, où est la gare ?",
        "the translation is in translation.wav",
    ]
    assert frames(tmp_path / "translation.wav") == speech_frames("Excusez-moi, où est la gare ?")


async def check_support_desk(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    goodbye = "Good news, Ana: the street cabinet was repaired this morning. Have a lovely evening!"
    lines = result.stdout.splitlines()
    assert lines[0] == "desk:   Contoso Fiber support, how can I help?"
    assert lines[1] == "caller: Hi, it's Ana. Is my internet fixed yet? That's all I need."
    # The preface is spoken while the tools run: their lines may come in any order.
    assert set(lines[2:5]) == {
        '        (ticket_status {"ticket":"4411"})',
        "        (end_call {})",
        "desk:   Let me check ticket 4411.",
    }
    assert lines[5:] == [
        f"desk:   {goodbye}",
        # Ended by the agent's end_call tool, not by the caller's line running out.
        "call over (ended); the desk's side is in support-call.wav",
    ]
    assert frames(tmp_path / "support-call.wav") == speech_frames(
        "Contoso Fiber support, how can I help?", "Let me check ticket 4411.", goodbye
    )


async def check_phone_line(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    answer = "You're booked: a table for 2 at eight tonight. Your reference is CL-0412."
    assert result.stdout.splitlines() == [
        "on the wire: g711_ulaw 8000 Hz mono in, g711_ulaw 8000 Hz mono out",
        "caller: Hello, I'd like a table for two at eight tonight.",
        '        (book_table -> {"confirmed":true,"people":2,"time":"20:00","reference":'
        '"CL-0412"})',
        f"agent:  {answer}",
        "the agent's side of the call is in phone-answer.wav (8 kHz μ-law)",
    ]
    info = read_wav_info(tmp_path / "phone-answer.wav")
    assert info.format == AudioFormat(encoding=Encoding.G711_ULAW, sample_rate=8000)
    expected = synthesize(answer, encoding="g711_ulaw", sample_rate=8000).audio
    assert info.data_bytes == len(expected)


async def check_avatar(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        "user:  Tell me something fun about the Moon.",
        "lisa:  The Moon drifts almost four centimetres further from Earth every year!",
    ]
    visemes = re.fullmatch(r"(\d+) visemes \(0 ms: \d+, \d+ ms: \d+, .*\.\.\.\)", lines[2])
    blendshapes = re.fullmatch(r"(\d+) blendshape frames", lines[3])
    assert visemes is not None, lines
    assert blendshapes is not None, lines
    assert int(visemes.group(1)) > 10
    assert int(blendshapes.group(1)) > 10


async def check_serve_browser(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    greeting = "Good evening, this is the Hotel Lumen concierge. How can I help?"
    answer = "Table 12 is yours at 20:00 for 2."
    played = speech_frames(greeting, answer) / 24000
    assert result.stdout.splitlines() == [
        f"agent:  {greeting}",
        "caller: (asks for a table for two at eight)",
        f"agent:  {answer}",
        f"call ended (input_finished); {played:.1f} s of agent audio played",
    ]


async def check_mcp_research(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    assert result.stdout.splitlines() == [
        "user:   What is azure-ai-voicelive in the Azure Python SDK?",
        "        (ask_question approved)",
        "        (ask_question -> the Python SDK for Azure AI Voice Live.)",
        "agent:  DeepWiki says: the Python SDK for Azure AI Voice Live.",
    ]


async def check_transcribe_calls(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    lines = result.stdout.splitlines()
    rows = [re.fullmatch(r"\s*(\d+\.\d) s  (.*)", line) for line in lines[:3]]
    assert all(rows), lines
    assert [row.group(2) for row in rows if row] == [
        "Is the pool open tonight?",
        "And when does breakfast start?",
        "Excuse me, where is the train station?",
    ]
    starts = [float(row.group(1)) for row in rows if row]
    assert starts[0] < starts[1] < starts[2]
    assert lines[3] == "3 messages transcribed"


async def check_foundry_concierge(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    answer = "Breakfast is served from seven to ten."
    assert result.stdout.splitlines() == [
        "guest:     And when does breakfast start?",
        f"concierge: {answer}",
        "the concierge's answer is in concierge.wav",
    ]
    assert frames(tmp_path / "concierge.wav") == speech_frames(answer)


CHECKS: dict[str, Callable[[Path, subprocess.CompletedProcess[str]], Any]] = {
    "weather.py": check_weather,
    "push_to_talk.py": check_push_to_talk,
    "translator.py": check_translator,
    "support_desk.py": check_support_desk,
    "phone_line.py": check_phone_line,
    "avatar.py": check_avatar,
    "serve_browser.py": check_serve_browser,
    "twilio_line.py": check_twilio_line,
    "acs_line.py": check_acs_line,
    "mcp_research.py": check_mcp_research,
    "transcribe_calls.py": check_transcribe_calls,
    "foundry_concierge.py": check_foundry_concierge,
}
ARGS: dict[str, tuple[str, ...]] = {"serve_browser.py": ("--call",)}
"""More arguments for examples that would otherwise run until stopped (a server)."""


def test_every_example_is_tested() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(CHECKS)


@pytest.mark.parametrize("name", sorted(CHECKS))
async def test_example_runs_against_the_emulator(tmp_path: Path, name: str) -> None:
    result = await run_example(name, tmp_path, "--emulator", *ARGS.get(name, ()))
    assert "talking to the Voice Live emulator at http://127.0.0.1:" in result.stderr
    await CHECKS[name](tmp_path, result)


async def test_without_azure_settings_an_example_uses_the_emulator(tmp_path: Path) -> None:
    result = await run_example("translator.py", tmp_path)
    assert "talking to the Voice Live emulator" in result.stderr
    await check_translator(tmp_path, result)


async def test_with_azure_settings_an_example_talks_to_azure(tmp_path: Path) -> None:
    async with Emulator(script=load_example("translator").SCRIPT, speed=None) as azure:
        endpoint = azure.endpoint
        env = clean_env(AZURE_VOICELIVE_ENDPOINT=endpoint, AZURE_VOICELIVE_API_KEY=azure.api_key)
        result = await run_example("translator.py", tmp_path, env=env)
        assert len(azure.connections) == 1
    assert f"talking to Azure AI Voice Live at {endpoint}" in result.stderr
    await check_translator(tmp_path, result)


def test_the_weather_example_is_the_demo_agent() -> None:
    shipped = ROOT / "src" / "voiceagent" / "demo" / "weather.py"
    assert (EXAMPLES / "weather.py").read_text() == shipped.read_text(), (
        "examples/weather.py and src/voiceagent/demo/weather.py must stay identical: "
        "copy one onto the other"
    )


# -- the push-to-talk technique, checked on the emulator's side -------------------------------


def load_example(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_push_to_talk_commits_everything_said_while_the_button_was_held() -> None:
    ptt = load_example("push_to_talk")
    fmt = AudioFormat(sample_rate=16000)
    # Lengths that do and do not fill the last 20 ms frame (640 bytes at 16 kHz).
    presses = [synthesize("Is the pool open?", sample_rate=16000).audio, bytes(640 * 25 + 2)]
    async with Emulator(script=ptt.SCRIPT, speed=None) as emu:
        agent = ptt.Concierge()
        async with (
            ptt.TalkButton(fmt) as button,
            agent.session(
                source=button, sink=MemorySink(), endpoint=emu.endpoint, credential=emu.credential
            ) as session,
        ):
            for audio in presses:
                events = session.events()
                await button.hold(audio)
                await session.commit()
                with anyio.fail_after(10):
                    await ptt.answered(events)
        received = [event["type"] for event in emu.connections[0].received]
        committed = emu.connections[0].audio_received_bytes
    assert received.count("input_audio_buffer.commit") == 2
    # Every byte held was appended before its commit: the commits follow the appends.
    last_append = max(i for i, kind in enumerate(received) if kind == "input_audio_buffer.append")
    assert last_append < [i for i, k in enumerate(received) if k.endswith("commit")][-1]
    assert committed == sum(len(a) + (-len(a) % 640) for a in presses)


# -- voiceagent.testing.service -------------------------------------------------------------------


def test_azure_endpoint_reads_the_variables_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZURE_VOICELIVE_ENDPOINT", "AZURE_COGNITIVE_SERVICES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert azure_endpoint() is None
    monkeypatch.setenv("AZURE_COGNITIVE_SERVICES_ENDPOINT", "https://b.example")
    assert azure_endpoint() == "https://b.example"
    monkeypatch.setenv("AZURE_VOICELIVE_ENDPOINT", "  ")
    assert azure_endpoint() == "https://b.example"  # blank counts as unset
    monkeypatch.setenv("AZURE_VOICELIVE_ENDPOINT", "https://a.example")
    assert azure_endpoint() == "https://a.example"


async def test_service_picks_azure_or_the_emulator(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AZURE_VOICELIVE_ENDPOINT", "https://contoso.services.ai.azure.com")
    async with service() as where:
        assert where == {}  # the session resolves Azure's endpoint and credential itself
    assert "Azure AI Voice Live at https://contoso.services.ai.azure.com" in capsys.readouterr().err
    async with service(emulator=True) as where:
        assert set(where) == {"endpoint", "credential"}
        assert where["endpoint"].startswith("http://127.0.0.1:")
    assert "the Voice Live emulator" in capsys.readouterr().err
    monkeypatch.delenv("AZURE_VOICELIVE_ENDPOINT")
    monkeypatch.delenv("AZURE_COGNITIVE_SERVICES_ENDPOINT", raising=False)
    async with service() as where:
        assert "endpoint" in where
    async with service(emulator=False) as where:
        assert where == {}
    assert "(no endpoint set)" in capsys.readouterr().err
