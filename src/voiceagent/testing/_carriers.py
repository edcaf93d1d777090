"""What the carrier simulators share: the far end's playback buffer (playing at real time
into a "heard" recording), the caller's audio, and the record of a simulated call."""

from __future__ import annotations

import collections
import wave
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import attrs

from ..audio import AudioFormat, WavFileSource, converted

if TYPE_CHECKING:
    import os

__all__ = ["HeardSegment", "Playout", "StopRecord", "load_caller_audio"]

_EPSILON = 1e-6


@attrs.frozen
class HeardSegment:
    """A run of agent audio the caller heard without a gap.

    Attributes:
        at: :func:`anyio.current_time` when the run started playing.
        offset: Bytes heard before this run.
        nbytes: The run's length in bytes.
    """

    at: float
    offset: int
    nbytes: int


@attrs.frozen
class StopRecord:
    """One ``clear`` (Twilio) or ``StopAudio`` (ACS) taken by the far end.

    Attributes:
        at: :func:`anyio.current_time` when it arrived.
        heard_ms: What the caller had heard of the agent by then, in total.
        dropped_ms: Audio buffered at the far end and dropped unplayed.
    """

    at: float
    heard_ms: float
    dropped_ms: float


class Playout:
    """The far end's playback buffer: audio queued plays at real time, in order.

    Playback starts with the first audio and runs on :func:`anyio.current_time`; when the
    buffer runs dry it waits for more (an underrun), as a carrier's media server does.
    Marks (Twilio) sit between audio and pass when the audio before them has played.

    Args:
        fmt: The format of the audio.
    """

    def __init__(self, fmt: AudioFormat) -> None:
        self.format = fmt
        self._queue: collections.deque[bytes | str] = collections.deque()
        """Audio chunks and mark names, in order."""
        self._queued = 0
        self._start: float | None = None
        """When the head chunk (from its first unplayed byte) started playing."""
        self.heard = bytearray()
        """Every byte the caller heard, in order."""
        self.segments: list[HeardSegment] = []
        """Runs of audio heard without a gap."""
        self.stops: list[StopRecord] = []
        """Every clear taken."""
        self._run_open = False

    @property
    def heard_ms(self) -> float:
        """Milliseconds of agent audio heard so far (as of the last :meth:`advance`)."""
        return self.format.ms_for_bytes(len(self.heard))

    def heard_ms_at(self, now: float) -> float:
        """Milliseconds heard by ``now``, without playing anything (marks do not stop the
        audio: they pass as it plays)."""
        heard = len(self.heard)
        if self._start is not None:
            fmt = self.format
            due = int((now - self._start) * fmt.sample_rate + _EPSILON) * fmt.block_align
            heard += min(max(0, due), self._queued)
        return self.format.ms_for_bytes(heard)

    @property
    def queued_ms(self) -> float:
        """Milliseconds buffered and not yet played."""
        return self.format.ms_for_bytes(self._queued)

    def add(self, data: bytes, now: float) -> list[str]:
        """Buffer ``data``; returns the marks that passed while catching up to ``now``."""
        passed = self.advance(now)
        if data:
            self._queue.append(bytes(data))
            self._queued += len(data)
            if self._start is None:
                self._start = now
                self._run_open = False
        return passed

    def add_mark(self, name: str, now: float) -> list[str]:
        """Put a mark after the buffered audio; returns the marks that passed by ``now``
        (this one too when nothing is buffered)."""
        passed = self.advance(now)
        self._queue.append(name)
        return passed + self._pop_marks()

    def clear(self, now: float) -> list[str]:
        """Drop everything buffered; returns the marks that were pending (to echo)."""
        passed = self.advance(now)
        pending = [entry for entry in self._queue if isinstance(entry, str)]
        dropped = self._queued
        self._queue.clear()
        self._queued = 0
        self._start = None
        self.stops.append(StopRecord(now, self.heard_ms, self.format.ms_for_bytes(dropped)))
        return passed + pending

    def next_change(self) -> float | None:
        """When the next buffered mark passes or the buffer runs dry (None: idle)."""
        if self._start is None:
            return None
        ahead = 0
        for entry in self._queue:
            if isinstance(entry, str):
                break
            ahead += len(entry)
        return self._start + ahead / self.format.bytes_per_second

    def advance(self, now: float) -> list[str]:
        """Play what is due by ``now``; returns the marks passed, in order."""
        passed = self._pop_marks()
        start = self._start
        if start is None:
            return passed
        fmt = self.format
        budget = int((now - start) * fmt.sample_rate + _EPSILON) * fmt.block_align
        while budget > 0 and self._queue:
            head = self._queue[0]
            if isinstance(head, str):
                self._queue.popleft()
                passed.append(head)
                continue
            n = min(len(head), budget)
            self._play(head[:n], start)
            start += fmt.samples_for_bytes(n) / fmt.sample_rate
            budget -= n
            self._queued -= n
            if n == len(head):
                self._queue.popleft()
            else:
                self._queue[0] = head[n:]
        passed += self._pop_marks()
        if self._queued == 0:
            self._start = None
            self._run_open = False
        else:
            self._start = start
        return passed

    def _pop_marks(self) -> list[str]:
        """Marks at the head of the buffer have passed already."""
        passed: list[str] = []
        while self._queue and isinstance(self._queue[0], str):
            passed.append(self._queue.popleft())  # type: ignore[arg-type]
        return passed

    def _play(self, data: bytes, at: float) -> None:
        if not self._run_open:
            self.segments.append(HeardSegment(at, len(self.heard), 0))
            self._run_open = True
        last = self.segments[-1]
        self.segments[-1] = attrs.evolve(last, nbytes=last.nbytes + len(data))
        self.heard += data

    def heard_until(self) -> float | None:
        """When the last heard byte finished playing (None: nothing heard)."""
        if not self.segments:
            return None
        last = self.segments[-1]
        return last.at + last.nbytes / self.format.bytes_per_second

    def timeline(self, start: float, end: float) -> bytes:
        """What the caller heard from ``start`` to ``end`` (seconds on the
        :func:`anyio.current_time` clock), silence in the gaps."""
        fmt = self.format
        total = fmt.align(int((end - start) * fmt.bytes_per_second))
        out = bytearray(bytes([fmt.silence_byte]) * total)
        for seg in self.segments:
            at = fmt.align(int((seg.at - start) * fmt.bytes_per_second))
            data = self.heard[seg.offset : seg.offset + seg.nbytes]
            if at < 0:
                data, at = data[-at:], 0
            data = data[: max(0, total - at)]
            out[at : at + len(data)] = data
        return bytes(out)


