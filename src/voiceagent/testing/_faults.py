"""Fault injection settings of the emulator."""

from __future__ import annotations

import attrs

__all__ = ["Faults"]


@attrs.define
class Faults:
    """Faults the emulator injects, read live: change them at any time from a test.

    Attributes:
        drop_after_events: Drop the connection (abruptly, no close frame) right after
            this many client events were received on it.
        drop_on_event: Drop the connection when a client event of this type arrives.
        response_delay: Seconds each response waits after ``response.created`` before its
            first output (a slow model).
        stall_audio_at_ms: Audio offset (ms into an item's audio) at which the audio stream
            of every response stalls once, for ``stall_seconds``.
        stall_seconds: How long a stall lasts.
    """

    drop_after_events: int | None = None
    drop_on_event: str | None = None
    response_delay: float = 0.0
    stall_audio_at_ms: float | None = None
    stall_seconds: float = 0.0
