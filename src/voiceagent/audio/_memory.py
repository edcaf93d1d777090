"""In-memory sources and sinks: bytes in, bytes out, optionally at real-time pace.

``MemorySink(realtime=True)`` simulates a playback device on :func:`anyio.current_time`,
which is what end-to-end tests of barge-in need: audio written faster than real time
queues up, plays at real time, and :meth:`~MemorySink.clear` drops what was not yet heard.
"""

from __future__ import annotations

import contextlib
import math
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel
import attrs

from ..errors import AudioError, ConfigurationError
from ._format import AudioFormat
from ._pacing import Pacer, check_frame_ms
from ._protocols import AudioSinkBase, AudioSourceBase

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["MemorySink", "MemorySource", "NullSink", "SilenceSource", "SinkWrite"]

_EPSILON = 1e-6  # samples: absorbs float rounding when a sleep ends exactly on a sample
_PAUSED_POLL_S = 0.01  # how often a paused sink's waiting write() or drain() looks again


class MemorySource(AudioSourceBase):
    """Audio from a bytes object.

    The source can be iterated any number of times; each iteration starts from the
    beginning.

    Args:
        data: Whole samples in ``format``.
        format: The format of ``data``.
        frame_ms: The duration of each frame (the last one may be shorter).
        realtime: Deliver frames at real-time pace, as a microphone would.

    Raises:
        AudioError: If ``data`` is not a whole number of samples.
        ConfigurationError: If ``frame_ms`` is not positive.
    """

    def __init__(
        self,
        data: bytes | bytearray | memoryview,
        format: AudioFormat,
        *,
        frame_ms: float = 20,
        realtime: bool = False,
    ) -> None:
        if not format.is_aligned(len(data)):
            raise AudioError(
                f"MemorySource data is {len(data)} bytes, not a whole number of {format} "
                f"samples ({format.block_align} bytes each)"
            )
        self._data = bytes(data)
        self._format = format
        self._frame_bytes = max(format.bytes_for_ms(check_frame_ms(frame_ms)), format.block_align)
        self._realtime = realtime

    @property
    def format(self) -> AudioFormat:
        """The format of every frame."""
        return self._format

    @property
    def duration_ms(self) -> float:
        """The duration of the audio."""
        return self._format.ms_for_bytes(len(self._data))

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """Yield the data in frames of ``frame_ms``."""
        self._check_open()
        pacer = Pacer(self._format, realtime=self._realtime)
        data, size = self._data, self._frame_bytes
        for i in range(0, len(data), size):
            frame = data[i : i + size]
            await pacer.wait(len(frame))
            self._check_open()
            yield frame


class SilenceSource(AudioSourceBase):
    """Silence of a given duration, or without end.

    Args:
        duration_ms: How long; ``None`` for endless silence.
        format: The format of the frames.
        frame_ms: The duration of each frame (the last one may be shorter).
        realtime: Deliver frames at real-time pace, as a microphone would.

    Raises:
        ConfigurationError: If ``duration_ms`` is negative or ``frame_ms`` not positive.
    """

    def __init__(
        self,
        duration_ms: float | None,
        format: AudioFormat = AudioFormat(),  # noqa: B008 - frozen value
        *,
        frame_ms: float = 20,
        realtime: bool = False,
    ) -> None:
        if duration_ms is not None and not duration_ms >= 0:
            raise ConfigurationError(f"duration_ms must be >= 0 or None, got {duration_ms!r}")
        self._format = format
        self._total = None if duration_ms is None else format.bytes_for_ms(duration_ms)
        frame_bytes = max(format.bytes_for_ms(check_frame_ms(frame_ms)), format.block_align)
        self._frame = bytes([format.silence_byte]) * frame_bytes
        self._realtime = realtime

    @property
    def format(self) -> AudioFormat:
        """The format of every frame."""
        return self._format

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """Yield silent frames until the duration is reached."""
        self._check_open()
        pacer = Pacer(self._format, realtime=self._realtime)
        left = self._total
        while left is None or left > 0:
            frame = self._frame if left is None or left >= len(self._frame) else self._frame[:left]
            if left is not None:
                left -= len(frame)
            await pacer.wait(len(frame))
            self._check_open()
            yield frame


@attrs.frozen
class SinkWrite:
    """One call to :meth:`MemorySink.write`.

    Attributes:
        at: :func:`anyio.current_time` when ``write`` was called.
        offset_ms: Milliseconds of audio written to the sink before this frame.
        data: The frame.
    """

    at: float
    offset_ms: float
    data: bytes = attrs.field(repr=lambda d: f"<{len(d)} bytes>")


