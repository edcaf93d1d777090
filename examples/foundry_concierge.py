"""Foundry Agent Service: the hotel's concierge is an agent of a Microsoft Foundry project,
and Voice Live gives it a voice.

The Foundry agent owns its model, instructions and tools (edit them in the project); this
program only says which agent answers and how it sounds and listens. Agent Service needs
Microsoft Entra ID (``az login``, a managed identity): keys are not accepted. Run it::

    export FOUNDRY_PROJECT=my-project      # and AZURE_VOICELIVE_ENDPOINT for Azure
    python examples/foundry_concierge.py             # Azure if AZURE_VOICELIVE_ENDPOINT is
                                                     # set, else the offline emulator
    python examples/foundry_concierge.py --emulator  # always the emulator

The concierge's answer is written to concierge.wav.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio

from voiceagent import Agent
from voiceagent.audio import WavFileSink, WavFileSource
from voiceagent.events import AgentTranscript, UserTranscript
from voiceagent.options import AzureSemanticVad, FoundryAgent, StaticInterimResponse
from voiceagent.testing import Script, Turn, service

AUDIO = Path(__file__).parent / "audio"


class Concierge(Agent):
    foundry_agent = FoundryAgent(
        "concierge", project=os.environ.get("FOUNDRY_PROJECT", "grand-hotel")
    )
    voice = "en-US-Ava:DragonHDLatestNeural"
    turn_detection = AzureSemanticVad()
    # The agent may look things up: say something rather than leave the caller in silence.
    interim_response = StaticInterimResponse(
        texts=["One moment, please.", "Let me check that for you."],
        triggers=["latency", "tool"],
        latency_threshold_ms=1500,
    )


# Offline, the emulator plays the Foundry agent.
SCRIPT = Script(
    Turn(hears="And when does breakfast start?", says="Breakfast is served from seven to ten.")
)


async def main() -> None:
    agent = Concierge()
    agent.on(UserTranscript)(lambda event: print(f"guest:     {event.text}"))
    agent.on(AgentTranscript)(lambda event: print(f"concierge: {event.text}"))
    async with (
        service(SCRIPT, emulator="--emulator" in sys.argv or None, entra_id=True) as where,
        WavFileSink("concierge.wav") as sink,
    ):
        await agent.run(source=WavFileSource(AUDIO / "breakfast.wav"), sink=sink, **where)
    print("the concierge's answer is in concierge.wav")


if __name__ == "__main__":
    anyio.run(main)
