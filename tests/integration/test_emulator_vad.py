"""Server VAD over the wire: speech bursts in every input format, sent in 20 ms frames
through the real SDK, give speech_started/stopped within one frame of the true edges."""

from __future__ import annotations

import base64
from typing import Any

import anyio
import pytest
from azure.ai.voicelive.aio import VoiceLiveConnection, connect

from voiceagent.testing import Emulator, Faults, Script, Turn

from ..helpers import recv_until, type_of, types
from ..signals import bytes_per_ms, encode, noise, silence, speech_burst

FORMATS = [
    ("pcm16", 8000),
    ("pcm16", 16000),
    ("pcm16", 24000),
    ("g711_ulaw", 8000),
    ("g711_alaw", 8000),
]
FRAME_MS = 20


async def send_frames(conn: VoiceLiveConnection, audio: bytes, per_ms: float) -> None:
    step = int(per_ms * FRAME_MS)
    for i in range(0, len(audio), step):
        await conn.input_audio_buffer.append(audio=base64.b64encode(audio[i : i + step]).decode())


async def configure(conn: VoiceLiveConnection, encoding: str, rate: int, **vad: Any) -> None:
    await conn.recv()
    session: dict[str, Any] = {
        "input_audio_format": encoding,
        "turn_detection": {"type": "server_vad", "create_response": False, **vad},
    }
    if encoding == "pcm16":
        session["input_audio_sampling_rate"] = rate
    await conn.session.update(session=session)
    [updated] = await recv_until(conn, "session.updated")
    assert updated.session.input_audio_format == encoding
    assert updated.session.input_audio_sampling_rate == rate


@pytest.mark.parametrize(("encoding", "rate"), FORMATS)
async def test_burst_edges_in_every_format(
    conn: VoiceLiveConnection, encoding: str, rate: int
) -> None:
    await configure(conn, encoding, rate, prefix_padding_ms=300, silence_duration_ms=500)
    lead, burst, tail = 700, 1200, 1500
    pcm = silence(lead, rate=rate) + speech_burst(burst, rate=rate) + silence(tail, rate=rate)
    await send_frames(conn, encode(pcm, encoding), bytes_per_ms(encoding, rate))  # type: ignore[arg-type]
    events = await recv_until(conn, "conversation.item.created")
    assert types(events) == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.created",
    ]
    started, stopped, committed, created = events
    assert abs(started.audio_start_ms - (lead - 300)) <= FRAME_MS
    assert abs(stopped.audio_end_ms - (lead + burst + 500)) <= FRAME_MS
    assert started.item_id == stopped.item_id == committed.item_id == created.item.id


async def test_speech_at_the_very_start_clamps_audio_start_to_zero(
    conn: VoiceLiveConnection,
) -> None:
    await configure(conn, "pcm16", 24000)
    pcm = speech_burst(800, rate=24000) + silence(1200, rate=24000)
    await send_frames(conn, pcm, 48)
    started, stopped = await recv_until(conn, "input_audio_buffer.speech_stopped")
    assert started.audio_start_ms == 0
    assert abs(stopped.audio_end_ms - (800 + 500)) <= FRAME_MS


async def test_timestamps_are_session_cumulative_across_turns(conn: VoiceLiveConnection) -> None:
    await configure(conn, "pcm16", 16000, prefix_padding_ms=0)
    one = silence(300, rate=16000) + speech_burst(600, rate=16000) + silence(900, rate=16000)
    await send_frames(conn, one + one, 32)
    first = await recv_until(conn, "conversation.item.created")
    second = await recv_until(conn, "conversation.item.created")
    assert abs(first[0].audio_start_ms - 300) <= FRAME_MS
    assert abs(second[0].audio_start_ms - (1800 + 300)) <= FRAME_MS
    assert first[0].item_id != second[0].item_id
    assert second[2].previous_item_id == first[0].item_id


@pytest.mark.parametrize(("encoding", "rate"), FORMATS)
async def test_silence_and_low_noise_give_nothing(
    conn: VoiceLiveConnection, encoding: str, rate: int
) -> None:
    await configure(conn, encoding, rate)
    pcm = silence(500, rate=rate) + noise(2000, rate=rate, level=-55.0)
    await send_frames(conn, encode(pcm, encoding), bytes_per_ms(encoding, rate))  # type: ignore[arg-type]
    await conn.input_audio_buffer.clear()
    assert types(await recv_until(conn, "input_audio_buffer.cleared")) == [
        "input_audio_buffer.cleared"
    ]


async def test_threshold_is_honoured(conn: VoiceLiveConnection) -> None:
    await configure(conn, "pcm16", 24000, threshold=0.9)
    quiet = speech_burst(800, rate=24000, level=-30.0) + silence(1000, rate=24000)
    await send_frames(conn, quiet, 48)
    await conn.input_audio_buffer.clear()
    assert types(await recv_until(conn, "input_audio_buffer.cleared")) == [
        "input_audio_buffer.cleared"
    ]
    await conn.session.update(
        session={
            "turn_detection": {"type": "server_vad", "threshold": 0.2, "create_response": False}
        }
    )
    await recv_until(conn, "session.updated")
    await send_frames(conn, quiet, 48)
    assert types(await recv_until(conn, "input_audio_buffer.speech_stopped")) == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
    ]