class MemorySink(AudioSinkBase):
    """Collects the agent's audio in memory; optionally simulates a real-time device.

    Without ``realtime`` the sink consumes every frame the moment it is written:
    :meth:`played_ms` is everything written (it cannot know a real playback position),
    :meth:`clear` has nothing to drop and :meth:`drain` returns at once.

    With ``realtime`` it plays like a device, on the clock :func:`anyio.current_time`:
    playback starts at the first write and proceeds at real time; when the queue runs dry
    the play clock pauses until the next write (an underrun). :meth:`played_ms` is what a
    device would have played by now, :meth:`clear` drops the unplayed rest, :meth:`drain`
    sleeps until everything queued has played, and :meth:`aclose` drops what is unplayed.
    It is a :class:`~voiceagent.audio.PausableSink`: :meth:`pause` holds playback (the
    queue is kept) until :meth:`resume`. A :meth:`write` waiting for room when
    :meth:`clear` runs drops its frame, as a device's would.

    Args:
        format: The format :meth:`write` takes.
        realtime: Simulate real-time playback.
        max_buffer_ms: With ``realtime``, :meth:`write` waits while more than this much
            audio is queued (backpressure, as a device buffer would). ``None``: unbounded.

    Attributes:
        writes: Every write in order, with its time and stream position.
        clears: :func:`anyio.current_time` of every :meth:`clear` call.
    """

    def __init__(
        self,
        format: AudioFormat = AudioFormat(),  # noqa: B008 - frozen value
        *,
        realtime: bool = False,
        max_buffer_ms: float | None = None,
    ) -> None:
        if max_buffer_ms is not None and not max_buffer_ms > 0:
            raise ConfigurationError(f"max_buffer_ms must be > 0 or None, got {max_buffer_ms!r}")
        self._format = format
        self._realtime = realtime
        self._max_buffer = None if max_buffer_ms is None else format.bytes_for_ms(max_buffer_ms)
        self._written = bytearray()
        self._played = bytearray()
        self._queue = bytearray()
        self._play_start: float | None = None  # when the head of the queue started playing
        self._cleared = 0
        self._clear_count = 0  # a write() waiting for room drops its frame if this moves
        self._paused = False
        self.writes: list[SinkWrite] = []
        self.clears: list[float] = []
        self.pauses: list[tuple[float, float]] = []
        """``(paused at, resumed at)`` of every pause (``realtime``); an open pause ends
        at ``math.inf``."""

    @property
    def format(self) -> AudioFormat:
        """The format :meth:`write` takes."""
        return self._format

    @property
    def realtime(self) -> bool:
        """Whether the sink simulates real-time playback."""
        return self._realtime

    @property
    def data(self) -> bytes:
        """The audio played so far (``realtime``) or everything written (not ``realtime``).

        With ``realtime`` this excludes audio dropped by :meth:`clear` or :meth:`aclose`
        and audio still queued.
        """
        if not self._realtime:
            return bytes(self._written)
        if not self._closed:
            # Read outside an event loop, it gives the state as of the last call.
            with contextlib.suppress(RuntimeError):
                self._advance(anyio.current_time())
        return bytes(self._played)

    @property
    def written(self) -> bytes:
        """Everything ever written, including audio later cleared."""
        return bytes(self._written)

    @property
    def cleared_ms(self) -> float:
        """Milliseconds of queued audio dropped by :meth:`clear` (``realtime`` only)."""
        return self._format.ms_for_bytes(self._cleared)

    def queued_ms(self) -> float:
        """Milliseconds written but not yet played (always 0 without ``realtime``)."""
        if self._realtime and not self._closed:
            self._advance(anyio.current_time())
        return self._format.ms_for_bytes(len(self._queue))

    def played_ms(self) -> float:
        """Milliseconds played since the sink opened (without ``realtime``: written)."""
        if not self._realtime:
            return self._format.ms_for_bytes(len(self._written))
        if not self._closed:
            self._advance(anyio.current_time())
        return self._format.ms_for_bytes(len(self._played))

    def write_nowait(self, frame: bytes) -> bool:
        """Take ``frame`` now unless a bounded real-time buffer is full (then False).

        The :class:`~voiceagent.audio.NonBlockingSink` side of :meth:`write`: the same
        checks, the same record.
        """
        if not self._checked(frame):
            return True
        now = anyio.current_time()
        if self._realtime:
            self._advance(now)
            if (
                self._max_buffer is not None
                and self._queue
                and len(self._queue) + len(frame) > self._max_buffer
            ):
                return False
        frame = bytes(frame)
        self.writes.append(SinkWrite(now, self._format.ms_for_bytes(len(self._written)), frame))
        self._written += frame
        if self._realtime:
            self._queue += frame
            if self._play_start is None and not self._paused:
                self._play_start = now
        return True

    async def _write(self, frame: bytes) -> None:
        now = anyio.current_time()
        self.writes.append(SinkWrite(now, self._format.ms_for_bytes(len(self._written)), frame))
        self._written += frame
        if not self._realtime:
            return
        self._advance(now)
        if self._max_buffer is not None:
            clears = self._clear_count
            while self._queue and len(self._queue) + len(frame) > self._max_buffer:
                if self._paused or self._play_start is None:
                    await anyio.sleep(_PAUSED_POLL_S)
                else:
                    excess = len(self._queue) + len(frame) - self._max_buffer
                    await anyio.sleep_until(
                        self._play_start + excess / self._format.bytes_per_second
                    )
                if self._closed:
                    raise anyio.ClosedResourceError("MemorySink was closed during write()")
                if self._clear_count != clears:
                    return  # cleared while waiting: this frame was part of what was dropped
                self._advance(anyio.current_time())
            now = anyio.current_time()
        self._queue += frame
        if self._play_start is None and not self._paused:
            self._play_start = now

    @property
    def paused(self) -> bool:
        """Whether playback is paused (:meth:`pause`)."""
        return self._paused

    def pause(self) -> None:
        """Hold playback (``realtime``): :meth:`played_ms` stops, the queue is kept."""
        if not self._realtime or self._paused or self._closed:
            return
        now = anyio.current_time()
        self._advance(now)
        self._paused = True
        self._play_start = None
        self.pauses.append((now, math.inf))

    def resume(self) -> None:
        """Play the queue again from where :meth:`pause` stopped."""
        if not self._paused:
            return
        now = anyio.current_time()
        self._paused = False
        self.pauses[-1] = (self.pauses[-1][0], now)
        if self._queue and not self._closed:
            self._play_start = now

    def clear(self) -> None:
        """Drop everything queued and not yet played (``realtime``; else nothing is queued)."""
        if not self._realtime:
            with contextlib.suppress(RuntimeError):  # works outside an event loop too
                self.clears.append(anyio.current_time())
            return
        now = anyio.current_time()
        self.clears.append(now)
        self._clear_count += 1
        if not self._closed:
            self._advance(now)
            self._cleared += len(self._queue)
            self._queue.clear()
            self._play_start = None

    async def drain(self) -> None:
        """Wait until everything queued has played (returns at once without ``realtime``)."""
        while self._realtime and not self._closed:
            self._advance(anyio.current_time())
            if self._paused and self._queue:
                await anyio.sleep(_PAUSED_POLL_S)
                continue
            if self._play_start is None:
                break
            await anyio.sleep_until(
                self._play_start + len(self._queue) / self._format.bytes_per_second
            )
        await anyio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        """Close; with ``realtime``, audio still queued is dropped, unplayed."""
        if self._realtime and not self._closed:
            self._advance(anyio.current_time())
            self._queue.clear()
            self._play_start = None
        await super().aclose()

    def _advance(self, now: float) -> None:
        """Move what has played by ``now`` from the queue to the played audio."""
        start = self._play_start
        if start is None:
            return
        fmt = self._format
        samples = int((now - start) * fmt.sample_rate + _EPSILON)
        n = min(len(self._queue), samples * fmt.block_align)
        if n > 0:
            self._played += self._queue[:n]
            del self._queue[:n]
            self._play_start = start + fmt.samples_for_bytes(n) / fmt.sample_rate
        if not self._queue:
            self._play_start = None  # underrun: the play clock waits for the next write


