"""The typed event router end to end: handler kinds, order, errors, inheritance."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest
from azure.ai.voicelive.models import ServerEvent, ServerEventResponseDone

from voiceagent import Agent, on
from voiceagent.errors import HandlerError
from voiceagent.events import (
    AgentTranscript,
    AgentTranscriptDelta,
    EndReason,
    Event,
    SessionEnded,
    TurnChanged,
)
from voiceagent.testing import Emulator, Script, Turn

from ..helpers import agent_transcripts, connect_args


async def one_turn(agent: Agent, says: str = "Hello.") -> None:
    async with (
        Emulator(speed=None, script=Script(Turn(says=says))) as emu,
        agent.session(**connect_args(emu)) as session,
        agent_transcripts(session, 1),
    ):
        await session.send_text("hi")


async def test_sync_and_async_handlers_run_in_registration_order() -> None:
    agent = Agent(modalities=["text"])
    calls: list[str] = []

    @agent.on(AgentTranscript)
    def first(event: AgentTranscript) -> None:
        calls.append(f"sync {event.text}")

    @agent.on(AgentTranscript)
    async def second(event: AgentTranscript) -> None:
        calls.append(f"async {event.text}")

    @agent.on(Event)
    def third(event: Event) -> None:
        if isinstance(event, AgentTranscript):
            calls.append("base class")

    await one_turn(agent)
    assert calls == ["sync Hello.", "async Hello.", "base class"]


async def test_sdk_event_classes_and_type_strings() -> None:
    agent = Agent(modalities=["text"])
    seen: list[str] = []
    agent.on(ServerEventResponseDone)(lambda event: seen.append(f"class {event.response.status}"))
    agent.on("response.done")(lambda event: seen.append("string"))
    agent.on("response.text.delta")(lambda event: seen.append("delta"))
    every: list[Any] = []
    agent.on(ServerEvent)(every.append)
    await one_turn(agent, says="One two three.")
    assert seen.count("string") == 1
    done = seen.index("string")
    # Class handler first (registered first), then the string handler, for the same event.
    assert seen[done - 1] == "class ResponseStatus.COMPLETED"
    assert seen.count("delta") >= 1
    assert {type(e).__name__ for e in every} >= {
        "ServerEventResponseCreated",
        "ServerEventResponseDone",
    }


async def test_a_failing_handler_is_logged_and_the_session_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    agent = Agent(modalities=["text"])
    after: list[str] = []

    @agent.on(AgentTranscriptDelta)
    def broken(event: AgentTranscriptDelta) -> None:
        raise ValueError("handler bug")

    agent.on(AgentTranscript)(lambda event: after.append(event.text))
    with caplog.at_level(logging.ERROR, logger="voiceagent.router"):
        await one_turn(agent)
    assert after == ["Hello."]
    assert "broken" in caplog.text
    assert "ValueError: handler bug" in caplog.text  # the traceback is logged


async def test_fatal_handler_errors_end_the_session() -> None:
    agent = Agent(modalities=["text"], fatal_handler_errors=True)
    ended: list[SessionEnded] = []
    agent.on(SessionEnded)(ended.append)

    @agent.on(AgentTranscriptDelta)
    def broken(event: AgentTranscriptDelta) -> None:
        raise ValueError("handler bug")

    async def run() -> None:
        async with agent.session(**connect_args(emu)) as session:
            await session.send_text("hi")
            await session.wait()

    async with Emulator(speed=None, script=Script(Turn(says="Hello."))) as emu:
        with pytest.raises(HandlerError, match="broken") as info:
            await run()
    assert isinstance(info.value.__cause__, ValueError)
    assert ended[0].reason is EndReason.ERROR


class Base(Agent):
    modalities = ("text",)
    log: list[str]

    def __init__(self) -> None:
        super().__init__()
        self.log = []

    @on(AgentTranscript)
    def record(self, event: AgentTranscript) -> None:
        self.log.append(f"base {event.text}")

    @on(TurnChanged)
    async def turns(self, event: TurnChanged) -> None:
        self.log.append("turn")


class Derived(Base):
    @on(AgentTranscript)
    def record(self, event: AgentTranscript) -> None:
        self.log.append(f"derived {event.text}")


class Silent(Base):
    def turns(self, event: TurnChanged) -> None:  # type: ignore[override]
        """No longer a handler: overridden without @on."""


async def test_method_handlers_are_inherited_and_overridable() -> None:
    base, derived, silent = Base(), Derived(), Silent()
    for agent in (base, derived, silent):
        await one_turn(agent)
    assert "base Hello." in base.log
    assert "turn" in base.log
    assert "derived Hello." in derived.log
    assert "base Hello." not in derived.log
    assert "turn" in derived.log
    assert "turn" not in silent.log
    assert "base Hello." in silent.log


def test_bad_registrations_fail_at_once() -> None:
    agent = Agent()
    with pytest.raises(TypeError, match="event class or an event type string"):
        agent.on(42)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="empty"):
        agent.on("")


async def test_one_agent_two_conversations_and_handlers_that_know_theirs() -> None:
    from voiceagent import AgentSession
    from voiceagent.events import AgentTranscript, UserTranscript

    script = Script(Turn(hears="Hi", says="Hello."), Turn(hears="Bye", says="Goodbye."))
    agent = Agent(modalities=["text"])
    seen: list[tuple[str | None, str]] = []

    @agent.on(AgentTranscript)
    def record(event: AgentTranscript, session: AgentSession) -> None:
        seen.append((session.session_id, event.text))
        if event.text == "Goodbye.":
            session.end()

    async with Emulator(speed=None, script=script) as emu:
        async with (
            agent.session(**connect_args(emu)) as first,
            agent.session(**connect_args(emu)) as second,
        ):
            only_first: list[str] = []
            first.on(UserTranscript)(lambda event: only_first.append(event.text))
            first.on(AgentTranscript)(lambda event: only_first.append(event.text))
            async with agent_transcripts(first, 1), agent_transcripts(second, 1):
                await first.send_text("Hi")
                await second.send_text("Hi")
            await first.send_text("Bye")
            with anyio.fail_after(10):
                result = await first.wait()
            assert second.status.value == "active"  # the other conversation goes on
    assert result.reason.value == "ended"
    assert first.session_id != second.session_id
    assert sorted(seen) == sorted(
        [
            (first.session_id, "Hello."),
            (second.session_id, "Hello."),
            (first.session_id, "Goodbye."),
        ]
    )
    assert only_first == ["Hello.", "Goodbye."]
