"""Mark bookkeeping for Twilio Media Streams, sans-IO.

Twilio plays the media we send in order and, for each ``mark`` we send after some media,
sends the mark back once the media before it has played (at once when nothing is
buffered). A ``clear`` empties Twilio's buffer and sends back every pending mark, although
the audio before them was never played. So the played position is the position of the
last mark acknowledged *before* a clear; echoes of marks that were pending when we cleared
say nothing about playback and are ignored.

:class:`MarkLedger` keeps that account. Positions are in bytes of the line's audio since
the stream opened, counting only audio that was not cleared, so they map one to one onto
the session's played position (and through it onto ``(item, offset)``).
"""

from __future__ import annotations

import collections
import itertools
import logging

__all__ = ["MarkLedger"]

log = logging.getLogger("voiceagent.telephony")


class MarkLedger:
    """Which marks are out, where each one sits in the audio, and what has been played.

    Args:
        prefix: Mark names are ``f"{prefix}{n}"`` with ``n`` counting from 1.
    """

    def __init__(self, prefix: str = "va") -> None:
        self._prefix = prefix
        self._counter = itertools.count(1)
        self._pending: collections.OrderedDict[str, int] = collections.OrderedDict()
        """Marks sent and not yet echoed, in order, with the position they stand at."""
        self._cleared: set[str] = set()
        """Marks that were pending at a clear: their echoes are expected and ignored."""
        self._sent = 0
        """Bytes of audio sent and not cleared (the position the next mark would get)."""
        self._played = 0
        """The position of the last mark echoed before any clear that dropped it."""
        self.acknowledged = 0
        """How many marks were echoed for audio that played."""
        self.ignored = 0
        """How many echoes were ignored (cleared marks and unknown names)."""

    @property
    def played(self) -> int:
        """Bytes played: the position of the last acknowledged mark."""
        return self._played

    @property
    def sent(self) -> int:
        """Bytes sent and not cleared."""
        return self._sent

    @property
    def unplayed(self) -> int:
        """Bytes sent, not cleared and not yet acknowledged as played."""
        return self._sent - self._played

    @property
    def next_position(self) -> int | None:
        """The position of the first mark not yet echoed (None: none out)."""
        return next(iter(self._pending.values()), None)

    @property
    def pending(self) -> int:
        """Marks out and not yet echoed (cleared ones not counted)."""
        return len(self._pending)

    @property
    def awaiting_cleared(self) -> int:
        """Echoes still expected for marks that were pending at a clear."""
        return len(self._cleared)

    def add(self, nbytes: int) -> str:
        """Account ``nbytes`` of audio just sent and name the mark to send after it.

        Args:
            nbytes: The size of the media payload sent before the mark.

        Returns:
            The mark's name, to send as ``{"event": "mark", "mark": {"name": ...}}``.
        """
        if nbytes < 0:
            raise ValueError(f"nbytes must be >= 0, got {nbytes}")
        self._sent += nbytes
        name = f"{self._prefix}{next(self._counter)}"
        self._pending[name] = self._sent
        return name

    def echo(self, name: str) -> bool:
        """Take Twilio's echo of mark ``name``.

        An echo also settles every mark sent before it (Twilio echoes in order, so those
        played too). Echoes of cleared or unknown marks are ignored.

        Returns:
            Whether the played position moved.
        """
        if name in self._cleared:
            self._cleared.discard(name)
            self.ignored += 1
            return False
        position = self._pending.get(name)
        if position is None:
            self.ignored += 1
            log.debug("ignoring the echo of an unknown mark %r", name)
            return False
        while self._pending:
            earlier, _ = self._pending.popitem(last=False)
            self.acknowledged += 1
            if earlier == name:
                break
        moved = position > self._played
        self._played = max(self._played, position)
        return moved

    def clear(self, in_flight: int = 0) -> None:
        """Twilio's buffer is being emptied: pending marks will echo but did not play.

        The sent position falls back to the played one, so audio sent afterwards is
        accounted from where playback stopped.

        Args:
            in_flight: Bytes of the first pending frame taken as played (an estimate of the
                frame playing when the clear went out); at most that frame.
        """
        nxt = self.next_position
        if nxt is not None and in_flight > 0:
            self._played = min(nxt, self._played + in_flight)
        self._cleared.update(self._pending)
        self._pending.clear()
        self._sent = self._played