async def load_caller_audio(caller: bytes | str | os.PathLike[str], fmt: AudioFormat) -> bytes:
    """The caller's audio in the line's format.

    Args:
        caller: Raw audio already in ``fmt``, or the path of a WAV file in any format the
            audio module reads (converted; resampling needs the ``audio`` extra).
        fmt: The line's format.
    """
    if isinstance(caller, bytes | bytearray | memoryview):
        data = bytes(caller)
        if not fmt.is_aligned(len(data)):
            raise ValueError(f"caller audio is {len(data)} bytes, not whole {fmt} samples")
        return data
    source = WavFileSource(Path(caller))
    chunks = bytearray()
    async with source:
        async for frame in converted(source, fmt):
            chunks += frame
    return bytes(chunks)


def write_wav(path: str | os.PathLike[str], data: bytes, fmt: AudioFormat) -> None:
    """Write ``data`` as a WAV file (PCM16, or G.711 decoded to PCM16 for players)."""
    from .. import _g711
    from ..audio import Encoding

    if fmt.encoding is Encoding.G711_ULAW:
        data = _g711.ulaw_decode(data)
    elif fmt.encoding is Encoding.G711_ALAW:
        data = _g711.alaw_decode(data)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(fmt.channels)
        out.setsampwidth(2)
        out.setframerate(fmt.sample_rate)
        out.writeframes(data)


async def sleep_until(when: float) -> None:
    """Sleep until ``when`` on :func:`anyio.current_time`."""
    await anyio.sleep_until(when)
