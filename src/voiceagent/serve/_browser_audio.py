"""The server side of a browser's audio: a source fed by the socket, a sink whose played
position the browser reports, and the outbox that serializes what goes back.

The sink never guesses where playback is: the page's playback worklet reports how many
samples it has played (:class:`~voiceagent.serve.BrowserSink.report`), and that is the
position the session truncates to on barge-in.
"""

from __future__ import annotations

import collections
import logging
import math
import time
from typing import TYPE_CHECKING, Protocol

import anyio

from ..audio import AudioFormat, AudioSinkBase, AudioSourceBase
from ._protocol import ProtocolError, dumps

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

__all__ = ["BrowserSink", "BrowserSource", "MessageSender", "Outbox"]

log = logging.getLogger("voiceagent.serve")


class MessageSender(Protocol):
    """Where an :class:`Outbox` writes: a ``starlette.websockets.WebSocket`` fits."""

    async def send_text(self, data: str) -> None:
        """Send one text frame."""
        ...

    async def send_bytes(self, data: bytes) -> None:
        """Send one binary frame."""
        ...


class Outbox:
    """The messages waiting to go to the client, written by one task (:meth:`run`).

    Control messages (clear, pause, resume) jump the queue; :meth:`drop_audio` removes
    the audio not yet sent, which is how a clear takes effect at once on the server side.
    Audio is bounded by its sink; JSON messages by ``max_messages``: :meth:`put` waits for
    room, so a client that stops reading slows its own conversation, never others.

    Args:
        max_messages: JSON messages queued before :meth:`put` waits.
    """

    def __init__(self, *, max_messages: int = 256) -> None:
        self._urgent: collections.deque[str] = collections.deque()
        self._queue: collections.deque[str | bytes] = collections.deque()
        self._messages = 0
        self._max_messages = max_messages
        self._wake: anyio.Event | None = None
        self._room: anyio.Event | None = None
        self._idle: anyio.Event | None = None
        self._closed = False
        self.sent_audio_bytes = 0
        """Audio bytes written to the socket so far."""

    @property
    def closed(self) -> bool:
        """Whether the outbox stopped (the socket failed or :meth:`close` was called)."""
        return self._closed

    def _notify(self) -> None:
        if self._wake is not None:
            self._wake.set()
            self._wake = None

    def put_audio(self, frame: bytes) -> None:
        """Queue a binary audio frame."""
        if not self._closed:
            self._queue.append(frame)
            self._notify()

    def put_urgent(self, message: str) -> None:
        """Queue a control message ahead of everything not yet sent."""
        if not self._closed:
            self._urgent.append(message)
            self._notify()

    def put_nowait(self, message: str) -> None:
        """Queue a JSON message without waiting for room (for the few that must go)."""
        if not self._closed:
            self._queue.append(message)
            self._messages += 1
            self._notify()

    async def put(self, message: str) -> None:
        """Queue a JSON message, waiting while ``max_messages`` are queued."""
        while self._messages >= self._max_messages and not self._closed:
            if self._room is None:
                self._room = anyio.Event()
            await self._room.wait()
        self.put_nowait(message)

    def drop_audio(self) -> None:
        """Remove every audio frame not yet sent."""
        if any(isinstance(item, bytes) for item in self._queue):
            self._queue = collections.deque(i for i in self._queue if isinstance(i, str))

    def close(self) -> None:
        """Stop: nothing more is queued or sent."""
        self._closed = True
        self._urgent.clear()
        self._queue.clear()
        for event in (self._wake, self._room, self._idle):
            if event is not None:
                event.set()

    async def flushed(self) -> None:
        """Wait until everything queued so far was written (or the outbox closed)."""
        while (self._urgent or self._queue) and not self._closed:
            if self._idle is None:
                self._idle = anyio.Event()
            await self._idle.wait()

    async def run(self, sender: MessageSender) -> None:
        """Write queued messages until :meth:`close` or a send fails (the client left)."""
        try:
            while not self._closed:
                if self._urgent:
                    await sender.send_text(self._urgent.popleft())
                elif self._queue:
                    item = self._queue.popleft()
                    if isinstance(item, bytes):
                        await sender.send_bytes(item)
                        self.sent_audio_bytes += len(item)
                    else:
                        self._messages -= 1
                        if self._room is not None and self._messages < self._max_messages:
                            self._room.set()
                            self._room = None
                        await sender.send_text(item)
                else:
                    if self._idle is not None:
                        self._idle.set()
                        self._idle = None
                    self._wake = anyio.Event()
                    await self._wake.wait()
        except Exception as exc:  # the socket is gone: starlette and uvicorn raise various
            log.debug("outbox stopped: %r", exc)
        finally:
            self.close()


