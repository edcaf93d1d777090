"""Agent and AgentSession end to end, text-only: the real SDK against the emulator."""

from __future__ import annotations

import json
from typing import Any

import anyio
import anyio.lowlevel
import pytest

import voiceagent
import voiceagent.errors
from voiceagent import Agent, AgentSession, tool
from voiceagent.errors import ConfigurationError
from voiceagent.events import (
    AgentTranscript,
    EndReason,
    SessionEnded,
    SessionStarted,
    ToolCallFinished,
    ToolCallStarted,
    TurnChanged,
    TurnMetrics,
)
from voiceagent.testing import Emulator, Script, ToolCall, Turn

from ..helpers import agent_transcripts, connect_args, wait_closed


class Weather(Agent):
    instructions = "You are a concise weather assistant."
    modalities = ("text",)

    @tool
    async def get_weather(self, city: str, unit: str = "c") -> dict[str, Any]:
        """Current weather for a city.

        Args:
            city: City name.
            unit: Temperature unit, c or f.
        """
        return {"city": city, "temp": 21, "unit": unit}


WEATHER_SCRIPT = Script(
    Turn(
        calls=[ToolCall("get_weather", {"city": "Paris"})],
        says=lambda ctx: f"It is {ctx.output('get_weather')['temp']} degrees in Paris.",
    )
)


async def test_text_session_answers_and_keeps_history() -> None:
    async with Emulator(speed=None, script=Script(Turn(says="Hello there!"))) as emu:
        agent = Agent(instructions="Be brief.", modalities=["text"])
        async with agent.session(**connect_args(emu)) as session:
            async with agent_transcripts(session, 1) as transcripts:
                await session.send_text("Hi!")
            assert [t.text for t in transcripts] == ["Hello there!"]
            assert session.state is voiceagent.TurnState.IDLE
        history = session.history
        assert [(m.role, m.text) for m in history] == [  # type: ignore[union-attr]
            ("user", "Hi!"),
            ("assistant", "Hello there!"),
        ]
        conn = emu.connections[0]
        await wait_closed(conn)
        update = conn.received[0]
        assert update["type"] == "session.update"
        assert update["session"]["instructions"] == "Be brief."
        assert update["session"]["modalities"] == ["text"]


async def test_tool_call_round_trip_exactly_one_output_and_one_response() -> None:
    async with Emulator(speed=None, script=WEATHER_SCRIPT) as emu:
        agent = Weather()
        seen: list[object] = []
        agent.on(ToolCallStarted)(seen.append)
        agent.on(ToolCallFinished)(seen.append)
        async with (
            agent.session(**connect_args(emu)) as session,
            agent_transcripts(session, 1) as transcripts,
        ):
            await session.send_text("Weather in Paris?")
        assert transcripts[0].text == "It is 21 degrees in Paris."
        received = [e["type"] for e in emu.connections[0].received]
        outputs = [e for e in emu.connections[0].received if _is_output(e)]
        assert len(outputs) == 1
        assert json.loads(outputs[0]["item"]["output"]) == {
            "city": "Paris",
            "temp": 21,
            "unit": "c",
        }
        after_output = received[received.index("conversation.item.create", 2) :]
        assert after_output.count("response.create") == 1
        started, finished = seen
        assert isinstance(started, ToolCallStarted)
        assert started.name == "get_weather"
        assert isinstance(finished, ToolCallFinished)
        assert finished.result == {"city": "Paris", "temp": 21, "unit": "c"}
        assert finished.error is None
        records = [e for e in session.history if isinstance(e, voiceagent.ToolCallRecord)]
        assert [r.name for r in records] == ["get_weather"]


def _is_output(event: dict[str, Any]) -> bool:
    return bool(
        event["type"] == "conversation.item.create"
        and event["item"].get("type") == "function_call_output"
    )


