"""Audio sessions end to end: formats on the wire, audio into the sink, and barge-in at
real-time pacing, against the emulator over loopback with the real SDK."""

from __future__ import annotations

import wave
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from voiceagent import Agent
from voiceagent.audio import (
    AudioFormat,
    Encoding,
    MemorySink,
    MemorySource,
    WavFileSink,
    WavFileSource,
)
from voiceagent.events import EndReason, Interrupted, TurnChanged, UserSpeechStarted
from voiceagent.options import ServerVad
from voiceagent.testing import Emulator, Script, Turn, synthesize

from ..helpers import connect_args

if TYPE_CHECKING:
    from pathlib import Path

QUESTION = "What is the weather in Paris today?"
ANSWER = "It is sunny and twenty one degrees."
RATE = 24000
PCM = AudioFormat()


def question_audio(rate: int = RATE, silence_ms: int = 1000) -> bytes:
    speech = synthesize(QUESTION, sample_rate=rate).audio
    return speech + bytes(rate * 2 * silence_ms // 1000)


async def test_run_streams_the_source_and_plays_the_answer_into_the_sink() -> None:
    script = Script(Turn(hears=QUESTION, says=ANSWER))
    audio = question_audio()
    async with Emulator(speed=None, script=script) as emu:
        sink = MemorySink()
        with anyio.fail_after(30):
            result = await Agent().run(
                source=MemorySource(audio, PCM), sink=sink, **connect_args(emu)
            )
        assert result.reason is EndReason.INPUT_FINISHED
        assert [(m.role, m.text) for m in result.history] == [  # type: ignore[union-attr]
            ("user", QUESTION),
            ("assistant", ANSWER),
        ]
        assert sink.data == synthesize(ANSWER).audio
        connection = emu.connections[0]
        assert connection.audio_received_bytes == len(audio)
        assert connection.session["input_audio_format"] == "pcm16"


def write_wav(path: Path, pcm_mono: bytes, rate: int, channels: int) -> None:
    samples = [pcm_mono[i : i + 2] for i in range(0, len(pcm_mono), 2)]
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(sample * channels for sample in samples))


async def test_a_441_khz_stereo_file_in_and_a_48_khz_stereo_file_out(tmp_path: Path) -> None:
    source_path, sink_path = tmp_path / "in.wav", tmp_path / "out.wav"
    write_wav(source_path, question_audio(44100), 44100, 2)
    script = Script(Turn(hears=QUESTION, says=ANSWER))
    async with Emulator(speed=None, script=script) as emu:
        sink = WavFileSink(sink_path, AudioFormat(sample_rate=48000, channels=2))
        with anyio.fail_after(30):
            result = await Agent().run(
                source=WavFileSource(source_path), sink=sink, **connect_args(emu)
            )
        await sink.aclose()
        assert result.reason is EndReason.INPUT_FINISHED
        connection = emu.connections[0]
        # The file went over the wire as pcm16 mono at 24 kHz, with its duration kept.
        assert connection.session["input_audio_format"] == "pcm16"
        assert connection.session["input_audio_sampling_rate"] == 24000
        source_ms = len(question_audio(44100)) / 2 / 44100 * 1000
        assert abs(connection.audio_received_bytes / 48 - source_ms) <= 20
    with wave.open(str(sink_path)) as played:
        assert (played.getframerate(), played.getnchannels()) == (48000, 2)
        out_ms = played.getnframes() / 48
    assert abs(out_ms - synthesize(ANSWER).duration_ms) <= 20


