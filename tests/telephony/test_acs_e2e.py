"""ACS calls end to end: Event Grid to the bridge, the real Call Automation client to the
fake, the media stream from the simulator, the agent against the emulator."""

from __future__ import annotations

import anyio

from voiceagent import Agent, tool
from voiceagent.events import SessionEnded
from voiceagent.serve import create_app
from voiceagent.telephony import AcsBridge, Dtmf, PhoneCall
from voiceagent.testing import (
    AcsCallSimulator,
    CallAutomationFake,
    Emulator,
    Script,
    ToolCall,
    Turn,
    synthesize,
)

from .conftest import serve_app

QUESTION = "What are your opening hours?"
ANSWER = "We are open from nine to five, Monday to Friday."
STORY = (
    "Once upon a time there was a lighthouse keeper who counted the waves every night "
    "and wrote each number in a small blue book that nobody ever read."
)
STOP = "Stop please."
OKAY = "Okay."


def pcm(text: str, rate: int = 24000) -> bytes:
    return synthesize(text, sample_rate=rate).audio


async def test_an_incoming_call_is_answered_and_the_caller_hears_the_answer() -> None:
    question = pcm(QUESTION)
    script = Script(Turn(hears=QUESTION, says=ANSWER))
    async with Emulator(script=script, audio_chunk_ms=100) as emu, CallAutomationFake() as acs:
        bridge = AcsBridge(acs_endpoint=acs.endpoint, acs_credential=acs.credential)
        app = create_app(
            Agent(), routes=bridge.routes, endpoint=emu.endpoint, credential=emu.credential
        )
        async with serve_app(app) as base:
            sim = AcsCallSimulator(question, hang_up_after_ms=len(question) / 48 + 6000)
            with anyio.fail_after(30):
                call = await sim.ring(f"{base}/acs/events", acs)
                while bridge.active_calls:  # noqa: ASYNC110 - a counter, no event
                    await anyio.sleep(0.01)
                while not emu.connections[0].closed:  # noqa: ASYNC110
                    await anyio.sleep(0.01)
        session = emu.connections[0].session
    assert call.answer is not None
    streaming = call.answer["mediaStreamingOptions"]
    assert streaming["audioFormat"] == "pcm24KMono"
    assert streaming["transportUrl"] == f"{base.replace('http', 'ws')}/acs/media"
    assert session["input_audio_format"] == "pcm16"
    assert session["input_audio_sampling_rate"] == 24000
    answer = synthesize(ANSWER)
    assert abs(call.heard_ms - answer.duration_ms) <= 20
    assert call.heard == answer.audio
    # The caller hung up: the session ended and its Voice Live connection closed.
    assert call.hung_up_by == "caller"
    assert bridge.calls_handled == 1
    assert bridge.answered == [call.call_connection_id]


async def test_event_grid_subscription_validation() -> None:
    import aiohttp

    bridge = AcsBridge()
    app = create_app(Agent(), routes=bridge.routes)
    async with serve_app(app) as base, aiohttp.ClientSession() as http:
        event = {
            "id": "1",
            "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"},
        }
        async with http.post(f"{base}/acs/events", json=[event]) as response:
            assert response.status == 200
            assert await response.json() == {
                "validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"
            }
        async with http.options(
            f"{base}/acs/events", headers={"WebHook-Request-Origin": "eventgrid.azure.net"}
        ) as response:
            assert response.status == 200
            assert response.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"


async def test_barge_in_stops_the_audio_and_truncates_to_the_clock() -> None:
    question = pcm("Tell me a story.", 16000)
    stop_at_ms = 2600
    audio = question + bytes(stop_at_ms * 32 - len(question)) + pcm(STOP, 16000)
    script = Script(Turn(hears="Tell me a story.", says=STORY), Turn(hears=STOP, says=OKAY))
    async with Emulator(script=script, speed=4.0, audio_chunk_ms=100) as emu:
        bridge = AcsBridge()
        app = create_app(
            Agent(), routes=bridge.routes, endpoint=emu.endpoint, credential=emu.credential
        )
        async with serve_app(app) as base:
            sim = AcsCallSimulator(audio, sample_rate=16000, hang_up_after_ms=stop_at_ms + 4000)
            with anyio.fail_after(30):
                call = await sim.connect(f"{base.replace('http', 'ws')}/acs/media")
        connection = emu.connections[0]
        received, sent, session = connection.received, connection.sent, connection.session
    td = session["turn_detection"]
    starts = [e for e in sent if e["type"] == "input_audio_buffer.speech_started"]
    assert len(starts) == 2
    detected_ms = (
        starts[1]["audio_start_ms"] + td["prefix_padding_ms"] + td.get("speech_duration_ms", 200)
    ) - 10
    detected_at = call.sent_time_of(detected_ms)
    [stop_at] = call.stop_audio
    [stop] = call.playout.stops
    [truncate] = [e for e in received if e["type"] == "conversation.item.truncate"]
    print(
        f"StopAudio {1000 * (stop_at - detected_at):.1f} ms after detection; "
        f"heard {stop.heard_ms:.1f} ms, truncate {truncate['audio_end_ms']} ms, "
        f"dropped at ACS {stop.dropped_ms:.0f} ms"
    )
    assert stop_at - detected_at <= 0.1
    assert abs(truncate["audio_end_ms"] - stop.heard_ms) <= 20
    okay = pcm(OKAY, 16000)
    assert call.heard.endswith(okay)
    assert call.heard[: -len(okay)] == pcm(STORY, 16000)[: len(call.heard) - len(okay)]


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


async def test_dtmf_and_a_transfer_through_call_automation() -> None:
    question = pcm("Billing please.")
    script = Script(
        Turn(
            hears="Billing please.",
            calls=[ToolCall("transfer_to_billing", {})],
            says="Putting you through.",
        )
    )
    agent = Desk()
    digits: list[Dtmf] = []
    ended: list[SessionEnded] = []
    agent.on(Dtmf)(digits.append)
    agent.on(SessionEnded)(ended.append)
    async with Emulator(script=script, speed=None) as emu, CallAutomationFake() as acs:
        bridge = AcsBridge(acs_endpoint=acs.endpoint, acs_credential=acs.credential)
        app = create_app(
            agent, routes=bridge.routes, endpoint=emu.endpoint, credential=emu.credential
        )
        async with serve_app(app) as base:
            sim = AcsCallSimulator(question, dtmf=[(100, "7")], max_call_s=20)
            with anyio.fail_after(30):
                call = await sim.ring(f"{base}/acs/events", acs)
                while bridge.active_calls:  # noqa: ASYNC110 - a counter, no event
                    await anyio.sleep(0.01)
    assert [(d.digit, d.carrier, d.call_id) for d in digits] == [
        ("7", "acs", call.call_connection_id)
    ]
    assert call.hung_up_by == "automation"
    [(call_id, target)] = acs.transfers
    assert call_id == call.call_connection_id
    assert target["rawId"] == "4:+15550100200"
    assert acs.hang_ups == []
    assert len(ended) == 1
    assert call.heard == synthesize("Putting you through.").audio  # the last words played
