"""``create_app`` end to end over real sockets: conversations over the browser protocol,
probes, capacity, metrics, extra routes, the drain, bad clients and bad agents."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import aiohttp
import anyio
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.routing import WebSocketRoute

from voiceagent.errors import ConfigurationError
from voiceagent.events import AgentTranscript
from voiceagent.serve import (
    BrowserClient,
    BrowserOptions,
    Conversation,
    ConversationRefused,
    SessionHost,
    create_app,
)
from voiceagent.testing import Emulator, Script, Turn, synthesize

from .agents import ANSWER, OKAY, QUESTION, SCRIPT, WeatherAgent
from .conftest import served, until, weather_app

if TYPE_CHECKING:
    from starlette.websockets import WebSocket

    from voiceagent import Agent


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text()


async def metric(base: str, name: str, **labels: str) -> float:
    """The value of one sample of ``/metrics`` (0 when absent)."""
    _, text = await get(f"{base}/metrics")
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


async def readyz_is(base: str, status: int) -> bool:
    return (await get(f"{base}/readyz"))[0] == status


def ws_url(base: str, path: str = "/ws") -> str:
    return base.replace("http://", "ws://") + path


async def test_text_conversation_with_a_tool_end_to_end(emu: Emulator) -> None:
    async with served(weather_app(emu)) as base:
        async with BrowserClient(ws_url(base), realtime=False) as client:
            assert client.welcome["output"] == {
                "encoding": "pcm16",
                "sample_rate": 24000,
                "channels": 1,
            }
            await client.wait_for("ready")
            await client.send_text(QUESTION)
            await client.wait_for("tool", predicate=lambda m: m["status"] == "finished")
            final = await client.wait_for(
                "transcript", predicate=lambda m: m["role"] == "agent" and m.get("final", False)
            )
            assert final["text"] == ANSWER
            await client.end()
            ended = await client.wait_for("ended")
            assert ended["reason"] == "input_finished"
            assert await client.wait_closed() == 1000
            # Every sample of the answer reached the client and was reported played.
            assert client.received == len(synthesize(ANSWER).audio) // 2
            assert client.played == client.received
        assert await metric(base, "voiceagent_sessions_total", end="input_finished") == 1
        assert await metric(base, "voiceagent_turns_total", kind="browser") == 1
        assert await metric(base, "voiceagent_turn_latency_seconds_count", kind="browser") == 1
        assert await metric(base, "voiceagent_tool_duration_seconds_count", tool="get_weather") == 1
        assert await metric(base, "voiceagent_active_sessions", kind="browser") == 0
    assert len(emu.connections) == 1
    assert emu.connections[0].closed


async def test_voice_barge_in_truncates_where_the_client_was() -> None:
    """The microphone asks, the agent answers at real time, the user speaks over it: the
    server truncates the answer where the client's playback stood when it cleared."""
    question = synthesize(QUESTION).audio
    stop = synthesize("Stop please").audio
    silence = bytes(24000 * 2)  # 1 s
    async with Emulator(script=SCRIPT, speed=1.0) as emu:
        async with served(weather_app(emu)) as base:
            async with BrowserClient(ws_url(base)) as client:
                await client.wait_for("ready")
                await client.stream(silence[:9600] + question + silence)
                await client.wait_for("state", predicate=lambda m: m["state"] == "agent_speaking")
                await anyio.sleep(1.5)
                await client.stream(stop + silence)
                interrupted = await client.wait_for("interrupted")
                okay = await client.wait_for(
                    "transcript", predicate=lambda m: bool(m.get("final")) and m["text"] == OKAY
                )
                assert okay["role"] == "agent"
                truncate = await emu.wait_for("conversation.item.truncate")
            assert await metric(base, "voiceagent_interruptions_total", kind="browser") == 1
    assert client.clears, "the client never got a clear"
    epoch, at_clear = client.clears[0]
    assert epoch == 1
    heard_ms = at_clear / 24
    assert abs(truncate["audio_end_ms"] - heard_ms) <= 40, (truncate, heard_ms)
    assert abs(interrupted["heard_ms"] - truncate["audio_end_ms"]) <= 1
    assert 1000 < heard_ms < synthesize(ANSWER).duration_ms


