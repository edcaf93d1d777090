"""The bundled page in real headless Chromium, talking to ``voiceagent serve`` backed by the
emulator, with a fake microphone playing a WAV file: the user asks, the agent answers, the
user barges in. Checked: the live transcript on the page, the audio the page played (a tap
on the playback worklet's output), and that the truncation the emulator received matches
where the page's playback stood.

Needs Debian's ``chromium`` (``apt-get install chromium``) and Playwright for Python (the
``dev`` extra); Playwright never downloads a browser here.
"""

from __future__ import annotations

import array
import shutil
import wave
from typing import TYPE_CHECKING, Any

import pytest

from voiceagent.testing import Emulator, synthesize

from .agents import ANSWER, OKAY, QUESTION, SCRIPT, STOP
from .conftest import until
from .test_cli_serve import start_serve

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.async_api import Page

CHROMIUM = "/usr/bin/chromium"
playwright_api = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is not installed (dev extra)"
)
pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None,
    reason=f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does when it can)",
)

CAPTURED = "() => Array.from(new Uint8Array(window.voiceagent.captured().buffer))"
"""The audio the page played (its capture tap), as bytes of pcm16."""
MIC_RATE = 48000
QUESTION_AT_MS = 1000
STOP_AT_MS = 6200  # about two seconds into the answer


def fake_microphone(path: Path) -> None:
    """A WAV for Chromium's fake capture device: the question, then speech over the answer."""
    question = synthesize(QUESTION, sample_rate=MIC_RATE)
    stop = synthesize(STOP, sample_rate=MIC_RATE)

    def silence(ms: int) -> bytes:
        return bytes(MIC_RATE * ms // 1000 * 2)

    audio = (
        silence(QUESTION_AT_MS)
        + question.audio
        + silence(STOP_AT_MS - QUESTION_AT_MS - question.duration_ms)
        + stop.audio
        + silence(6000)
    )
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(MIC_RATE)
        wav.writeframes(audio)


def loud(samples: array.array[int], threshold: int = 64) -> int:
    return sum(1 for s in samples if abs(s) > threshold)


def pcm(data: bytes) -> array.array[int]:
    samples = array.array("h")
    samples.frombytes(data)
    return samples


async def page_state(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = await page.evaluate(
        """() => { const c = window.voiceagent; return c ? {
            played: c.played, received: c.received, sent: c.sent, clears: c.clears,
            outputRate: c.playback && c.playback.sampleRate } : {}; }"""
    )
    return state


@pytest.mark.timeout(120)
async def test_the_page_converses_and_barge_in_truncates_where_it_played(tmp_path: Path) -> None:
    mic = tmp_path / "mic.wav"
    fake_microphone(mic)
    async with Emulator(script=SCRIPT, speed=1.0) as emu:
        async with start_serve(emu, tmp_path / "serve.log") as served:
            async with playwright_api.async_playwright() as p:
                context = await p.chromium.launch_persistent_context(
                    str(tmp_path / "profile"),  # a fresh profile
                    executable_path=CHROMIUM,
                    headless=True,
                    args=[
                        "--headless",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-quic",
                        "--no-first-run",
                        "--disable-background-networking",
                        "--disable-component-update",
                        "--disable-sync",
                        "--use-fake-device-for-media-stream",
                        "--use-fake-ui-for-media-stream",
                        f"--use-file-for-fake-audio-capture={mic}%noloop",
                    ],
                )
                try:
                    page = await context.new_page()
                    errors: list[str] = []
                    page.on("pageerror", lambda error: errors.append(str(error)))
                    await page.goto(
                        f"{served.base}/?echoCancellation=0&noiseSuppression=0"
                        "&autoGainControl=0&capture=1"
                    )
                    await page.click("#start")
                    # The transcript appears on the page as the conversation goes.
                    transcript = page.locator("#transcript")
                    await transcript.get_by_text(QUESTION).wait_for(timeout=20000)
                    await transcript.get_by_text(OKAY, exact=True).wait_for(timeout=30000)
                    okay = len(synthesize(OKAY).audio) // 2
                    # "Okay." plays to its end after the cut answer.
                    await until(lambda: _played_past_clear(page, okay), timeout=10)
                    state = await page_state(page)
                    captured = pcm(bytes(await page.evaluate(CAPTURED)))
                    lines = await page.locator("#transcript .line").evaluate_all(
                        """els => els.map(e => [e.dataset.role,
                            e.querySelector('.text').textContent,
                            e.classList.contains('interrupted')])"""
                    )
                    assert not errors, errors
                finally:
                    await context.close()
        truncate = await emu.wait_for("conversation.item.truncate")
    assert state["outputRate"] == 24000
    (epoch, at_clear), *_ = [(c["epoch"], c["samples"]) for c in state["clears"]]
    assert epoch == 1
    heard_ms = at_clear / 24
    # The truncation is where the page's playback stood when it cleared.
    assert abs(truncate["audio_end_ms"] - heard_ms) <= 40, (truncate, heard_ms)
    answer = pcm(synthesize(ANSWER).audio)
    assert 1000 < heard_ms < len(answer) / 24 - 1000  # cut well inside the answer
    assert state["played"] == at_clear + okay
    # What the page output is what it says it played: the answer up to the cut, then
    # "Okay." (counted by loud samples: gaps and underruns add only silence).
    expected = loud(answer[:at_clear]) + loud(pcm(synthesize(OKAY).audio))
    assert loud(captured) == pytest.approx(expected, rel=0.01)
    # The transcript: the user's question, the agent cut short, the stop, "Okay."
    assert [role for role, _, _ in lines] == ["user", "agent", "user", "agent"]
    assert [cut for _, _, cut in lines] == [False, True, False, False]
    said = [text for _, text, _ in lines]
    assert said[0] == QUESTION
    assert ANSWER.startswith(said[1].strip())
    assert len(said[1]) < len(ANSWER)
    assert said[2:] == [STOP, OKAY]


async def _played_past_clear(page: Page, samples: int) -> bool:
    state = await page_state(page)
    clears = state.get("clears") or []
    return bool(clears) and state["played"] >= clears[0]["samples"] + samples


def test_fake_microphone_is_speech_at_the_planned_times(tmp_path: Path) -> None:
    path = tmp_path / "mic.wav"
    fake_microphone(path)
    with wave.open(str(path)) as wav:
        assert wav.getframerate() == MIC_RATE
        samples = pcm(wav.readframes(wav.getnframes()))
    first = next(i for i, s in enumerate(samples) if s)
    assert abs(first / MIC_RATE * 1000 - QUESTION_AT_MS) < 20
    later = next(i for i in range(first + MIC_RATE * 3, len(samples)) if samples[i])
    assert abs(later / MIC_RATE * 1000 - STOP_AT_MS) < 20
