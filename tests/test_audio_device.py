"""Microphone and Speaker: the speaker's jitter buffer on its own, error mapping for a
missing sounddevice or PortAudio, and both devices against PortAudio's ALSA backend with a
null device (an ``.asoundrc`` in a temporary HOME), skipped where PortAudio is missing."""

from __future__ import annotations

import importlib.abc
import sys
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from voiceagent.audio import AudioFormat, Encoding, Microphone, Speaker, list_devices
from voiceagent.audio._device import PlaybackBuffer
from voiceagent.errors import AudioError, ConfigurationError, MissingExtraError
from voiceagent.testing._audio_checks import check_audio_sink, check_audio_source

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from importlib.machinery import ModuleSpec
    from pathlib import Path
    from types import ModuleType

FMT = AudioFormat()  # 24 kHz mono: 48 bytes a millisecond
BLOCK = 960  # 20 ms


# --- the jitter buffer ---------------------------------------------------------------------


def level(n_bytes: int, value: int = 10000) -> bytes:
    return np.full(n_bytes // 2, value, dtype="<i2").tobytes()


def fill(buffer: PlaybackBuffer, nbytes: int = BLOCK) -> np.ndarray:
    out = bytearray(nbytes)
    buffer.fill(out, nbytes)
    return np.frombuffer(bytes(out), "<i2")


def test_buffer_waits_for_the_jitter_fill_then_plays() -> None:
    buffer = PlaybackBuffer(FMT, jitter_bytes=3 * BLOCK, fade_bytes=240)
    assert not fill(buffer).any()  # nothing queued: silence
    buffer.push(level(BLOCK))
    assert not fill(buffer).any()  # priming: 20 of 60 ms queued
    buffer.push(level(2 * BLOCK))
    assert np.all(fill(buffer) == 10000)
    assert buffer.played_bytes == BLOCK
    assert buffer.queued_bytes == 2 * BLOCK


def test_buffer_does_not_hold_a_short_tail_forever() -> None:
    buffer = PlaybackBuffer(FMT, jitter_bytes=3 * BLOCK, fade_bytes=240)
    buffer.push(level(BLOCK // 2))  # the last 10 ms of a response
    blocks = [fill(buffer) for _ in range(4)]
    assert [bool(b.any()) for b in blocks] == [False, False, False, True]
    assert buffer.played_bytes == BLOCK // 2
    assert buffer.underruns == 1


def test_buffer_plays_at_once_when_draining() -> None:
    buffer = PlaybackBuffer(FMT, jitter_bytes=3 * BLOCK, fade_bytes=240)
    buffer.draining = True
    buffer.push(level(BLOCK // 2))
    out = fill(buffer)
    assert np.all(out[: BLOCK // 4] == 10000)
    assert not out[BLOCK // 4 :].any()
    assert buffer.underruns == 0  # running dry while draining is the end, not an underrun


def test_underrun_primes_again() -> None:
    buffer = PlaybackBuffer(FMT, jitter_bytes=BLOCK, fade_bytes=240)
    buffer.push(level(BLOCK + BLOCK // 2))
    fill(buffer)
    fill(buffer)  # half a block of audio, then silence: an underrun
    assert buffer.underruns == 1
    buffer.push(level(BLOCK // 2))
    assert not fill(buffer).any()  # waits for the jitter fill again
    assert buffer.played_bytes == BLOCK + BLOCK // 2


def test_clear_fades_out_within_one_block_and_drops_the_rest() -> None:
    buffer = PlaybackBuffer(FMT, jitter_bytes=0, fade_bytes=240)  # 5 ms fade
    buffer.push(level(10 * BLOCK))
    fill(buffer)
    buffer.clear()
    assert buffer.cleared_bytes == 9 * BLOCK - 240
    assert buffer.played_bytes == BLOCK + 240  # final at once: the fade-out counts now
    out = fill(buffer)
    fade = out[:120]
    assert np.all(np.diff(fade.astype(int)) < 0)  # strictly decreasing: no step, no click
    assert fade[0] < 10000
    assert fade[-1] == 0
    assert not out[120:].any()
    assert not fill(buffer).any()
    assert buffer.played_bytes == BLOCK + 240


def test_fade_handles_interleaved_channels() -> None:
    stereo = AudioFormat(channels=2)
    buffer = PlaybackBuffer(stereo, jitter_bytes=0, fade_bytes=40)  # 10 samples
    buffer.push(np.tile(np.array([8000, -8000], dtype="<i2"), 100).tobytes())
    buffer.clear()
    out = fill(buffer, 80).reshape(-1, 2)
    assert np.array_equal(out[:, 0], -out[:, 1])  # both channels fade together
    assert out[0, 0] == 7200
    assert out[9, 0] == 0


# --- missing sounddevice or PortAudio ------------------------------------------------------


def test_missing_sounddevice_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    with pytest.raises(MissingExtraError, match=r'pip install "voiceagent\[audio\]"'):
        Microphone()
    with pytest.raises(MissingExtraError, match="Microphone and Speaker need sounddevice"):
        list_devices()


class _NoPortAudio(importlib.abc.MetaPathFinder):
    """Makes ``import sounddevice`` fail as it does where PortAudio is missing."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname == "sounddevice":
            raise OSError("PortAudio library not found")
        return None


def test_missing_portaudio_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoPortAudio(), *sys.meta_path])
    with pytest.raises(AudioError, match=r"PortAudio library could not be loaded.*libportaudio2"):
        Speaker()


# --- against PortAudio with a null ALSA device ---------------------------------------------

ASOUNDRC = """\
pcm.!default { type null }
pcm.nullout { type null }
"""


def _portaudio() -> Any:
    try:
        import sounddevice
    except (ImportError, OSError) as exc:
        pytest.skip(f"PortAudio is not loadable here ({exc}); device tests need libportaudio2")
    return sounddevice


@pytest.fixture
def null_alsa(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """PortAudio re-initialised with ALSA null devices ``default`` and ``nullout``.

    The null device consumes and produces audio as fast as asked (no real-time clock), so
    these tests check accounting and plumbing, not pacing.
    """
    if not sys.platform.startswith("linux"):
        pytest.skip("the null ALSA device trick needs Linux")
    sd = _portaudio()
    (tmp_path / ".asoundrc").write_text(ASOUNDRC)
    monkeypatch.setenv("HOME", str(tmp_path))
    sd._terminate()
    sd._initialize()
    try:
        if not any(d["name"] == "nullout" for d in sd.query_devices()):
            pytest.skip("PortAudio has no ALSA backend here")
        yield sd
    finally:
        monkeypatch.undo()
        sd._terminate()
        sd._initialize()


@pytest.mark.usefixtures("null_alsa")
def test_list_devices() -> None:
    devices = {d.name: d for d in list_devices()}
    null = devices["nullout"]
    assert null.host_api == "ALSA"
    assert null.max_input_channels > 0
    assert null.max_output_channels > 0


@pytest.mark.usefixtures("null_alsa")
async def test_microphone_captures_frames() -> None:
    mic = Microphone("nullout", AudioFormat(sample_rate=16000), block_ms=10)
    assert mic.device_name == "nullout"
    count = 0
    async for frame in mic:
        # 10 ms of 16 kHz pcm16 mono; the null device's samples are not guaranteed zero.
        assert len(frame) == 320
        count += 1
        if count == 20:
            break
    await mic.aclose()
    await check_audio_source(lambda: Microphone("nullout"), max_ms=200)
    await check_audio_source(Microphone, max_ms=100)  # the default device


@pytest.mark.usefixtures("null_alsa")
async def test_speaker_plays_and_reports_what_it_handed_over() -> None:
    async with Speaker("nullout") as speaker:
        for _ in range(25):
            await speaker.write(level(BLOCK))
        await speaker.drain()
        assert speaker.played_ms() == 500
        assert speaker.queued_ms() == 0
    assert speaker.closed
    await check_audio_sink(lambda: Speaker("nullout", max_buffer_ms=100))
    [index] = [d.index for d in list_devices() if d.name == "default"]
    stereo = AudioFormat(sample_rate=48000, channels=2)
    await check_audio_sink(lambda: Speaker(index, stereo))  # chosen by index


@pytest.mark.usefixtures("null_alsa")
def test_device_errors_are_clear() -> None:
    with pytest.raises(AudioError, match=r"no output device 'no such speaker'.*'nullout'"):
        Speaker("no such speaker")
    with pytest.raises(AudioError, match="no input device 99"):
        Microphone(99)
    with pytest.raises(ConfigurationError, match="device must be an index, a name or None"):
        Microphone(1.5)  # type: ignore[arg-type]
    ulaw = AudioFormat(encoding=Encoding.G711_ULAW, sample_rate=8000)
    with pytest.raises(AudioError, match="Speaker plays and records pcm16, not g711_ulaw"):
        Speaker(format=ulaw)
    with pytest.raises(ConfigurationError, match="jitter_ms must be >= 0"):
        Speaker(jitter_ms=-1)
