"""Transcription-only sessions end to end: a source in, typed transcript events out, no
response ever asked for; VAD segments, a closing commit, manual turns, failures, a slow
reader; the real SDK against the emulator."""

from __future__ import annotations

import base64
from typing import Any

import anyio
import pytest

from voiceagent import Transcriber, TranscriptionResult
from voiceagent.audio import AudioFormat, MemorySource, SilenceSource
from voiceagent.errors import ConfigurationError
from voiceagent.events import (
    Event,
    UserSpeechStarted,
    UserSpeechStopped,
    UserTranscript,
    UserTranscriptDelta,
    UserTranscriptFailed,
)
from voiceagent.options import InputTranscription, ServerVad
from voiceagent.testing import Emulator, Script, TranscriptionFailure, Turn, synthesize

from ..helpers import connect_args, wait_closed

RATE = 24000
PCM = AudioFormat()
FIRST, SECOND = "Good morning, this is the front desk.", "Your room is ready."


def silence(ms: int) -> bytes:
    return bytes(RATE * 2 * ms // 1000)


def two_utterances(*, tail_ms: int = 1000) -> bytes:
    return synthesize(FIRST).audio + silence(1000) + synthesize(SECOND).audio + silence(tail_ms)


async def transcribe(
    audio: bytes, script: Script | None = None, **kwargs: Any
) -> tuple[list[Event], TranscriptionResult, Emulator]:
    events: list[Event] = []
    async with Emulator(speed=None, script=script) as emu:
        transcriber = Transcriber(**kwargs)
        with anyio.fail_after(20):
            async with transcriber.session(
                source=MemorySource(audio, PCM), **connect_args(emu)
            ) as session:
                async for event in session:
                    events.append(event)
        await wait_closed(emu.connections[0])
    return events, session.result(), emu


async def test_each_turn_is_transcribed_and_nothing_is_answered() -> None:
    script = Script(Turn(hears=FIRST), Turn(hears=SECOND))
    events, result, emu = await transcribe(two_utterances(), script)
    assert [e.text for e in events if isinstance(e, UserTranscript)] == [FIRST, SECOND]
    assert [s.text for s in result.segments] == [FIRST, SECOND]
    assert result.text == f"{FIRST} {SECOND}"
    first, second = result.segments
    assert first.start_ms is not None
    assert first.end_ms is not None
    assert second.start_ms is not None
    assert first.end_ms < second.start_ms
    kinds = [type(e) for e in events if not isinstance(e, UserTranscriptDelta)]
    assert kinds == [UserSpeechStarted, UserSpeechStopped, UserTranscript] * 2
    assert any(isinstance(e, UserTranscriptDelta) for e in events)
    conn = emu.connections[0]
    update = conn.received[0]["session"]
    assert update["modalities"] == ["text"]
    assert update["turn_detection"]["create_response"] is False
    assert update["turn_detection"]["interrupt_response"] is False
    assert update["input_audio_transcription"] == {"model": "azure-speech"}
    assert conn.query["model"] == "gpt-4.1-mini"
    # No response was asked for, and none happened.
    assert not [e for e in conn.received if e["type"].startswith("response.")]
    assert not [e for e in conn.sent if e["type"].startswith("response.")]
    assert not [e for e in conn.received if e["type"].startswith("transcription_session")]


async def test_speech_still_going_when_the_source_ends_is_committed() -> None:
    script = Script(Turn(hears=FIRST), Turn(hears=SECOND))
    _events, result, emu = await transcribe(two_utterances(tail_ms=0), script)
    assert [s.text for s in result.segments] == [FIRST, SECOND]
    commits = [e for e in emu.connections[0].received if e["type"] == "input_audio_buffer.commit"]
    assert len(commits) == 1


async def test_manual_turns_make_one_segment() -> None:
    script = Script(Turn(hears=f"{FIRST} {SECOND}"))
    events, result, _ = await transcribe(two_utterances(), script, turn_detection=None)
    assert [s.text for s in result.segments] == [f"{FIRST} {SECOND}"]
    assert (result.segments[0].start_ms, result.segments[0].end_ms) == (None, None)
    assert not any(isinstance(e, UserSpeechStarted) for e in events)


async def test_a_failed_transcription_is_reported_and_the_rest_goes_on() -> None:
    failure = TranscriptionFailure(message="too noisy")
    script = Script(Turn(hears=FIRST, transcription_fails=failure), Turn(hears=SECOND))
    events, result, _ = await transcribe(two_utterances(), script)
    [failed] = [e for e in events if isinstance(e, UserTranscriptFailed)]
    assert failed.message == "too noisy"
    assert [(s.text, s.error) for s in result.segments] == [("", "too noisy"), (SECOND, None)]
    assert result.text == SECOND


async def test_language_and_model_are_sent() -> None:
    options = InputTranscription(model="gpt-4o-transcribe", language="fr")
    _, result, emu = await transcribe(
        two_utterances(), transcription=options, model="gpt-realtime-mini",
        turn_detection=ServerVad(silence_duration_ms=300),
    )  # fmt: skip
    update = emu.connections[0].received[0]["session"]
    assert update["input_audio_transcription"] == {"model": "gpt-4o-transcribe", "language": "fr"}
    assert update["turn_detection"]["silence_duration_ms"] == 300
    assert emu.connections[0].query["model"] == "gpt-realtime-mini"
    assert len(result.segments) == 2
    assert result.segments[0].text.startswith("(speech, ")  # the emulator's unscripted transcript


async def test_silence_gives_no_segment_and_ends() -> None:
    async with Emulator(speed=None) as emu:
        with anyio.fail_after(10):
            result = await Transcriber().run(source=SilenceSource(2000, PCM), **connect_args(emu))
    assert result.segments == ()
    assert result.text == ""


async def test_a_slow_reader_loses_nothing() -> None:
    script = Script(Turn(hears=FIRST), Turn(hears=SECOND))
    texts: list[str] = []
    async with Emulator(speed=None, script=script) as emu:
        transcriber = Transcriber(buffer=1)
        with anyio.fail_after(20):
            async with transcriber.session(
                source=MemorySource(two_utterances(), PCM), **connect_args(emu)
            ) as session:
                async for event in session:
                    await anyio.sleep(0.02)
                    if isinstance(event, UserTranscript):
                        texts.append(event.text)
    assert texts == [FIRST, SECOND]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"turn_detection": ServerVad(create_response=True)}, "never creates"),
        ({"buffer": 0}, "buffer"),
        ({"finish_timeout_s": 0}, "finish_timeout_s"),
        ({"turn_detection": "server_vad"}, "turn_detection"),
    ],
)
def test_bad_settings(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Transcriber(**kwargs)


def test_a_bad_source() -> None:
    with pytest.raises(ConfigurationError, match="AudioSource"):
        Transcriber().session(source="call.wav")  # type: ignore[arg-type]


async def test_the_emulator_refuses_transcription_session_update(emulator: Emulator) -> None:
    """Voice Live documents no transcription session: the emulator answers it with an
    error, as it does any event it does not know."""
    from azure.ai.voicelive.aio import connect

    from ..helpers import recv_until

    async with connect(endpoint=emulator.endpoint, credential=emulator.credential) as conn:
        await conn.transcription_session.update(session={"input_audio_format": "pcm16"})
        [*_, error] = await recv_until(conn, "error")
        assert error.error.param == "type"
        assert "transcription_session.update" in error.error.message


async def test_every_event_of_a_transcription_session_parses_to_its_sdk_class() -> None:
    """The events a transcription session gets, through the SDK's own receive."""
    from azure.ai.voicelive.aio import connect
    from azure.ai.voicelive.models import RequestSession, ServerEvent

    from voiceagent._options import to_request_session

    from ..helpers import recv_until, type_of

    audio = two_utterances()
    request = to_request_session(Transcriber().options, input_audio_format="pcm16")
    async with (
        Emulator(speed=None, script=Script(Turn(hears=FIRST), Turn(hears=SECOND))) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential, model="gpt-4.1-mini") as conn,
    ):
        assert isinstance(request, RequestSession)
        await conn.session.update(session=request)
        await recv_until(conn, "session.updated")
        step = 4800
        for i in range(0, len(audio), step):
            chunk = base64.b64encode(audio[i : i + step]).decode()
            await conn.input_audio_buffer.append(audio=chunk)
        events = await recv_until(
            conn,
            lambda e: (
                type_of(e) == "conversation.item.input_audio_transcription.completed"
                and getattr(e, "transcript", None) == SECOND
            ),
        )
    kinds = {type_of(e) for e in events}
    assert kinds >= {
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.created",
        "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.completed",
    }
    assert all(type(e) is not ServerEvent for e in events)  # each its own SDK class
    assert not any(type_of(e).startswith("response.") for e in events)
