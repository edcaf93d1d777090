"""The two plug points for audio, :class:`AudioSource` and :class:`AudioSink`, and small
base classes that supply their boilerplate.

Both are :class:`typing.Protocol` classes: any object with the right members plugs in, no
inheritance needed. :func:`voiceagent.testing.check_audio_source` and
:func:`voiceagent.testing.check_audio_sink` check an implementation against the contract.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable

import anyio

from ..errors import AudioError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from types import TracebackType

    from ._format import AudioFormat

__all__ = [
    "AudioSink",
    "AudioSinkBase",
    "AudioSource",
    "AudioSourceBase",
    "InputRecordingSink",
    "PausableSink",
    "PositionReportingSink",
]


@runtime_checkable
class AudioSource(Protocol):
    """Where the user's audio comes from: a microphone, a file, a phone line.

    Iterating gives frames: ``bytes`` of whole samples in :attr:`format`, in order; the
    iteration ends when the audio ends (a microphone never ends). Frame sizes are up to the
    source; the session re-frames. A source may also have ``async aclose()``, which the
    session does not call (the application owns the source) but ``async with`` does for
    the base class.
    """

    @property
    def format(self) -> AudioFormat:
        """The format of every frame."""
        ...

    def __aiter__(self) -> AsyncIterator[bytes]:
        """Iterate over the frames."""
        ...


@runtime_checkable
class AudioSink(Protocol):
    """Where the agent's audio goes: a speaker, a file, a phone line.

    The session writes frames as they arrive from the service (often faster than real
    time), calls :meth:`clear` on barge-in, and reads :meth:`played_ms` to learn how much
    of the agent's speech the user actually heard.
    """

    @property
    def format(self) -> AudioFormat:
        """The format :meth:`write` takes."""
        ...

    async def write(self, frame: bytes) -> None:
        """Queue ``frame`` (whole samples in :attr:`format`) for playback.

        May wait for buffer room (backpressure).
        """
        ...

    def clear(self) -> None:
        """Drop everything queued and not yet played. Synchronous; never blocks.

        Once it returns, :meth:`played_ms` should grow only with audio written afterwards
        (a sink that fades out counts the fade as played at once), so that the position
        read right after a clear is where the next audio starts. A :meth:`write` that is
        waiting for buffer room when ``clear()`` runs belongs to the audio being cleared:
        it must drop its frame and return.
        """
        ...

    def played_ms(self) -> float:
        """Total milliseconds of audio played since the sink opened.

        Never decreases; audio dropped by :meth:`clear` never counts. A sink that cannot
        know its real playback position reports what it has consumed, and says so.
        """
        ...

    async def drain(self) -> None:
        """Wait until everything queued has been played."""
        ...

    async def aclose(self) -> None:
        """Stop and release the sink. Idempotent."""
        ...


@runtime_checkable
class PausableSink(AudioSink, Protocol):
    """A sink that can hold playback without dropping what is queued.

    The session pauses the sink while it decides whether speech heard over the agent is a
    real interruption (``Agent.confirm_interruption_ms``) and resumes it when it was not
    (a cough, an "mm-hm"). While paused, :meth:`~AudioSink.played_ms` does not advance,
    :meth:`~AudioSink.write` still queues (with the usual backpressure) and
    :meth:`~AudioSink.clear` still drops the queue.
    """

    def pause(self) -> None:
        """Stop playing at once, keeping the queue. Idempotent; never blocks."""
        ...

    def resume(self) -> None:
        """Play the queue again from where :meth:`pause` stopped. Idempotent."""
        ...


@runtime_checkable
class PositionReportingSink(AudioSink, Protocol):
    """A sink whose played position is reported by the far end (a browser's playback
    worklet, a phone carrier echoing marks) instead of kept by a local clock.

    Such a position moves in steps, whenever a report arrives, so the session does not
    poll :meth:`~AudioSink.played_ms` on a timer: it registers a listener that the sink
    calls after each change of the position (a report arrived, a clear, the far end
    drained). The listener is a plain, non-blocking callable, called in the event loop's
    thread; the session reads :meth:`~AudioSink.played_ms` itself when woken.
    """

    def set_played_listener(self, listener: Callable[[], None] | None) -> None:
        """Call ``listener()`` after every change of the played position (None: stop).

        One listener at a time: setting a new one replaces the previous one.
        """
        ...


@runtime_checkable
class NonBlockingSink(AudioSink, Protocol):
    """A sink that can take a frame at once, when it has room, without an ``await``.

    The session hands each frame of the agent's audio to :meth:`write_nowait` first when
    nothing is waiting before it, and falls back to :meth:`~AudioSink.write` (in its
    playback task, which may wait) only when the sink says it has no room. A sink that
    stores or sends its audio synchronously (a file, memory, a device's ring buffer with
    room) saves the session a task switch per frame: about one event-loop turn for each
    of the 50 audio deltas a second of a call.

    :class:`~voiceagent.audio.NullSink`, :class:`~voiceagent.audio.MemorySink`,
    :class:`~voiceagent.audio.WavFileSink` and :class:`~voiceagent.audio.Speaker` are
    non-blocking sinks. A subclass of one that overrides ``write`` or ``_write`` but not
    ``write_nowait`` is written through ``write`` only, so that it sees every frame.
    """

    def write_nowait(self, frame: bytes) -> bool:
        """Queue ``frame`` now if that needs no waiting; never blocks.

        Args:
            frame: Whole samples in :attr:`~AudioSink.format`, as for
                :meth:`~AudioSink.write`.

        Returns:
            True if the frame was taken (exactly as :meth:`~AudioSink.write` would have
            taken it); False if taking it would mean waiting (the sink is unchanged, and
            the session writes it with :meth:`~AudioSink.write`).
        """
        ...


@runtime_checkable
class InputRecordingSink(AudioSink, Protocol):
    """A sink that records the user's side too (a two-channel call recording).

    When :attr:`records_input` is true, the session passes every frame of user audio it
    sends to the service to :meth:`record_input`, in the wire format, as it sends it.
    """

    @property
    def records_input(self) -> bool:
        """Whether the sink wants the user's audio."""
        ...

    def record_input(self, frame: bytes, fmt: AudioFormat | None = None) -> None:
        """Record one frame of the user's audio (``fmt``: its format). Never blocks."""
        ...


