"""The report's timeline while a session runs, and its snapshot.

The :class:`~voiceagent._recorder.Recorder` keeps one :class:`TurnRecord` per turn (with
its responses and tool calls) and one :class:`ReconnectRecord` per reconnection, with
times in ``time.monotonic_ns()``; :class:`Recording` is the frozen snapshot
``SessionResult`` carries, which turns into the public
:class:`~voiceagent.telemetry.ConversationReport`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from ._report import (
    ConversationReport,
    ReconnectReport,
    ReportSummary,
    ResponseReport,
    ServiceErrorReport,
    StateReport,
    ToolCallReport,
    TurnReport,
    UsageReport,
)
from .events import EndReason

if TYPE_CHECKING:
    from collections.abc import Callable

    from opentelemetry.trace import Span

    from ._history import SessionResult

__all__ = [
    "ReconnectRecord",
    "Recording",
    "ResponseRecord",
    "ToolRecord",
    "TurnRecord",
    "describe",
    "turn_report",
    "usage_from_wire",
]


@attrs.define
class ResponseRecord:
    """One model response, as it goes."""

    id: str
    created: int
    turn: TurnRecord | None
    span: Span | None = None
    done: int | None = None
    status: str | None = None
    latency_s: float | None = None
    usage: UsageReport | None = None


@attrs.define
class ToolRecord:
    """One tool call, as it goes (``token``: its span made current in its task)."""

    item_id: str
    call_id: str
    name: str
    arguments: str
    started: int
    turn: TurnRecord | None
    span: Span | None = None
    token: object | None = None
    ended: int | None = None
    outcome: str = "running"
    error: str | None = None
    output: str | None = None


@attrs.define
class TurnRecord:
    """One turn, as it goes."""

    index: int
    trigger: str
    started: int
    span: Span | None = None
    ended: int | None = None
    user_item_id: str | None = None
    user_text: str | None = None
    speech_stopped: int | None = None
    latency_s: float | None = None
    agent_texts: list[str] = attrs.Factory(list)
    interrupted: int | None = None
    heard_ms: float | None = None
    false_interruptions: int = 0
    items: list[str] = attrs.Factory(list)
    """Its conversation items (the user's, the agent's), to find it by item."""
    states: list[list[Any]] = attrs.Factory(list)
    """[state value, start, end or None] per stretch."""
    responses: list[ResponseRecord] = attrs.Factory(list)
    tools: list[ToolRecord] = attrs.Factory(list)


@attrs.define
class ReconnectRecord:
    """One reconnection, as it goes."""

    started: int
    attempts: int
    reason: str
    gap_ms: float | None = None
    replayed_items: int | None = None


@attrs.frozen(kw_only=True)
class Recording:
    """A snapshot of a session's recording: what ``SessionResult.report()`` reads."""

    agent: str
    model: str | None
    session_id: str | None
    started_at: str
    duration_s: float
    end_reason: str | None
    error: str | None
    summary: ReportSummary
    turns: tuple[TurnReport, ...]
    reconnects: tuple[ReconnectReport, ...]
    service_errors: tuple[ServiceErrorReport, ...]

    def report(self, result: SessionResult, *, content: bool = True) -> ConversationReport:
        """The report, with or without content (transcripts, tool arguments and outputs)."""
        turns = self.turns if content else tuple(without_content(turn) for turn in self.turns)
        reason = self.end_reason
        error = self.error
        if reason is None and result.reason is not EndReason.ENDED:
            reason = result.reason.value
        if error is None and result.error is not None:
            error = describe(result.error)
        return ConversationReport(
            agent=self.agent,
            model=self.model,
            session_id=self.session_id,
            started_at=self.started_at,
            duration_s=self.duration_s,
            end_reason=reason,
            error=error,
            summary=self.summary,
            turns=turns,
            reconnects=self.reconnects,
            service_errors=self.service_errors,
        )


def without_content(turn: TurnReport) -> TurnReport:
    """``turn`` without what was said: transcripts, tool arguments and outputs."""
    return attrs.evolve(
        turn,
        user_text=None,
        agent_text=None,
        tool_calls=tuple(
            attrs.evolve(call, arguments=None, output=None) for call in turn.tool_calls
        ),
    )


def describe(error: BaseException) -> str:
    """An error as the report shows it: its type and message."""
    return f"{type(error).__name__}: {error}"


def turn_report(turn: TurnRecord, s: Callable[[int], float]) -> TurnReport:
    """The report of ``turn``, its times turned into seconds by ``s``."""
    return TurnReport(
        index=turn.index,
        trigger=turn.trigger,
        started_s=s(turn.started),
        ended_s=None if turn.ended is None else s(turn.ended),
        user_item_id=turn.user_item_id,
        user_text=turn.user_text,
        speech_stopped_s=None if turn.speech_stopped is None else s(turn.speech_stopped),
        latency_s=turn.latency_s,
        agent_text=" ".join(turn.agent_texts) or None,
        interrupted=turn.interrupted is not None,
        interrupted_s=None if turn.interrupted is None else s(turn.interrupted),
        heard_ms=turn.heard_ms,
        false_interruptions=turn.false_interruptions,
        states=tuple(
            StateReport(state=state, started_s=s(start), ended_s=None if end is None else s(end))
            for state, start, end in turn.states
        ),
        responses=tuple(
            ResponseReport(
                response_id=r.id,
                created_s=s(r.created),
                done_s=None if r.done is None else s(r.done),
                status=r.status,
                latency_s=r.latency_s,
                usage=r.usage,
            )
            for r in turn.responses
        ),
        tool_calls=tuple(
            ToolCallReport(
                name=t.name,
                call_id=t.call_id,
                started_s=s(t.started),
                duration_s=None if t.ended is None else (t.ended - t.started) / 1e9,
                outcome=t.outcome,
                error=t.error,
                arguments=t.arguments,
                output=t.output,
            )
            for t in turn.tools
        ),
    )


def _count(details: object, key: str) -> int:
    value = details.get(key) if isinstance(details, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_from_wire(raw: object) -> UsageReport | None:
    """The usage of a ``response.done`` (its ``response.usage``), or None."""
    if not isinstance(raw, dict):
        return None
    given = raw.get("input_token_details")
    taken = raw.get("output_token_details")
    return UsageReport(
        input_tokens=_count(raw, "input_tokens"),
        output_tokens=_count(raw, "output_tokens"),
        total_tokens=_count(raw, "total_tokens"),
        input_text_tokens=_count(given, "text_tokens"),
        input_audio_tokens=_count(given, "audio_tokens"),
        input_cached_tokens=_count(given, "cached_tokens"),
        output_text_tokens=_count(taken, "text_tokens"),
        output_audio_tokens=_count(taken, "audio_tokens"),
    )
