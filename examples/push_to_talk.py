"""Push-to-talk: the app, not the service, decides when the user's turn ends.

With ``turn_detection = None`` the service listens for no pauses: the user's audio
accumulates until the app commits it, as a walkie-talkie app does when the talk button is
released. Here the button is pressed twice, once per recorded question; in a real app the
frames would come from a Microphone while a key is held down. Run it::

    python examples/push_to_talk.py             # Azure if AZURE_VOICELIVE_ENDPOINT is set,
                                                # else the offline emulator
    python examples/push_to_talk.py --emulator  # always the emulator

The agent's answers are written to push-to-talk.wav.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from voiceagent import Agent, TurnState
from voiceagent.audio import AudioFormat, AudioSourceBase, WavFileSink, WavFileSource
from voiceagent.events import AgentTranscript, TurnChanged, UserTranscript
from voiceagent.testing import Script, Turn, service

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from voiceagent import EventStream

AUDIO = Path(__file__).parent / "audio"


class Concierge(Agent):
    """A hotel concierge on a push-to-talk handset."""

    instructions = (
        "You are the concierge of the Grand Hotel. Answer in one short sentence. The pool "
        "is open until 10 pm; breakfast is served from 7 to 10:30 am."
    )
    turn_detection = None  # manual turns: nothing is answered until session.commit()


class TalkButton(AudioSourceBase):
    """The user's audio behind a push-to-talk button: it flows only while the button is held.

    Args:
        format: The format of the audio given to :meth:`hold`.
    """

    def __init__(self, format: AudioFormat) -> None:
        self._format = format
        self._frame = format.bytes_for_ms(20)
        # A stream without a buffer hands a frame over only when the session asks for the
        # next one, which it does once it has sent the previous frame to the service.
        self._send, self._receive = anyio.create_memory_object_stream[bytes | None]()

    @property
    def format(self) -> AudioFormat:
        return self._format

    async def hold(self, audio: bytes) -> None:
        """Speak ``audio`` with the button held; returns once the session has sent it all."""
        missing = -len(audio) % self._frame  # silence completes the last frame
        audio += bytes([self._format.silence_byte]) * missing
        for start in range(0, len(audio), self._frame):
            await self._send.send(audio[start : start + self._frame])
        await self._send.send(None)  # taken only once the last frame was sent

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for frame in self._receive:
            if frame is not None:
                yield frame

    async def aclose(self) -> None:
        await super().aclose()
        self._send.close()
        self._receive.close()


async def recording(name: str) -> bytes:
    """The audio of one of the examples' recordings (16 kHz pcm16 mono)."""
    return b"".join([frame async for frame in WavFileSource(AUDIO / name)])


async def answered(events: EventStream) -> None:
    """Wait until the agent has finished answering (the turn is back to idle)."""
    async for event in events:
        if isinstance(event, TurnChanged) and event.new is TurnState.IDLE:
            break
    await events.aclose()


# Offline, the emulator plays the model: what it hears in each turn and what it says.
SCRIPT = Script(
    Turn(hears="Is the pool open tonight?", says="Yes, the pool is open until ten tonight."),
    Turn(hears="And when does breakfast start?", says="Breakfast starts at seven."),
)


async def main() -> None:
    agent = Concierge()
    agent.on(UserTranscript)(lambda event: print(f"user:  {event.text}"))
    agent.on(AgentTranscript)(lambda event: print(f"agent: {event.text}"))
    async with (
        service(SCRIPT, emulator="--emulator" in sys.argv or None) as where,
        TalkButton(AudioFormat(sample_rate=16000)) as button,
        WavFileSink("push-to-talk.wav") as sink,
        agent.session(source=button, sink=sink, **where) as session,
    ):
        for name in ("pool.wav", "breakfast.wav"):
            events = session.events()  # subscribe before the turn, so nothing is missed
            await button.hold(await recording(name))  # the user presses and speaks...
            await session.commit()  # ...and releases the button: the turn ends here
            await answered(events)
    print(f"{len(session.history)} messages; the answers are in push-to-talk.wav")


if __name__ == "__main__":
    anyio.run(main)
