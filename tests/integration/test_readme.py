"""The README's agent is real code: it runs, unchanged, against the emulator."""

from __future__ import annotations

import re
import sys
import wave
from pathlib import Path

import anyio

from voiceagent.testing import Emulator, Script, ToolCall, Turn, synthesize

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_agent() -> str:
    text = README.read_text()
    match = re.search(r"<!-- readme-agent:.*?-->\n```python\n(.*?)```", text, re.S)
    assert match, "the README's agent block (marked readme-agent) is missing"
    return match.group(1)


def test_the_readme_agent_is_short() -> None:
    lines = [line for line in readme_agent().splitlines() if line.strip()]
    assert len(lines) <= 15


async def test_the_readme_agent_runs_against_the_emulator(tmp_path: Path) -> None:
    question = "What's the weather in Paris?"
    audio = synthesize(question).audio + bytes(24000 * 2)
    with wave.open(str(tmp_path / "question.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(24000)
        out.writeframes(audio)
    (tmp_path / "agent.py").write_text(readme_agent())
    script = Script(
        Turn(
            hears=question,
            calls=[ToolCall("get_weather", {"city": "Paris"})],
            says=lambda ctx: f"It is {ctx.output('get_weather')['temp_c']} degrees and sunny.",
        )
    )
    async with Emulator(speed=None, script=script) as emu:
        env = {
            "AZURE_VOICELIVE_ENDPOINT": emu.endpoint,
            "AZURE_VOICELIVE_API_KEY": emu.api_key,
            "PATH": "/usr/bin:/bin",
        }
        with anyio.fail_after(60):
            result = await anyio.run_process(
                # The README's code as a user copies it leaves no file open.
                [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "agent.py"],
                cwd=tmp_path,
                env=env,
                check=False,
            )
    assert result.returncode == 0, result.stderr.decode()
    assert "ResourceWarning" not in result.stderr.decode()
    assert result.stdout.decode().strip() == f"user: {question}"
    with wave.open(str(tmp_path / "answer.wav")) as answer:
        frames = answer.getnframes()
    assert frames == len(synthesize("It is 21 degrees and sunny.").audio) // 2
