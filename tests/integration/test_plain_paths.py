"""The plain paths, as a matrix: source {none, WAV file, real-time paced} x sink {none,
WAV file, bounded real-time} x modalities {audio, text}, each with a user turn, a tool
call and a barge-in, end to end through the real SDK against the emulator.

Without a source the user types (``send_text``), and typing while the agent holds the
turn is the barge-in; a WAV file is sent as fast as it is read, so its user barges in by
typing too; a real-time source barges in by speaking over the agent.
"""

from __future__ import annotations

import wave
from typing import TYPE_CHECKING

import anyio
import pytest

from voiceagent import Agent, AgentSession, Message, ToolCallRecord, tool
from voiceagent.audio import (
    AudioFormat,
    AudioSink,
    AudioSource,
    MemorySink,
    MemorySource,
    WavFileSink,
    WavFileSource,
)
from voiceagent.events import (
    AgentTranscript,
    AgentTranscriptDelta,
    EndReason,
    Interrupted,
    ToolCallFinished,
    TurnMetrics,
)
from voiceagent.options import ServerVad
from voiceagent.testing import Emulator, Faults, Script, ToolCall, Turn, synthesize

from ..helpers import connect_args

if TYPE_CHECKING:
    from pathlib import Path

RATE = 24000
PCM = AudioFormat()
QUESTION = "What's the weather in Paris?"
ANSWER = (
    "It is sunny in Paris, twenty one degrees, with a light breeze from the west and a few "
    "clouds late in the afternoon, so take a jacket if you go out this evening."
)
STOP = "Stop please."
OKAY = "Okay."
RESPONSE_DELAY_S = 1.0  # each response "thinks" this long: text answers can be barged in on


class Weather(Agent):
    instructions = "You are a weather assistant."
    turn_detection = ServerVad(silence_duration_ms=300)

    @tool
    async def get_weather(self, city: str) -> dict[str, object]:
        """Current weather for a city."""
        return {"city": city, "temp_c": 21}


def user_audio(*, stop_at_ms: int | None) -> bytes:
    """The question, then (for a speaking user) "Stop please" at ``stop_at_ms``."""
    audio = synthesize(QUESTION).audio
    if stop_at_ms is not None:
        audio += bytes(RATE * 2 * stop_at_ms // 1000 - len(audio)) + synthesize(STOP).audio
    return audio + bytes(RATE * 2 * 3 // 2)


def write_wav(path: Path, audio: bytes) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(audio)
    return path


def make_source(kind: str, modality: str, tmp_path: Path) -> AudioSource | None:
    if kind == "none":
        return None
    if kind == "wav":
        return WavFileSource(write_wav(tmp_path / "user.wav", user_audio(stop_at_ms=None)))
    # Speak over the agent: text answers start after two response delays (the tool call's
    # and the answer's); audio answers then play for seconds.
    stop_at = 3600 if modality == "text" else 5500
    return MemorySource(user_audio(stop_at_ms=stop_at), PCM, realtime=True)


def make_sink(kind: str, tmp_path: Path) -> AudioSink | None:
    if kind == "none":
        return None
    if kind == "wav":
        return WavFileSink(tmp_path / "agent.wav")
    return MemorySink(realtime=True, max_buffer_ms=300)


async def barge_in_by_typing(session: AgentSession, modality: str) -> None:
    """Wait until the agent holds the turn with its answer, then type over it."""
    stream = session.events(ToolCallFinished, TurnMetrics, AgentTranscriptDelta)
    tool_done = answer_started = False
    with anyio.fail_after(20):
        async for event in stream:
            tool_done |= isinstance(event, ToolCallFinished)
            answer_started |= tool_done and isinstance(event, TurnMetrics | AgentTranscriptDelta)
            if tool_done and (modality == "text" or answer_started):
                break
    await stream.aclose()
    await session.send_text(STOP)


@pytest.mark.parametrize("modality", ["audio", "text"])
@pytest.mark.parametrize("sink_kind", ["none", "wav", "bounded"])
@pytest.mark.parametrize("source_kind", ["none", "wav", "realtime"])
async def test_a_turn_a_tool_call_and_a_barge_in(
    source_kind: str, sink_kind: str, modality: str, tmp_path: Path
) -> None:
    script = Script(
        Turn(hears=QUESTION, calls=[ToolCall("get_weather", {"city": "Paris"})], says=ANSWER),
        Turn(hears=STOP, says=OKAY),
    )
    delay = RESPONSE_DELAY_S if modality == "text" else 0.0
    faults = Faults(response_delay=delay)
    source = make_source(source_kind, modality, tmp_path)
    sink = make_sink(sink_kind, tmp_path)
    modalities = ["text"] if modality == "text" else ["text", "audio"]
    interruptions: list[Interrupted] = []
    finals: list[AgentTranscript] = []
    async with Emulator(speed=1.0, script=script, faults=faults, audio_chunk_ms=20) as emu:
        agent = Weather(modalities=modalities)
        agent.on(Interrupted)(interruptions.append)
        agent.on(AgentTranscript)(finals.append)
        async with agent.session(source=source, sink=sink, **connect_args(emu)) as session:
            if source_kind == "none":
                await session.send_text(QUESTION)
            if source_kind != "realtime":
                await barge_in_by_typing(session, modality)
            if source_kind == "none":
                with anyio.fail_after(20):
                    async for event in session.events(AgentTranscript):
                        if isinstance(event, AgentTranscript) and event.text == OKAY:
                            break
                session.end()
            with anyio.fail_after(30):
                result = await session.wait()
        received = emu.connections[0].received
        sent = emu.connections[0].sent

    # The conversation ended cleanly, on its own terms.
    expected = EndReason.ENDED if source_kind == "none" else EndReason.INPUT_FINISHED
    assert result.reason is expected, result.error
    assert result.error is None
    assert [e for e in sent if e["type"] == "error"] == []
    # The user's turn was heard, and the tool ran once with one output.
    outputs = [
        e
        for e in received
        if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"
    ]
    assert len(outputs) == 1
    [call] = [entry for entry in result.history if isinstance(entry, ToolCallRecord)]
    assert call.name == "get_weather"
    assert call.output == '{"city":"Paris","temp_c":21}'
    users = [e.text for e in result.history if isinstance(e, Message) and e.role == "user"]
    if modality == "audio" or source_kind == "none":
        assert users[0] == QUESTION
    # One barge-in; the interrupted answer is marked (or never started), and the next
    # turn was answered.
    assert len(interruptions) == 1
    answers = [e for e in result.history if isinstance(e, Message) and e.role == "assistant"]
    assert answers[-1].text == OKAY
    assert all(a.interrupted for a in answers[:-1])
    cancels_or_truncates = [
        e for e in received if e["type"] in ("response.cancel", "conversation.item.truncate")
    ]
    cancelled = [
        e for e in sent if e["type"] == "response.done" and e["response"]["status"] == "cancelled"
    ]
    assert cancels_or_truncates or cancelled
    # The sink holds a valid recording ending with the last answer.
    if modality == "audio" and sink_kind == "wav":
        with wave.open(str(tmp_path / "agent.wav")) as recording:
            frames = recording.readframes(recording.getnframes())
        assert frames.endswith(synthesize(OKAY).audio)
    if modality == "audio" and sink_kind == "bounded":
        assert isinstance(sink, MemorySink)
        assert sink.data.endswith(synthesize(OKAY).audio)
        heard = sink.data[: -len(synthesize(OKAY).audio)]
        assert synthesize(ANSWER).audio.startswith(heard)
    assert [f.text for f in finals][-1] == OKAY
