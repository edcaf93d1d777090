"""``TwilioSink``: the agent's side of a Twilio Media Stream, with the played position
taken from Twilio's mark echoes."""

from __future__ import annotations

import math

import anyio

from ..audio import AudioFormat, Encoding
from ..errors import ConfigurationError
from ._line_sink import LineSink
from ._marks import MarkLedger
from ._twilio_wire import clear_message, mark_message, media_message

__all__ = ["ULAW_8K", "TwilioSink"]

ULAW_8K = AudioFormat(encoding=Encoding.G711_ULAW, sample_rate=8000)
"""A Twilio line's format both ways: G.711 μ-law, 8000 Hz, mono."""


class TwilioSink(LineSink):
    """The agent's audio on a Twilio Media Stream; a
    :class:`~voiceagent.audio.PositionReportingSink`.

    Takes μ-law 8 kHz, which is what the session asks Voice Live for (``g711_ulaw``), so
    the audio goes from the service to the caller without conversion. Each frame of
    ``frame_ms`` is sent as a ``media`` message followed by a ``mark``. Twilio echoes a mark
    once the audio before it has played, so :meth:`played_ms` is the position of the last
    mark echoed, reported by the far end rather than guessed from what was sent; the
    listener (:meth:`set_played_listener`) is called on each echo.

    Between two echoes the caller hears the frame after the last echoed mark; with
    ``interpolate`` (the default) :meth:`played_ms` adds the time since that echo, never
    past the next mark, so a barge-in truncates where the caller stopped rather than up to
    a frame earlier. It estimates only while Twilio is known to be playing (an echo came
    and more marks are out); ``interpolate=False`` reports strictly the last echoed mark.

    :meth:`clear` sends Twilio's ``clear`` (Twilio drops what it buffered and echoes every
    pending mark); those echoes are ignored, so the position after a barge-in is where
    the caller stopped hearing the agent.

    The bridge feeds the echoes in with :meth:`mark_played` and runs :meth:`run` to send.

    Args:
        stream_sid: The stream's ``streamSid`` (from Twilio's ``start`` message).
        frame_ms: The duration of each outbound frame and so the resolution of the played
            position, 20 to 40 ms.
        max_unplayed_ms: How far ahead of the caller the sink may send; :meth:`write` waits
            beyond it. None (the default) sends as fast as the session writes, leaving
            the buffering to Twilio, which drops it all on ``clear``.
        max_outbox: Messages queued for the socket before :meth:`write` waits.
        interpolate: Count the time since the last echo within the frame playing.

    Raises:
        ConfigurationError: An option out of range.
    """

    def __init__(
        self,
        stream_sid: str,
        *,
        frame_ms: float = 20,
        max_unplayed_ms: float | None = None,
        max_outbox: int = 64,
        interpolate: bool = True,
    ) -> None:
        super().__init__(ULAW_8K, frame_ms=frame_ms, max_outbox=max_outbox)
        self._interpolate = interpolate
        self._echo_at: float | None = None
        """When the last echo arrived while more marks were out (playback running)."""
        if max_unplayed_ms is not None and not max_unplayed_ms >= frame_ms:
            raise ConfigurationError(
                f"max_unplayed_ms must be None or at least frame_ms ({frame_ms}), "
                f"got {max_unplayed_ms!r}"
            )
        self._stream_sid = stream_sid
        self._ledger = MarkLedger()
        self._max_unplayed = (
            None if max_unplayed_ms is None else ULAW_8K.bytes_for_ms(max_unplayed_ms)
        )
        self._drained = anyio.Event()

    def __repr__(self) -> str:
        return (
            f"<TwilioSink stream={self._stream_sid} played={self.played_ms():.0f} ms "
            f"unplayed={self.unplayed_ms():.0f} ms>"
        )

    @property
    def stream_sid(self) -> str:
        """The stream this sink plays into."""
        return self._stream_sid

    @property
    def ledger(self) -> MarkLedger:
        """The mark account (marks out, echoes taken and ignored)."""
        return self._ledger

    def played_ms(self) -> float:
        """Milliseconds played: the position of the last mark Twilio echoed for audio that
        played (with ``interpolate``, plus the time since, within the next frame). Cleared
        audio never counts."""
        return self._format.ms_for_bytes(self._ledger.played + self._in_flight())

    def _in_flight(self) -> int:
        """Bytes of the frame after the last echoed mark that have played by now (est.)."""
        nxt = self._ledger.next_position
        if not self._interpolate or self._echo_at is None or nxt is None or self._closed:
            return 0
        elapsed = anyio.current_time() - self._echo_at
        heard = self._format.align(int(max(0.0, elapsed) * self._format.bytes_per_second))
        return min(heard, nxt - self._ledger.played)

    def unplayed_ms(self) -> float:
        """Milliseconds sent (or queued to send) and not yet echoed as played."""
        return self._format.ms_for_bytes(self._ledger.unplayed + len(self._tail))

    def mark_played(self, name: str) -> None:
        """Take Twilio's echo of mark ``name`` (the bridge calls this for each ``mark``)."""
        moved = self._ledger.echo(name)
        self._echo_at = anyio.current_time() if self._ledger.pending else None
        if moved:
            self._notify()
        if self._ledger.pending == 0:
            if self._tail and not self._closed:
                self._flush_tail()  # the far end ran dry: the remainder goes out alone
            else:
                self._drained.set()
        self._wake_writers()

    async def drain(self) -> None:
        """Wait until Twilio has echoed every mark (everything written has played)."""
        if self._tail and not self._closed:
            self._flush_tail()
        while self._ledger.pending and not self._closed and not self._sender_done:
            self._drained = anyio.Event()
            await self._drained.wait()
        await anyio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        """Close the sink; a pending :meth:`drain` returns."""
        await super().aclose()
        self._drained.set()

    # -- LineSink ------------------------------------------------------------------------

    def _send_frame(self, chunk: bytes) -> None:
        self._queue(media_message(self._stream_sid, chunk), droppable=True)
        name = self._ledger.add(len(chunk))
        self._queue(mark_message(self._stream_sid, name), droppable=True)

    def _on_clear(self) -> None:
        self._ledger.clear(self._in_flight())
        self._echo_at = None
        self._queue(clear_message(self._stream_sid), droppable=False)
        self._drained.set()

    def _idle(self) -> bool:
        return self._ledger.pending == 0

    def _room_delay(self, nbytes: int) -> float:
        if self._max_unplayed is None or self._ledger.unplayed + nbytes <= self._max_unplayed:
            return 0.0
        return math.inf  # until an echo makes room