class AudioSourceBase(abc.ABC):
    """Boilerplate for an :class:`AudioSource`: ``async with`` support and close state.

    Subclasses implement :attr:`format` and ``__aiter__`` (usually as an async generator
    that calls :meth:`_check_open` first) and may extend :meth:`aclose`.
    """

    _closed: bool = False

    @property
    @abc.abstractmethod
    def format(self) -> AudioFormat:
        """The format of every frame."""

    @abc.abstractmethod
    def __aiter__(self) -> AsyncIterator[bytes]:
        """Iterate over the frames."""

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    async def aclose(self) -> None:
        """Close the source; iterating afterwards raises ``anyio.ClosedResourceError``."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise anyio.ClosedResourceError(f"{type(self).__name__} is closed")

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class AudioSinkBase(abc.ABC):
    """Boilerplate for an :class:`AudioSink`.

    :meth:`write` checks that the sink is open and that the frame holds whole samples,
    then calls :meth:`_write`. ``async with`` drains the sink on a normal exit (so
    everything written is heard) and closes it either way; on an exception, cancellation
    included, it closes without draining.

    Subclasses implement :attr:`format`, :meth:`_write`, :meth:`clear`, :meth:`played_ms`
    and :meth:`drain`, and extend :meth:`aclose` to release what they hold.
    """

    _closed: bool = False

    @property
    @abc.abstractmethod
    def format(self) -> AudioFormat:
        """The format :meth:`write` takes."""

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    async def write(self, frame: bytes) -> None:
        """Queue ``frame`` for playback.

        Args:
            frame: Whole samples in :attr:`format`; an empty frame is ignored.

        Raises:
            anyio.ClosedResourceError: If the sink is closed.
            AudioError: If ``frame`` is not a whole number of samples.
        """
        if self._checked(frame):
            await self._write(bytes(frame))

    def _checked(self, frame: bytes) -> bool:
        """Whether to write ``frame`` (False: empty), after :meth:`write`'s checks."""
        if self._closed:
            raise anyio.ClosedResourceError(f"{type(self).__name__} is closed")
        if not self.format.is_aligned(len(frame)):
            raise AudioError(
                f"{type(self).__name__}.write() got {len(frame)} bytes, not a whole number of "
                f"{self.format} samples ({self.format.block_align} bytes each)"
            )
        return bool(frame)

    @abc.abstractmethod
    async def _write(self, frame: bytes) -> None:
        """Queue a non-empty, sample-aligned frame."""

    @abc.abstractmethod
    def clear(self) -> None:
        """Drop everything queued and not yet played. Synchronous; never blocks."""

    @abc.abstractmethod
    def played_ms(self) -> float:
        """Total milliseconds played since the sink opened; never decreases."""

    @abc.abstractmethod
    async def drain(self) -> None:
        """Wait until everything queued has been played."""

    async def aclose(self) -> None:
        """Close the sink; further writes raise ``anyio.ClosedResourceError``. Idempotent."""
        self._closed = True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            try:
                await self.drain()
            finally:
                await self.aclose()
        else:
            await self.aclose()
