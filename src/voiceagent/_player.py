"""The agent's audio on its way to the sink: a queue, the wire-to-sink conversion, and
the writes, with the sink's optional capabilities (pause, far-end position reports).

The executor calls :meth:`Player.enqueue`, :meth:`Player.end_item`, :meth:`Player.clear`,
:meth:`Player.pause` and :meth:`Player.resume` synchronously; :meth:`Player.run` is the
playback loop that writes to the sink (which may make it wait: backpressure). A sink that
fails is reported as an :class:`~voiceagent.errors.AudioError`, never as a lost
connection.
"""

from __future__ import annotations

import collections
import logging
from typing import TYPE_CHECKING, Any

import anyio

from ._aio import event_factory
from .audio import Converter, PausableSink, PositionReportingSink
from .errors import AudioError

if TYPE_CHECKING:
    from collections.abc import Callable

    from .audio import AudioFormat, AudioSink

__all__ = ["Player"]

log = logging.getLogger("voiceagent.session")


def sink_failure(sink: AudioSink, what: str, exc: BaseException) -> AudioError:
    """The error for a sink (or source) that raised: it names the object and the call."""
    return AudioError(f"the audio sink {type(sink).__name__} failed in {what}: {exc!r}")


class Player:
    """Plays the agent's audio (wire format) into one sink.

    Args:
        sink: The sink.
        wire: The format the audio arrives in.
        wake: Called after every position report of a
            :class:`~voiceagent.audio.PositionReportingSink` (wakes the session's clock).
    """

    def __init__(self, sink: AudioSink, wire: AudioFormat, wake: Callable[[], None]) -> None:
        self.sink = sink
        self._wire = wire
        self._wake = wake
        self._queue: collections.deque[bytes | None] = collections.deque()
        """Audio waiting for the sink; None marks the end of an item's audio."""
        self._ready: anyio.Event | None = None
        self._converter: Converter | None = None
        self._pausable = isinstance(sink, PausableSink)
        self.reports_position = isinstance(sink, PositionReportingSink)
        """Whether the sink's position comes from the far end (no clock to poll)."""
        self.paused = False

    def start(self) -> None:
        """Listen to the sink's position reports, if it makes any."""
        if isinstance(self.sink, PositionReportingSink):
            self.sink.set_played_listener(self._wake)

    def stop(self) -> None:
        """Stop listening to the sink's position reports."""
        if isinstance(self.sink, PositionReportingSink):
            self.sink.set_played_listener(None)

    # -- from the executor (synchronous) ---------------------------------------------

    def enqueue(self, data: bytes) -> None:
        """Queue audio for the sink."""
        self._queue.append(data)
        if self._ready is not None:
            self._ready.set()

    def end_item(self) -> None:
        """The current item's audio is complete: flush the converter after it."""
        self._queue.append(None)
        if self._ready is not None:
            self._ready.set()

    def clear(self) -> None:
        """Drop what is queued here and in the sink, now."""
        self._queue.clear()
        self._converter = None
        self._call("clear", self.sink.clear)

    def pause(self) -> None:
        """Hold the sink's playback, if it can pause."""
        if self._pausable and not self.paused:
            self.paused = True
            self._call("pause", self.sink.pause)  # type: ignore[attr-defined]

    def resume(self) -> None:
        """Resume the sink's playback after :meth:`pause`."""
        if self.paused:
            self.paused = False
            self._call("resume", self.sink.resume)  # type: ignore[attr-defined]

    def played_ms(self) -> float:
        """The sink's played position."""
        try:
            played = self.sink.played_ms()
        except Exception as exc:
            raise sink_failure(self.sink, "played_ms()", exc) from exc
        return float(played)

    def _call(self, what: str, method: Callable[[], Any]) -> None:
        try:
            method()
        except Exception as exc:
            raise sink_failure(self.sink, f"{what}()", exc) from exc

    # -- the playback loop -----------------------------------------------------------

    async def run(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        """Write queued audio to the sink, converted to its format, until cancelled."""
        sink = self.sink
        new_event = event_factory()
        task_status.started()
        while True:
            while not self._queue:
                self._ready = new_event()
                await self._ready.wait()
            data = self._queue.popleft()
            if self._converter is None:
                self._converter = Converter(self._wire, sink.format)
            # End of an item's audio: the resampler's last few ms come out now.
            frame = self._converter.flush() if data is None else self._converter.convert(data)
            if frame:
                try:
                    await sink.write(frame)
                except anyio.get_cancelled_exc_class():
                    raise
                except Exception as exc:
                    raise sink_failure(sink, "write()", exc) from exc