class BrowserSource(AudioSourceBase):
    """The user's microphone, as the browser sends it (pcm16 mono binary frames).

    Frames are queued as they arrive; the queue holds up to ``max_buffer_ms`` of audio,
    and when the session falls that far behind the oldest audio is dropped (and counted in
    :attr:`dropped_ms`): live audio cannot wait, and holding it back would also hold back
    the client's position reports, which share the socket.

    Args:
        fmt: The format the client sends (announced in ``welcome``).
        max_buffer_ms: Audio queued before the oldest is dropped.
    """

    def __init__(self, fmt: AudioFormat, *, max_buffer_ms: float = 2000) -> None:
        self._format = fmt
        self._frames: collections.deque[bytes] = collections.deque()
        self._bytes = 0
        self._max_bytes = fmt.bytes_for_ms(max_buffer_ms)
        self._ended = False
        self._wake: anyio.Event | None = None
        self.received_ms = 0.0
        """Audio received from the client so far."""
        self.dropped_ms = 0.0
        """Audio dropped because the session fell behind."""

    @property
    def format(self) -> AudioFormat:
        """The client's audio format."""
        return self._format

    def feed(self, frame: bytes) -> None:
        """Queue one frame from the client.

        Raises:
            ProtocolError: The frame is not a whole number of samples.
        """
        if not self._format.is_aligned(len(frame)):
            raise ProtocolError(
                f"audio frames must hold whole {self._format} samples, got {len(frame)} bytes"
            )
        if self._ended or self._closed or not frame:
            return
        self._frames.append(frame)
        self._bytes += len(frame)
        self.received_ms += self._format.ms_for_bytes(len(frame))
        while self._bytes > self._max_bytes and len(self._frames) > 1:
            old = self._frames.popleft()
            self._bytes -= len(old)
            if not self.dropped_ms:
                log.warning("the session fell behind the microphone: dropping old audio")
            self.dropped_ms += self._format.ms_for_bytes(len(old))
        if self._wake is not None:
            self._wake.set()
            self._wake = None

    def finish(self) -> None:
        """End the audio: iteration stops once the queue is empty."""
        self._ended = True
        if self._wake is not None:
            self._wake.set()
            self._wake = None

    async def aclose(self) -> None:
        """Close the source; iteration stops (what is queued is dropped)."""
        await super().aclose()
        self._frames.clear()
        self._bytes = 0
        self.finish()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """The frames, as they arrive, until :meth:`finish`."""
        self._check_open()
        while True:
            if self._frames:
                frame = self._frames.popleft()
                self._bytes -= len(frame)
                yield frame
            elif self._ended:
                return
            else:
                self._wake = anyio.Event()
                await self._wake.wait()


