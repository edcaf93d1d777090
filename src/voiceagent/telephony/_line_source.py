"""``LineSource``: the caller's audio, fed by a carrier bridge as it arrives."""

from __future__ import annotations

import collections
import logging
from typing import TYPE_CHECKING

import anyio

from ..audio import AudioFormat, AudioSourceBase
from ..errors import AudioError, ConfigurationError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["LineSource"]

log = logging.getLogger("voiceagent.telephony")


class LineSource(AudioSourceBase):
    """The caller's side of a phone line as an :class:`~voiceagent.audio.AudioSource`.

    The bridge calls :meth:`feed` with each chunk the carrier sends (without waiting: the
    WebSocket's receive loop also carries mark echoes and DTMF, which must not queue behind
    audio) and :meth:`end` when the call's audio ends. Iterating yields the chunks as they
    came, byte for byte: a μ-law line stays μ-law, so the session sends it to Voice Live as
    ``g711_ulaw`` with no conversion.

    Should the session fall behind (its connection to Voice Live stalls), up to
    ``max_buffer_ms`` of audio waits; beyond that the oldest audio is dropped, counted in
    :attr:`dropped_ms` and logged, since stale speech is worth less on a live call than
    a stalled line.

    Args:
        format: The line's audio format.
        max_buffer_ms: The most audio kept waiting for the session, in milliseconds.

    Raises:
        ConfigurationError: If ``max_buffer_ms`` is not positive.
    """

    def __init__(self, format: AudioFormat, *, max_buffer_ms: float = 5000) -> None:
        if not max_buffer_ms > 0:
            raise ConfigurationError(f"max_buffer_ms must be > 0, got {max_buffer_ms!r}")
        self._format = format
        self._max_bytes = max(format.bytes_for_ms(max_buffer_ms), format.block_align)
        self._chunks: collections.deque[bytes] = collections.deque()
        self._queued = 0
        self._ended = False
        self._wake = anyio.Event()
        self._iterating = False
        self._dropped = 0
        self.received_bytes = 0
        """Bytes fed in total (dropped ones included)."""

    @property
    def format(self) -> AudioFormat:
        """The format of every frame."""
        return self._format

    @property
    def dropped_ms(self) -> float:
        """Milliseconds of audio dropped because the session fell behind."""
        return self._format.ms_for_bytes(self._dropped)

    @property
    def ended(self) -> bool:
        """Whether :meth:`end` (or :meth:`aclose`) was called."""
        return self._ended

    def feed(self, data: bytes) -> None:
        """Queue one chunk of the caller's audio. Never blocks.

        Args:
            data: Whole samples in :attr:`format`; an empty chunk is ignored.

        Raises:
            AudioError: If ``data`` is not a whole number of samples.
        """
        if self._ended or not data:
            return
        if not self._format.is_aligned(len(data)):
            raise AudioError(f"the line sent {len(data)} bytes, not whole {self._format} samples")
        self.received_bytes += len(data)
        self._chunks.append(bytes(data))
        self._queued += len(data)
        while self._queued > self._max_bytes and len(self._chunks) > 1:
            old = self._chunks.popleft()
            self._queued -= len(old)
            if not self._dropped:
                log.warning(
                    "the session is behind the phone line: dropping the oldest caller audio "
                    "(more than %d ms waiting)",
                    round(self._format.ms_for_bytes(self._max_bytes)),
                )
            self._dropped += len(old)
        self._wake.set()

    def end(self) -> None:
        """The call's audio ended: iteration ends once the queued audio is read."""
        self._ended = True
        self._wake.set()

    async def aclose(self) -> None:
        """End the audio and drop what is queued."""
        self.end()
        self._chunks.clear()
        self._queued = 0
        await super().aclose()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """Yield the caller's audio as it arrives, until :meth:`end`."""
        self._check_open()
        if self._iterating:
            raise AudioError("a LineSource can be read by one reader at a time")
        self._iterating = True
        try:
            while True:
                while not self._chunks:
                    if self._ended:
                        return
                    self._wake = anyio.Event()
                    await self._wake.wait()
                    self._check_open()
                chunk = self._chunks.popleft()
                self._queued -= len(chunk)
                yield chunk
        finally:
            self._iterating = False
