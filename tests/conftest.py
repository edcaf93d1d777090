"""Shared fixtures: an emulator on a real loopback socket and SDK connections to it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from azure.ai.voicelive.aio import VoiceLiveConnection, connect

from voiceagent.testing import Emulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """An unpaced emulator with the default brain."""
    async with Emulator(speed=None) as emu:
        yield emu


@pytest.fixture
async def conn(emulator: Emulator) -> AsyncIterator[VoiceLiveConnection]:
    """A real SDK connection to :func:`emulator`."""
    async with connect(
        endpoint=emulator.endpoint, credential=emulator.credential, model="gpt-realtime"
    ) as connection:
        yield connection