async def test_a_phone_line_speaks_mulaw_natively() -> None:
    ulaw = AudioFormat(encoding=Encoding.G711_ULAW, sample_rate=8000)
    speech = synthesize(QUESTION, encoding="g711_ulaw", sample_rate=8000).audio
    audio = speech + b"\xff" * 8000  # one second of μ-law silence
    script = Script(Turn(hears=QUESTION, says=ANSWER))
    async with Emulator(speed=None, script=script) as emu:
        sink = MemorySink(ulaw)
        with anyio.fail_after(30):
            await Agent().run(source=MemorySource(audio, ulaw), sink=sink, **connect_args(emu))
        connection = emu.connections[0]
        assert connection.session["input_audio_format"] == "g711_ulaw"
        assert connection.session["output_audio_format"] == "g711_ulaw"
        assert connection.audio_received_bytes == len(audio)  # no conversion on the way
    assert sink.data == synthesize(ANSWER, encoding="g711_ulaw", sample_rate=8000).audio


# -- barge-in at real-time pacing ------------------------------------------------------------

STORY = (
    "Once upon a time there was a lighthouse keeper who counted the waves every night "
    "and wrote each number in a small blue book that nobody ever read."
)
STOP = "Stop please."
OKAY = "Okay."
INTERRUPT_AT_MS = 2400  # into the source: about 1.2 s into the agent's answer


def barge_in_audio() -> bytes:
    question = synthesize("Tell me a story.").audio
    stop = synthesize(STOP).audio
    before = RATE * 2 * INTERRUPT_AT_MS // 1000 - len(question)
    return question + bytes(before) + stop + bytes(RATE * 2 * 2)


@pytest.mark.parametrize(
    ("interrupt_response", "auto_truncate"),
    [(True, False), (False, False), (True, True), (False, True)],
    ids=["server-cancels", "client-cancels", "server-cancels-truncates", "client-cancels-auto"],
)
async def test_barge_in_clears_cancels_and_truncates_to_what_was_heard(
    interrupt_response: bool, auto_truncate: bool
) -> None:
    script = Script(Turn(hears="Tell me a story.", says=STORY), Turn(hears=STOP, says=OKAY))
    async with Emulator(speed=1.0, script=script, audio_chunk_ms=20) as emu:
        agent = Agent(
            turn_detection=ServerVad(
                silence_duration_ms=300,
                interrupt_response=interrupt_response,
                auto_truncate=auto_truncate,
            )
        )
        interruptions: list[Interrupted] = []
        speech: list[float] = []
        agent.on(Interrupted)(interruptions.append)
        agent.on(UserSpeechStarted)(lambda event: speech.append(event.audio_start_ms))
        sink = MemorySink(realtime=True)
        source = MemorySource(barge_in_audio(), PCM, realtime=True)
        with anyio.fail_after(30):
            result = await agent.run(source=source, sink=sink, **connect_args(emu))
        connection = emu.connections[0]
        received = connection.received
        sent = connection.sent

    assert result.reason is EndReason.INPUT_FINISHED
    assert [e for e in sent if e["type"] == "error"] == []
    assert len(speech) == 2
    # 1. The sink was cleared once; after that only the second answer's audio arrived.
    assert len(sink.clears) == 1
    cleared_at = sink.clears[0]
    story, okay = synthesize(STORY).audio, synthesize(OKAY).audio
    before = b"".join(w.data for w in sink.writes if w.at <= cleared_at)
    after = b"".join(w.data for w in sink.writes if w.at > cleared_at)
    assert story.startswith(before)
    assert after == okay
    # 2. A cancel only when the server would not cancel by itself; never an error.
    cancels = [e for e in received if e["type"] == "response.cancel"]
    assert len(cancels) == (0 if interrupt_response else 1)
    # 3. Truncation to what was played, by the client unless the server truncates.
    [interrupted] = interruptions
    played_at_clear = (len(before) - sink.cleared_ms * 48) / 48
    assert abs(interrupted.heard_ms - played_at_clear) <= 20
    truncates = [e for e in received if e["type"] == "conversation.item.truncate"]
    truncated = [e for e in sent if e["type"] == "conversation.item.truncated"]
    assert len(truncated) == 1
    if auto_truncate and interrupt_response:  # auto_truncate needs interrupt_response
        assert truncates == []
    else:
        [truncate] = truncates
        assert abs(truncate["audio_end_ms"] - played_at_clear) <= 20
        assert truncated[0]["audio_end_ms"] == truncate["audio_end_ms"]
    assert 0 < truncated[0]["audio_end_ms"] < synthesize(STORY).duration_ms
    # 4. The interrupted answer is marked, and cut to the words heard.
    answers = [m for m in result.history if getattr(m, "role", None) == "assistant"]
    assert answers[0].interrupted  # type: ignore[union-attr]
    heard = answers[0].text  # type: ignore[union-attr]
    assert STORY.startswith(heard)
    assert 0 < len(heard) < len(STORY)
    assert answers[1].text == OKAY  # type: ignore[union-attr]


