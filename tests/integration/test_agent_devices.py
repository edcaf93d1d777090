"""Sessions on real PortAudio devices (null ALSA devices, skipped without PortAudio)."""

from __future__ import annotations

import pytest

from voiceagent import Agent
from voiceagent.audio import Microphone, Speaker
from voiceagent.testing import Emulator

from ..helpers import connect_args
from ..test_audio_device import null_alsa  # noqa: F401 - the fixture

pytestmark = pytest.mark.usefixtures("null_alsa")


async def test_microphone_and_speaker_turn_on_echo_cancellation() -> None:
    async with Emulator(speed=None) as emu:
        async with Agent().session(
            source=Microphone("nullout"), sink=Speaker("nullout"), **connect_args(emu)
        ):
            pass
        async with Agent(echo_cancellation=None).session(
            source=Microphone("nullout"), sink=Speaker("nullout"), **connect_args(emu)
        ):
            pass
    chosen, refused = (c.received[0]["session"] for c in emu.connections)
    assert chosen["input_audio_echo_cancellation"] == {"type": "server_echo_cancellation"}
    assert refused["input_audio_echo_cancellation"] is None
