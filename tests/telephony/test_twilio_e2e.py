"""Twilio calls end to end: the simulator calls the bridge, the bridge runs the agent
against the emulator."""

from __future__ import annotations

import anyio
import pytest

from voiceagent import Agent, tool
from voiceagent.serve import create_app
from voiceagent.telephony import PhoneCall, TwilioBridge
from voiceagent.testing import (
    Emulator,
    Script,
    ToolCall,
    Turn,
    TwilioCall,
    TwilioCallSimulator,
    synthesize,
)

from .conftest import serve_app

QUESTION = "What are your opening hours?"
ANSWER = "We are open from nine to five, Monday to Friday."


async def test_the_caller_hears_the_answer() -> None:
    question = synthesize(QUESTION, encoding="g711_ulaw", sample_rate=8000).audio
    answer = synthesize(ANSWER, encoding="g711_ulaw", sample_rate=8000)
    script = Script(Turn(hears=QUESTION, says=ANSWER))
    async with Emulator(script=script, audio_chunk_ms=100) as emu:
        bridge = TwilioBridge()
        app = create_app(
            Agent(), routes=bridge.routes, endpoint=emu.endpoint, credential=emu.credential
        )
        async with serve_app(app) as base:
            sim = TwilioCallSimulator(question, hang_up_after_ms=len(question) / 8 + 6000)
            with anyio.fail_after(30):
                call = await sim.call(f"{base}/twilio/voice")
    print(call.heard_ms, answer.duration_ms, call.payload_sizes[:5], len(call.marks_echoed))
    assert abs(call.heard_ms - answer.duration_ms) <= 20
    assert call.heard == answer.audio


STORY = (
    "Once upon a time there was a lighthouse keeper who counted the waves every night "
    "and wrote each number in a small blue book that nobody ever read."
)
STOP = "Stop please."
OKAY = "Okay."


def ulaw(text: str) -> bytes:
    return synthesize(text, encoding="g711_ulaw", sample_rate=8000).audio


async def test_barge_in_clears_the_line_and_truncates_to_what_the_caller_heard() -> None:
    question = ulaw("Tell me a story.")
    stop_at_ms = 2600
    audio = question + b"\xff" * (stop_at_ms * 8 - len(question)) + ulaw(STOP)
    script = Script(Turn(hears="Tell me a story.", says=STORY), Turn(hears=STOP, says=OKAY))
    # The service sends the answer faster than real time: Twilio buffers seconds of it.
    async with Emulator(script=script, speed=4.0, audio_chunk_ms=100) as emu:
        bridge = TwilioBridge()
        app = create_app(
            Agent(), routes=bridge.routes, endpoint=emu.endpoint, credential=emu.credential
        )
        async with serve_app(app) as base:
            sim = TwilioCallSimulator(audio, hang_up_after_ms=stop_at_ms + 4000)
            with anyio.fail_after(30):
                call = await sim.call(f"{base}/twilio/voice")
        connection = emu.connections[0]
        received, sent, session = connection.received, connection.sent, connection.session
    td = session["turn_detection"]
    starts = [e for e in sent if e["type"] == "input_audio_buffer.speech_started"]
    assert len(starts) == 2
    # The earliest the service can have heard the speech: onset + speech_duration_ms
    # (the onset's own 10 ms VAD frame included), sent by the caller at detected_at.
    detected_ms = (
        starts[1]["audio_start_ms"] + td["prefix_padding_ms"] + td.get("speech_duration_ms", 200)
    ) - 10
    detected_at = call.sent_time_of(detected_ms)
    [clear_at] = call.clears
    [stop] = call.playout.stops
    [truncate] = [e for e in received if e["type"] == "conversation.item.truncate"]
    print(
        f"clear {1000 * (clear_at - detected_at):.1f} ms after detection; "
        f"heard {stop.heard_ms:.1f} ms, truncate {truncate['audio_end_ms']} ms, "
        f"dropped {stop.dropped_ms:.0f} ms"
    )
    assert clear_at - detected_at <= 0.1
    assert abs(truncate["audio_end_ms"] - stop.heard_ms) <= 20
    assert stop.dropped_ms > 1000  # the truncate is not what was sent
    okay = ulaw(OKAY)
    assert call.heard.endswith(okay)
    assert call.heard[: -len(okay)] == ulaw(STORY)[: len(call.heard) - len(okay)]


async def test_dtmf_reaches_a_handler_and_a_caller_hang_up_ends_the_session() -> None:
    from voiceagent.events import SessionEnded
    from voiceagent.telephony import Dtmf

    agent = Agent()
    digits: list[Dtmf] = []
    ended: list[SessionEnded] = []
    agent.on(Dtmf)(digits.append)
    agent.on(SessionEnded)(ended.append)
    silence = b"\xff" * 8000
    async with Emulator(speed=None) as emu:
        bridge = TwilioBridge()
        app = create_app(
            agent, routes=bridge.routes, endpoint=emu.endpoint, credential=emu.credential
        )
        async with serve_app(app) as base:
            sim = TwilioCallSimulator(
                silence, dtmf=[(300, "4"), (500, "2"), (520, "#")], hang_up_after_ms=1000
            )
            with anyio.fail_after(30):
                call = await sim.call(f"{base}/twilio/voice")
                while bridge.active_calls:  # noqa: ASYNC110 - a counter, no event
                    await anyio.sleep(0.01)
                while not emu.connections[0].closed:  # noqa: ASYNC110
                    await anyio.sleep(0.01)
    assert [(d.digit, d.carrier, d.call_id) for d in digits] == [
        ("4", "twilio", call.call_sid),
        ("2", "twilio", call.call_sid),
        ("#", "twilio", call.call_sid),
    ]
    assert call.hung_up_by == "caller"
    assert len(ended) == 1
    assert bridge.calls_handled == 1