class BrowserSink(AudioSinkBase):
    """The agent's voice, played by the browser, at the position the browser reports.

    A :class:`~voiceagent.audio.PausableSink` and a
    :class:`~voiceagent.audio.PositionReportingSink`. :meth:`write` sends audio to the
    client, waiting while ``max_ahead_ms`` of it is not yet played; :meth:`played_ms` is
    the position from the client's last ``played`` report; :meth:`clear` drops the audio
    not yet sent and tells the client to flush its queue (``clear`` with a new epoch).

    Between two reports, while the client said it was playing, the position advances
    with the clock, up to ``extrapolate_ms`` past the last report and never past the audio
    sent: a barge-in then truncates where the listener is, not where the last report was.
    It never goes down: a report behind an advanced position holds it until playback
    catches up. From :meth:`pause` to :meth:`resume` it does not move at all (what the
    client played while the pause was on its way counts after the resume).

    Positions are kept per epoch (one epoch per clear): the client's reports of the
    cleared audio that it played while the ``clear`` was on its way do not count, so right
    after a clear the position grows only with audio written afterwards.

    Args:
        outbox: Where messages to the client go.
        fmt: The format of the audio (pcm16 mono, announced in ``welcome``).
        max_ahead_ms: Audio sent but not yet played before :meth:`write` waits.
        extrapolate_ms: How far past the last report the position may advance (0: not
            at all; about the client's report interval is right).
    """

    def __init__(
        self,
        outbox: Outbox,
        fmt: AudioFormat,
        *,
        max_ahead_ms: float = 2000,
        extrapolate_ms: float = 0,
    ) -> None:
        self._outbox = outbox
        self._format = fmt
        self._max_ahead = fmt.samples_for_bytes(fmt.bytes_for_ms(max_ahead_ms))
        self._horizon_s = extrapolate_ms / 1000
        self._client_playing = False
        self._report_at = 0.0
        self._returned = 0.0
        """The largest position :meth:`played_ms` returned, in samples."""
        self._epoch = 0
        self._acked = True
        """Whether the client reported in the current epoch (it has seen the clear)."""
        self._frozen = 0
        """The position (samples) when the current epoch began."""
        self._offset = 0
        """Client samples minus position, in the current epoch once acked."""
        self._client = 0
        """The client's last reported sample count."""
        self._position = 0
        self._sent = 0
        """Samples sent in the current epoch."""
        self._paused = False
        self._gone = False
        self._changed: anyio.Event | None = None
        self._listener: Callable[[], None] | None = None
        self.reports = 0
        """Position reports received."""

    @property
    def format(self) -> AudioFormat:
        """pcm16 mono at the output rate."""
        return self._format

    @property
    def epoch(self) -> int:
        """Clears so far."""
        return self._epoch

    @property
    def paused(self) -> bool:
        """Whether :meth:`pause` holds playback."""
        return self._paused

    def _played_in_epoch(self) -> int:
        return self._position - self._frozen if self._acked else 0

    def _ahead(self) -> int:
        return self._sent - self._played_in_epoch()

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def _wait(self) -> None:
        if self._changed is None:
            self._changed = anyio.Event()
        await self._changed.wait()

    async def _write(self, frame: bytes) -> None:
        samples = len(frame) // self._format.block_align
        epoch = self._epoch
        # One frame may overshoot the limit: a frame longer than the limit still goes.
        while self._ahead() > 0 and self._ahead() + samples > self._max_ahead:
            if self._closed or self._gone:
                return
            await self._wait()
            if self._epoch != epoch:
                return  # cleared while waiting: this frame belongs to the cleared audio
        if self._closed or self._gone:
            return
        self._outbox.put_audio(frame)
        self._sent += samples

    def clear(self) -> None:
        """Drop the audio not yet sent and tell the client to flush its queue now."""
        self._outbox.drop_audio()
        # The epoch starts where the session last saw playback (what it truncates to),
        # rounded up so that the position never goes down by even a fraction of a sample.
        self._frozen = math.ceil(self._samples())
        self._position = self._frozen
        self._returned = self._frozen
        self._client_playing = False
        self._epoch += 1
        self._acked = False
        self._sent = 0
        self._outbox.put_urgent(dumps({"type": "clear", "epoch": self._epoch}))
        self._notify()
        if self._listener is not None:
            self._listener()

    def _samples(self) -> float:
        if self._paused:
            # Held where pause() found it: reports of what the client played while the
            # pause was on its way count once playback resumes.
            return self._returned
        position = float(self._position)
        if self._client_playing and self._acked and not self._paused and self._horizon_s:
            elapsed = min(time.monotonic() - self._report_at, self._horizon_s)
            position = min(
                position + elapsed * self._format.sample_rate, float(self._frozen + self._sent)
            )
        if position < self._returned:
            return self._returned
        self._returned = position
        return position

    def played_ms(self) -> float:
        """Milliseconds played: the client's last report, advanced with the clock while it
        plays (cleared audio never counts)."""
        return self._samples() * 1000 / self._format.sample_rate

    def report(self, samples: int, epoch: int, *, playing: bool = False) -> None:
        """Take a ``played`` report from the client.

        Args:
            samples: Samples the client has played since it connected.
            epoch: The last clear epoch the client has seen.
            playing: Whether the client goes on playing.

        Raises:
            ProtocolError: The count went down, or the epoch is one the server never sent.
        """
        if samples < self._client:
            raise ProtocolError(f"played.samples went down: {self._client}, then {samples}")
        if epoch > self._epoch:
            raise ProtocolError(f"played.epoch {epoch} was never sent (the last is {self._epoch})")
        self._client = samples
        self.reports += 1
        if epoch < self._epoch:
            return  # the client has not seen the last clear yet: the position stays
        self._client_playing = playing
        self._report_at = time.monotonic()
        if not self._acked:
            self._acked = True
            self._offset = samples - self._frozen
        position = samples - self._offset
        changed = position > self._position
        if changed:
            self._position = position
        self._notify()
        if changed and self._listener is not None:
            self._listener()

    async def drain(self) -> None:
        """Wait until the client has played everything sent (or it left, or the sink
        closed)."""
        while (not self._acked or self._ahead() > 0) and not (self._closed or self._gone):
            await self._wait()

    def pause(self) -> None:
        """Tell the client to hold playback (the queue stays); :meth:`played_ms` holds
        from now until :meth:`resume`."""
        if not self._paused:
            self._samples()  # the position now, held while paused
            self._paused = True
            self._outbox.put_urgent(dumps({"type": "pause"}))

    def resume(self) -> None:
        """Tell the client to play its queue again."""
        if self._paused:
            self._paused = False
            self._outbox.put_urgent(dumps({"type": "resume"}))

    def set_played_listener(self, listener: Callable[[], None] | None) -> None:
        """Call ``listener()`` after each change of the played position (None: stop)."""
        self._listener = listener

    def client_left(self) -> None:
        """The client is gone: writes are dropped and :meth:`drain` returns."""
        self._gone = True
        self._notify()

    async def aclose(self) -> None:
        """Close the sink; waiting writes and drains return."""
        await super().aclose()
        self._notify()