async def test_parallel_calls_run_concurrently_then_one_response() -> None:
    script = Script(
        Turn(
            calls=[ToolCall("slow", {"n": 1}), ToolCall("slow", {"n": 2})],
            says=lambda ctx: "done",
        )
    )
    running = 0
    peak = 0

    async with Emulator(speed=None, script=script) as emu:
        agent = Agent(modalities=["text"])

        @agent.tool
        async def slow(n: int) -> int:
            """Takes a moment."""
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await anyio.sleep(0.05)
            running -= 1
            return n * 10

        async with (
            agent.session(**connect_args(emu)) as session,
            agent_transcripts(session, 1),
        ):
            await session.send_text("go")
        events = emu.connections[0].received
        outputs = [json.loads(e["item"]["output"]) for e in events if _is_output(e)]
        assert sorted(outputs) == [10, 20]
        last_output = max(i for i, e in enumerate(events) if _is_output(e))
        creates = [i for i, e in enumerate(events) if e["type"] == "response.create"]
        assert [i for i in creates if i > last_output] == creates[-1:]
        assert len([i for i in creates if i > creates[0]]) == 1
        assert peak == 2


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"city": 5}', "city"),
        ("{}", "city"),
        ('{"city": "Paris", "planet": "Mars"}', "planet"),
        ("{not json", "JSON"),
    ],
)
async def test_bad_arguments_are_answered_and_the_tool_is_not_called(
    arguments: str, expected: str
) -> None:
    calls = 0
    script = Script(Turn(calls=[ToolCall("lookup", arguments)], says=lambda ctx: "ok"))
    async with Emulator(speed=None, script=script) as emu:
        agent = Agent(modalities=["text"])

        @agent.tool
        def lookup(city: str) -> str:
            """Look a city up.

            Args:
                city: The city.
            """
            nonlocal calls
            calls += 1
            return city

        async with (
            agent.session(**connect_args(emu)) as session,
            agent_transcripts(session, 1),
        ):
            await session.send_text("go")
        [output] = [e["item"]["output"] for e in emu.connections[0].received if _is_output(e)]
        assert expected in output
        assert calls == 0


async def test_unknown_tool_error_and_tool_error_and_crash() -> None:
    script = Script(
        Turn(
            calls=[ToolCall("nope"), ToolCall("refuse"), ToolCall("crash")],
            says=lambda ctx: "ok",
        )
    )
    async with Emulator(speed=None, script=script) as emu:
        agent = Agent(modalities=["text"])

        @agent.tool
        def refuse() -> str:
            """Refuses."""
            raise voiceagent.errors.ToolError("The booking system is closed today.")

        @agent.tool
        def crash() -> str:
            """Crashes."""
            raise RuntimeError("db password is hunter2")

        async with (
            agent.session(**connect_args(emu)) as session,
            agent_transcripts(session, 1),
        ):
            await session.send_text("go")
        outputs = {
            e["item"]["call_id"]: e["item"]["output"]
            for e in emu.connections[0].received
            if _is_output(e)
        }
        texts = sorted(outputs.values())
        assert len(texts) == 3
        assert any("nope" in text for text in texts)
        assert "The booking system is closed today." in texts
        assert not any("hunter2" in text for text in texts)


async def test_session_end_from_a_tool_ends_run() -> None:
    script = Script(Turn(calls=[ToolCall("hang_up")], says=lambda ctx: "Goodbye!"))
    async with Emulator(speed=None, script=script) as emu:
        agent = Agent(modalities=["text"])

        @agent.tool
        async def hang_up(session: AgentSession) -> str:
            """End the call."""
            session.end()
            return "ending"

        async with agent.session(**connect_args(emu)) as session:
            await session.send_text("bye")
            result = await session.wait()
        assert result.reason is EndReason.ENDED
        texts = [m.text for m in result.history if isinstance(m, voiceagent.Message)]
        assert texts[-1] == "Goodbye!"
        await wait_closed(emu.connections[0])


