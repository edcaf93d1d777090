"""The running event loop's clock and events, looked up once instead of on every call.

``anyio.current_time()`` and ``anyio.Event()`` find the running backend on every call
(about 0.6 and 0.8 µs more than the backend's own clock and event class), and the
session reads the clock and makes an event for nearly every server event: about 50 a
second per call. These give the same clock and the same event class, found once, for
code that knows it runs inside one event loop.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["event_factory", "loop_clock"]


def loop_clock() -> Callable[[], float]:
    """The running event loop's clock: the one :func:`anyio.current_time` reads.

    Must be called inside the event loop; the function it returns is valid in that loop.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not asyncio (trio): anyio's own lookup
        return anyio.current_time
    return loop.time


def event_factory() -> Callable[[], anyio.Event]:
    """What makes an :class:`anyio.Event` for the running backend, without the lookup.

    Must be called inside the event loop; the factory it returns is valid in that loop.
    """
    return type(anyio.Event())
