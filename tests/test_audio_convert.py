"""Conversion: G.711 coding, channel mixing, streaming resampling, re-framing, converted()."""

from __future__ import annotations

import importlib.util
import math
import sys
import warnings
from typing import TYPE_CHECKING

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voiceagent import _g711
from voiceagent.audio import (
    AudioFormat,
    AudioSourceBase,
    Converter,
    Encoding,
    FrameStream,
    MemorySource,
    Reframer,
    converted,
)
from voiceagent.errors import AudioError, ConfigurationError, MissingExtraError

from .strategies import audio_formats, pcm16, pcm16_audio, splits

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from numpy.typing import NDArray

PCM8K = AudioFormat(sample_rate=8000)
ULAW = AudioFormat(encoding=Encoding.G711_ULAW, sample_rate=8000)
ALAW = AudioFormat(encoding=Encoding.G711_ALAW, sample_rate=8000)
STEREO48 = AudioFormat(sample_rate=48000, channels=2)
WIRE = AudioFormat()


def samples(data: bytes, channels: int = 1) -> NDArray[np.int32]:
    return np.frombuffer(data, "<i2").astype(np.int32).reshape(-1, channels)


def tone(rate: int, ms: float, *, freq: float = 440, amp: float = 12000) -> NDArray[np.int16]:
    t = np.arange(int(rate * ms / 1000)) / rate
    return np.rint(amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def encode(fmt: AudioFormat, pcm: bytes) -> bytes:
    if fmt.encoding is Encoding.G711_ULAW:
        return _g711.ulaw_encode(pcm)
    if fmt.encoding is Encoding.G711_ALAW:
        return _g711.alaw_encode(pcm)
    return pcm


def decode(fmt: AudioFormat, data: bytes) -> bytes:
    if fmt.encoding is Encoding.G711_ULAW:
        return _g711.ulaw_decode(data)
    if fmt.encoding is Encoding.G711_ALAW:
        return _g711.alaw_decode(data)
    return data


def run(converter: Converter, chunks: list[bytes]) -> bytes:
    return b"".join(converter.convert(c) for c in chunks) + converter.flush()


# --- without the audio extra ---------------------------------------------------------------


@pytest.fixture
def no_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """numpy and soxr cannot be imported (as without the audio extra)."""
    monkeypatch.setitem(sys.modules, "numpy", None)
    monkeypatch.setitem(sys.modules, "soxr", None)


@pytest.mark.usefixtures("no_extra")
def test_identity_and_g711_work_without_the_extra() -> None:
    pcm = pcm16([0, 1000, -1000, 32767, -32768, 5])
    identity = Converter(WIRE, WIRE)
    assert identity.is_identity
    assert not identity.needs_extra
    assert identity.convert(b"\x01") == b"\x01"  # passes bytes through, even partial ones
    assert run(Converter(PCM8K, ULAW), [pcm]) == _g711.ulaw_encode(pcm)
    assert run(Converter(PCM8K, ALAW), [pcm]) == _g711.alaw_encode(pcm)
    assert run(Converter(ULAW, PCM8K), [b"\x00\x7f\xff"]) == _g711.ulaw_decode(b"\x00\x7f\xff")
    assert run(Converter(ULAW, ALAW), [b"\x00\x7f"]) == _g711.alaw_encode(
        _g711.ulaw_decode(b"\x00\x7f")
    )


@pytest.mark.usefixtures("no_extra")
@pytest.mark.parametrize(
    ("src", "dst"),
    [(STEREO48, WIRE), (WIRE, AudioFormat(sample_rate=16000)), (WIRE, AudioFormat(channels=2))],
)
def test_resampling_or_mixing_without_the_extra_names_it(
    src: AudioFormat, dst: AudioFormat
) -> None:
    with pytest.raises(MissingExtraError) as info:
        Converter(src, dst)
    message = str(info.value)
    assert f"converting {src} to {dst} needs numpy and soxr" in message
    assert "reinstall voiceagent" in message


# --- G.711 ---------------------------------------------------------------------------------

ALL_SAMPLES = np.arange(-32768, 32768, dtype=np.int32)


@pytest.mark.parametrize(
    ("encode_fn", "decode_fn", "peak"),
    [
        (_g711.ulaw_encode, _g711.ulaw_decode, 32124),
        (_g711.alaw_encode, _g711.alaw_decode, 32256),
    ],
)
def test_g711_round_trip_error_bound_for_every_sample(
    encode_fn: object, decode_fn: object, peak: int
) -> None:
    # 8-bit companding: the error grows with the level, about 1/32 of it, plus a floor;
    # beyond the codec's largest value the sample clips to it.
    assert callable(encode_fn)
    assert callable(decode_fn)
    back = samples(decode_fn(encode_fn(ALL_SAMPLES.astype("<i2").tobytes())))[:, 0]
    inside = np.abs(ALL_SAMPLES) <= peak
    error = np.abs(back - ALL_SAMPLES)
    assert np.all(error[inside] <= np.abs(ALL_SAMPLES[inside]) / 32 + 8)
    assert np.all(np.abs(back[~inside]) == peak)
    assert np.all(np.sign(back[~inside]) == np.sign(ALL_SAMPLES[~inside]))


@given(st.lists(st.integers(-32000, 32000), max_size=200), st.sampled_from([ULAW, ALAW]))
def test_g711_round_trip_through_converters(values: list[int], fmt: AudioFormat) -> None:
    pcm = pcm16(values)
    back = run(Converter(fmt, PCM8K), [run(Converter(PCM8K, fmt), [pcm])])
    error = np.abs(samples(back)[:, 0] - np.array(values, dtype=np.int32))
    assert np.all(error <= np.abs(np.array(values)) / 32 + 8)


def test_g711_decode_tables_are_involutions_of_encode() -> None:
    codes = bytes(range(256))
    for enc, dec in (
        (_g711.ulaw_encode, _g711.ulaw_decode),
        (_g711.alaw_encode, _g711.alaw_decode),
    ):
        again = enc(dec(codes))
        # Every code decodes to a value that encodes back to itself, except μ-law's two
        # zeros (0x7F and 0xFF both decode to 0, which encodes as 0xFF).
        differing = [c for c, a in zip(codes, again, strict=True) if c != a]
        assert differing == ([0x7F] if enc is _g711.ulaw_encode else [])


@pytest.mark.skipif(
    importlib.util.find_spec("audioop") is None, reason="audioop was removed in Python 3.13"
)
def test_g711_matches_stdlib_audioop() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
    codes = bytes(range(256))
    assert _g711.ulaw_decode(codes) == audioop.ulaw2lin(codes, 2)
    assert _g711.alaw_decode(codes) == audioop.alaw2lin(codes, 2)
    sweep = ALL_SAMPLES.astype("<i2").tobytes()
    assert _g711.ulaw_encode(sweep) == audioop.lin2ulaw(sweep, 2)
    assert _g711.alaw_encode(sweep) == audioop.lin2alaw(sweep, 2)


# --- channels ------------------------------------------------------------------------------


def test_stereo_to_mono_averages_and_mono_to_stereo_copies() -> None:
    left = tone(24000, 20)
    both = np.stack([left, left], axis=1).reshape(-1).astype("<i2").tobytes()
    assert run(Converter(AudioFormat(channels=2), WIRE), [both]) == left.tobytes()
    opposite = np.stack([left, -left], axis=1).reshape(-1).astype("<i2").tobytes()
    assert not np.any(samples(run(Converter(AudioFormat(channels=2), WIRE), [opposite])))
    up = samples(run(Converter(WIRE, AudioFormat(channels=3)), [left.tobytes()]), 3)
    assert np.array_equal(up, np.stack([left] * 3, axis=1))


def test_many_to_other_many_averages_then_copies() -> None:
    four = np.array([[100, 200, 300, 400], [-4, -4, -4, -4]], dtype="<i2")
    out = samples(
        run(Converter(AudioFormat(channels=4), AudioFormat(channels=2)), [four.tobytes()]), 2
    )
    assert out.tolist() == [[250, 250], [-4, -4]]


# --- resampling ----------------------------------------------------------------------------


def test_resampled_tone_keeps_pitch_level_and_has_no_clicks() -> None:
    src = tone(48000, 1000, freq=440)
    stereo = np.stack([src, src], axis=1).reshape(-1).astype("<i2").tobytes()
    frame = STEREO48.bytes_for_ms(20)
    converter = Converter(STEREO48, WIRE)
    out = samples(run(converter, [stereo[i : i + frame] for i in range(0, len(stereo), frame)]))
    out = out[:, 0].astype(np.float64)
    assert len(out) == 24000
    body = out[1200:-1200]  # away from the filter's start and end transients
    rms = math.sqrt(float(np.mean(body**2)))
    assert rms == pytest.approx(12000 / math.sqrt(2), rel=0.01)
    spectrum = np.abs(np.fft.rfft(body * np.hanning(len(body))))
    assert np.argmax(spectrum) * 24000 / len(body) == pytest.approx(440, abs=2)
    # A click is a jump: a 440 Hz sine moves at most amp * 2 pi f / rate per sample.
    assert np.max(np.abs(np.diff(body))) <= 12000 * 2 * math.pi * 440 / 24000 * 1.02


def _audio_in(fmt: AudioFormat, pcm: bytes) -> bytes:
    return encode(fmt, pcm)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_streaming_any_split_equals_one_shot(data: st.DataObject) -> None:
    src = data.draw(audio_formats(), label="src")
    dst = data.draw(audio_formats(encodings=(Encoding.PCM16,)), label="dst")
    audio = _audio_in(src, data.draw(pcm16_audio(channels=src.channels, max_samples=3000)))
    chunks = data.draw(splits(audio), label="chunks")
    one_shot = samples(run(Converter(src, dst), [audio]), dst.channels)
    streamed = samples(run(Converter(src, dst), chunks), dst.channels)
    assert abs(len(one_shot) - len(streamed)) <= 1
    n = min(len(one_shot), len(streamed))
    assert np.max(np.abs(one_shot[:n] - streamed[:n]), initial=0) <= 1


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_streaming_keeps_duration_within_one_sample(data: st.DataObject) -> None:
    src = data.draw(audio_formats(), label="src")
    dst = data.draw(audio_formats(), label="dst")
    audio = _audio_in(src, data.draw(pcm16_audio(channels=src.channels, max_samples=3000)))
    out = run(Converter(src, dst), data.draw(splits(audio), label="chunks"))
    assert dst.is_aligned(len(out))
    n_in = src.samples_for_bytes(len(audio))
    expected = n_in * dst.sample_rate / src.sample_rate
    assert abs(dst.samples_for_bytes(len(out)) - expected) <= 1


def test_flush_resets_for_a_new_stream() -> None:
    converter = Converter(STEREO48, WIRE)
    audio = np.repeat(tone(48000, 100), 2).astype("<i2").tobytes()
    first = run(converter, [audio])
    assert run(converter, [audio]) == first


def test_a_stream_ending_mid_sample_is_an_error() -> None:
    converter = Converter(STEREO48, WIRE)
    converter.convert(bytes(7))  # one sample and three bytes
    with pytest.raises(AudioError, match=r"ended with 3 stray byte\(s\), not a whole pcm16"):
        converter.flush()
    assert converter.convert(bytes(8)) == converter.convert(b"")  # a fresh stream again


# --- re-framing ----------------------------------------------------------------------------


@given(st.binary(max_size=5000), st.integers(1, 1000), st.data())
def test_reframing_loses_and_adds_no_bytes(data: bytes, size: int, draw: st.DataObject) -> None:
    reframer = Reframer(size)
    frames = [f for chunk in draw.draw(splits(data)) for f in reframer.push(chunk)]
    rest = reframer.flush()
    assert all(len(f) == size for f in frames)
    assert len(rest) < size
    assert b"".join(frames) + rest == data
    assert reframer.buffered == 0
    assert reframer.flush() == b""


@pytest.mark.parametrize("size", [0, -1, 1.5, True])
def test_reframer_needs_a_positive_int(size: object) -> None:
    with pytest.raises(ConfigurationError, match="frame_bytes must be a positive int"):
        Reframer(size)  # type: ignore[arg-type]


# --- converted() ---------------------------------------------------------------------------


class Tracked(AudioSourceBase):
    """A source that records whether its iterator was closed and yields odd chunk sizes."""

    def __init__(self, data: bytes, fmt: AudioFormat) -> None:
        self.data, self._format, self.iterator_closed = data, fmt, False

    @property
    def format(self) -> AudioFormat:
        return self._format

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            step = 333
            for i in range(0, len(self.data), step):
                yield self.data[i : i + step]
        finally:
            self.iterator_closed = True


async def test_converted_reframes_into_wire_frames() -> None:
    audio = np.repeat(tone(44100, 1010), 2).astype("<i2").tobytes()
    source = Tracked(audio, AudioFormat(sample_rate=44100, channels=2))
    frames = [f async for f in converted(source, WIRE)]
    assert all(len(f) == 960 for f in frames[:-1])
    assert 0 < len(frames[-1]) <= 960
    assert abs(sum(map(len, frames)) / 2 - 1010 * 24) <= 1
    assert source.iterator_closed


async def test_converted_closes_the_source_iterator_when_abandoned() -> None:
    source = Tracked(bytes(48000), WIRE)
    stream = converted(source, AudioFormat(sample_rate=16000), frame_ms=10)
    async for frame in stream:
        assert len(frame) == 320
        break
    await stream.aclose()  # type: ignore[attr-defined]
    assert source.iterator_closed


async def test_converted_in_the_same_format_passes_audio_through() -> None:
    audio = tone(24000, 75).tobytes()
    frames = [f async for f in converted(MemorySource(audio, WIRE, frame_ms=7), WIRE)]
    assert [len(f) for f in frames] == [960, 960, 960, 720]
    assert b"".join(frames) == audio


async def test_converted_g711_to_pcm16_and_bad_frame_ms() -> None:
    ulaw = _g711.ulaw_encode(tone(8000, 40).tobytes())
    frames = [f async for f in converted(MemorySource(ulaw, ULAW), PCM8K)]
    assert b"".join(frames) == _g711.ulaw_decode(ulaw)
    with pytest.raises(ConfigurationError, match="frame_ms must be > 0, got 0"):
        async for _ in converted(MemorySource(ulaw, ULAW), PCM8K, frame_ms=0):
            pass


# --- FrameStream ---------------------------------------------------------------------------


@given(st.data())
def test_a_frame_stream_gives_what_converted_gives(draw: st.DataObject) -> None:
    # Chunks of the frame's size, mixed with odd ones: the pass-through must not jump ahead
    # of bytes still held.
    sizes = draw.draw(st.lists(st.sampled_from([960, 960, 1, 333, 2000]), max_size=12))
    sizes += [1] * (sum(sizes) % 2)  # whole samples in all: odd cuts only on the way
    audio = bytes(i % 251 for i in range(sum(sizes)))
    stream = FrameStream(WIRE, WIRE)
    frames: list[bytes] = []
    at = 0
    for size in sizes:
        frames += stream.push(audio[at : at + size])
        at += size
    frames += stream.end()
    assert b"".join(frames) == audio
    assert all(len(f) == 960 for f in frames[:-1])


def test_a_frame_stream_passes_wire_frames_through_without_a_copy() -> None:
    stream = FrameStream(WIRE, WIRE)
    frame = bytes(range(240)) * 4
    assert stream.push(frame)[0] is frame
    assert stream.push(bytearray(frame)) == [frame]  # not bytes: copied, the same audio
    assert stream.push(frame[:10]) == []
    assert stream.push(frame) == [frame[:10] + frame[:950]]  # held bytes first
    assert stream.end() == [frame[950:]]


def test_a_frame_stream_converts_and_reports_a_cut_sample() -> None:
    stream = FrameStream(ULAW, PCM8K, frame_ms=20)
    ulaw = _g711.ulaw_encode(tone(8000, 50).tobytes())
    frames = stream.push(ulaw) + stream.end()
    assert [len(f) for f in frames] == [320, 320, 160]
    assert b"".join(frames) == _g711.ulaw_decode(ulaw)
    odd = FrameStream(PCM8K, PCM8K)
    assert odd.push(bytes(3)) == []
    with pytest.raises(AudioError, match="stray byte"):
        odd.end()
    with pytest.raises(ConfigurationError, match="frame_ms must be > 0"):
        FrameStream(WIRE, WIRE, frame_ms=-1)
