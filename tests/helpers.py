"""Helpers for tests that talk to the emulator through the real SDK."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

import anyio
from azure.ai.voicelive.aio import VoiceLiveConnection
from azure.ai.voicelive.models import ServerEvent


async def recv_until(
    conn: VoiceLiveConnection,
    stop: str | Callable[[ServerEvent], bool],
    *,
    timeout: float = 10.0,
) -> list[ServerEvent]:
    """Receive events until one of type ``stop`` (or matching ``stop``) arrives; return all."""
    events: list[ServerEvent] = []
    matches = (lambda e: type_of(e) == stop) if isinstance(stop, str) else stop
    with anyio.fail_after(timeout):
        while True:
            event = await conn.recv()
            events.append(event)
            if matches(event):
                return events


def type_of(event: ServerEvent) -> str:
    """An event's ``type`` as a plain string (the SDK may hold an enum member)."""
    kind = event.type
    return kind.value if isinstance(kind, Enum) else str(kind)


def types(events: list[ServerEvent]) -> list[str]:
    """The ``type`` of each event."""
    return [type_of(e) for e in events]
