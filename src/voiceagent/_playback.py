"""Where each assistant item sits in the sink's playback timeline.

The sink only knows one number: ``played_ms()``, the total audio it has played since it
opened (monotonic; cleared audio never counts). :class:`PlaybackTracker` records where each
item's audio was *written* on that same timeline, so the session can answer "how much of
item X did the user hear?" from the sink's cumulative position, without the sink knowing
anything about items.

The timeline::

    written:  |--- item A ---|------ item B ------|-- item C --|
    played:   |=========================>          (played_ms)
                                         ^ heard_ms(B) = played_ms - start(B)

Clearing the sink drops everything written beyond the played position; the next write
starts there again, because the sink's played position never counts cleared audio.

The tracker is pure: no clock, no I/O. It is fed by the turn machine.
"""

from __future__ import annotations

import math

import attrs

__all__ = ["PlaybackTracker"]


@attrs.define
class _Track:
    """The written audio of one item: contiguous spans on the timeline."""

    content_index: int
    spans: list[list[float]] = attrs.Factory(list)
    """``[start, end]`` pairs, in write order, never overlapping."""

    @property
    def end(self) -> float:
        return self.spans[-1][1] if self.spans else 0.0

    @property
    def written(self) -> float:
        return sum(end - start for start, end in self.spans)

    def heard(self, played_ms: float) -> float:
        total = 0.0
        for start, end in self.spans:
            if played_ms <= start:
                break
            total += min(played_ms, end) - start
        return total


