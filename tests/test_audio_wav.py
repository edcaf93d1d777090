"""WAV files: reading every supported layout, clear errors for the rest, writing files that
stay valid through crashes and cancellation, and both-sides stereo recording."""

from __future__ import annotations

import struct
import wave
from typing import TYPE_CHECKING

import anyio
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voiceagent import _g711
from voiceagent.audio import (
    AudioFormat,
    Encoding,
    WavFileSink,
    WavFileSource,
    read_wav_info,
)
from voiceagent.errors import AudioError, ConfigurationError

from .strategies import audio_formats, pcm16_audio

if TYPE_CHECKING:
    from pathlib import Path

ULAW = AudioFormat(encoding=Encoding.G711_ULAW, sample_rate=8000)


def write_wav(path: Path, data: bytes, *, rate: int, channels: int) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data)
    return path


def riff(*chunks: tuple[bytes, bytes]) -> bytes:
    body = b"WAVE" + b"".join(
        cid + struct.pack("<I", len(data)) + data + b"\0" * (len(data) & 1) for cid, data in chunks
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def fmt_chunk(tag: int, channels: int, rate: int, bits: int, block: int | None = None) -> bytes:
    align = block if block is not None else channels * bits // 8
    return struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)


def noise(n_bytes: int, seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    return rng.integers(-20000, 20000, n_bytes // 2, dtype=np.int16).astype("<i2").tobytes()


async def read_all(source: WavFileSource) -> bytes:
    return b"".join([frame async for frame in source])


# --- reading -------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 24000, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2])
async def test_reads_16_bit_pcm_at_common_rates(tmp_path: Path, rate: int, channels: int) -> None:
    fmt = AudioFormat(sample_rate=rate, channels=channels)
    data = noise(fmt.bytes_for_ms(130))
    source = WavFileSource(write_wav(tmp_path / "a.wav", data, rate=rate, channels=channels))
    assert source.format == fmt
    assert source.duration_ms == pytest.approx(130, abs=1000 / rate)
    frames = [frame async for frame in source]
    assert b"".join(frames) == data
    assert {len(f) for f in frames[:-1]} <= {fmt.bytes_for_ms(20)}
    assert b"".join([frame async for frame in source]) == data  # iterable again


async def test_trailing_silence_and_frame_size(tmp_path: Path) -> None:
    data = noise(24000 * 2 // 10)  # 100 ms
    path = write_wav(tmp_path / "a.wav", data, rate=24000, channels=1)
    frames = [f async for f in WavFileSource(path, trailing_silence_ms=250, frame_ms=40)]
    joined = b"".join(frames)
    assert joined[: len(data)] == data
    assert joined[len(data) :] == bytes(24000 * 2 // 4)
    assert [len(f) for f in frames] == [1920, 1920, 960, *[1920] * 6, 480]


async def test_realtime_paces_like_a_microphone(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "a.wav", noise(24000 * 2 // 5), rate=24000, channels=1)
    start = anyio.current_time()
    audio_ms = 0.0
    async for frame in WavFileSource(path, realtime=True, trailing_silence_ms=60):
        audio_ms += len(frame) / 48
        # A frame is handed over once all of it has been "captured".
        assert anyio.current_time() - start >= audio_ms / 1000 - 1e-4
    assert audio_ms == 260


async def test_reads_g711_and_extensible_wav(tmp_path: Path) -> None:
    ulaw = _g711.ulaw_encode(noise(1600))
    path = tmp_path / "u.wav"
    path.write_bytes(riff((b"fmt ", fmt_chunk(7, 1, 8000, 8) + b"\0\0"), (b"data", ulaw)))
    source = WavFileSource(path)
    assert source.format == ULAW
    assert await read_all(source) == ulaw
    pcm = noise(4 * 480)
    guid = struct.pack("<H", 1) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    ext = fmt_chunk(0xFFFE, 2, 48000, 16) + struct.pack("<HHI", 22, 16, 3) + guid
    path.write_bytes(riff((b"LIST", b"junk!"), (b"fmt ", ext), (b"data", pcm)))
    source = WavFileSource(path)
    assert source.format == AudioFormat(sample_rate=48000, channels=2)
    assert await read_all(source) == pcm


async def test_reads_files_whose_writer_crashed(tmp_path: Path) -> None:
    pcm = noise(960)
    path = tmp_path / "a.wav"
    whole = riff((b"fmt ", fmt_chunk(1, 1, 24000, 16)), (b"data", pcm))
    for declared in (0, 0xFFFFFFFF, 10**6):  # unset, streaming, or larger than the file
        path.write_bytes(whole[: -4 - len(pcm)] + struct.pack("<I", declared) + pcm + b"\x01")
        info = read_wav_info(path)
        assert info.data_bytes == len(pcm)  # the stray odd byte is not a whole sample
        assert await read_all(WavFileSource(path)) == pcm


BAD_FILES = [
    (b"", "not a WAV file"),
    (b"ID3\x03" + bytes(40), "not a WAV file"),
    (b"RF64" + bytes(4) + b"WAVE", "RF64"),
    (riff((b"data", b"\0\0")), "comes before the 'fmt ' chunk"),
    (riff((b"LIST", b"x")), "no 'fmt ' chunk"),
    (riff((b"fmt ", fmt_chunk(1, 1, 8000, 16))), "no 'data' chunk"),
    (riff((b"fmt ", b"\1\0\1\0")), "shorter than 16"),
    (riff((b"fmt ", fmt_chunk(1, 1, 48000, 24)), (b"data", b"")), "24-bit PCM samples are not"),
    (riff((b"fmt ", fmt_chunk(1, 1, 8000, 8)), (b"data", b"")), "8-bit PCM samples"),
    (riff((b"fmt ", fmt_chunk(3, 1, 48000, 32)), (b"data", b"")), "32-bit floating-point"),
    (riff((b"fmt ", fmt_chunk(2, 1, 8000, 4, 256)), (b"data", b"")), r"tag 0x0002\) is not"),
    (riff((b"fmt ", fmt_chunk(7, 1, 16000, 8)), (b"data", b"")), "G.711 audio at 16000 Hz"),
    (riff((b"fmt ", fmt_chunk(1, 0, 8000, 16, 2)), (b"data", b"")), "0 channels"),
    (riff((b"fmt ", fmt_chunk(1, 9, 8000, 16)), (b"data", b"")), "9 channels"),
    (riff((b"fmt ", fmt_chunk(1, 2, 8000, 16, 2)), (b"data", b"")), "block align 2"),
    (riff((b"fmt ", fmt_chunk(1, 1, 0, 16)), (b"data", b"")), "0 Hz"),
]


@pytest.mark.parametrize(("content", "problem"), BAD_FILES)
def test_bad_files_name_the_file_and_the_problem(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / "bad file.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=problem) as info:
        WavFileSource(path)
    assert str(path) in str(info.value)


def test_missing_file_and_bad_options(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match=r"nope\.wav.*cannot be read: No such file"):
        WavFileSource(tmp_path / "nope.wav")
    path = write_wav(tmp_path / "a.wav", b"", rate=8000, channels=1)
    with pytest.raises(ConfigurationError, match="trailing_silence_ms must be >= 0"):
        WavFileSource(path, trailing_silence_ms=-1)
    with pytest.raises(ConfigurationError, match="frame_ms must be a positive number"):
        WavFileSource(path, frame_ms=0)


async def test_closed_source_refuses_to_iterate(tmp_path: Path) -> None:
    source = WavFileSource(write_wav(tmp_path / "a.wav", noise(4800), rate=24000, channels=1))
    async with source:
        async for _ in source:
            break
    assert source.closed
    with pytest.raises(anyio.ClosedResourceError):
        await read_all(source)


# --- writing -------------------------------------------------------------------------------


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fmt=audio_formats(), data=st.data())
async def test_write_then_read_gives_the_same_samples(
    tmp_path: Path, fmt: AudioFormat, data: st.DataObject
) -> None:
    pcm = data.draw(pcm16_audio(channels=fmt.channels, max_samples=2000))
    audio = pcm if fmt.encoding is Encoding.PCM16 else _g711.alaw_encode(pcm)
    if fmt.encoding is Encoding.G711_ULAW:
        audio = _g711.ulaw_encode(pcm)
    sizes = data.draw(st.lists(st.integers(1, 400), max_size=20))
    path = tmp_path / "out.wav"
    async with WavFileSink(path, fmt) as sink:
        pos = 0
        for size in [*sizes, len(audio)]:
            n = fmt.align(size * fmt.block_align)
            await sink.write(audio[pos : pos + n])
            pos += n
    source = WavFileSource(path)
    assert source.format == fmt
    assert await read_all(source) == audio
    assert path.stat().st_size % 2 == 0  # RIFF pads the odd data chunk
    if fmt.encoding is Encoding.PCM16:
        with wave.open(str(path)) as w:
            assert (w.getframerate(), w.getnchannels()) == (fmt.sample_rate, fmt.channels)
            assert w.readframes(w.getnframes()) == audio


async def test_file_is_valid_after_every_write_and_on_cancel(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    frame = noise(960)
    written = 0
    with anyio.CancelScope() as scope:
        async with WavFileSink(path) as sink:
            for _ in range(10):
                await sink.write(frame)
                written += len(frame)
                with wave.open(str(path)) as w:  # as a crash would leave it, before close
                    assert w.getnframes() * 2 == written
                assert sink.played_ms() == written / 48
            scope.cancel()
            await anyio.sleep(1)  # cancelled here, inside the sink's `async with`
    assert scope.cancelled_caught
    assert sink.closed
    with wave.open(str(path)) as w:
        assert w.readframes(w.getnframes()) == frame * 10


async def test_sink_consumes_at_once(tmp_path: Path) -> None:
    sink = WavFileSink(tmp_path / "out.wav", AudioFormat(sample_rate=16000))
    await sink.write(noise(640))
    sink.clear()
    await sink.drain()
    assert sink.played_ms() == 20
    with pytest.raises(AudioError, match="not a whole number of pcm16 16000 Hz mono samples"):
        await sink.write(b"\0")
    await sink.aclose()
    await sink.aclose()
    with pytest.raises(anyio.ClosedResourceError):
        await sink.write(noise(640))


def test_unwritable_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match=r"missing.*out\.wav.*cannot be written"):
        WavFileSink(tmp_path / "missing" / "out.wav")


# --- both sides ----------------------------------------------------------------------------


def channels_of(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getframerate()) == (2, 24000)
        both = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)
    return both[:, 0], both[:, 1]


def run_of_zeros(x: np.ndarray) -> int:
    nonzero = np.flatnonzero(x)
    return int(nonzero[0]) if len(nonzero) else len(x)


async def test_record_input_puts_user_left_and_agent_right_after_it(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    user = np.full(24000, 1000, dtype="<i2").tobytes()  # 1 s
    agent = np.full(12000, -2000, dtype="<i2").tobytes()  # 0.5 s
    more_user = np.full(12000, 3000, dtype="<i2").tobytes()
    async with WavFileSink(path, record_input=True) as sink:
        assert sink.records_input
        assert sink.file_format == AudioFormat(channels=2)
        sink.record_input(user, AudioFormat())
        await sink.write(agent)
        sink.record_input(more_user)  # the user talks over the agent (barge-in)
        assert sink.played_ms() == 500
    left, right = channels_of(path)
    start = run_of_zeros(right)
    # These hold unless the test stalls for a second: then only the layout shifts later.
    assert start >= 24000
    assert np.all(right[start : start + 12000] == -2000)
    assert not np.any(right[start + 12000 :])
    assert np.all(left[:24000] == 1000)
    user_again = 24000 + run_of_zeros(left[24000:])
    assert np.all(left[user_again : user_again + 12000] == 3000)
    assert not np.any(left[user_again + 12000 :])


async def test_record_input_converts_the_users_format(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    ulaw = _g711.ulaw_encode(np.full(800, 5000, dtype="<i2").tobytes())  # 100 ms at 8 kHz
    async with WavFileSink(path, record_input=True) as sink:
        for i in range(0, len(ulaw), 160):
            sink.record_input(ulaw[i : i + 160], ULAW)
    left, right = channels_of(path)
    assert not np.any(right)
    body = left[run_of_zeros(left) :]
    assert abs(int(np.count_nonzero(body)) - 2400) <= 24  # 100 ms at 24 kHz, give or take
    level = np.frombuffer(_g711.ulaw_decode(ulaw[:1]), "<i2")[0]  # μ-law's nearest level
    assert np.median(body[200:2200]) == pytest.approx(level, abs=2)


async def test_record_input_needs_the_option_and_a_mono_format(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="format must be mono, not pcm16 24000 Hz stereo"):
        WavFileSink(tmp_path / "a.wav", AudioFormat(channels=2), record_input=True)
    sink = WavFileSink(tmp_path / "b.wav")
    assert not sink.records_input
    with pytest.raises(ConfigurationError, match="record_input=True"):
        sink.record_input(bytes(960))
    await sink.aclose()
