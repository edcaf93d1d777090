"""What a session records about itself: the report's timeline, and its spans and metrics.

The :class:`Recorder` watches the session's events as they are published, synchronously
(the session's event bus calls :meth:`Recorder.event` and :meth:`Recorder.wire`), so its
times are the moments the session learnt things, it misses nothing however slow the
application's handlers are, and it never waits: each event costs a dictionary lookup and
a few assignments. From them it keeps turns (with their states, responses, tool calls and
interruptions), reconnections and service errors, and hands the same facts to the
OpenTelemetry side (:class:`~voiceagent._telemetry.Instrumentation`).

How turns are told apart, from the turn machine's own changes (``TurnChanged``):

- the user starting to speak starts a turn (``speech``); speech while the agent holds the
  turn with a confirmation window starts one only once the machine confirms it
  (``confirming → user_speaking``), at the moment the speech began. The window resuming
  the agent instead (``confirming`` → anything else, then ``UserSpeechStopped``) is a
  false interruption;
- the agent leaving ``idle`` for anything else starts a turn (``request``: text, ``say``,
  a greeting), and so does a new request right after an interruption;
- ``idle`` ends the turn, and so does the next turn's start.

Tool calls: the session publishes ``ToolCallStarted`` and ``ToolCallFinished`` from the
call's own task, so the tool's span is made current there (spans the tool's own code
creates nest under it), and a call whose task ends without ``ToolCallFinished`` was
cancelled (its task's done callback says when).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime
import logging
import time
from typing import TYPE_CHECKING, Any, Final

from ._report import (
    ReconnectReport,
    ReportSummary,
    ServiceErrorReport,
    UsageReport,
    percentile,
)
from ._telemetry import Instrumentation
from ._timeline import (
    ReconnectRecord,
    Recording,
    ResponseRecord,
    ToolRecord,
    TurnRecord,
    describe,
    turn_report,
    usage_from_wire,
)
from ._turns import TurnState
from .events import (
    AgentTranscript,
    EndReason,
    Interrupted,
    Reconnected,
    Reconnecting,
    ServiceErrorReported,
    SessionEnded,
    SessionStarted,
    ToolCallFinished,
    ToolCallStarted,
    TurnChanged,
    TurnMetrics,
    UserSpeechStarted,
    UserSpeechStopped,
    UserTranscript,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from ._telemetry import Telemetry
    from ._translate import Raw

__all__ = ["Recorder"]

log = logging.getLogger("voiceagent.telemetry")

_IDLE, _USER, _CONFIRMING, _THINKING = (
    TurnState.IDLE,
    TurnState.USER_SPEAKING,
    TurnState.CONFIRMING,
    TurnState.THINKING,
)
_FAILED_ENDS: Final = frozenset({EndReason.ERROR, EndReason.CONNECTION_LOST})
_MAX_OPEN_RESPONSES: Final = 256
"""Responses created and not done yet that are remembered (the service has a few at a
time; more means it stopped sending ``response.done``: the oldest are forgotten)."""


class Recorder:
    """One session's recording. Made by :meth:`create`; the session's event bus feeds it.

    Args:
        settings: What to record.
        agent: The agent's class name.
        model: The model.
        instrumentation: The OpenTelemetry side, or None.
    """

    def __init__(
        self,
        settings: Telemetry,
        *,
        agent: str,
        model: str | None,
        instrumentation: Instrumentation | None,
    ) -> None:
        self._agent = agent
        self._model = model
        self._limit = settings.report_turns
        self._otel = instrumentation
        self._t0 = time.monotonic_ns()
        self._epoch0 = time.time_ns()
        self._started = False
        self._turns: collections.deque[TurnRecord] = collections.deque()
        self._turn_count = 0
        self._by_item: dict[str, TurnRecord] = {}
        self._turn: TurnRecord | None = None
        self._tentative: tuple[int, str | None] | None = None
        """When speech in a confirmation window began (and its item), until decided."""
        self._pending_false = False
        self._after_interrupt = False
        self._responses: dict[str, ResponseRecord] = {}
        self._tools: dict[str, ToolRecord] = {}
        self._reconnects: collections.deque[ReconnectRecord] = collections.deque(maxlen=self._limit)
        self._reconnect: ReconnectRecord | None = None
        self._errors: collections.deque[ServiceErrorReport] = collections.deque(maxlen=self._limit)
        self._session_id: str | None = None
        self._ended: int | None = None
        self._end_reason: EndReason | None = None
        self._error: str | None = None
        self._usage = UsageReport()
        self._counts = collections.Counter[str]()
        self._handlers: dict[type, Callable[[Any, int], None]] = {
            TurnChanged: self._on_turn_changed,
            UserSpeechStarted: self._on_speech_started,
            UserSpeechStopped: self._on_speech_stopped,
            UserTranscript: self._on_user_transcript,
            AgentTranscript: self._on_agent_transcript,
            TurnMetrics: self._on_metrics,
            Interrupted: self._on_interrupted,
            ToolCallStarted: self._on_tool_started,
            ToolCallFinished: self._on_tool_finished,
            Reconnecting: self._on_reconnecting,
            Reconnected: self._on_reconnected,
            ServiceErrorReported: self._on_service_error,
            SessionStarted: self._on_session_started,
            SessionEnded: self._on_session_ended,
        }
        self._wire_handlers: dict[str, Callable[[Raw, int], None]] = {
            "response.created": self._on_response_created,
            "response.output_item.added": self._on_output_item,
            "response.done": self._on_response_done,
            "conversation.item.created": self._on_item_created,
        }

    @classmethod
    def create(cls, settings: Telemetry, *, agent: str, model: str | None) -> Recorder | None:
        """The recorder ``settings`` ask for, or None when they ask for nothing."""
        instrumentation = Instrumentation.create(settings, agent=agent, model=model)
        if instrumentation is None and not settings.report:
            return None
        return cls(settings, agent=agent, model=model, instrumentation=instrumentation)

    # -- what the session calls ----------------------------------------------------------------

    def event(self, event: object) -> None:
        """A voiceagent event was published (called synchronously; never raises)."""
        handler = self._handlers.get(type(event))
        if handler is not None:
            self._call(handler, event)

    def wire(self, raw: Raw, kind: str) -> None:
        """A wire event arrived (called synchronously for every one; never raises)."""
        handler = self._wire_handlers.get(kind)
        if handler is not None:
            self._call(handler, raw)

    def _call(self, handler: Callable[[Any, int], None], arg: object) -> None:
        try:
            handler(arg, time.monotonic_ns())
        except Exception:
            # Telemetry must never cost a conversation: log, and go on.
            log.exception("voiceagent telemetry failed on %r", type(arg).__name__)

    @contextlib.contextmanager
    def conversation(self) -> Iterator[None]:
        """The conversation starts: while in this block (the session connecting and starting
        its loops, whose tasks copy the context), its span is the current span, so the Voice
        Live SDK's own spans and anything the loops start nest under it."""
        self._t0 = now = time.monotonic_ns()
        self._epoch0 = time.time_ns()
        self._started = True
        otel = self._otel
        token = None
        if otel is not None:
            otel.start_conversation(self._ns(now), {})
            otel.point("voiceagent.sessions.active", 1)
            token = otel.attach_conversation()
        try:
            yield
        finally:
            if token is not None:
                Instrumentation.detach(token)

    def recording(self) -> Recording:
        """A snapshot of what was recorded so far."""
        now = self._ended if self._ended is not None else time.monotonic_ns()
        turns = tuple(turn_report(turn, self._s) for turn in self._turns)
        latencies = [turn.latency_s for turn in turns if turn.latency_s is not None]
        counts = self._counts
        summary = ReportSummary(
            turns=self._turn_count,
            dropped_turns=self._turn_count - len(self._turns),
            latency_p50_s=percentile(latencies, 0.5),
            latency_p95_s=percentile(latencies, 0.95),
            latency_max_s=max(latencies, default=None),
            interruptions=counts["interruptions"],
            false_interruptions=counts["false_interruptions"],
            tool_calls=counts["tool_calls"],
            tool_errors=counts["tool_errors"],
            reconnects=counts["reconnects"],
            service_errors=counts["service_errors"],
            usage=self._usage,
        )
        started = datetime.datetime.fromtimestamp(self._epoch0 / 1e9, tz=datetime.UTC)
        return Recording(
            agent=self._agent,
            model=self._model,
            session_id=self._session_id,
            started_at=started.isoformat(timespec="milliseconds"),
            duration_s=self._s(now),
            end_reason=None if self._end_reason is None else self._end_reason.value,
            error=self._error,
            summary=summary,
            turns=turns,
            reconnects=tuple(
                ReconnectReport(
                    started_s=self._s(r.started),
                    attempts=r.attempts,
                    reason=r.reason,
                    gap_ms=r.gap_ms,
                    replayed_items=r.replayed_items,
                )
                for r in self._reconnects
            ),
            service_errors=tuple(self._errors),
        )

    # -- times -------------------------------------------------------------------------------

    def _s(self, at: int) -> float:
        """Seconds since the conversation started."""
        return (at - self._t0) / 1e9

    def _ns(self, at: int) -> int:
        """Nanoseconds since the epoch (for spans)."""
        return self._epoch0 + (at - self._t0)

    # -- turns -------------------------------------------------------------------------------

    def _on_turn_changed(self, event: TurnChanged, now: int) -> None:
        old, new = event.old, event.new
        turn = self._turn
        if turn is not None and turn.states and turn.states[-1][2] is None:
            turn.states[-1][2] = now
        after_interrupt, self._after_interrupt = self._after_interrupt, False
        self._pending_false = False
        if new is _CONFIRMING:
            self._tentative = (now, None)
        elif old is _CONFIRMING:
            began, item = self._tentative or (now, None)
            self._tentative = None
            if new is _USER:
                confirming = turn is not None and turn.states and turn.states[-1][0] == "confirming"
                moved = turn.states.pop() if turn is not None and confirming else None
                turn = self._begin(began, "speech")
                if item is not None:
                    self._remember(turn, item, user=True)
                if moved is not None:
                    turn.states.append(moved)
            else:
                self._pending_false = True  # a false interruption, if the speech stopped
        elif new is _USER or (
            new is not _IDLE and (old is _IDLE or (after_interrupt and new is _THINKING))
        ):
            turn = self._begin(now, "speech" if new is _USER else "request")
        if new is _IDLE:
            self._end_turn(now)
        elif turn is not None:
            turn.states.append([new.value, now, None])

    def _begin(self, at: int, trigger: str) -> TurnRecord:
        self._end_turn(at)
        self._turn_count += 1
        turn = TurnRecord(index=self._turn_count, trigger=trigger, started=at)
        self._turns.append(turn)
        if len(self._turns) > self._limit:
            dropped = self._turns.popleft()
            for item_id in dropped.items:
                self._by_item.pop(item_id, None)
        self._turn = turn
        otel = self._otel
        if otel is not None:
            turn.span = otel.start_span(
                "voiceagent.turn",
                self._ns(at),
                {"voiceagent.turn.index": turn.index, "voiceagent.turn.trigger": trigger},
            )
        return turn

    def _end_turn(self, at: int) -> None:
        turn, self._turn = self._turn, None
        if turn is None:
            return
        turn.ended = at
        if turn.states and turn.states[-1][2] is None:
            turn.states[-1][2] = at
        span = turn.span
        if span is not None:
            turn.span = None
            span.set_attributes(_turn_attributes(turn, self._otel))
            Instrumentation.end_span(span, self._ns(at))

    def _on_speech_started(self, event: UserSpeechStarted, now: int) -> None:
        if self._tentative is not None:
            self._tentative = (self._tentative[0], event.item_id)
            return
        turn = self._turn
        if turn is not None and turn.trigger == "speech" and turn.user_item_id is None:
            self._remember(turn, event.item_id, user=True)

    def _remember(self, turn: TurnRecord, item_id: str, *, user: bool = False) -> None:
        if user:
            turn.user_item_id = item_id
        turn.items.append(item_id)
        self._by_item[item_id] = turn

    def _on_speech_stopped(self, event: UserSpeechStopped, now: int) -> None:
        if self._pending_false:
            self._pending_false = False
            self._counts["false_interruptions"] += 1
            turn = self._turn
            if turn is not None:
                turn.false_interruptions += 1
            otel = self._otel
            if otel is not None:
                otel.point("voiceagent.false_interruptions", 1)
                otel.event(
                    turn.span if turn else otel.conversation,
                    "voiceagent.false_interruption",
                    self._ns(now),
                    {},
                )
            return
        turn = self._by_item.get(event.item_id)
        if turn is not None:
            turn.speech_stopped = now

    def _on_user_transcript(self, event: UserTranscript, now: int) -> None:
        turn = self._by_item.get(event.item_id)
        if turn is not None:
            turn.user_text = event.text

    def _on_agent_transcript(self, event: AgentTranscript, now: int) -> None:
        # An interrupted answer's text may come after the next turn began.
        turn = self._by_item.get(event.item_id) or self._turn
        if turn is not None and event.text:
            turn.agent_texts.append(event.text)

    def _on_metrics(self, event: TurnMetrics, now: int) -> None:
        response = self._responses.get(event.response_id)
        if response is not None:
            response.latency_s = event.latency_s
        turn = response.turn if response is not None else self._turn
        if turn is not None and turn.latency_s is None:
            turn.latency_s = event.latency_s
        otel = self._otel
        if otel is not None:
            otel.point("voiceagent.turn.latency", event.latency_s)
            if response is not None and response.span is not None:
                response.span.set_attribute("voiceagent.turn.latency", event.latency_s)

    def _on_interrupted(self, event: Interrupted, now: int) -> None:
        self._counts["interruptions"] += 1
        self._after_interrupt = True
        turn = self._turn
        if turn is not None and turn.interrupted is None:
            turn.interrupted = now
            turn.heard_ms = event.heard_ms
        otel = self._otel
        if otel is not None:
            otel.point("voiceagent.interruptions", 1)
            otel.event(
                turn.span if turn else otel.conversation,
                "voiceagent.interrupted",
                self._ns(now),
                {"voiceagent.heard_ms": event.heard_ms},
            )

    # -- responses (wire events) -----------------------------------------------------------------

    def _on_response_created(self, raw: Raw, now: int) -> None:
        body = raw.get("response")
        response_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(response_id, str):
            return
        turn = self._turn
        response = ResponseRecord(id=response_id, created=now, turn=turn)
        if turn is not None:
            turn.responses.append(response)
        if len(self._responses) >= _MAX_OPEN_RESPONSES:
            del self._responses[next(iter(self._responses))]
        self._responses[response_id] = response
        otel = self._otel
        if otel is not None:
            response.span = otel.start_span(
                f"chat {self._model}" if self._model else "chat",
                self._ns(now),
                {
                    **otel.attributes,
                    "gen_ai.operation.name": "chat",
                    "gen_ai.system": "az.ai.voicelive",
                    "gen_ai.response.id": response_id,
                },
                parent=turn.span if turn else None,
                client=True,
            )

    def _on_item_created(self, raw: Raw, now: int) -> None:
        """A typed user message (``send_text``): the text of the turn it started."""
        turn = self._turn
        if turn is None or turn.trigger != "request" or turn.user_item_id is not None:
            return
        item = raw.get("item")
        if not isinstance(item, dict) or item.get("role") != "user":
            return
        content = item.get("content")
        parts = content if isinstance(content, list) else []
        texts = [
            part["text"]
            for part in parts
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
        item_id = item.get("id")
        if texts and isinstance(item_id, str):
            self._remember(turn, item_id, user=True)
            turn.user_text = " ".join(texts)

    def _on_output_item(self, raw: Raw, now: int) -> None:
        response_id, item = raw.get("response_id"), raw.get("item")
        item_id = item.get("id") if isinstance(item, dict) else None
        response = self._responses.get(response_id) if isinstance(response_id, str) else None
        if response is not None and response.turn is not None and isinstance(item_id, str):
            self._remember(response.turn, item_id)

    def _on_response_done(self, raw: Raw, now: int) -> None:
        body = raw.get("response")
        if not isinstance(body, dict):
            return
        response_id = body.get("id")
        response = self._responses.pop(response_id, None) if isinstance(response_id, str) else None
        status = body.get("status")
        status = status if isinstance(status, str) else None
        usage = usage_from_wire(body.get("usage"))
        if usage is not None:
            self._usage = self._usage + usage
        if response is not None:
            response.done, response.status, response.usage = now, status, usage
        otel = self._otel
        if otel is None:
            return
        extra = {"voiceagent.response.status": status or "unknown"}
        if response is not None:
            otel.point("voiceagent.response.duration", (now - response.created) / 1e9, extra)
        if usage is not None:
            for kind, count in (("input", usage.input_tokens), ("output", usage.output_tokens)):
                otel.point(
                    "gen_ai.client.token.usage",
                    count,
                    {"gen_ai.operation.name": "chat", "gen_ai.token.type": kind},
                )
        span = response.span if response is not None else None
        if span is None:
            return
        if status:
            span.set_attribute("gen_ai.response.finish_reasons", [status])
        if usage is not None:
            span.set_attributes(
                {
                    "gen_ai.usage.input_tokens": usage.input_tokens,
                    "gen_ai.usage.output_tokens": usage.output_tokens,
                }
            )
        failed = status == "failed"
        Instrumentation.end_span(span, self._ns(now), error="response_failed" if failed else None)

    # -- tools ---------------------------------------------------------------------------------

    def _on_tool_started(self, event: ToolCallStarted, now: int) -> None:
        self._counts["tool_calls"] += 1
        turn = self._turn
        tool = ToolRecord(
            item_id=event.item_id,
            call_id=event.call_id,
            name=event.name,
            arguments=event.arguments,
            started=now,
            turn=turn,
        )
        if turn is not None:
            turn.tools.append(tool)
        key = event.item_id or event.call_id
        self._tools[key] = tool
        otel = self._otel
        if otel is not None:
            attributes: dict[str, Any] = {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": event.name,
                "gen_ai.tool.call.id": event.call_id,
                "gen_ai.tool.type": "function",
            }
            if otel.record_content:
                attributes["gen_ai.tool.call.arguments"] = event.arguments
            tool.span = otel.start_span(
                f"execute_tool {event.name}",
                self._ns(now),
                attributes,
                parent=turn.span if turn else None,
            )
            if tool.span is not None:
                tool.token = Instrumentation.attach(tool.span)
        try:
            task = asyncio.current_task()
        except RuntimeError:  # not in a task: nothing to watch
            task = None
        if task is not None:
            task.add_done_callback(lambda _task: self._call(self._on_tool_task_done, key))

    def _on_tool_finished(self, event: ToolCallFinished, now: int) -> None:
        tool = self._tools.pop(event.item_id or event.call_id, None)
        if tool is None:
            return
        tool.ended = now
        tool.outcome = "ok" if event.error is None else "error"
        tool.error, tool.output = event.error, event.output
        if event.error is not None:
            self._counts["tool_errors"] += 1
        self._end_tool(tool, now, duration_s=event.duration_s, output=event.output)

    def _on_tool_task_done(self, key: str, now: int) -> None:
        tool = self._tools.pop(key, None)
        if tool is None:
            return  # finished normally
        tool.ended, tool.outcome = now, "cancelled"
        tool.token = None  # its task (and its context) is gone
        self._end_tool(tool, now, duration_s=(now - tool.started) / 1e9, output=None)

    def _end_tool(
        self, tool: ToolRecord, now: int, *, duration_s: float, output: str | None
    ) -> None:
        otel = self._otel
        if otel is None:
            return
        otel.point(
            "voiceagent.tool.duration",
            duration_s,
            {"gen_ai.tool.name": tool.name, "voiceagent.tool.outcome": tool.outcome},
        )
        span = tool.span
        if span is None:
            return
        if tool.token is not None:
            Instrumentation.detach(tool.token)
            tool.token = None
        span.set_attribute("voiceagent.tool.outcome", tool.outcome)
        if otel.record_content and output is not None:
            span.set_attribute("gen_ai.tool.call.result", output)
        error = {"error": "tool_error", "cancelled": "cancelled"}.get(tool.outcome)
        Instrumentation.end_span(span, self._ns(now), error=error)

    # -- the connection ----------------------------------------------------------------------------

    def _on_session_started(self, event: SessionStarted, now: int) -> None:
        self._session_id = self._session_id or event.session_id
        if event.model and not self._model:
            self._model = event.model
        otel = self._otel
        if otel is not None and otel.conversation is not None and event.session_id:
            otel.conversation.set_attribute("gen_ai.conversation.id", event.session_id)

    def _on_reconnecting(self, event: Reconnecting, now: int) -> None:
        self._pending_false = False
        if self._reconnect is None:
            self._reconnect = ReconnectRecord(
                started=now, attempts=event.attempt, reason=event.reason
            )
            self._reconnects.append(self._reconnect)
            # The answers in flight died with the connection.
            for response in list(self._responses.values()):
                self._lose(response, now)
        else:
            self._reconnect.attempts = event.attempt
        otel = self._otel
        if otel is not None:
            otel.event(
                otel.conversation,
                "voiceagent.reconnecting",
                self._ns(now),
                {"voiceagent.reconnect.attempt": event.attempt},
            )

    def _lose(self, response: ResponseRecord, now: int) -> None:
        self._responses.pop(response.id, None)
        response.done, response.status = now, "lost"
        if response.span is not None:
            Instrumentation.end_span(response.span, self._ns(now), error="connection_lost")
            response.span = None

    def _on_reconnected(self, event: Reconnected, now: int) -> None:
        self._counts["reconnects"] += 1
        reconnect, self._reconnect = self._reconnect, None
        if reconnect is not None:
            reconnect.gap_ms, reconnect.replayed_items = event.gap_ms, event.replayed_items
        otel = self._otel
        if otel is not None:
            otel.point("voiceagent.reconnects", 1)
            otel.event(
                otel.conversation,
                "voiceagent.reconnected",
                self._ns(now),
                {
                    "voiceagent.reconnect.gap_ms": event.gap_ms,
                    "voiceagent.reconnect.replayed_items": event.replayed_items,
                },
            )

    def _on_service_error(self, event: ServiceErrorReported, now: int) -> None:
        self._counts["service_errors"] += 1
        self._errors.append(
            ServiceErrorReport(at_s=self._s(now), code=event.code, message=event.message)
        )
        otel = self._otel
        if otel is not None:
            otel.event(
                otel.conversation,
                "voiceagent.service_error",
                self._ns(now),
                {"error.type": event.code or "_OTHER"},
            )

    def _on_session_ended(self, event: SessionEnded, now: int) -> None:
        if self._ended is not None:
            return
        self._ended = now
        self._end_reason = event.reason
        if event.error is not None:
            self._error = describe(event.error)
        for key, tool in list(self._tools.items()):
            self._tools.pop(key)
            tool.ended, tool.outcome = now, "cancelled"
            tool.token = None  # never detached here: this is not the tool's task
            self._end_tool(tool, now, duration_s=(now - tool.started) / 1e9, output=None)
        for response in list(self._responses.values()):
            if event.reason in _FAILED_ENDS:
                self._lose(response, now)
            else:
                self._close(response, now)
        self._end_turn(now)
        otel = self._otel
        if otel is None or not self._started:
            return
        otel.point(
            "voiceagent.conversation.duration",
            (now - self._t0) / 1e9,
            {"voiceagent.end_reason": event.reason.value},
        )
        otel.point("voiceagent.sessions.active", -1)
        span = otel.conversation
        if span is not None:
            otel.conversation = None
            counts = self._counts
            span.set_attributes(
                {
                    "voiceagent.end_reason": event.reason.value,
                    "voiceagent.turns": self._turn_count,
                    "voiceagent.interruptions": counts["interruptions"],
                    "voiceagent.false_interruptions": counts["false_interruptions"],
                    "voiceagent.tool_calls": counts["tool_calls"],
                    "voiceagent.reconnects": counts["reconnects"],
                    "gen_ai.usage.input_tokens": self._usage.input_tokens,
                    "gen_ai.usage.output_tokens": self._usage.output_tokens,
                }
            )
            failed = event.reason in _FAILED_ENDS
            error = type(event.error).__name__ if event.error is not None else event.reason.value
            Instrumentation.end_span(span, self._ns(now), error=error if failed else None)

    def _close(self, response: ResponseRecord, now: int) -> None:
        self._responses.pop(response.id, None)
        if response.span is not None:
            Instrumentation.end_span(response.span, self._ns(now))
            response.span = None


def _turn_attributes(turn: TurnRecord, otel: Instrumentation | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "voiceagent.turn.interrupted": turn.interrupted is not None,
        "voiceagent.turn.false_interruptions": turn.false_interruptions,
        "voiceagent.turn.responses": len(turn.responses),
        "voiceagent.turn.tool_calls": len(turn.tools),
    }
    if turn.latency_s is not None:
        attributes["voiceagent.turn.latency"] = turn.latency_s
    if turn.heard_ms is not None:
        attributes["voiceagent.turn.heard_ms"] = turn.heard_ms
    if turn.user_item_id is not None:
        attributes["voiceagent.turn.user_item_id"] = turn.user_item_id
    if otel is not None and otel.record_content:
        if turn.user_text is not None:
            attributes["voiceagent.turn.user_text"] = turn.user_text
        if turn.agent_texts:
            attributes["voiceagent.turn.agent_text"] = " ".join(turn.agent_texts)
    return attributes
