"""Audio over the wire: sources converted to the session's wire format reach the emulator
with the right duration, and the agent's audio converts into any sink's format, through
the real SDK (``connect()`` + ``input_audio_buffer.append``)."""

from __future__ import annotations

import base64
import wave
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from azure.ai.voicelive.aio import VoiceLiveConnection, connect

from voiceagent import _g711
from voiceagent.audio import (
    AudioFormat,
    AudioSource,
    Converter,
    Encoding,
    MemorySink,
    MemorySource,
    WavFileSink,
    WavFileSource,
    converted,
    wire_format_for,
)
from voiceagent.testing import Emulator, synthesize

from ..helpers import create_item, recv_until, type_of

if TYPE_CHECKING:
    from pathlib import Path

FRAME_MS = 20
ULAW = AudioFormat(encoding=Encoding.G711_ULAW, sample_rate=8000)


async def configure(conn: VoiceLiveConnection, wire: AudioFormat, output: AudioFormat) -> None:
    await conn.recv()  # session.created
    encoding, rate = wire.to_wire()
    session: dict[str, Any] = {
        "turn_detection": None,
        "input_audio_format": encoding,
        "output_audio_format": output.to_output_wire(),
    }
    if wire.encoding is Encoding.PCM16:
        session["input_audio_sampling_rate"] = rate
    await conn.session.update(session=session)
    [updated] = await recv_until(conn, "session.updated")
    assert updated.session.input_audio_format == encoding
    assert updated.session.input_audio_sampling_rate == rate


async def stream(conn: VoiceLiveConnection, source: AudioSource, wire: AudioFormat) -> int:
    sent = 0
    async for frame in converted(source, wire, frame_ms=FRAME_MS):
        assert len(frame) <= wire.bytes_for_ms(FRAME_MS)
        await conn.input_audio_buffer.append(audio=base64.b64encode(frame).decode())
        sent += len(frame)
    return sent


def stereo_wav(path: Path, ms: int) -> Path:
    speech = synthesize("Hello from a forty four kilohertz stereo file.", sample_rate=24000)
    mono = np.frombuffer(speech.audio, "<i2")
    n = 44100 * ms // 1000
    tone = np.resize(np.repeat(mono, 2), n)  # rough 24 -> 44.1 kHz, any content will do
    frames = np.stack([tone, tone // 2], axis=1).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(frames)
    return path


@pytest.mark.parametrize("ms", [1000, 2345])
async def test_a_44k_stereo_wav_reaches_the_service_as_24k_mono(tmp_path: Path, ms: int) -> None:
    source = WavFileSource(stereo_wav(tmp_path / "in.wav", ms), trailing_silence_ms=300)
    wire = wire_format_for(source.format)
    assert wire == AudioFormat()  # pcm16 24 kHz mono
    async with (
        Emulator(speed=None) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential, model="gpt-realtime") as conn,
    ):
        await configure(conn, wire, wire)
        sent = await stream(conn, source, wire)
        await conn.input_audio_buffer.commit()
        await recv_until(conn, "input_audio_buffer.committed")
        received = emu.connections[0].audio_received_bytes
    assert received == sent
    expected = wire.bytes_for_ms(ms + 300)
    assert abs(received - expected) <= wire.bytes_for_ms(FRAME_MS)
    assert abs(emu.connections[0].audio_received_ms - (ms + 300)) <= FRAME_MS


async def test_an_8k_ulaw_stream_goes_through_unconverted() -> None:
    speech = synthesize("A call from a phone line.", encoding="g711_ulaw", sample_rate=8000)
    source = MemorySource(speech.audio, ULAW, frame_ms=30)
    wire = wire_format_for(source.format)
    assert wire is source.format  # native: no conversion at all
    async with (
        Emulator(speed=None) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential, model="gpt-realtime") as conn,
    ):
        await configure(conn, wire, wire)
        sent = await stream(conn, source, wire)
        await conn.input_audio_buffer.commit()
        await recv_until(conn, "input_audio_buffer.committed")
        received = emu.connections[0].audio_received_bytes
    assert sent == received == len(speech.audio)
    assert abs(emu.connections[0].audio_received_ms - len(speech.audio) / 8) <= FRAME_MS


async def test_an_8k_ulaw_stream_converted_for_a_pcm16_session() -> None:
    ulaw = _g711.ulaw_encode(np.full(8000, 3000, dtype="<i2").tobytes())  # 1 s
    wire = AudioFormat(sample_rate=16000)
    async with (
        Emulator(speed=None) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential, model="gpt-realtime") as conn,
    ):
        await configure(conn, wire, wire)
        await stream(conn, MemorySource(ulaw, ULAW), wire)
        await conn.input_audio_buffer.commit()
        await recv_until(conn, "input_audio_buffer.committed")
        received = emu.connections[0].audio_received_bytes
    assert abs(received - wire.bytes_for_ms(1000)) <= wire.bytes_for_ms(FRAME_MS)


@pytest.mark.parametrize(
    "sink_format",
    [
        AudioFormat(sample_rate=48000, channels=2),
        AudioFormat(sample_rate=16000),
        ULAW,
        AudioFormat(sample_rate=44100),
    ],
    ids=str,
)
async def test_agent_audio_converts_into_the_sinks_format(
    tmp_path: Path, sink_format: AudioFormat
) -> None:
    wire = wire_format_for(sink_format)
    sink = MemorySink(sink_format)
    async with (
        Emulator(speed=None) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential, model="gpt-realtime") as conn,
    ):
        await configure(conn, AudioFormat(), wire)
        await create_item(
            conn,
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Say something"}],
            },
        )
        await conn.response.create()
        events = await recv_until(conn, "response.done")
    deltas = [e.delta for e in events if type_of(e) == "response.audio.delta"]
    assert deltas
    converter = Converter(wire, sink_format)
    for delta in deltas:
        await sink.write(converter.convert(delta))
    await sink.write(converter.flush())
    wire_ms = wire.ms_for_bytes(sum(map(len, deltas)))
    assert abs(sink.played_ms() - wire_ms) <= 1000 / sink_format.sample_rate + 1e-9
    assert sink_format.is_aligned(len(sink.data))
    # The same audio, recorded to a file in the sink's format, reads back identically.
    path = tmp_path / "agent.wav"
    async with WavFileSink(path, sink_format) as file_sink:
        await file_sink.write(sink.data)
    assert b"".join([f async for f in WavFileSource(path)]) == sink.data
