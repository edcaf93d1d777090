"""What the carrier sinks share: fixed-size outbound frames, an ordered outbox that one
sender task drains onto the WebSocket, and clear semantics.

A carrier sink is written to by the session's playback loop and read by the bridge's
sender task (:meth:`LineSink.run`), which sends the queued messages in order. ``clear()``
is synchronous: it drops the media still in the outbox (never sent, so never heard), queues
the carrier's own clear message ahead of anything written afterwards, and makes a
``write()`` that is waiting for room drop its frame.
"""

from __future__ import annotations

import abc
import collections
import logging
import math
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel

from ..audio import AudioFormat, AudioSinkBase
from ..errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["LineSink", "check_frame_ms"]

log = logging.getLogger("voiceagent.telephony")

MIN_FRAME_MS = 20
MAX_FRAME_MS = 40


def check_frame_ms(frame_ms: float) -> float:
    """``frame_ms`` if it is from 20 to 40 ms, else a :class:`ConfigurationError`."""
    if not MIN_FRAME_MS <= frame_ms <= MAX_FRAME_MS:
        raise ConfigurationError(
            f"frame_ms must be from {MIN_FRAME_MS} to {MAX_FRAME_MS} ms, got {frame_ms!r}"
        )
    return frame_ms


class LineSink(AudioSinkBase):
    """Base of :class:`~voiceagent.telephony.TwilioSink` and
    :class:`~voiceagent.telephony.AcsSink`.

    Writes are cut into frames of exactly ``frame_ms``; a remainder waits for the next
    write, and goes out on its own only when the far end would otherwise fall silent (see
    :meth:`_idle`). Subclasses say what a frame costs in messages and how the played
    position moves.

    Args:
        format: The line's audio format.
        frame_ms: The duration of each outbound frame, 20 to 40 ms.
        max_outbox: Messages queued for the socket before :meth:`write` waits (the socket's
            own backpressure reaches the session through this).

    Raises:
        ConfigurationError: If ``frame_ms`` or ``max_outbox`` is out of range.
    """

    def __init__(self, format: AudioFormat, *, frame_ms: float = 20, max_outbox: int = 64) -> None:
        check_frame_ms(frame_ms)
        if max_outbox < 4:
            raise ConfigurationError(f"max_outbox must be at least 4, got {max_outbox!r}")
        self._format = format
        self._frame_ms = frame_ms
        self._frame_bytes = format.bytes_for_ms(frame_ms)
        self._max_outbox = max_outbox
        self._tail = bytearray()
        """A remainder shorter than a frame, waiting for the next write."""
        self._epoch = 0
        """Bumped by every clear(): a write that waited across one drops its frame."""
        self._outbox: collections.deque[tuple[str, bool]] = collections.deque()
        """(message, droppable): media and marks are dropped by a clear, control is not."""
        self._outbox_wake = anyio.Event()
        self._room = anyio.Event()
        self._listener: Callable[[], None] | None = None
        self._sender_done = False
        self.messages_sent = 0
        """Messages the sender task has sent on the socket."""
        self.clears = 0
        """How many times :meth:`clear` ran."""

    # -- AudioSink -----------------------------------------------------------------------

    @property
    def format(self) -> AudioFormat:
        """The format :meth:`write` takes."""
        return self._format

    @property
    def frame_ms(self) -> float:
        """The duration of each outbound frame."""
        return self._frame_ms

    async def _write(self, frame: bytes) -> None:
        epoch = self._epoch
        self._tail += frame
        while len(self._tail) >= self._frame_bytes:
            chunk = bytes(self._tail[: self._frame_bytes])
            del self._tail[: self._frame_bytes]
            if not await self._wait_for_room(len(chunk), epoch):
                return  # cleared (the rest of this write and the tail went with it)
            self._check_open_for_write()
            self._send_frame(chunk)
        if self._tail and self._idle():
            self._flush_tail()
        self._wake_sender()
        await anyio.lowlevel.checkpoint()

    def clear(self) -> None:
        """Drop everything not yet played: the unsent outbox, the tail and, by the
        carrier's own message, what the far end has buffered. Never blocks."""
        self.clears += 1
        self._epoch += 1
        self._tail.clear()
        kept = [entry for entry in self._outbox if not entry[1]]
        self._outbox.clear()
        self._outbox.extend(kept)
        if not self._closed:
            self._on_clear()
        self._wake_writers()
        self._wake_sender()
        self._notify()

    async def aclose(self) -> None:
        """Close the sink: writers wake (and raise), the sender sends what is queued and
        stops. Idempotent."""
        if not self._closed:
            self._tail.clear()
        await super().aclose()
        self._wake_writers()
        self._wake_sender()
        self._notify()

    # -- PositionReportingSink -----------------------------------------------------------

    def set_played_listener(self, listener: Callable[[], None] | None) -> None:
        """Call ``listener()`` after every change of the played position (None: stop).

        One listener at a time: setting a new one replaces the previous one.
        """
        self._listener = listener

    def _notify(self) -> None:
        listener = self._listener
        if listener is not None:
            try:
                listener()
            except Exception:
                log.exception("the played-position listener failed")

    # -- the sender ----------------------------------------------------------------------

    async def run(self, send: Callable[[str], Awaitable[None]]) -> None:
        """Send the queued messages in order with ``send`` until the sink is closed.

        The bridge runs this in its task group for the life of the call. It also keeps the
        sink's timers (the ACS play clock's end, a tail waiting for the far end to drain).

        Args:
            send: Sends one text frame on the carrier's WebSocket.
        """
        try:
            while True:
                while self._outbox:
                    message, _ = self._outbox.popleft()
                    self._wake_writers()
                    await send(message)
                    self.messages_sent += 1
                if self._closed:
                    return
                self._outbox_wake = anyio.Event()
                deadline = self._deadline()
                if deadline is None:
                    await self._outbox_wake.wait()
                    continue
                delay = deadline - anyio.current_time()
                if delay > 0:
                    with anyio.move_on_after(delay):
                        await self._outbox_wake.wait()
                if not self._outbox_wake.is_set() and not self._closed:
                    self._on_deadline()
        finally:
            self._sender_done = True
            self._wake_writers()

    def _queue(self, message: str, *, droppable: bool) -> None:
        self._outbox.append((message, droppable))
        self._outbox_wake.set()

    def _wake_sender(self) -> None:
        self._outbox_wake.set()

    def _wake_writers(self) -> None:
        self._room.set()
        self._room = anyio.Event()

    async def _wait(self, seconds: float = math.inf) -> None:
        """Wait until something may have made room (a send, an echo, a clear), or
        ``seconds``."""
        room = self._room
        with anyio.move_on_after(seconds):
            await room.wait()

    async def _wait_for_room(self, nbytes: int, epoch: int) -> bool:
        """Wait until a frame of ``nbytes`` may be queued; False if a clear ran meanwhile."""
        while True:
            if epoch != self._epoch:
                return False
            if self._closed or self._sender_done:
                return True
            if len(self._outbox) < self._max_outbox:
                delay = self._room_delay(nbytes)
                if delay <= 0:
                    return True
                await self._wait(delay)
            else:
                await self._wait()

    def _check_open_for_write(self) -> None:
        if self._closed:
            raise anyio.ClosedResourceError(f"{type(self).__name__} was closed during write()")
        if self._sender_done:
            raise anyio.BrokenResourceError(f"{type(self).__name__}: the line's socket is gone")

    def _flush_tail(self) -> None:
        if self._tail:
            chunk = bytes(self._tail)
            self._tail.clear()
            self._send_frame(chunk)
            self._wake_sender()

    # -- what subclasses provide ---------------------------------------------------------

    @abc.abstractmethod
    def _send_frame(self, chunk: bytes) -> None:
        """Queue the messages that play ``chunk`` and account for it."""

    @abc.abstractmethod
    def _on_clear(self) -> None:
        """Queue the carrier's clear message and reset the played-position account."""

    @abc.abstractmethod
    def _idle(self) -> bool:
        """Whether the far end has nothing left to play (so a tail should go out now)."""

    def _room_delay(self, nbytes: int) -> float:
        """Seconds until a frame of ``nbytes`` may be queued (0: now; inf: until woken)."""
        return 0.0

    def _deadline(self) -> float | None:
        """When the sender should call :meth:`_on_deadline` (None: no timer)."""
        return None

    def _on_deadline(self) -> None:
        """The timer of :meth:`_deadline` fired."""
