"""``voiceagent transcribe``: a WAV file to one line per turn, against the emulator and a
configured service, run as a user runs it (a subprocess); bad usage is one line and exit
code 2."""

from __future__ import annotations

import json
import textwrap
import wave
from typing import TYPE_CHECKING

import pytest

from voiceagent.testing import Emulator, Script, Turn, synthesize

from .test_cli import clean_env, one_line_usage_error, voiceagent

if TYPE_CHECKING:
    from pathlib import Path

FIRST, SECOND = "Good morning, this is the front desk.", "Your room is ready."


def write_call(path: Path) -> None:
    silence = bytes(24000 * 2)
    audio = synthesize(FIRST).audio + silence + synthesize(SECOND).audio + silence
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(24000)
        wav.writeframes(audio)


SCRIPT = f"""
from voiceagent.testing import Script, Turn

script = Script(Turn(hears={FIRST!r}), Turn(hears={SECOND!r}))
"""


async def test_a_file_is_transcribed_one_line_per_turn(tmp_path: Path) -> None:
    write_call(tmp_path / "call.wav")
    (tmp_path / "script.py").write_text(textwrap.dedent(SCRIPT))
    result = await voiceagent(
        "transcribe", "call.wav", "--emulator", "--script", "script.py", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("[00:00.0 - 00:0")
    assert lines[0].endswith(FIRST)
    assert lines[1].endswith(SECOND)
    assert "transcribed 2 turns" in result.stderr


async def test_json_lines_against_the_configured_service(tmp_path: Path) -> None:
    write_call(tmp_path / "call.wav")
    script = Script(Turn(hears=FIRST), Turn(hears=SECOND))
    async with Emulator(script=script, speed=None) as service:
        env = clean_env(
            AZURE_VOICELIVE_ENDPOINT=service.endpoint, AZURE_VOICELIVE_API_KEY=service.api_key
        )
        result = await voiceagent(
            "transcribe", "call.wav", "--json", "--language", "en-US", cwd=tmp_path, env=env
        )
        [conn] = service.connections
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["text"] for r in rows] == [FIRST, SECOND]
    assert all(r["error"] is None and r["start_ms"] is not None for r in rows)
    assert conn.received[0]["session"]["input_audio_transcription"] == {
        "model": "azure-speech",
        "language": "en-US",
    }
    assert service.api_key not in result.stdout + result.stderr


async def test_one_turn_without_a_script(tmp_path: Path) -> None:
    write_call(tmp_path / "call.wav")
    result = await voiceagent("transcribe", "call.wav", "--emulator", "--one-turn", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.strip().splitlines()
    assert line.startswith("[--:--.- - --:--.-] (speech, ")
    assert "does not understand speech" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "a FILE.wav or --mic"),
        (("call.wav", "--mic"), "a FILE.wav or --mic"),
        (("missing.wav", "--emulator"), "missing.wav"),
        (("call.wav",), "no Voice Live endpoint"),
        (("call.wav", "--script", "s.py"), "add --emulator"),
        (("call.wav", "--emulator", "--transcription-model", ""), "InputTranscription.model"),
    ],
)
async def test_bad_usage(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    write_call(tmp_path / "call.wav")
    result = await voiceagent("transcribe", *args, cwd=tmp_path)
    assert message in one_line_usage_error(result, "transcribe")


async def test_a_refused_key_is_exit_code_1(tmp_path: Path) -> None:
    write_call(tmp_path / "call.wav")
    async with Emulator(speed=None) as service:
        env = clean_env(AZURE_VOICELIVE_ENDPOINT=service.endpoint, AZURE_VOICELIVE_API_KEY="bad")
        result = await voiceagent("transcribe", "call.wav", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert "refused the credential" in result.stderr
    assert "Traceback" not in result.stderr
