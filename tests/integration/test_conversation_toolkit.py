"""The testing toolkit: scripted conversations against the emulator (typed and spoken
turns, barge-ins, tools, MCP calls) and the assertions about them, whose failure messages
show the conversation."""

from __future__ import annotations

import re
from typing import Any

import anyio
import pytest

from voiceagent import Agent, tool
from voiceagent.events import UserTranscript
from voiceagent.options import McpServer
from voiceagent.testing import (
    Emulator,
    ExpectationFailed,
    McpCall,
    McpTool,
    Script,
    ToolCall,
    Turn,
    UserSays,
    run_conversation,
)
from voiceagent.testing import McpServer as ScriptedServer

STORY = (
    "Once upon a time there was a lighthouse keeper who counted every ship that passed, "
    "and every evening he wrote their names in a blue notebook by the window."
)


class Weather(Agent):
    instructions = "You are a weather assistant."
    modalities = ("text",)

    @tool
    def get_weather(self, city: str) -> dict[str, Any]:
        """Current weather for a city.

        Args:
            city: City name.
        """
        return {"city": city, "temp": 21}

    @tool
    def broken(self) -> str:
        """Always fails."""
        raise RuntimeError("database down")


WEATHER = Script(
    Turn(
        calls=[ToolCall("get_weather", {"city": "Paris"})],
        says=lambda ctx: f"It is {ctx.output('get_weather')['temp']} degrees in Paris.",
    ),
    Turn(says="You're welcome."),
)


async def test_a_typed_conversation_with_a_tool() -> None:
    result = await run_conversation(
        Weather(), WEATHER, user=["What's the weather in Paris?", "Thanks!"]
    )
    result.expect.tool_called("get_weather", city="Paris").said("21 degrees").no_errors()
    result.expect.turn(1).tool_called("get_weather").said(re.compile(r"\b21\b"))
    result.expect.turn(2).said("welcome").tool_not_called("get_weather").not_interrupted()
    result.expect.latency_within(5.0)
    assert [t.said for t in result.turns] == [["It is 21 degrees in Paris."], ["You're welcome."]]
    assert result.turns[0].latency_s is not None
    assert result.connection is not None
    assert [e["type"] for e in result.connection.received].count("response.create") == 3


async def test_a_failing_expectation_shows_the_conversation() -> None:
    result = await run_conversation(Weather(), WEATHER, user=["What's the weather in Paris?"])
    with pytest.raises(ExpectationFailed) as caught:
        result.expect.turn(1).tool_called("get_weather", city="Berlin")
    message = str(caught.value)
    assert message.startswith(
        "expected turn 1 to call get_weather(city='Berlin'); it called get_weather(city='Paris')"
    )
    assert "the conversation:\nturn 1\n  user   What's the weather in Paris?\n" in message
    assert '  tool   get_weather({"city":"Paris"}) -> {"city":"Paris","temp":21}' in message
    assert "  agent  It is 21 degrees in Paris." in message
    with pytest.raises(ExpectationFailed, match=r"expected the agent to say 'snow'.*it said"):
        result.expect.said("snow")
    with pytest.raises(ExpectationFailed, match="expected a turn 3, but the conversation had 1"):
        result.expect.turn(3)
    with pytest.raises(ExpectationFailed, match="expected the agent to be interrupted"):
        result.expect.interrupted()


async def test_tool_errors_count_as_errors_unless_told_otherwise() -> None:
    script = Script(Turn(calls=[ToolCall("broken", {})], says="Sorry."))
    result = await run_conversation(Weather(), script, user=["Break it."])
    with pytest.raises(ExpectationFailed, match="tool broken failed: Error: tool 'broken' failed"):
        result.expect.no_errors()
    result.expect.no_errors(tools=False)


