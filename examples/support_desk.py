"""A phone support desk: a greeting, the caller's history injected before they speak, and
a tool with which the agent ends the call.

Run it::

    python examples/support_desk.py             # Azure if AZURE_VOICELIVE_ENDPOINT is set,
                                                # else the offline emulator
    python examples/support_desk.py --emulator  # always the emulator

The call's audio (the agent's side) is written to support-call.wav.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import anyio

from voiceagent import Agent, AgentSession, tool
from voiceagent.audio import AudioSourceBase, SilenceSource, WavFileSink, WavFileSource
from voiceagent.errors import ToolError
from voiceagent.events import AgentTranscript, ToolCallStarted, UserTranscript
from voiceagent.testing import ReplyContext, Script, ToolCall, Turn, service

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from voiceagent.audio import AudioFormat, AudioSource

AUDIO = Path(__file__).parent / "audio"

# Stand-in for the ticketing system.
TICKETS = {"4411": {"status": "resolved", "fix": "the street cabinet was repaired this morning"}}

# The caller's previous call, as the desk's records hold it: injected before they speak.
PREVIOUS_CALL: list[tuple[Literal["user", "assistant", "system"], str]] = [
    ("system", "The caller is Ana Lopez, a customer since 2019, on the Fiber 500 plan."),
    ("user", "My internet drops every evening."),
    ("assistant", "I'm sorry about that. I've opened ticket 4411; a technician will check."),
]


class SupportDesk(Agent):
    """Contoso Fiber's support line."""

    instructions = (
        "You are the phone support desk of Contoso Fiber. Be brief and warm. Look tickets "
        "up before you talk about them. When the caller has nothing more to ask, say "
        "goodbye and call end_call."
    )
    greeting = "Contoso Fiber support, how can I help?"

    @tool
    async def ticket_status(self, ticket: str) -> dict[str, str]:
        """The status of a support ticket.

        Args:
            ticket: The ticket number, e.g. "4411".
        """
        found = TICKETS.get(ticket.strip("# "))
        if found is None:
            raise ToolError(f"there is no ticket {ticket}")  # the model hears this message
        return found

    @tool
    def end_call(self, session: AgentSession) -> str:
        """Hang up, once the caller has nothing more to ask and you have said goodbye."""
        session.end()  # the call ends once the agent has finished speaking
        return "the call will end after your goodbye"


class CallerLine(AudioSourceBase):
    """The caller's side of the line: connected once the desk is ready, as a phone bridge
    would connect it, and silent after the caller's words until someone hangs up."""

    def __init__(self, recording: AudioSource) -> None:
        self._recording = recording
        self.connected = anyio.Event()

    @property
    def format(self) -> AudioFormat:
        return self._recording.format

    async def __aiter__(self) -> AsyncIterator[bytes]:
        await self.connected.wait()
        async for frame in self._recording:
            yield frame
        async for frame in SilenceSource(None, self.format, realtime=True):
            yield frame


def good_news(ctx: ReplyContext) -> str:
    """The emulated model's answer, from what ticket_status returned."""
    return f"Good news, Ana: {ctx.output('ticket_status')['fix']}. Have a lovely evening!"


# Offline, the emulator plays the model: it checks the ticket, ends the call and answers.
# The emulator counts every user message as a turn, the injected one from the previous
# call too: that turn is never answered, so it needs no reply.
SCRIPT = Script(
    Turn(),
    Turn(
        hears="Hi, it's Ana. Is my internet fixed yet? That's all I need.",
        preface="Let me check ticket 4411.",
        calls=[ToolCall("ticket_status", {"ticket": "4411"}), ToolCall("end_call")],
        says=good_news,
    ),
)


async def main() -> None:
    desk = SupportDesk()
    desk.on(UserTranscript)(lambda event: print(f"caller: {event.text}"))
    desk.on(AgentTranscript)(lambda event: print(f"desk:   {event.text}"))
    desk.on(ToolCallStarted)(lambda event: print(f"        ({event.name} {event.arguments})"))
    line = CallerLine(WavFileSource(AUDIO / "ticket.wav"))
    async with (
        service(SCRIPT, emulator="--emulator" in sys.argv or None) as where,
        WavFileSink("support-call.wav") as sink,
        desk.session(source=line, sink=sink, **where) as session,
    ):
        for role, text in PREVIOUS_CALL:  # history injection: what the model knows
            await session.add_message(role, text)
        line.connected.set()
        result = await session.wait()
    print(f"call over ({result.reason.value}); the desk's side is in support-call.wav")


if __name__ == "__main__":
    anyio.run(main)