async def test_semantic_vad_variants_behave_like_server_vad(conn: VoiceLiveConnection) -> None:
    await conn.recv()
    await conn.session.update(
        session={
            "turn_detection": {
                "type": "azure_semantic_vad_multilingual",
                "silence_duration_ms": 300,
                "languages": ["en", "fr"],
                "create_response": False,
            }
        }
    )
    [updated] = await recv_until(conn, "session.updated")
    assert updated.session.turn_detection.type == "azure_semantic_vad_multilingual"
    await send_frames(conn, speech_burst(600, rate=24000) + silence(800, rate=24000), 48)
    _started, stopped = await recv_until(conn, "input_audio_buffer.speech_stopped")
    assert abs(stopped.audio_end_ms - (600 + 300)) <= FRAME_MS


async def test_barge_in_cancels_the_response_and_auto_truncates() -> None:
    long_answer = "This answer goes on and on so that the user has time to interrupt it. " * 3
    script = Script(Turn(says=long_answer), Turn(says="Sure."))
    async with (
        Emulator(speed=1.0, script=script) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        await conn.recv()
        await conn.session.update(
            session={"turn_detection": {"type": "server_vad", "auto_truncate": True}}
        )
        await recv_until(conn, "session.updated")
        await send_frames(conn, speech_burst(600, rate=24000) + silence(700, rate=24000), 48)
        first = await recv_until(conn, "response.audio.delta")
        item_id = next(e for e in first if type_of(e) == "response.output_item.added").item.id
        await recv_until(conn, lambda e: type_of(e) == "response.audio.delta")
        # The user talks over the answer.
        await send_frames(conn, speech_burst(600, rate=24000) + silence(700, rate=24000), 48)
        events = await recv_until(conn, "conversation.item.truncated")
        kinds = [k for k in types(events) if not k.endswith(".delta")]
        assert kinds == [
            "input_audio_buffer.speech_started",
            "response.audio.done",
            "response.audio_transcript.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.done",
            "conversation.item.truncated",
        ]
        done = next(e for e in events if type_of(e) == "response.done")
        assert done.response.status == "cancelled"
        assert done.response.status_details.reason == "turn_detected"
        truncated = events[-1]
        assert truncated.item_id == item_id
        assert 0 < truncated.audio_end_ms < 10_000
        # The next turn is answered.
        rest = await recv_until(conn, "response.done")
        assert rest[-1].response.output[0].content[0].transcript == "Sure."
        stored = next(i for i in emu.connections[0].items if i["id"] == item_id)
        assert long_answer.startswith(stored["content"][0]["transcript"])
        assert len(stored["content"][0]["transcript"]) < len(long_answer)


async def test_auto_truncate_cuts_a_stalled_answer_at_the_audio_sent() -> None:
    # The answer's audio stalls after 200 ms: by the time the user speaks, real-time
    # playback has played everything sent. The response is still generating, so the
    # service cancels it and truncates, capped at the audio sent.
    long_answer = "This answer goes on and on so that the user has time to interrupt it. " * 3
    script = Script(Turn(says=long_answer), Turn(says="Sure."))
    faults = Faults(stall_audio_at_ms=200, stall_seconds=5.0)
    async with (
        Emulator(speed=1.0, script=script, faults=faults) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        await conn.recv()
        await conn.session.update(
            session={"turn_detection": {"type": "server_vad", "auto_truncate": True}}
        )
        await recv_until(conn, "session.updated")
        await send_frames(conn, speech_burst(600, rate=24000) + silence(700, rate=24000), 48)
        first = await recv_until(conn, "response.audio.delta")
        await anyio.sleep(0.6)  # playback runs past the 200 ms sent
        await send_frames(conn, speech_burst(600, rate=24000) + silence(700, rate=24000), 48)
        events = first + await recv_until(conn, "conversation.item.truncated")
    sent_ms = sum(len(e.delta) / 48 for e in events if type_of(e) == "response.audio.delta")
    assert 0 < sent_ms <= 300
    assert events[-1].audio_end_ms == int(sent_ms)


async def test_no_interruption_when_interrupt_response_is_false() -> None:
    script = Script(
        Turn(says="A fairly long answer that keeps going for a while."), Turn(says="Ok.")
    )
    async with (
        Emulator(speed=4.0, script=script) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        await conn.recv()
        await conn.session.update(
            session={"turn_detection": {"type": "server_vad", "interrupt_response": False}}
        )
        await recv_until(conn, "session.updated")
        await send_frames(conn, speech_burst(600, rate=24000) + silence(700, rate=24000), 48)
        await recv_until(conn, "response.audio.delta")
        await send_frames(conn, speech_burst(600, rate=24000) + silence(700, rate=24000), 48)
        events = await recv_until(conn, "response.done")
        assert events[-1].response.status == "completed"
        # The second turn's response follows once the first is done.
        events = await recv_until(conn, "response.done")
        assert events[-1].response.output[0].content[0].transcript == "Ok."


@pytest.mark.parametrize("encoding", ["g711_ulaw", "g711_alaw"])
async def test_g711_zero_bytes_during_a_response_do_not_barge_in(encoding: str) -> None:
    # A phone bridge that sends zero bytes for "nothing" sends a constant -32124 (mu-law)
    # or -5504 (A-law): no speech, so the answer plays to its end.
    async with (
        Emulator(speed=4.0) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        await conn.recv()
        await conn.session.update(session={"input_audio_format": encoding})
        await recv_until(conn, "session.updated")
        await conn.response.create()
        await recv_until(conn, "response.audio.delta")
        zeros = base64.b64encode(bytes(160)).decode()  # 20 ms
        for _ in range(100):
            await conn.input_audio_buffer.append(audio=zeros)
        events = await recv_until(conn, "response.done")
        assert "input_audio_buffer.speech_started" not in types(events)
        assert events[-1].response.status == "completed"
        assert emu.connections[0].audio_received_ms == pytest.approx(2000)
