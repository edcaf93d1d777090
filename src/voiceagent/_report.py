"""The conversation report: what happened in one conversation, turn by turn, with times.

Built by ``SessionResult.report()`` from the session's recording (``_recorder.py``) and
written as JSON (for programs) or as one self-contained HTML page (for people). Times are
seconds since the conversation started (the moment the session began connecting).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

from .errors import ConfigurationError

if TYPE_CHECKING:
    from ._history import SessionResult

__all__ = [
    "ConversationReport",
    "ReconnectReport",
    "ReportSummary",
    "ResponseReport",
    "ServiceErrorReport",
    "StateReport",
    "ToolCallReport",
    "TurnReport",
    "UsageReport",
    "build_report",
]


@attrs.frozen(kw_only=True)
class UsageReport:
    """Tokens, as the service reported them in ``response.done``.

    Attributes:
        input_tokens: Input tokens.
        output_tokens: Output tokens.
        total_tokens: Both.
        input_text_tokens: Input text tokens.
        input_audio_tokens: Input audio tokens.
        input_cached_tokens: Input tokens served from the cache.
        output_text_tokens: Output text tokens.
        output_audio_tokens: Output audio tokens.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_text_tokens: int = 0
    input_audio_tokens: int = 0
    input_cached_tokens: int = 0
    output_text_tokens: int = 0
    output_audio_tokens: int = 0

    def __add__(self, other: UsageReport) -> UsageReport:
        return UsageReport(
            **{
                name: getattr(self, name) + getattr(other, name)
                for name in attrs.fields_dict(UsageReport)
            }
        )


@attrs.frozen(kw_only=True)
class StateReport:
    """One stretch of a turn state.

    Attributes:
        state: The turn state (``user_speaking``, ``confirming``, ``thinking``,
            ``tool_running``, ``agent_speaking``).
        started_s: When it began.
        ended_s: When it ended (None: it had not when the report was made).
    """

    state: str
    started_s: float
    ended_s: float | None


@attrs.frozen(kw_only=True)
class ResponseReport:
    """One response of the model.

    Attributes:
        response_id: The service's id.
        created_s: ``response.created``.
        done_s: ``response.done`` (None: not done).
        status: ``completed``, ``cancelled``, ``failed`` or ``incomplete`` (None: not done).
        latency_s: User stopped speaking (or asked) → this response's first audio, when
            it had audio (``TurnMetrics``).
        usage: Its tokens, when reported.
    """

    response_id: str
    created_s: float
    done_s: float | None = None
    status: str | None = None
    latency_s: float | None = None
    usage: UsageReport | None = None


@attrs.frozen(kw_only=True)
class ToolCallReport:
    """One tool call.

    Attributes:
        name: The tool.
        call_id: The function call's id.
        started_s: When it started.
        duration_s: How long it ran (None: still running when the report was made).
        outcome: ``ok``, ``error``, ``cancelled`` (it ended without finishing: cancelled
            by an interruption, or by the session's end) or ``running``.
        error: The model-visible error text, for ``error``.
        arguments: The JSON arguments (None when the report leaves content out).
        output: The output sent to the model (None when left out, or not finished).
    """

    name: str
    call_id: str
    started_s: float
    duration_s: float | None
    outcome: str
    error: str | None = None
    arguments: str | None = None
    output: str | None = None


@attrs.frozen(kw_only=True)
class TurnReport:
    """One turn: the user speaks (or asks), the agent answers.

    A turn starts when the user starts speaking (``trigger="speech"``; speech the
    confirmation window dismissed does not start one) or when the agent starts answering
    something else (``"request"``: text, ``say()``, a greeting, a commit); it ends when the
    conversation is idle again or the next turn starts.

    Attributes:
        index: Its number in the conversation, from 1 (dropped turns keep theirs).
        trigger: ``speech`` or ``request``.
        started_s: When it started.
        ended_s: When it ended (None: still going).
        user_item_id: The user's conversation item, for speech.
        user_text: What the user said (the transcript; None when left out or unknown).
        speech_stopped_s: When the service heard the user stop.
        latency_s: User stopped speaking (or asked) → first agent audio: the turn's
            latency.
        agent_text: What the agent said (what the user heard of it, when interrupted).
        interrupted: The user interrupted the agent's answer.
        interrupted_s: When.
        heard_ms: How much of the interrupted audio the user heard.
        false_interruptions: Speech in the confirmation window that was not a turn (a
            cough, an "mm-hm"): the agent paused and resumed.
        states: The turn states it went through.
        responses: The model's responses.
        tool_calls: The tool calls.
    """

    index: int
    trigger: str
    started_s: float
    ended_s: float | None = None
    user_item_id: str | None = None
    user_text: str | None = None
    speech_stopped_s: float | None = None
    latency_s: float | None = None
    agent_text: str | None = None
    interrupted: bool = False
    interrupted_s: float | None = None
    heard_ms: float | None = None
    false_interruptions: int = 0
    states: tuple[StateReport, ...] = ()
    responses: tuple[ResponseReport, ...] = ()
    tool_calls: tuple[ToolCallReport, ...] = ()


