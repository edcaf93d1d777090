"""An Azure Communication Services phone line: the agent answers calls to an ACS number.

``app`` below is the real thing: an ASGI app (``voiceagent.serve``) with the ACS bridge's
routes. Deployed behind HTTPS, with the resource's ``IncomingCall`` events subscribed (Event
Grid, webhook ``https://<host>/acs/events``) and its connection string set, it answers
real calls: Call Automation answers with bidirectional media streaming to ``/acs/media``::

    ACS_CONNECTION_STRING=... uvicorn examples.acs_line:app --port 8000

Run as a script, it rings that same app on this machine: the simulator posts an
``IncomingCall`` event, the bridge answers through the real Call Automation client (talking
to a local fake of the service), the simulator opens the media stream, asks a question,
hears the answer in real time, and the agent hangs up through Call Automation::

    python examples/acs_line.py             # Azure Voice Live if AZURE_VOICELIVE_ENDPOINT
                                            # is set, else the offline emulator
    python examples/acs_line.py --emulator  # always the emulator

What the caller heard is written to acs-heard.wav.
"""

from __future__ import annotations

import sys

import anyio

from voiceagent import Agent, tool
from voiceagent.events import AgentTranscript, UserTranscript
from voiceagent.serve import create_app, running
from voiceagent.telephony import AcsBridge, PhoneCall
from voiceagent.testing import (
    AcsCallSimulator,
    CallAutomationFake,
    Script,
    ToolCall,
    Turn,
    service,
    synthesize,
)


class OpeningHours(Agent):
    """Tells callers when the shop is open, then says goodbye."""

    instructions = (
        "You answer the phone for Northwind Books. The shop is open nine to six, Monday to "
        "Saturday. Answer briefly; when the caller is done, say goodbye and call end_call."
    )

    @tool
    async def end_call(self, call: PhoneCall) -> str:
        """Hang up, once the caller has nothing more to ask."""
        await call.hang_up()  # once the agent has finished speaking
        return "Hanging up."


def make_agent() -> OpeningHours:
    agent = OpeningHours()
    agent.on(UserTranscript)(lambda event: print(f"caller: {event.text}"))
    agent.on(AgentTranscript)(lambda event: print(f"agent:  {event.text}"))
    return agent


bridge = AcsBridge()  # ACS_CONNECTION_STRING from the environment
app = create_app(make_agent, routes=bridge.routes)

# Offline, the emulator plays the model: it answers, then hangs up.
QUESTION = "When are you open on Saturday? That's all, thanks."
SCRIPT = Script(
    Turn(
        hears=QUESTION,
        calls=[ToolCall("end_call", {})],
        says="We are open nine to six on Saturday. Goodbye!",
    )
)


async def main() -> None:
    caller = synthesize(QUESTION, sample_rate=24000).audio
    async with (
        service(SCRIPT, emulator="--emulator" in sys.argv or None, speed=1.0) as where,
        CallAutomationFake() as acs,
    ):
        local_bridge = AcsBridge(acs_endpoint=acs.endpoint, acs_credential=acs.credential)
        local = create_app(make_agent, routes=local_bridge.routes, **where)
        async with running(local) as server:
            base = f"http://127.0.0.1:{server.port}"
            call = await AcsCallSimulator(caller, max_call_s=60).ring(f"{base}/acs/events", acs)
    print(f"heard:  {call.heard_ms / 1000:.1f} s of the agent ({call.format})")
    answered = "answered" if call.answer is not None else "not answered"
    print(f"call:   {answered} through Call Automation, ended by {call.hung_up_by}")
    print(f"        hang-up requests: {len(acs.hang_ups)}")
    call.save_heard("acs-heard.wav")
    print("what the caller heard is in acs-heard.wav")


if __name__ == "__main__":
    anyio.run(main)