async def test_latency_over_budget_fails() -> None:
    async with Emulator(speed=None, script=Script(Turn(says="Slowly."))) as emu:
        emu.faults.response_delay = 0.3
        result = await run_conversation(Weather(), user=["Hello?"], emulator=emu)
    result.expect.latency_within(5)
    with pytest.raises(
        ExpectationFailed, match=r"expected turn 1 to be answered within 0.1 s; it took 0\.3"
    ):
        result.expect.latency_within(0.1)


async def test_a_typed_barge_in_at_a_point_of_the_answer() -> None:
    script = Script(Turn(says=STORY), Turn(says="Okay, I'll stop."))
    agent = Agent(instructions="Tell stories.")  # audio and text: the answer is heard
    with anyio.fail_after(30):
        result = await run_conversation(
            agent,
            script,
            user=["Tell me a story.", UserSays("Stop, please.", interrupt_after_ms=800)],
        )
    result.expect.turn(1).interrupted(at_ms=800, tolerance_ms=200)
    result.expect.turn(2).said("stop").not_interrupted()
    [story] = result.turns[0].said
    assert STORY.startswith(story)
    assert story != STORY
    assert "(interrupting after 800 ms)" in result.render()
    with pytest.raises(ExpectationFailed, match=r"after 3000 ms \(\+/- 150\).*came after \d+ ms"):
        result.expect.turn(1).interrupted(at_ms=3000)


async def test_spoken_turns_are_heard_and_answered() -> None:
    script = Script(Turn(says=STORY), Turn(says="Okay."))
    with anyio.fail_after(30):
        result = await run_conversation(
            Agent(),
            script,
            user=["Tell me a story.", UserSays("Stop.", interrupt_after_ms=600)],
            audio=True,
        )
    heard = [e.text for e in result.events if isinstance(e, UserTranscript)]
    assert heard == ["Tell me a story.", "Stop."]
    result.expect.turn(1).interrupted(at_ms=600, tolerance_ms=250)
    result.expect.turn(2).said("okay")
    assert result.result.reason.value == "input_finished"
    assert result.connection is not None
    assert result.connection.audio_received_bytes > 0


async def test_mcp_calls_are_asserted() -> None:
    server = ScriptedServer("docs", tools=[McpTool("search", output="Voice Live is a service.")])
    script = Script(
        Turn(mcp_calls=[McpCall("docs", "search", {"q": "voice live"})], says="It is a service."),
        mcp_servers=[server],
    )
    agent = Agent(
        modalities=["text"],
        mcp_servers=[McpServer("docs", "https://docs.example/mcp", require_approval="never")],
    )
    result = await run_conversation(agent, script, user=["What is Voice Live?"])
    result.expect.mcp_called("docs", "search", q="voice live").said("service").no_errors()
    assert "  mcp    docs.search(" in result.render()
    with pytest.raises(ExpectationFailed, match=r"docs\.search\(q='x'\); the calls were"):
        result.expect.mcp_called("docs", "search", q="x")


async def test_a_turn_that_never_ends_fails_with_the_conversation_so_far() -> None:
    class Stuck(Agent):
        modalities = ("text",)

        @tool(timeout=None)
        async def wait_forever(self) -> str:
            """Never returns."""
            await anyio.sleep_forever()
            return ""

    script = Script(Turn(calls=[ToolCall("wait_forever", {})], says="Done."))
    with pytest.raises(AssertionError, match=r"turn 1 was not answered within 0.5 s") as caught:
        await run_conversation(Stuck(), script, user=["Go."], turn_timeout=0.5)
    assert "user   Go." in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"user": "Hello"}, "list of turns"),
        ({"user": [42]}, "str or UserSays"),
        ({"user": ["Hi"], "sink": None}, "sets sink itself"),
    ],
)
async def test_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    from voiceagent.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=message):
        await run_conversation(Agent(), **kwargs)


def test_bad_user_turns() -> None:
    from voiceagent.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="non-empty"):
        UserSays(" ")
    with pytest.raises(ConfigurationError, match="interrupt_after_ms"):
        UserSays("Stop", interrupt_after_ms=-1)