@attrs.frozen(kw_only=True)
class ReconnectReport:
    """A move to a new connection (a drop, or the service's session limit).

    Attributes:
        started_s: The first attempt.
        attempts: How many attempts it took.
        reason: Why.
        gap_ms: From the drop (or the start of a planned move) to the new connection
            taking over (None: it never did).
        replayed_items: Conversation items replayed on the new connection.
    """

    started_s: float
    attempts: int
    reason: str
    gap_ms: float | None = None
    replayed_items: int | None = None


@attrs.frozen(kw_only=True)
class ServiceErrorReport:
    """An ``error`` the service sent.

    Attributes:
        at_s: When.
        code: Its code.
        message: Its message.
    """

    at_s: float
    code: str | None
    message: str


@attrs.frozen(kw_only=True)
class ReportSummary:
    """The conversation in numbers. Counts cover the whole conversation; latency
    statistics cover the turns the report kept.

    Attributes:
        turns: Turns, dropped ones included.
        dropped_turns: Turns left out of the report (``Telemetry.report_turns``).
        latency_p50_s: Median turn latency.
        latency_p95_s: 95th percentile turn latency.
        latency_max_s: Longest turn latency.
        interruptions: The user interrupted the agent.
        false_interruptions: Speech the confirmation window dismissed.
        tool_calls: Tool calls.
        tool_errors: Tool calls that failed (error or timeout).
        reconnects: Moves to a new connection.
        service_errors: ``error`` events from the service.
        usage: All tokens.
    """

    turns: int = 0
    dropped_turns: int = 0
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    latency_max_s: float | None = None
    interruptions: int = 0
    false_interruptions: int = 0
    tool_calls: int = 0
    tool_errors: int = 0
    reconnects: int = 0
    service_errors: int = 0
    usage: UsageReport = UsageReport()


@attrs.frozen(kw_only=True)
class ConversationReport:
    """What happened in one conversation: ``SessionResult.report()``.

    ``write("report.json")`` or ``write("report.html")`` saves it; :meth:`to_dict`,
    :meth:`to_json` and :meth:`to_html` give it to a program.

    Attributes:
        agent: The agent's class name.
        model: The model.
        session_id: The service's session id (the first connection's).
        started_at: When the conversation started (ISO 8601, UTC).
        duration_s: How long it lasted (so far, for a session still running).
        end_reason: Why it ended (an ``EndReason`` value; None while it runs).
        error: The error that ended it, if any (its type and message).
        summary: The numbers.
        turns: The turns, in order (the latest ``Telemetry.report_turns``).
        reconnects: The moves to new connections.
        service_errors: The service's ``error`` events.
    """

    agent: str
    model: str | None
    session_id: str | None
    started_at: str
    duration_s: float
    end_reason: str | None
    error: str | None
    summary: ReportSummary
    turns: tuple[TurnReport, ...] = ()
    reconnects: tuple[ReconnectReport, ...] = ()
    service_errors: tuple[ServiceErrorReport, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data (dicts, lists, numbers, strings)."""
        return attrs.asdict(self)

    def to_json(self, *, indent: int | None = 2) -> str:
        """The report as JSON."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def to_html(self) -> str:
        """The report as one self-contained HTML page: the timeline drawn, then the turns."""
        from ._report_html import render

        return render(self)

    def write(self, path: str | Path) -> Path:
        """Write the report to ``path``: JSON for ``.json``, HTML for ``.html``/``.htm``.

        Returns:
            The path written.

        Raises:
            ConfigurationError: Another suffix.
            OSError: The file cannot be written.
        """
        target = Path(path)
        kind = report_format(target)
        text = self.to_json() if kind == "json" else self.to_html()
        target.write_text(text + "\n", encoding="utf-8")
        return target


_FORMATS: Final = {".json": "json", ".html": "html", ".htm": "html"}


def report_format(path: Path) -> str:
    """``json`` or ``html``, from the file's suffix.

    Raises:
        ConfigurationError: Another suffix.
    """
    kind = _FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ConfigurationError(
            f"a report is written as .json or .html, not {path.name!r} (name the file "
            "report.json or report.html)"
        )
    return kind


def percentile(values: list[float], share: float) -> float | None:
    """The ``share`` percentile of ``values`` (nearest rank), or None for none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def build_report(result: SessionResult, *, content: bool = True) -> ConversationReport:
    """The report of ``result``'s conversation.

    Raises:
        ConfigurationError: The session kept no recording (``Telemetry(report=False)``).
    """
    recording = result.recording
    if recording is None:
        raise ConfigurationError(
            "this session kept no report: its agent (or session) has Telemetry(report=False); "
            "leave report=True (the default) to get one"
        )
    return recording.report(result, content=content)
