"""A Twilio phone line: the agent answers calls to a Twilio number, over Media Streams.

``app`` below is the real thing: an ASGI app (``voiceagent.serve``) with the Twilio bridge's
routes. Deployed behind HTTPS with the number's voice webhook set to
``https://<host>/twilio/voice``, it answers real calls::

    TWILIO_AUTH_TOKEN=... uvicorn examples.twilio_line:app --port 8000

Run as a script, it places one simulated call into that same app, on this machine: the
Twilio simulator POSTs the webhook, opens the media stream, presses 1, asks for billing,
hears the answer in real time and follows the transfer the agent makes::

    python examples/twilio_line.py             # Azure if AZURE_VOICELIVE_ENDPOINT is set,
                                               # else the offline emulator
    python examples/twilio_line.py --emulator  # always the emulator

What the caller heard is written to twilio-heard.wav.
"""

from __future__ import annotations

import sys

import anyio

from voiceagent import Agent, tool
from voiceagent.events import AgentTranscript, UserTranscript
from voiceagent.serve import create_app, running
from voiceagent.telephony import Dtmf, PhoneCall, TwilioBridge
from voiceagent.testing import Script, ToolCall, Turn, TwilioCallSimulator, service, synthesize

BILLING = "+15550100200"


class FrontDesk(Agent):
    """Answers the phone for Contoso Fiber and puts callers through."""

    instructions = (
        "You answer the phone for Contoso Fiber. Be brief. If the caller asks for billing, "
        "put them through with transfer_to_billing."
    )
    greeting = None

    @tool
    async def transfer_to_billing(self, call: PhoneCall) -> str:
        """Put the caller through to the billing team."""
        await call.transfer(BILLING)  # once the agent has finished speaking
        return "Transferring the caller to billing."


def make_agent() -> FrontDesk:
    agent = FrontDesk()
    agent.on(Dtmf)(lambda event: print(f"keypad: {event.digit}"))
    agent.on(UserTranscript)(lambda event: print(f"caller: {event.text}"))
    agent.on(AgentTranscript)(lambda event: print(f"agent:  {event.text}"))
    return agent


bridge = TwilioBridge()
app = create_app(make_agent, routes=bridge.routes)

# Offline, the emulator plays the model: it hears the caller and transfers the call.
QUESTION = "Can you put me through to billing, please?"
SCRIPT = Script(
    Turn(
        hears=QUESTION,
        calls=[ToolCall("transfer_to_billing", {})],
        says="Of course, putting you through to billing now.",
    )
)


async def main() -> None:
    caller = synthesize(QUESTION, encoding="g711_ulaw", sample_rate=8000).audio
    async with service(SCRIPT, emulator="--emulator" in sys.argv or None, speed=1.0) as where:
        local = create_app(make_agent, routes=bridge.routes, **where)
        async with running(local) as server:
            base = f"http://127.0.0.1:{server.port}"
            sim = TwilioCallSimulator(caller, dtmf=[(200, "1")], max_call_s=60)
            call = await sim.call(f"{base}/twilio/voice")
    print(f"heard:  {call.heard_ms / 1000:.1f} s of the agent, {len(call.marks_echoed)} marks")
    print(f"call:   transferred to {call.transferred_to}")
    call.save_heard("twilio-heard.wav")
    print("what the caller heard is in twilio-heard.wav")


if __name__ == "__main__":
    anyio.run(main)