class NullSink(AudioSinkBase):
    """Discards audio instantly (for benchmarks and load tests).

    :meth:`played_ms` reports what was consumed, that is everything written.

    Args:
        format: The format :meth:`write` takes.
    """

    def __init__(self, format: AudioFormat = AudioFormat()) -> None:  # noqa: B008
        self._format = format
        self._bytes = 0
        self.frames = 0
        """Number of frames written."""

    @property
    def format(self) -> AudioFormat:
        """The format :meth:`write` takes."""
        return self._format

    @property
    def written_bytes(self) -> int:
        """Bytes written in total."""
        return self._bytes

    async def _write(self, frame: bytes) -> None:
        # No checkpoint: a writer that never waits is a valid sink, and the session's
        # playback loop yields whenever its queue is empty.
        self._bytes += len(frame)
        self.frames += 1

    def write_nowait(self, frame: bytes) -> bool:
        """Discard ``frame`` now (a :class:`~voiceagent.audio.NonBlockingSink`): always True."""
        if self._checked(frame):
            self._bytes += len(frame)
            self.frames += 1
        return True

    def clear(self) -> None:
        """Nothing is ever queued, so nothing to drop."""

    def played_ms(self) -> float:
        """Milliseconds consumed: everything written."""
        return self._format.ms_for_bytes(self._bytes)

    async def drain(self) -> None:
        """Returns at once: everything written is consumed."""
        await anyio.lowlevel.checkpoint()
