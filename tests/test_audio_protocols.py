"""The AudioSource/AudioSink protocols and the conformance checks: every implementation we
ship passes them, and each rule of the checks catches an implementation that breaks it."""

from __future__ import annotations

import itertools
import wave
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from voiceagent.audio import (
    AudioFormat,
    AudioSink,
    AudioSinkBase,
    AudioSource,
    AudioSourceBase,
    Encoding,
    MemorySink,
    MemorySource,
    NullSink,
    SilenceSource,
    WavFileSink,
    WavFileSource,
)
from voiceagent.testing._audio_checks import check_audio_sink, check_audio_source

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

FMT = AudioFormat()
ULAW = AudioFormat(encoding=Encoding.G711_ULAW, sample_rate=8000)


def wav_file(tmp_path: Path) -> Path:
    path = tmp_path / "in.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(bytes(4 * 441 * 30))  # 300 ms
    return path


SOURCES: dict[str, Callable[[Path], AudioSource]] = {
    "memory": lambda _: MemorySource(bytes(4800), FMT),
    "memory-realtime": lambda _: MemorySource(bytes(4800), FMT, realtime=True),
    "memory-ulaw": lambda _: MemorySource(bytes(800), ULAW, frame_ms=7),
    "silence": lambda _: SilenceSource(300),
    "silence-endless-realtime": lambda _: SilenceSource(None, realtime=True),
    "wav": lambda tmp: WavFileSource(wav_file(tmp), trailing_silence_ms=100),
    "wav-realtime": lambda tmp: WavFileSource(wav_file(tmp), realtime=True),
}


@pytest.mark.parametrize("name", SOURCES)
async def test_our_sources_pass_the_conformance_check(tmp_path: Path, name: str) -> None:
    make = SOURCES[name]
    assert isinstance(make(tmp_path), AudioSource)
    await check_audio_source(lambda: make(tmp_path), max_ms=300)


def sink_factories(tmp_path: Path) -> dict[str, Callable[[], AudioSink]]:
    counter = itertools.count()
    return {
        "memory": lambda: MemorySink(FMT),
        "memory-realtime": lambda: MemorySink(FMT, realtime=True),
        "memory-realtime-bounded": lambda: MemorySink(ULAW, realtime=True, max_buffer_ms=60),
        "null": lambda: NullSink(AudioFormat(sample_rate=48000, channels=2)),
        "wav": lambda: WavFileSink(tmp_path / f"{next(counter)}.wav"),
        "wav-ulaw": lambda: WavFileSink(tmp_path / f"{next(counter)}.wav", ULAW),
        "wav-both-sides": lambda: WavFileSink(tmp_path / f"{next(counter)}.wav", record_input=True),
    }


@pytest.mark.parametrize(
    "name",
    [
        "memory",
        "memory-realtime",
        "memory-realtime-bounded",
        "null",
        "wav",
        "wav-ulaw",
        "wav-both-sides",
    ],
)
async def test_our_sinks_pass_the_conformance_check(tmp_path: Path, name: str) -> None:
    make = sink_factories(tmp_path)[name]
    sink = make()
    assert isinstance(sink, AudioSink)
    await sink.aclose()
    await check_audio_sink(make)


async def test_async_factories_work() -> None:
    async def make() -> MemorySink:
        await anyio.lowlevel.checkpoint()
        return MemorySink()

    await check_audio_sink(make)


# --- plain protocol implementations (no base class) ----------------------------------------


class PlainSource:
    """A source with only the protocol's two members."""

    format = FMT

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(3):
            yield bytes(960)


class PlainSink:
    """A minimal correct sink with no base class."""

    def __init__(self) -> None:
        self.format = FMT
        self._written = 0
        self._closed = False

    async def write(self, frame: bytes) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        self._written += len(frame)

    def clear(self) -> None:
        pass

    def played_ms(self) -> float:
        return self._written / 48

    async def drain(self) -> None:
        pass

    async def aclose(self) -> None:
        self._closed = True


async def test_plain_protocol_implementations_plug_in() -> None:
    assert isinstance(PlainSource(), AudioSource)
    assert isinstance(PlainSink(), AudioSink)
    assert not isinstance(PlainSource(), AudioSink)
    await check_audio_source(PlainSource)
    await check_audio_sink(PlainSink)


# --- each rule catches a broken implementation ---------------------------------------------


class QueueingSink(AudioSinkBase):
    """Plays its queue on drain(); subclasses break one rule each."""

    def __init__(self) -> None:
        self.queue = 0
        self.played = 0

    @property
    def format(self) -> AudioFormat:
        return FMT

    async def _write(self, frame: bytes) -> None:
        self.queue += len(frame)

    def clear(self) -> None:
        self.queue = 0

    def played_ms(self) -> float:
        return self.played / 48

    async def drain(self) -> None:
        self.played += self.queue
        self.queue = 0


class ClearKeepsAudio(QueueingSink):
    def clear(self) -> None:
        pass


class ClearResetsPosition(QueueingSink):
    def clear(self) -> None:
        self.queue = 0
        self.played = 0


class NeverPlays(QueueingSink):
    async def drain(self) -> None:
        self.queue = 0


class WritesAfterClose(QueueingSink):
    async def write(self, frame: bytes) -> None:
        await self._write(frame)


class AsyncClear(QueueingSink):
    async def clear(self) -> None:  # type: ignore[override]
        self.queue = 0


class StartsPlayed(QueueingSink):
    def __init__(self) -> None:
        super().__init__()
        self.played = 480


class NotASink:
    format = FMT


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (ClearKeepsAudio, "cleared audio must not count"),
        (ClearResetsPosition, r"played_ms\(\) went down after clear\(\)"),
        (NeverPlays, r"wrote 200 ms and drained, but played_ms\(\) is 0.0"),
        (WritesAfterClose, r"write\(\) after aclose\(\) must raise anyio.ClosedResourceError"),
        (AsyncClear, r"AsyncClear.clear\(\) must be synchronous"),
        (StartsPlayed, r"played_ms\(\) is 10.0 before anything was written"),
        (NotASink, "NotASink is not an AudioSink"),
    ],
)
async def test_sink_check_catches(broken: Callable[[], Any], message: str) -> None:
    assert QueueingSink not in (broken,)
    with pytest.raises(AssertionError, match=message):
        await check_audio_sink(broken)


async def test_the_well_behaved_queueing_sink_passes() -> None:
    await check_audio_sink(QueueingSink)  # so the failures above are each one broken rule


class FrameSource(AudioSourceBase):
    def __init__(self, *frames: Any, obeys_close: bool = True) -> None:
        self.frames, self.obeys_close = frames, obeys_close

    @property
    def format(self) -> AudioFormat:
        return FMT

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for frame in self.frames:
            if self.obeys_close:
                self._check_open()
            yield frame


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (lambda: FrameSource(bytes(960), bytes(3)), "yielded 3 bytes, not whole pcm16"),
        (lambda: FrameSource("abcd"), "yielded str, not bytes"),
        (lambda: FrameSource(b""), "yielded an empty frame"),
        (lambda: FrameSource(*[bytes(960)] * 5, obeys_close=False), "kept yielding audio"),
        (lambda: FrameSource(), "yielded no audio at all"),
        (lambda: NotASink(), "NotASink is not an AudioSource"),
    ],
)
async def test_source_check_catches(source: Callable[[], Any], message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        await check_audio_source(source)


async def test_the_well_behaved_frame_source_passes() -> None:
    await check_audio_source(lambda: FrameSource(*[bytes(960)] * 5))