async def test_capacity_readiness_and_refusal(emu: Emulator) -> None:
    async with served(weather_app(emu, max_sessions=2)) as base:
        status, body = await get(f"{base}/readyz")
        assert status == 200
        assert json.loads(body)["status"] == "ready"
        assert (await get(f"{base}/healthz"))[0] == 200
        async with BrowserClient(ws_url(base), realtime=False) as first:
            assert (await get(f"{base}/readyz"))[0] == 200  # one of two: still ready
            async with BrowserClient(ws_url(base), realtime=False):
                status, body = await get(f"{base}/readyz")
                assert status == 503
                assert json.loads(body) == {
                    "status": "at_capacity",
                    "active_sessions": 2,
                    "max_sessions": 2,
                }
                with pytest.raises(ConnectionRefusedError, match="1013"):
                    async with BrowserClient(ws_url(base)):
                        pass
                assert await metric(base, "voiceagent_sessions_refused_total") == 1
            await first.wait_for("ready")
            await until(lambda: readyz_is(base, 200))
        async with BrowserClient(ws_url(base), realtime=False) as again:
            await again.wait_for("ready")


async def carrier(websocket: WebSocket) -> None:
    """A minimal extra endpoint: text in, the agent's final text out."""
    conversation = Conversation.of(websocket)
    await websocket.accept()
    await websocket.send_json({"conversation": conversation.id, "kind": conversation.kind})
    text = await websocket.receive_text()
    finals: list[str] = []

    async def on_event(event: object) -> None:
        if isinstance(event, AgentTranscript):
            finals.append(event.text)
            assert conversation.session is not None
            conversation.session.end()

    session = await conversation.new_session(source=None, sink=None, modalities=["text"])

    async def say() -> None:
        await until(lambda: session.session_id is not None)
        await session.send_text(text)

    async with anyio.create_task_group() as tg:
        tg.start_soon(say)
        result = await conversation.run(session, on_event=on_event)
    await websocket.send_json({"finals": finals, "reason": result.reason.value})
    await websocket.close()


async def test_extra_routes_are_admitted_and_counted() -> None:
    script = Script(Turn(says="Bonjour."))
    async with Emulator(script=script, speed=None) as emu:
        app = create_app(
            WeatherAgent,
            endpoint=emu.endpoint,
            api_key=emu.api_key,
            max_sessions=1,
            routes=[WebSocketRoute("/carrier", carrier, name="carrier")],
        )
        async with served(app) as base, aiohttp.ClientSession() as http:
            async with http.ws_connect(ws_url(base, "/carrier")) as ws:
                hello = await ws.receive_json()
                assert hello["kind"] == "carrier"
                assert hello["conversation"].startswith("c")
                # The carrier's call takes the only slot: the browser is refused.
                assert (await get(f"{base}/readyz"))[0] == 503
                with pytest.raises(ConnectionRefusedError, match="1013"):
                    async with BrowserClient(ws_url(base)):
                        pass
                await ws.send_str("Hello")
                assert await ws.receive_json() == {"finals": ["Bonjour."], "reason": "ended"}
            assert await metric(base, "voiceagent_sessions_total", kind="carrier") == 1
            assert await metric(base, "voiceagent_active_sessions", kind="carrier") == 0
            assert (await get(f"{base}/readyz"))[0] == 200


async def test_drain_lets_live_conversations_end_and_refuses_new_ones(emu: Emulator) -> None:
    app = weather_app(emu, drain_timeout=30)
    host = SessionHost.of(app)
    async with served(app) as base:
        async with BrowserClient(ws_url(base), realtime=False) as client:
            await client.wait_for("ready")
            async with anyio.create_task_group() as tg:
                tg.start_soon(host.drain)
                await until(lambda: host.draining)
                status, body = await get(f"{base}/readyz")
                assert status == 503
                assert json.loads(body)["status"] == "draining"
                assert (await get(f"{base}/healthz"))[0] == 200
                with pytest.raises(ConnectionRefusedError, match="1001"):
                    async with BrowserClient(ws_url(base)):
                        pass
                # The live conversation goes on to its natural end.
                await client.send_text(QUESTION)
                await client.wait_for("transcript", predicate=lambda m: m.get("final", False))
                await client.end()
                assert (await client.wait_for("ended"))["reason"] == "input_finished"
                assert await client.wait_closed() == 1000
            assert host.active == 0
        assert await metric(base, "voiceagent_draining") == 1


async def test_drain_timeout_stops_conversations_cleanly() -> None:
    async with Emulator(script=SCRIPT, speed=1.0) as emu:
        app = weather_app(emu, drain_timeout=0.3, stop_timeout=5)
        host = SessionHost.of(app)
        async with served(app) as base:
            async with BrowserClient(ws_url(base)) as client:
                await client.wait_for("ready")
                await client.send_text(QUESTION)
                await client.wait_for("state", predicate=lambda m: m["state"] == "agent_speaking")
                with anyio.fail_after(10):
                    await host.drain()
                assert (await client.wait_for("ended"))["reason"] == "shutdown"
                assert await client.wait_closed() == 1001
                assert client.close_reason == "server shutting down"
            assert await metric(base, "voiceagent_sessions_total", end="shutdown") == 1
        # The voice session was closed, not abandoned.
        assert emu.connections[0].closed


