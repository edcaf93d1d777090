"""Fixtures for the serve tests: an emulator, and apps served on a real loopback port."""

from __future__ import annotations

import contextlib
import inspect
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from voiceagent.serve import create_app, running
from voiceagent.testing import Emulator

from .agents import SCRIPT, WeatherAgent

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from starlette.applications import Starlette


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    """An unpaced emulator playing the weather script."""
    async with Emulator(script=SCRIPT, speed=None) as emulator:
        yield emulator


@contextlib.asynccontextmanager
async def served(app: Starlette) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port; yield its base URL (``http://...``)."""
    async with running(app) as server:
        yield f"http://127.0.0.1:{server.port}"


def weather_app(emulator: Emulator, **kwargs: Any) -> Starlette:
    """The weather agent's app, talking to ``emulator``."""
    return create_app(WeatherAgent, endpoint=emulator.endpoint, api_key=emulator.api_key, **kwargs)


async def until(check: Callable[[], bool | Awaitable[bool]], *, timeout: float = 5.0) -> None:
    """Wait until ``check()`` is true (polling: what it reads offers nothing to wait on).

    Raises:
        TimeoutError: Still false after ``timeout`` seconds.
    """
    with anyio.fail_after(timeout):
        while True:
            result = check()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return
            await anyio.sleep(0.01)
