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
from .audio import Converter, NonBlockingSink, PausableSink, PositionReportingSink
from .errors import AudioError

if TYPE_CHECKING:
    from collections.abc import Callable

    from .audio import AudioFormat, AudioSink

__all__ = ["Player"]

log = logging.getLogger("voiceagent.session")


def sink_failure(sink: AudioSink, what: str, exc: BaseException) -> AudioError:
    """The error for a sink (or source) that raised: it names the object and the call."""
    return AudioError(f"the audio sink {type(sink).__name__} failed in {what}: {exc!r}")


def nowait_writer(sink: AudioSink) -> Callable[[bytes], bool] | None:
    """The sink's ``write_nowait``, if it is a :class:`~voiceagent.audio.NonBlockingSink`
    whose ``write_nowait`` still does what its ``write`` does.

    A subclass that overrides ``write`` (or ``AudioSinkBase._write``) of a sink with
    ``write_nowait`` but not ``write_nowait`` itself (a test's failing disk, a sink that
    also sends the audio somewhere) would see none of the frames the session hands over
    at once: such a sink is written through ``write`` only.
    """
    if not isinstance(sink, NonBlockingSink):
        return None
    mro = type(sink).__mro__

    def owner(name: str) -> type | None:
        return next((cls for cls in mro if name in vars(cls)), None)

    nowait = owner("write_nowait")
    for name in ("write", "_write"):
        cls = owner(name)
        if cls is not None and nowait is not None and cls is not nowait and issubclass(cls, nowait):
            return None
    return sink.write_nowait


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
        self._queue: collections.deque[bytes | _Converted | None] = collections.deque()
        """Audio waiting for the sink; None marks the end of an item's audio."""
        self._ready: anyio.Event | None = None
        self._idle = False
        """Whether the playback loop waits for audio (it is not in the middle of a write)."""
        self._nowait = nowait_writer(sink)
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
        """Queue audio for the sink (or hand it over at once: :meth:`_hand_over`)."""
        if not self._hand_over(data):
            self._queue.append(data)
            if self._ready is not None:
                self._ready.set()

    def end_item(self) -> None:
        """The current item's audio is complete: flush the converter after it."""
        if not self._hand_over(None):
            self._queue.append(None)
            if self._ready is not None:
                self._ready.set()

    def _hand_over(self, data: bytes | None) -> bool:
        """Give ``data`` (None: the converter's flush) to a
        :class:`~voiceagent.audio.NonBlockingSink` now, if nothing waits before it.

        The playback loop then has nothing to do: no task switch per audio delta. When
        the sink has no room, the converted frame goes to the front of the loop's work.

        Returns:
            Whether ``data`` was dealt with (False: queue it as usual).

        Raises:
            AudioError: The sink failed.
        """
        if self._nowait is None or not self._idle or self._queue:
            return False
        frame = self._convert(data)
        if not frame:
            return True
        try:
            taken = self._nowait(frame)
        except Exception as exc:
            raise sink_failure(self.sink, "write_nowait()", exc) from exc
        if not taken:
            self._queue.append(_Converted(frame))
            if self._ready is not None:
                self._ready.set()
        return True

    def _convert(self, data: bytes | None) -> bytes:
        if self._converter is None:
            self._converter = Converter(self._wire, self.sink.format)
        # End of an item's audio: the resampler's last few ms come out now.
        return self._converter.flush() if data is None else self._converter.convert(data)

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
                self._idle = True
                try:
                    await self._ready.wait()
                finally:
                    self._idle = False
            data = self._queue.popleft()
            frame = data.frame if isinstance(data, _Converted) else self._convert(data)
            if frame:
                try:
                    await sink.write(frame)
                except anyio.get_cancelled_exc_class():
                    raise
                except Exception as exc:
                    raise sink_failure(sink, "write()", exc) from exc


class _Converted:
    """A frame already in the sink's format (a :class:`NonBlockingSink` had no room)."""

    __slots__ = ("frame",)

    def __init__(self, frame: bytes) -> None:
        self.frame = frame