async def test_a_client_that_leaves_ends_its_conversation() -> None:
    async with Emulator(script=SCRIPT, speed=1.0) as emu:
        app = weather_app(emu)
        host = SessionHost.of(app)
        async with served(app) as base:
            async with BrowserClient(ws_url(base)) as client:
                await client.wait_for("ready")
                await client.send_text(QUESTION)
                await client.wait_for("state", predicate=lambda m: m["state"] == "agent_speaking")
            await until(lambda: host.active == 0)
            assert await metric(base, "voiceagent_sessions_total", end="client_left") == 1
        assert emu.connections[0].closed


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("not json", "one JSON object"),
        ('{"type": "dance"}', "unknown message type"),
        ('{"type": "played", "samples": -1}', "integer >= 0"),
        ('{"type": "played", "samples": 10, "epoch": 7}', "never sent"),
        (b"\x01\x02\x03", "whole pcm16"),
    ],
)
async def test_protocol_errors_close_with_1007(
    emu: Emulator, frame: str | bytes, message: str
) -> None:
    async with served(weather_app(emu)) as base:
        async with BrowserClient(ws_url(base), realtime=False) as client:
            await client.wait_for("ready")
            assert client._ws is not None
            if isinstance(frame, bytes):
                await client._ws.send_bytes(frame)
            else:
                await client._ws.send_str(frame)
            error = await client.wait_for("error")
            assert message in error["message"]
            assert await client.wait_closed() == 1007


async def test_a_session_that_cannot_start_closes_with_1011() -> None:
    app = create_app(WeatherAgent, endpoint="http://127.0.0.1:9", api_key="k")
    async with served(app) as base:
        async with BrowserClient(ws_url(base), realtime=False) as client:
            ended = await client.wait_for("ended", timeout=30)
            assert ended == {"type": "ended", "reason": "error", "error": "session_failed"}
            assert await client.wait_closed() == 1011
        assert await metric(base, "voiceagent_errors_total", source="connect") == 1
        assert await metric(base, "voiceagent_sessions_total", end="connect_failed") == 1


async def test_agent_factories(emu: Emulator) -> None:
    seen: list[Conversation] = []

    def per_call(conversation: Conversation) -> Agent:
        seen.append(conversation)
        return WeatherAgent()

    async def made_async() -> Agent:
        return WeatherAgent()

    shared = WeatherAgent()
    for factory in (shared, WeatherAgent, per_call, made_async):
        app = create_app(factory, endpoint=emu.endpoint, api_key=emu.api_key)
        async with served(app) as base, BrowserClient(ws_url(base), realtime=False) as client:
            await client.wait_for("ready")
    assert len(seen) == 1
    assert seen[0].kind == "browser"

    def not_an_agent() -> Any:
        return "nope"

    app = create_app(not_an_agent, endpoint=emu.endpoint, api_key=emu.api_key)
    async with served(app) as base, BrowserClient(ws_url(base), realtime=False) as client:
        assert (await client.wait_for("ended"))["error"] == "session_failed"
    with pytest.raises(ConfigurationError, match="not an Agent subclass"):
        create_app(dict)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="max_sessions"):
        create_app(WeatherAgent, max_sessions=0)
    with pytest.raises(ConfigurationError, match="drain_timeout"):
        create_app(WeatherAgent, drain_timeout=-1)
    with pytest.raises(ConfigurationError, match="input_rate"):
        BrowserOptions(input_rate=44100)


async def test_host_conversation_outside_the_app() -> None:
    host = SessionHost(WeatherAgent, max_sessions=1)
    async with host.conversation(kind="sip") as conversation:
        assert host.active == 1
        assert not host.ready
        assert isinstance(await conversation.agent(), WeatherAgent)
        with pytest.raises(ConversationRefused) as refused:
            async with host.conversation(kind="sip"):
                pass
        assert refused.value.code == 1013
        assert refused.value.cause == "capacity"
    assert host.active == 0
    assert host.ready


async def test_logs_carry_the_conversation_id(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    from voiceagent.serve import ConversationLogFilter

    handler_filter = ConversationLogFilter()
    caplog.handler.addFilter(handler_filter)
    caplog.set_level(logging.INFO, logger="voiceagent.serve")
    async with served(weather_app(emu)) as base:
        async with BrowserClient(ws_url(base), realtime=False) as client:
            conversation = client.welcome["conversation"]
            await client.wait_for("ready")
            await client.end()
            await client.wait_closed()
    ids = {getattr(r, "conversation_id", None) for r in caplog.records if "ended" in r.message}
    assert ids == {conversation}
