"""Typing checks for the event router, verified by mypy --strict in CI (not run by pytest).

Each ``assert_type`` states what mypy must infer; ``tests/test_typing.py`` checks that
mistakes (a handler of the wrong event type) fail to type-check.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, assert_type

from azure.ai.voicelive.models import ServerEventResponseDone

from voiceagent import Agent, AgentSession, TurnState, on
from voiceagent.events import AgentTranscript, Event, UserTranscript

agent = Agent()


@agent.on(UserTranscript)
def show(event: UserTranscript) -> None:
    print(event.text)


assert_type(show, Callable[[UserTranscript], None])


@agent.on(AgentTranscript)
async def show_agent(event: AgentTranscript) -> None:
    print(event.text, event.interrupted)


assert_type(show_agent, Callable[[AgentTranscript], Coroutine[Any, Any, None]])


# The parameter of an unannotated lambda is inferred from the event class.
agent.on(UserTranscript)(lambda event: print(event.text.upper()))

# A handler for a base class accepts every subclass event.
agent.on(UserTranscript)(lambda event: print(event.item_id))


@agent.on(Event)
def any_event(event: Event) -> None:
    print(type(event).__name__)


@agent.on(ServerEventResponseDone)
def done(event: ServerEventResponseDone) -> None:
    print(event.response.id)


@agent.on("response.audio.delta")
def raw(event: Any) -> None:
    print(event)


class Desk(Agent):
    @on(UserTranscript)
    async def heard(self, event: UserTranscript) -> None:
        print(event.text)


assert_type(Desk.heard, Callable[[Desk, UserTranscript], Coroutine[Any, Any, None]])


# A handler may take the session it happened in, typed.
@agent.on(UserTranscript)
async def reply(event: UserTranscript, session: AgentSession) -> None:
    await session.say(f"You said {event.text}")


assert_type(reply, Callable[[UserTranscript, AgentSession], Coroutine[Any, Any, None]])
agent.on(AgentTranscript)(lambda event, session: session.end())


class Polite(Agent):
    @on(UserTranscript)
    def heard(self, event: UserTranscript, session: AgentSession) -> None:
        session.end()


# session() and run() take the session options as typed keyword arguments.
session = agent.session(temperature=0.7, voice="alloy", sink=None)
assert_type(session, AgentSession)
assert_type(session.state, TurnState)
