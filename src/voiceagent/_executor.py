"""The one place where the turn machine's actions happen.

:meth:`Executor.execute` carries out a list of actions synchronously: client events are
posted to the :class:`~voiceagent._wire.Uplink` (sent in order by the connection's
writer), audio goes to the :class:`~voiceagent._player.Player`, tools start in the
session's task group, and events go to the history and the
:class:`~voiceagent._fanout.EventBus`. Because nothing here awaits, the actions of one
input are never interleaved with another's.

:class:`ToolRunner` runs one tool call and feeds its outcome back; over-long outputs are
replaced by an error the model can act on.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any

import anyio

from . import _turns as t
from ._history import ToolCallRecord
from ._invoke import ToolOutcome
from ._tools import ToolContext
from ._translate import ItemCreated
from ._wire import check_echo
from .errors import ConfigurationError
from .events import (
    AgentTranscript,
    Event,
    Interrupted,
    ToolCallFinished,
    ToolCallStarted,
    TurnChanged,
    TurnMetrics,
    UserTranscript,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from anyio.abc import TaskGroup

    from ._fanout import EventBus
    from ._history import History, HistoryFact
    from ._player import Player
    from ._session import AgentSession
    from ._tools import ToolRegistry
    from ._wire import Uplink

__all__ = ["Executor", "ToolRunner", "cap_output"]

log = logging.getLogger("voiceagent.tools")


def message_item(role: str, text: str) -> dict[str, Any]:
    """The ``conversation.item.create`` item of a text message, as the SDK writes it."""
    kind = "text" if role == "assistant" else "input_text"
    return {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}


def cap_output(outcome: ToolOutcome, name: str, call_id: str, limit: int) -> ToolOutcome:
    """``outcome``, or an error outcome if its output is longer than ``limit`` characters
    or too large for the service to echo back.

    The model is told what happened (so it can say so, or call again more narrowly); the
    application gets a warning in the log and the original result in
    :class:`~voiceagent.events.ToolCallFinished`.
    """
    size = len(outcome.output)
    reason: str | None = None
    if size > limit:
        reason = f"{size:,} characters, more than the {limit:,} this agent sends to the model"
    else:
        try:
            check_echo({"type": "function_call_output", "output": outcome.output}, "output")
        except ConfigurationError:
            reason = f"{size:,} characters, too large to send to Voice Live"
    if reason is None:
        return outcome
    log.warning(
        "Tool %r (call_id=%s) returned %s (Agent.max_tool_output_chars); the model was told "
        "instead",
        name,
        call_id,
        reason,
    )
    message = (
        f"Error: tool {name!r} returned {reason}, so its result was not sent; ask for less "
        "(a narrower query, fewer items)."
    )
    return ToolOutcome(output=message, result=outcome.result, error=message)


class ToolRunner:
    """Runs the session's tool calls in its task group, one task per call.

    Args:
        tools: The agent's tools.
        session: The session (for :class:`~voiceagent.ToolContext`).
        max_output_chars: The longest output sent to the model.
        finished: Called with the machine input when a call ends.
        publish: Publishes an event.
    """

    def __init__(
        self,
        tools: ToolRegistry,
        session: AgentSession,
        *,
        max_output_chars: int,
        finished: Callable[[t.ToolFinished], None],
        publish: Callable[[Event], None],
    ) -> None:
        self._tools = tools
        self._session = session
        self._limit = max_output_chars
        self._finished = finished
        self._publish = publish
        self._scopes: dict[str, anyio.CancelScope] = {}
        self.task_group: TaskGroup | None = None

    @property
    def running(self) -> int:
        """How many calls are running."""
        return len(self._scopes)

    def start(self, call: t.StartTool) -> None:
        """Start a call in the task group."""
        assert self.task_group is not None
        scope = anyio.CancelScope()
        self._scopes[call.item_id] = scope
        self.task_group.start_soon(self._run, call, scope)

    def cancel(self, item_id: str) -> None:
        """Cancel a running call (its output was sent already)."""
        scope = self._scopes.pop(item_id, None)
        if scope is not None:
            scope.cancel()

    async def _run(self, call: t.StartTool, scope: anyio.CancelScope) -> None:
        context = ToolContext(
            session=self._session, call_id=call.call_id, name=call.name, arguments=call.arguments
        )
        self._publish(
            ToolCallStarted(
                call_id=call.call_id, name=call.name, arguments=call.arguments, item_id=call.item_id
            )
        )
        started = anyio.current_time()
        with scope:
            outcome = await self._tools.invoke(call.name, call.arguments, context)
        if scope.cancelled_caught or self._scopes.pop(call.item_id, None) is None:
            return
        outcome = cap_output(outcome, call.name, call.call_id, self._limit)
        self._finished(
            t.ToolFinished(item_id=call.item_id, output=outcome.output, error=not outcome.ok)
        )
        self._publish(
            ToolCallFinished(
                call_id=call.call_id,
                name=call.name,
                arguments=call.arguments,
                result=outcome.result,
                output=outcome.output,
                error=outcome.error,
                duration_s=anyio.current_time() - started,
                item_id=call.item_id,
            )
        )


class Executor:
    """Carries out the turn machine's actions for one session.

    Args:
        uplink: The way to the service (posts go nowhere while reconnecting).
        player: The agent's audio on its way to the sink.
        tools: The tool runner.
        bus: The event fan-out.
        history: The conversation's history.
        track: Gives an ``event_id`` for a request whose failure the machine must hear of
            (called with ``"commit"`` or ``"create"``).
        committed: Called when the input audio is committed (the uncommitted count resets).
        wake: Wakes the session's clock (the turn changed).
    """

    def __init__(
        self,
        *,
        uplink: Uplink,
        player: Player,
        tools: ToolRunner,
        bus: EventBus,
        history: History,
        track: Callable[[str], str],
        committed: Callable[[], None],
        wake: Callable[[], None],
    ) -> None:
        self._wire = uplink
        self._player = player
        self._tools = tools
        self._bus = bus
        self._history = history
        self._track = track
        self._committed = committed
        self._wake = wake

    def publish(self, event: Event) -> None:
        """Record ``event`` in the history (if it belongs there) and publish it."""
        if isinstance(event, UserTranscript | AgentTranscript):
            self.remember(event)
        self._bus.publish(event)

    def remember(self, fact: HistoryFact) -> None:
        """Write one fact to the history: the only writer."""
        self._history.apply(fact)

    def execute(self, actions: list[t.Action]) -> None:
        """Carry out ``actions``, in order, without waiting for anything."""
        for action in actions:
            handler = _HANDLERS.get(type(action))
            if handler is None:  # pragma: no cover - every action type has a handler
                raise AssertionError(f"unhandled turn action {action!r}")
            handler(self, action)

    def _play(self, action: t.PlayAudio) -> None:
        self._player.enqueue(action.data)

    def _end_audio(self, action: t.EndOfAudio) -> None:
        self._player.end_item()

    def _clear(self, action: t.ClearPlayback) -> None:
        self._player.clear()

    def _pause(self, action: t.PausePlayback) -> None:
        self._player.pause()

    def _resume(self, action: t.ResumePlayback) -> None:
        self._player.resume()

    def _cancel(self, action: t.CancelResponse) -> None:
        self._wire.post({"type": "response.cancel", "response_id": action.response_id})

    def _truncate(self, action: t.Truncate) -> None:
        self._wire.post(
            {
                "type": "conversation.item.truncate",
                "item_id": action.item_id,
                "content_index": action.content_index,
                "audio_end_ms": action.audio_end_ms,
            }
        )

    def _start_tool(self, action: t.StartTool) -> None:
        self._tools.start(action)

    def _cancel_tool(self, action: t.CancelTool) -> None:
        self._tools.cancel(action.item_id)

    def _tool_output(self, action: t.SendToolOutput) -> None:
        self._wire.post(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": action.call_id,
                    "output": action.output,
                },
            }
        )
        self.remember(
            ToolCallRecord(
                call_id=action.call_id,
                name=action.name,
                arguments=action.arguments,
                output=action.output,
                error=action.output if action.error else None,
                item_id=action.item_id or None,
            )
        )

    def _create(self, action: t.CreateResponse) -> None:
        # The machine counts on what the service does by default: a new response cancels
        # the one still due before it (said here, so that it does not hang on a default).
        response: dict[str, Any] = {"cancel_previous": True}
        if action.message is not None:
            response["pre_generated_assistant_message"] = message_item("assistant", action.message)
        self._wire.post(
            {"type": "response.create", "event_id": self._track("create"), "response": response}
        )

    def _commit(self, action: t.CommitInput) -> None:
        self._wire.post({"type": "input_audio_buffer.commit", "event_id": self._track("commit")})
        self._committed()

    def _add_message(self, action: t.AddMessage) -> None:
        # Our own id (the service keeps a client's): the history holds the message from
        # now on, so a connection lost before the service echoed it loses nothing.
        item_id = f"item_va{secrets.token_hex(9)}"
        self.remember(
            ItemCreated(
                item_id=item_id,
                previous_item_id=None,
                kind="message",
                role=action.role,
                text=action.text,
            )
        )
        item = {"id": item_id, **message_item(action.role, action.text)}
        self._wire.post({"type": "conversation.item.create", "item": item})

    def _transcript(self, action: t.AgentTranscriptFinal) -> None:
        self.publish(
            AgentTranscript(
                item_id=action.item_id, text=action.text, interrupted=action.interrupted
            )
        )

    def _turn(self, action: t.TurnChanged) -> None:
        self._bus.publish(TurnChanged(old=action.old, new=action.new))
        self._wake()

    def _interrupted(self, action: t.AgentInterrupted) -> None:
        self._bus.publish(Interrupted(item_id=action.item_id, heard_ms=action.heard_ms))

    def _answer_started(self, action: t.AnswerStarted) -> None:
        self._bus.publish(TurnMetrics(response_id=action.response_id, latency_s=action.latency_s))


_HANDLERS: dict[type[t.Action], Callable[[Executor, Any], None]] = {
    t.PlayAudio: Executor._play,
    t.EndOfAudio: Executor._end_audio,
    t.ClearPlayback: Executor._clear,
    t.PausePlayback: Executor._pause,
    t.ResumePlayback: Executor._resume,
    t.CancelResponse: Executor._cancel,
    t.Truncate: Executor._truncate,
    t.StartTool: Executor._start_tool,
    t.CancelTool: Executor._cancel_tool,
    t.SendToolOutput: Executor._tool_output,
    t.CreateResponse: Executor._create,
    t.CommitInput: Executor._commit,
    t.AddMessage: Executor._add_message,
    t.AgentTranscriptFinal: Executor._transcript,
    t.TurnChanged: Executor._turn,
    t.AgentInterrupted: Executor._interrupted,
    t.AnswerStarted: Executor._answer_started,
}