def _check_ms(name: str, value: float, *, infinite: bool = False) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isnan(value)
        or (math.isinf(value) and not (infinite and value > 0))
    ):
        kind = "a number" if infinite else "a finite number"
        raise ValueError(f"{name} must be {kind} of milliseconds, not {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return float(value)


class PlaybackTracker:
    """Maps the sink's cumulative played position to how much of each item was heard.

    Feed it every write (:meth:`on_write`) and every clear (:meth:`on_clear`) in the order
    they happen to the sink, and the sink's ``played_ms()`` whenever it is read
    (:meth:`observe`). Memory stays bounded: items whose audio has been fully played are
    forgotten once more than ``max_items`` are known, and :meth:`forget` drops one at once.

    Args:
        max_items: How many items to remember at most, counting only items fully played
            (items with audio still queued are always kept). Must be at least 1.

    Raises:
        ValueError: ``max_items`` is less than 1.
    """

    def __init__(self, *, max_items: int = 32) -> None:
        if isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 1:
            raise ValueError(f"max_items must be an int of at least 1, not {max_items!r}")
        self._max_items = max_items
        self._tracks: dict[str, _Track] = {}
        self._written = 0.0
        self._played = 0.0

    @property
    def written_ms(self) -> float:
        """Where the next write lands on the timeline: the end of everything written."""
        return self._written

    @property
    def played_ms(self) -> float:
        """The highest played position seen so far (by :meth:`observe` or :meth:`on_clear`)."""
        return self._played

    def observe(self, played_ms: float) -> None:
        """Take note of the sink's played position.

        If the sink played past what the tracker thinks was written, the sink was cleared a
        little later than the position passed to :meth:`on_clear` (audio kept playing in
        between): the timeline is re-anchored so the next write starts at ``played_ms``.

        ``math.inf`` stands for "there is no sink": everything written so far counts as
        played.

        Args:
            played_ms: The sink's ``played_ms()``, or ``math.inf``.

        Raises:
            ValueError: ``played_ms`` is negative or NaN.
        """
        played = _check_ms("played_ms", played_ms, infinite=True)
        if math.isinf(played):
            played = max(self._played, self._written)
        if played > self._played:
            self._played = played
        if played > self._written:
            self._written = played

    def on_write(self, item_id: str, content_index: int, duration_ms: float) -> None:
        """Record that ``duration_ms`` of ``item_id``'s audio was written to the sink.

        Args:
            item_id: The assistant item the audio belongs to.
            content_index: The item's content part holding the audio.
            duration_ms: How long the written audio plays.

        Raises:
            ValueError: ``duration_ms`` is negative or not a finite number.
        """
        duration = _check_ms("duration_ms", duration_ms)
        track = self._tracks.get(item_id)
        if track is None:
            self._trim(room_for=1)
            track = self._tracks[item_id] = _Track(content_index)
        track.content_index = content_index
        start = self._written
        end = start + duration
        if track.spans and track.spans[-1][1] == start:
            track.spans[-1][1] = end
        else:
            track.spans.append([start, end])
        self._written = end

    def on_clear(self, played_ms: float) -> None:
        """Record that the sink dropped everything not yet played.

        Also right when the sink reports it has drained: whatever the tracker still counts
        as queued (rounding, a resampler's held-back samples) is then known not to be.

        Args:
            played_ms: The sink's ``played_ms()`` at the clear (or ``math.inf``, as for
                :meth:`observe`).

        Raises:
            ValueError: ``played_ms`` is negative or NaN.
        """
        self.observe(played_ms)
        cut = self._played
        for track in self._tracks.values():
            while track.spans and track.spans[-1][0] >= cut:
                track.spans.pop()
            if track.spans and track.spans[-1][1] > cut:
                track.spans[-1][1] = cut
        self._written = cut
        self._trim()

    def heard_ms(self, item_id: str, played_ms: float) -> float:
        """How much of ``item_id``'s audio had been played when the sink was at ``played_ms``.

        Args:
            item_id: The assistant item.
            played_ms: A played position of the sink.

        Returns:
            Milliseconds, between 0 and the audio written for the item (which never exceeds
            the audio received for it). 0 for an item the tracker does not know or forgot.

        Raises:
            ValueError: ``played_ms`` is negative or not a finite number.
        """
        played = _check_ms("played_ms", played_ms)
        track = self._tracks.get(item_id)
        return 0.0 if track is None else track.heard(played)

    def pending_ms(self, played_ms: float) -> float:
        """How much written audio the sink has still to play when it is at ``played_ms``.

        Args:
            played_ms: A played position of the sink.

        Returns:
            Milliseconds, never negative.

        Raises:
            ValueError: ``played_ms`` is negative or not a finite number.
        """
        return max(0.0, self._written - _check_ms("played_ms", played_ms))

    def written_for(self, item_id: str) -> float:
        """The audio of ``item_id`` written and not cleared, in ms (0 if unknown)."""
        track = self._tracks.get(item_id)
        return 0.0 if track is None else track.written

    def end_of(self, item_id: str) -> float | None:
        """Where ``item_id``'s written audio ends on the timeline, or None if unknown."""
        track = self._tracks.get(item_id)
        return None if track is None or not track.spans else track.end

    def content_index(self, item_id: str) -> int | None:
        """The content index ``item_id``'s audio was written with, or None if unknown."""
        track = self._tracks.get(item_id)
        return None if track is None else track.content_index

    def item_at(self, played_ms: float) -> str | None:
        """The item whose audio plays at ``played_ms``, or None (silence or unknown).

        A position exactly at the boundary between two items belongs to the earlier one
        (its last sample was just played).

        Raises:
            ValueError: ``played_ms`` is negative or not a finite number.
        """
        played = _check_ms("played_ms", played_ms)
        for item_id, track in self._tracks.items():
            for start, end in track.spans:
                if start < played <= end:
                    return item_id
        return None

    def forget(self, item_id: str) -> None:
        """Drop what is known about ``item_id`` (nothing happens if it is unknown)."""
        self._tracks.pop(item_id, None)

    def __len__(self) -> int:
        """How many items the tracker currently remembers."""
        return len(self._tracks)

    def _trim(self, room_for: int = 0) -> None:
        """Forget the oldest fully played items beyond ``max_items`` (less ``room_for``)."""
        excess = len(self._tracks) + room_for - self._max_items
        if excess <= 0:
            return
        for item_id in [i for i, t in self._tracks.items() if t.end <= self._played][:excess]:
            del self._tracks[item_id]