async def test_interrupt_and_say_from_the_application() -> None:
    script = Script(Turn(hears="Tell me a story.", says=STORY))
    question = synthesize("Tell me a story.").audio + bytes(RATE * 2)
    async with Emulator(speed=1.0, script=script, audio_chunk_ms=20) as emu:
        agent = Agent(turn_detection=ServerVad(silence_duration_ms=300))
        sink = MemorySink(realtime=True)
        interruptions: list[Interrupted] = []
        agent.on(Interrupted)(interruptions.append)
        async with agent.session(
            source=MemorySource(question, PCM, realtime=True), sink=sink, **connect_args(emu)
        ) as session:
            with anyio.fail_after(10):
                while sink.played_ms() < 500:  # noqa: ASYNC110 - polling a simulated device
                    await anyio.sleep(0.02)
            await session.interrupt()
            await session.say("Sorry, let me stop there.")
            with anyio.fail_after(10):
                result = await session.wait()
        received: list[dict[str, Any]] = emu.connections[0].received
    assert result.reason is EndReason.INPUT_FINISHED
    assert len(interruptions) == 1
    assert [e["type"] for e in received].count("response.cancel") == 1
    [truncate] = [e for e in received if e["type"] == "conversation.item.truncate"]
    assert abs(truncate["audio_end_ms"] - interruptions[0].heard_ms) <= 1
    creates = [e for e in received if e["type"] == "response.create"]
    assert creates[-1]["response"]["pre_generated_assistant_message"]["content"][0]["text"] == (
        "Sorry, let me stop there."
    )
    texts = [m.text for m in result.history if getattr(m, "role", None) == "assistant"]  # type: ignore[union-attr]
    assert texts[-1] == "Sorry, let me stop there."


async def test_a_cough_inside_the_confirmation_window_does_not_interrupt() -> None:
    script = Script(Turn(hears="Tell me a story.", says=STORY))
    question = synthesize("Tell me a story.").audio
    cough = synthesize("Mmmmmm hmmmmm.").audio[: RATE * 2 * 450 // 1000]  # under half a second
    gap = RATE * 2 * INTERRUPT_AT_MS // 1000 - len(question)
    audio = question + bytes(gap) + cough + bytes(RATE * 2 * 3)
    async with Emulator(speed=1.0, script=script, audio_chunk_ms=20) as emu:
        agent = Agent(
            turn_detection=ServerVad(silence_duration_ms=300, prefix_padding_ms=300),
            confirm_interruption_ms=1500,
            min_turn_ms=600,
        )
        states: list[str] = []
        agent.on(TurnChanged)(lambda event: states.append(event.new.value))
        sink = MemorySink(realtime=True)
        with anyio.fail_after(40):
            result = await agent.run(
                source=MemorySource(audio, PCM, realtime=True), sink=sink, **connect_args(emu)
            )
        received = emu.connections[0].received
        session = emu.connections[0].session
    assert session["turn_detection"]["interrupt_response"] is False
    assert session["turn_detection"]["create_response"] is False
    assert "confirming" in states
    kinds = [e["type"] for e in received]
    assert "response.cancel" not in kinds
    assert "conversation.item.truncate" not in kinds
    assert sink.clears == []
    assert sink.data == synthesize(STORY).audio  # the whole story was played
    answers = [m for m in result.history if getattr(m, "role", None) == "assistant"]
    assert [a.text for a in answers] == [STORY]  # type: ignore[union-attr]