async def test_add_message_injects_history_without_a_response() -> None:
    async with Emulator(speed=None) as emu:
        agent = Agent(modalities=["text"])
        async with agent.session(**connect_args(emu)) as session:
            await session.add_message("user", "My name is Ada.")
            await session.add_message("assistant", "Nice to meet you, Ada.")
            await session.add_message("system", "Be formal.")
            await emu.wait_for("conversation.item.create", count=3)
            with pytest.raises(ConfigurationError, match="role"):
                await session.add_message("robot", "beep")  # type: ignore[arg-type]
        received = [e["type"] for e in emu.connections[0].received]
        assert "response.create" not in received
        roles = [
            e["item"]["role"]
            for e in emu.connections[0].received
            if e["type"] == "conversation.item.create"
        ]
        assert roles == ["user", "assistant", "system"]


async def test_events_iterator_and_lifecycle_events() -> None:
    async with Emulator(speed=None, script=Script(Turn(says="Yes."))) as emu:
        agent = Agent(modalities=["text"])
        seen: list[object] = []
        async with (
            agent.session(**connect_args(emu)) as session,
            anyio.create_task_group() as tg,
        ):

            async def collect() -> None:
                async for event in session.events():
                    seen.append(event)
                    if isinstance(event, AgentTranscript):
                        return

            tg.start_soon(collect)
            await anyio.lowlevel.checkpoint()
            await session.send_text("Really?")
        kinds = {type(e) for e in seen}
        assert AgentTranscript in kinds
        assert TurnChanged in kinds


async def test_lifecycle_handlers_see_started_and_ended() -> None:
    async with Emulator(speed=None) as emu:
        agent = Agent(modalities=["text"])
        seen: list[object] = []
        agent.on(SessionStarted)(seen.append)
        agent.on(SessionEnded)(seen.append)
        async with agent.session(**connect_args(emu)):
            pass
        assert isinstance(seen[0], SessionStarted)
        assert isinstance(seen[-1], SessionEnded)
        assert seen[-1].reason is EndReason.ENDED


async def test_one_agent_serves_concurrent_sessions() -> None:
    script = Script(Turn(says=lambda ctx: f"echo {ctx.transcript}"))
    async with Emulator(speed=None, script=script) as emu:
        agent = Agent(modalities=["text"])
        results: dict[int, str] = {}

        async def one(index: int) -> None:
            async with (
                agent.session(**connect_args(emu)) as session,
                agent_transcripts(session, 1) as transcripts,
            ):
                await session.send_text(f"call {index}")
            results[index] = transcripts[0].text

        async with anyio.create_task_group() as tg:
            for index in range(5):
                tg.start_soon(one, index)
        assert results == {i: f"echo call {i}" for i in range(5)}


async def test_history_is_injected_before_anything_else_and_text_turns_have_latency() -> None:
    async with Emulator(speed=None, script=Script(Turn(says="Welcome back, Ada."))) as emu:
        agent = Agent(modalities=["text"])
        metrics: list[TurnMetrics] = []
        agent.on(TurnMetrics)(metrics.append)
        history: list[voiceagent.Message | tuple[str, str]] = [
            ("user", "My name is Ada."),
            voiceagent.Message(role="assistant", text="Hi Ada!"),
        ]
        async with agent.session(**connect_args(emu), history=history) as session:
            async with agent_transcripts(session, 1):
                await session.send_text("Do you remember me?")
        with pytest.raises(ConfigurationError, match="role"):
            agent.session(**connect_args(emu), history=[("robot", "beep")])
        received = emu.connections[0].received
    kinds = [e["type"] for e in received]
    assert kinds[:3] == ["session.update", "conversation.item.create", "conversation.item.create"]
    assert [m.text for m in session.history][:2] == ["My name is Ada.", "Hi Ada!"]  # type: ignore[union-attr]
    assert len(metrics) == 1
    assert metrics[0].latency_s >= 0
