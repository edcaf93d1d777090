"""``AcsSink``: the agent's side of an ACS bidirectional media stream, paced in real time
with the played position kept by a clock on our side (ACS acknowledges nothing)."""

from __future__ import annotations

import anyio

from ..audio import AudioFormat, Encoding
from ..errors import ConfigurationError
from ._acs_wire import audio_message, stop_audio_message
from ._line_sink import LineSink

__all__ = ["ACS_RATES", "AcsSink"]

ACS_RATES = (16000, 24000)
"""The sample rates of ACS media streaming (``AudioFormat.PCM16_K_MONO``/``PCM24_K_MONO``)."""

_EPSILON = 1e-6


class AcsSink(LineSink):
    """The agent's audio on an ACS media stream; a
    :class:`~voiceagent.audio.PositionReportingSink` whose position comes from a clock.

    ACS plays what it receives and never says how far it got, so the sink paces its
    output: it sends each frame of ``frame_ms`` no earlier than ``lead_ms`` before it is
    due to play, and keeps the play clock the far end follows (playback starts with the
    first frame and runs at real time; when nothing is queued the clock waits for the
    next write). :meth:`played_ms` reads that clock. :meth:`clear` sends ``StopAudio``,
    which drops the at most ``lead_ms`` that ACS holds, and stops the clock where it
    stands.

    The clock's error is the network's one-way delay plus any jitter buffer ACS keeps
    before playing: it runs ahead of the caller by that much. ``lead_ms`` trades
    robustness against a late send for what a barge-in leaves queued at ACS (cleared by
    ``StopAudio`` either way).

    Args:
        sample_rate: 16000 or 24000, as negotiated in ``MediaStreamingOptions.audio_format``.
        frame_ms: The duration of each outbound frame, 20 to 40 ms.
        lead_ms: How far ahead of the play clock frames are sent.
        max_outbox: Messages queued for the socket before :meth:`write` waits.

    Raises:
        ConfigurationError: An option out of range.
    """

    def __init__(
        self,
        sample_rate: int = 24000,
        *,
        frame_ms: float = 20,
        lead_ms: float = 100,
        max_outbox: int = 64,
    ) -> None:
        if sample_rate not in ACS_RATES:
            raise ConfigurationError(
                f"ACS streams PCM16 mono at 16000 or 24000 Hz, got sample_rate={sample_rate!r}"
            )
        super().__init__(
            AudioFormat(encoding=Encoding.PCM16, sample_rate=sample_rate),
            frame_ms=frame_ms,
            max_outbox=max_outbox,
        )
        if not lead_ms >= frame_ms:
            raise ConfigurationError(
                f"lead_ms must be at least frame_ms ({frame_ms}), got {lead_ms!r}"
            )
        self._lead = self._format.bytes_for_ms(lead_ms)
        self._played = 0
        """Bytes the clock has played (cleared audio never counts)."""
        self._queued = 0
        """Bytes sent and not yet played by the clock."""
        self._start: float | None = None
        """When the head of the queue started playing; None while nothing is queued."""
        self._drained = anyio.Event()
        self._end_reported = True

    def __repr__(self) -> str:
        return f"<AcsSink {self._format} played={self.played_ms():.0f} ms>"

    def played_ms(self) -> float:
        """Milliseconds played by the clock the far end follows."""
        if not self._closed:
            self._advance(anyio.current_time())
        return self._format.ms_for_bytes(self._played)

    def queued_ms(self) -> float:
        """Milliseconds sent (or queued to send) and not yet played by the clock."""
        if not self._closed:
            self._advance(anyio.current_time())
        return self._format.ms_for_bytes(self._queued + len(self._tail))

    async def drain(self) -> None:
        """Wait until the clock has played everything written."""
        if self._tail and not self._closed:
            self._flush_tail()
        while not self._closed and not self._sender_done:
            self._advance(anyio.current_time())
            if self._start is None:
                break
            end = self._start + self._queued / self._format.bytes_per_second
            with anyio.move_on_after(max(0.0, end - anyio.current_time()) + _EPSILON):
                self._drained = anyio.Event()
                await self._drained.wait()
        await anyio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        """Close the sink; what is queued counts as unplayed."""
        if not self._closed:
            self._advance(anyio.current_time())
            self._queued = 0
            self._start = None
        await super().aclose()
        self._drained.set()

    def _advance(self, now: float) -> None:
        start = self._start
        if start is None:
            return
        fmt = self._format
        samples = int((now - start) * fmt.sample_rate + _EPSILON)
        n = min(self._queued, samples * fmt.block_align)
        if n > 0:
            self._played += n
            self._queued -= n
            self._start = start + fmt.samples_for_bytes(n) / fmt.sample_rate
        if self._queued == 0:
            self._start = None  # underrun: the clock waits for the next frame

    def _end_time(self) -> float | None:
        if self._start is None:
            return None
        return self._start + self._queued / self._format.bytes_per_second

    # -- LineSink ------------------------------------------------------------------------

    def _send_frame(self, chunk: bytes) -> None:
        now = anyio.current_time()
        self._advance(now)
        self._queue(audio_message(chunk), droppable=True)
        self._queued += len(chunk)
        if self._start is None:
            self._start = now
        self._end_reported = False

    def _on_clear(self) -> None:
        self._advance(anyio.current_time())
        self._queued = 0
        self._start = None
        self._end_reported = True
        self._queue(stop_audio_message(), droppable=False)
        self._drained.set()

    def _idle(self) -> bool:
        self._advance(anyio.current_time())
        return self._start is None

    def _room_delay(self, nbytes: int) -> float:
        self._advance(anyio.current_time())
        excess = self._queued + nbytes - self._lead
        if excess <= 0 or self._start is None:
            return 0.0
        return max(0.0, self._start + excess / self._format.bytes_per_second - anyio.current_time())

    def _deadline(self) -> float | None:
        now = anyio.current_time()
        self._advance(now)
        end = self._end_time()
        if self._tail:
            # The remainder goes out just before the far end would fall silent.
            return now if end is None else max(now, end - self._frame_ms / 2000)
        if end is not None:
            return end  # to report the end of playback
        return None if self._end_reported else now

    def _on_deadline(self) -> None:
        now = anyio.current_time()
        self._advance(now)
        end = self._end_time()
        if self._tail and (end is None or end - now <= self._frame_ms / 2000 + _EPSILON):
            self._flush_tail()
        elif end is None and not self._end_reported:
            self._end_reported = True
            self._drained.set()
            self._notify()
