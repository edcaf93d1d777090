"""AudioFormat: validation, byte arithmetic, wire names, and the wire format picked for a
source or sink."""

from __future__ import annotations

from typing import Any

import pytest
from azure.ai.voicelive.models import InputAudioFormat, OutputAudioFormat
from hypothesis import given
from hypothesis import strategies as st

from voiceagent.audio import AudioFormat, Encoding, wire_format_for
from voiceagent.errors import AudioError

from .strategies import audio_formats

ULAW = AudioFormat(encoding=Encoding.G711_ULAW, sample_rate=8000)
ALAW = AudioFormat(encoding=Encoding.G711_ALAW, sample_rate=8000)


def test_default_is_the_voice_live_default() -> None:
    fmt = AudioFormat()
    assert (fmt.encoding, fmt.sample_rate, fmt.channels) == (Encoding.PCM16, 24000, 1)
    assert fmt.bytes_per_ms == 48
    assert str(fmt) == "pcm16 24000 Hz mono"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sample_rate": 0}, "sample_rate must be a positive int"),
        ({"sample_rate": -8000}, "got -8000"),
        ({"sample_rate": 16000.0}, "got 16000.0"),
        ({"sample_rate": True}, "got True"),
        ({"channels": 0}, "channels must be an int from 1 to 8, got 0"),
        ({"channels": 9}, "got 9"),
        ({"encoding": "pcm16"}, "audio encoding must be one of Encoding.PCM16"),
        ({"encoding": Encoding.G711_ULAW}, "g711_ulaw audio is always 8000 Hz"),
        ({"encoding": Encoding.G711_ALAW, "sample_rate": 16000}, "sample_rate=16000"),
    ],
)
def test_invalid_formats_name_the_value(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(AudioError, match=message):
        AudioFormat(**kwargs)


def test_formats_are_frozen_hashable_values() -> None:
    fmt = AudioFormat(sample_rate=16000)
    assert fmt == AudioFormat(sample_rate=16000)
    assert {fmt: 1}[AudioFormat(sample_rate=16000)] == 1
    with pytest.raises(AttributeError):
        fmt.sample_rate = 8000  # type: ignore[misc]


@pytest.mark.parametrize(
    ("fmt", "per_ms", "block", "silence"),
    [
        (AudioFormat(), 48, 2, 0x00),
        (AudioFormat(sample_rate=16000), 32, 2, 0x00),
        (AudioFormat(sample_rate=8000), 16, 2, 0x00),
        (AudioFormat(sample_rate=48000, channels=2), 192, 4, 0x00),
        (ULAW, 8, 1, 0xFF),
        (ALAW, 8, 1, 0xD5),
    ],
)
def test_byte_arithmetic(fmt: AudioFormat, per_ms: float, block: int, silence: int) -> None:
    assert fmt.bytes_per_ms == per_ms
    assert fmt.block_align == block
    assert fmt.bytes_for_ms(20) == 20 * per_ms
    assert fmt.ms_for_bytes(20 * int(per_ms)) == 20
    assert fmt.silence(10) == bytes([silence]) * (10 * int(per_ms))
    assert fmt.align(block * 3 + block - 1) == block * 3
    assert fmt.is_aligned(block * 3)
    assert fmt.is_aligned(block * 3 + 1) is (block == 1)


def test_bytes_for_ms_rounds_to_whole_samples() -> None:
    fmt = AudioFormat(sample_rate=11025, channels=2)
    assert fmt.bytes_for_ms(20) == 221 * 4  # 220.5 samples round up
    assert fmt.bytes_for_ms(0) == 0
    with pytest.raises(AudioError, match="cannot be negative"):
        fmt.bytes_for_ms(-1)


@given(audio_formats(), st.floats(0, 10_000))
def test_bytes_for_ms_is_within_half_a_sample(fmt: AudioFormat, ms: float) -> None:
    nbytes = fmt.bytes_for_ms(ms)
    assert fmt.is_aligned(nbytes)
    assert abs(fmt.ms_for_bytes(nbytes) - ms) <= 500 / fmt.sample_rate + 1e-9


NATIVE = [
    (AudioFormat(), ("pcm16", 24000), "pcm16"),
    (AudioFormat(sample_rate=16000), ("pcm16", 16000), "pcm16_16000hz"),
    (AudioFormat(sample_rate=8000), ("pcm16", 8000), "pcm16_8000hz"),
    (ULAW, ("g711_ulaw", 8000), "g711_ulaw"),
    (ALAW, ("g711_alaw", 8000), "g711_alaw"),
]


@pytest.mark.parametrize(("fmt", "wire", "output"), NATIVE)
def test_native_formats_map_to_wire_names(
    fmt: AudioFormat, wire: tuple[str, int], output: str
) -> None:
    assert fmt.is_wire_native
    assert fmt.to_wire() == wire
    assert fmt.to_output_wire() == output
    assert AudioFormat.from_wire(*wire) == fmt
    assert AudioFormat.from_wire(output) == fmt
    assert wire_format_for(fmt) is fmt


def test_wire_names_are_the_sdks() -> None:
    inputs = {m.value for m in InputAudioFormat}
    outputs = {m.value for m in OutputAudioFormat}
    assert {fmt.to_wire()[0] for fmt, _, _ in NATIVE} == inputs
    assert {fmt.to_output_wire() for fmt, _, _ in NATIVE} == outputs
    for member in (*InputAudioFormat, *OutputAudioFormat):
        assert AudioFormat.from_wire(member).is_wire_native


@pytest.mark.parametrize(
    "fmt",
    [
        AudioFormat(sample_rate=44100),
        AudioFormat(sample_rate=48000),
        AudioFormat(sample_rate=24000, channels=2),
        AudioFormat(encoding=Encoding.G711_ULAW, sample_rate=8000, channels=2),
    ],
)
def test_non_native_formats_refuse_wire_names(fmt: AudioFormat) -> None:
    assert not fmt.is_wire_native
    with pytest.raises(AudioError, match=f"{fmt} is not a Voice Live wire format"):
        fmt.to_wire()
    with pytest.raises(AudioError, match="convert it first"):
        fmt.to_output_wire()


@pytest.mark.parametrize(
    ("wire", "rate", "expected"),
    [
        ("pcm16", None, AudioFormat()),
        ("pcm16", 16000, AudioFormat(sample_rate=16000)),
        ("pcm16-16000hz", None, AudioFormat(sample_rate=16000)),
        ("pcm16_44100hz", None, AudioFormat(sample_rate=44100)),
        ("g711_ulaw", None, ULAW),
        ("g711_alaw", 8000, ALAW),
    ],
)
def test_from_wire(wire: str, rate: int | None, expected: AudioFormat) -> None:
    assert AudioFormat.from_wire(wire, rate) == expected


@pytest.mark.parametrize(
    ("wire", "rate", "message"),
    [
        ("opus", None, "unknown audio format 'opus'; expected one of 'pcm16'"),
        ("pcm16_16000hz", 24000, "'pcm16_16000hz' is 16000 Hz, but sample_rate=24000"),
        ("g711_ulaw", 16000, "g711_ulaw audio is always 8000 Hz"),
        (16000, None, "must be a string"),
    ],
)
def test_from_wire_errors(wire: Any, rate: int | None, message: str) -> None:
    with pytest.raises(AudioError, match=message):
        AudioFormat.from_wire(wire, rate)


@pytest.mark.parametrize(
    ("fmt", "rate"),
    [
        (AudioFormat(sample_rate=48000, channels=2), 24000),
        (AudioFormat(sample_rate=44100), 24000),
        (AudioFormat(sample_rate=22050), 24000),
        (AudioFormat(sample_rate=16000, channels=2), 16000),
        (AudioFormat(sample_rate=11025), 16000),
        (AudioFormat(sample_rate=8000, channels=2), 8000),
        (AudioFormat(encoding=Encoding.G711_ALAW, sample_rate=8000, channels=2), 8000),
        (AudioFormat(sample_rate=4000), 8000),
    ],
)
def test_wire_format_for_non_native(fmt: AudioFormat, rate: int) -> None:
    assert wire_format_for(fmt) == AudioFormat(sample_rate=rate)


@given(audio_formats(max_channels=8))
def test_wire_format_for_is_native_and_never_loses_bandwidth(fmt: AudioFormat) -> None:
    wire = wire_format_for(fmt)
    assert wire.is_wire_native
    assert wire.sample_rate >= min(fmt.sample_rate, 24000)
