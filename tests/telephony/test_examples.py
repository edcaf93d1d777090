"""What the telephony examples print and write (run by tests/test_examples.py)."""

from __future__ import annotations

import wave
from typing import TYPE_CHECKING

from voiceagent.testing import synthesize

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path


def _wav_ms(path: Path) -> float:
    with wave.open(str(path)) as wav:
        return float(wav.getnframes() * 1000 / wav.getframerate())


async def check_twilio_line(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    said = "Of course, putting you through to billing now."
    heard_ms = synthesize(said, encoding="g711_ulaw", sample_rate=8000).duration_ms
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "keypad: 1",
        "caller: Can you put me through to billing, please?",
        f"agent:  {said}",
    ]
    assert lines[3].startswith(f"heard:  {heard_ms / 1000:.1f} s of the agent, ")
    assert lines[4:] == [
        "call:   transferred to +15550100200",
        "what the caller heard is in twilio-heard.wav",
    ]
    assert abs(_wav_ms(tmp_path / "twilio-heard.wav") - heard_ms) <= 1


async def check_acs_line(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    said = "We are open nine to six on Saturday. Goodbye!"
    heard_ms = synthesize(said).duration_ms
    assert result.stdout.splitlines() == [
        "caller: When are you open on Saturday? That's all, thanks.",
        f"agent:  {said}",
        f"heard:  {heard_ms / 1000:.1f} s of the agent (pcm16 24000 Hz mono)",
        "call:   answered through Call Automation, ended by automation",
        "        hang-up requests: 1",
        "what the caller heard is in acs-heard.wav",
    ]
    assert abs(_wav_ms(tmp_path / "acs-heard.wav") - heard_ms) <= 1