class Desk(Agent):
    @tool
    async def transfer_to_billing(self, call: PhoneCall) -> str:
        """Put the caller through to billing."""
        await call.transfer("+15550100200")
        return "Transferring you to billing."

    @tool
    async def goodbye(self, call: PhoneCall) -> str:
        """End the call."""
        await call.hang_up()
        return "Goodbye."


async def _desk_call(hears: str, tool_name: str, says: str) -> tuple[TwilioCall, Emulator]:
    script = Script(Turn(hears=hears, calls=[ToolCall(tool_name, {})], says=says))
    async with Emulator(script=script, speed=None, keep_audio=True) as emu:
        bridge = TwilioBridge(auth_token=TOKEN)
        app = create_app(
            Desk(), routes=bridge.routes, endpoint=emu.endpoint, credential=emu.credential
        )
        async with serve_app(app) as base:
            sim = TwilioCallSimulator(ulaw(hears), auth_token=TOKEN, max_call_s=20)
            with anyio.fail_after(30):
                call = await sim.call(f"{base}/twilio/voice")
    return call, emu


TOKEN = "0123456789abcdef0123456789abcdef"


async def test_a_tool_transfers_the_call_after_its_last_words() -> None:
    call, emu = await _desk_call("Billing please.", "transfer_to_billing", "Putting you through.")
    assert call.hung_up_by == "app"
    assert call.transferred_to == "+15550100200"
    assert call.next_twiml is not None
    assert "<Dial>" in call.next_twiml
    assert call.heard == ulaw("Putting you through.")  # the last words played first
    # μ-law went to Voice Live byte for byte: what the caller sent is what the service got.
    received = bytes(emu.connections[0].input_audio or b"")
    assert received == bytes(call.sent[: len(received)])
    assert len(received) >= len(ulaw("Billing please."))
    assert emu.connections[0].session["input_audio_format"] == "g711_ulaw"
    assert emu.connections[0].session["output_audio_format"] == "g711_ulaw"


async def test_a_tool_hangs_up() -> None:
    call, _ = await _desk_call("That is all, thanks.", "goodbye", "Goodbye!")
    assert call.hung_up_by == "app"
    assert call.transferred_to is None
    assert call.next_twiml is not None
    assert "<Hangup/>" in call.next_twiml
    assert call.heard == ulaw("Goodbye!")


async def test_unsigned_requests_are_refused_when_the_auth_token_is_set() -> None:
    import aiohttp

    bridge = TwilioBridge(auth_token=TOKEN)
    app = create_app(Agent(), routes=bridge.routes)
    async with serve_app(app) as base, aiohttp.ClientSession() as http:
        async with http.post(f"{base}/twilio/voice", data={"CallSid": "CA1"}) as response:
            assert response.status == 403
        forged = TwilioCallSimulator(b"\xff" * 160, auth_token="not-the-token")
        with pytest.raises(AssertionError, match="403"):
            await forged.call(f"{base}/twilio/voice")


async def test_when_voice_live_is_unreachable_the_call_is_hung_up() -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    bridge = TwilioBridge()
    app = create_app(Agent(), routes=bridge.routes, endpoint=dead, api_key="unused")
    async with serve_app(app) as base:
        sim = TwilioCallSimulator(b"\xff" * 8000, max_call_s=20)
        with anyio.fail_after(20):
            call = await sim.call(f"{base}/twilio/voice")
    assert call.hung_up_by == "app"
    assert call.next_twiml is not None
    assert "<Hangup/>" in call.next_twiml
    assert bridge.calls_handled == 1


async def test_an_agent_factory_sees_the_call() -> None:
    from voiceagent.serve import Conversation

    seen: list[PhoneCall | None] = []

    def make_agent(conversation: Conversation) -> Agent:
        seen.append(PhoneCall.of(conversation))
        return Agent()

    async with Emulator(speed=None) as emu:
        bridge = TwilioBridge()
        app = create_app(
            make_agent, routes=bridge.routes, endpoint=emu.endpoint, credential=emu.credential
        )
        async with serve_app(app) as base:
            sim = TwilioCallSimulator(b"\xff" * 1600, hang_up_after_ms=500, to="+15550100999")
            with anyio.fail_after(20):
                call = await sim.call(f"{base}/twilio/voice")
    [phone] = seen
    assert phone is not None
    assert (phone.call_id, phone.callee, phone.caller) == (
        call.call_sid,
        "+15550100999",
        "+15550100001",
    )
