"""Real-time pacing for sources that stand in for a capture device."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from ._format import AudioFormat

__all__ = ["Pacer", "check_frame_ms"]


def check_frame_ms(frame_ms: float) -> float:
    """``frame_ms`` if it is a positive number, else a :class:`ConfigurationError`."""
    if isinstance(frame_ms, bool) or not isinstance(frame_ms, int | float) or not frame_ms > 0:
        raise ConfigurationError(f"frame_ms must be a positive number, got {frame_ms!r}")
    return frame_ms


class Pacer:
    """Releases frames at the pace a microphone would.

    A microphone hands over a frame once it has captured all of it, so the frame that ends
    ``t`` seconds into the audio is released ``t`` seconds after the first frame was asked
    for (clock: :func:`anyio.current_time`). Without ``realtime`` every frame is released at
    once, with a checkpoint so other tasks run.

    Args:
        fmt: The format of the frames.
        realtime: Whether to pace.
    """

    def __init__(self, fmt: AudioFormat, *, realtime: bool) -> None:
        self._bytes_per_second = fmt.bytes_per_second
        self._realtime = realtime
        self._start: float | None = None
        self._sent = 0

    async def wait(self, nbytes: int) -> None:
        """Wait until a frame of ``nbytes`` bytes, the next in the stream, is due."""
        if not self._realtime:
            await anyio.lowlevel.checkpoint()
            return
        if self._start is None:
            self._start = anyio.current_time()
        self._sent += nbytes
        await anyio.sleep_until(self._start + self._sent / self._bytes_per_second)
