"""A phone line: 8 kHz G.711 μ-law in and out, as a telephony bridge carries it.

Phone networks (SIP trunks, Twilio or Azure Communication Services media streams) carry
20 ms frames of 8 kHz μ-law. Voice Live speaks μ-law natively, so the session sends the
caller's bytes as they are and hands back μ-law for the line: nothing is converted or
resampled, and the ``audio`` extra is not needed. A bridge would plug its media stream in
where the WAV files are here. Run it::

    python examples/phone_line.py             # Azure if AZURE_VOICELIVE_ENDPOINT is set,
                                              # else the offline emulator
    python examples/phone_line.py --emulator  # always the emulator

The agent's side of the call is written, in μ-law, to phone-answer.wav.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

from voiceagent import Agent, tool
from voiceagent.audio import AudioFormat, Encoding, WavFileSink, WavFileSource
from voiceagent.events import AgentTranscript, ToolCallFinished, UserTranscript
from voiceagent.testing import ReplyContext, Script, ToolCall, Turn, service

AUDIO = Path(__file__).parent / "audio"
ULAW = AudioFormat(encoding=Encoding.G711_ULAW, sample_rate=8000)


class Reservations(Agent):
    """Takes table reservations for a restaurant over the phone."""

    instructions = (
        "You take table reservations for Chez Lucie over the phone. Be brief: confirm the "
        "number of people and the time, book the table, then give the reference."
    )

    @tool
    async def book_table(self, people: int, time: str) -> dict[str, object]:
        """Book a table for tonight.

        Args:
            people: How many people, 1 to 12.
            time: The time, as HH:MM on a 24-hour clock, e.g. "20:00".
        """
        return {"confirmed": True, "people": people, "time": time, "reference": "CL-0412"}


def confirmation(ctx: ReplyContext) -> str:
    """The emulated model's answer, from what book_table returned."""
    booking = ctx.output("book_table")
    return (
        f"You're booked: a table for {booking['people']} at eight tonight. "
        f"Your reference is {booking['reference']}."
    )


# Offline, the emulator plays the model: it hears the caller, books, then confirms.
SCRIPT = Script(
    Turn(
        hears="Hello, I'd like a table for two at eight tonight.",
        calls=[ToolCall("book_table", {"people": 2, "time": "20:00"})],
        says=confirmation,
    )
)


async def main() -> None:
    agent = Reservations()
    agent.on(UserTranscript)(lambda event: print(f"caller: {event.text}"))
    agent.on(AgentTranscript)(lambda event: print(f"agent:  {event.text}"))
    agent.on(ToolCallFinished)(lambda event: print(f"        ({event.name} -> {event.output})"))
    caller = WavFileSource(AUDIO / "booking.ulaw.wav")  # the bridge's inbound frames
    async with (
        service(SCRIPT, emulator="--emulator" in sys.argv or None) as where,
        WavFileSink("phone-answer.wav", ULAW) as line,  # the bridge's outbound frames
        agent.session(source=caller, sink=line, **where) as session,
    ):
        print(f"on the wire: {session.input_format} in, {session.output_format} out")
        await session.wait()
    print("the agent's side of the call is in phone-answer.wav (8 kHz μ-law)")


if __name__ == "__main__":
    anyio.run(main)
