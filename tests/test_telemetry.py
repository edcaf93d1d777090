"""The telemetry settings, the recorder's reading of a session's events, and the report.

The recorder is fed the events a session publishes, in the order it publishes them, with
the OpenTelemetry SDK's in-memory exporter behind it; end-to-end conversations are in
``tests/integration/test_telemetry.py``.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import voiceagent._telemetry
from voiceagent import Agent, TurnState
from voiceagent._recorder import Recorder
from voiceagent._report import percentile
from voiceagent.errors import ConfigurationError
from voiceagent.events import (
    EndReason,
    Interrupted,
    Reconnected,
    Reconnecting,
    ServiceErrorReported,
    SessionEnded,
    TurnChanged,
    TurnMetrics,
    UserSpeechStarted,
    UserSpeechStopped,
    UserTranscript,
)
from voiceagent.telemetry import (
    METRICS,
    ConversationReport,
    Telemetry,
    content_recording_from_env,
)

if TYPE_CHECKING:
    from pathlib import Path

IDLE, U, C, T, A = (
    TurnState.IDLE,
    TurnState.USER_SPEAKING,
    TurnState.CONFIRMING,
    TurnState.THINKING,
    TurnState.AGENT_SPEAKING,
)


# -- settings -----------------------------------------------------------------------------------


def test_telemetry_defaults_and_off() -> None:
    on = Telemetry()
    assert (on.traces, on.metrics, on.report, on.record_content) == (True, True, True, None)
    assert on.report_turns == 1000
    off = Telemetry.off()
    assert (off.traces, off.metrics, off.report) == (False, False, False)
    assert repr(off) == "Telemetry(traces=False, metrics=False, report=False)"
    assert repr(Telemetry()) == "Telemetry()"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"traces": "yes"}, "traces must be True or False"),
        ({"record_content": 1}, "record_content must be True or False"),
        ({"report_turns": 0}, "report_turns must be a whole number >= 1"),
        ({"report_turns": True}, "report_turns must be a whole number >= 1"),
        ({"tracer_provider": object()}, "tracer_provider must be an OpenTelemetry provider"),
        ({"meter_provider": "global"}, "meter_provider must be an OpenTelemetry provider"),
    ],
)
def test_bad_telemetry_settings_are_clear_errors(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Telemetry(**settings)


def test_telemetry_is_an_agent_setting_and_a_session_argument() -> None:
    class Quiet(Agent):
        telemetry = Telemetry(traces=False)

    assert Quiet().telemetry == Telemetry(traces=False)
    assert Agent(telemetry=Telemetry.off()).telemetry == Telemetry.off()
    assert Agent().session(telemetry=Telemetry.off()).plan.telemetry == Telemetry.off()
    assert Quiet().session().plan.telemetry == Telemetry(traces=False)
    with pytest.raises(ConfigurationError, match=r"telemetry must be a Telemetry\(\.\.\.\)"):
        Agent(telemetry=True)
    with pytest.raises(ConfigurationError, match=r"telemetry must be a Telemetry\(\.\.\.\)"):
        Agent().session(telemetry=False)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}, True),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "True"}, True),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "1"}, False),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "false"}, False),
        ({"AZURE_TRACING_GEN_AI_CONTENT_RECORDING_ENABLED": "true"}, True),
        (
            {
                "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
                "AZURE_TRACING_GEN_AI_CONTENT_RECORDING_ENABLED": "true",
            },
            True,
        ),
    ],
)
def test_content_recording_follows_the_environment_as_the_sdk_does(
    environ: dict[str, str], expected: bool
) -> None:
    assert content_recording_from_env(environ) is expected


def test_differing_content_variables_switch_recording_off_with_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    environ = {
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
        "AZURE_TRACING_GEN_AI_CONTENT_RECORDING_ENABLED": "false",
    }
    with caplog.at_level(logging.ERROR, logger="voiceagent.telemetry"):
        assert content_recording_from_env(environ) is False
    assert "both set and differ" in caplog.text


def test_the_explicit_setting_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    assert Telemetry().content_recording() is True
    assert Telemetry(record_content=False).content_recording() is False


def test_every_metric_has_a_unit_and_a_meaning() -> None:
    for name, text in METRICS.items():
        unit, _, meaning = text.partition(": ")
        assert unit, name
        assert meaning, name


# -- the recorder -------------------------------------------------------------------------------


class Recorded:
    """A recorder with an in-memory SDK behind it, fed events by hand."""

    def __init__(self, **settings: Any) -> None:
        self.spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        telemetry = Telemetry(
            tracer_provider=tracer_provider,
            meter_provider=MeterProvider(metric_readers=[self.reader]),
            **settings,
        )
        recorder = Recorder.create(telemetry, agent="Tester", model="gpt-realtime")
        assert recorder is not None
        self.recorder = recorder
        with recorder.conversation():
            pass

    def turn(self, old: TurnState, new: TurnState) -> None:
        self.recorder.event(TurnChanged(old=old, new=new))

    def feed(self, *events: object) -> None:
        for event in events:
            self.recorder.event(event)

    def end(self) -> ConversationReport:
        self.recorder.event(SessionEnded(reason=EndReason.ENDED))
        report = self.recorder.recording()
        return ConversationReport(**{f: getattr(report, f) for f in _REPORT_FIELDS})

    def metric(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        return [
            point
            for resource in (data.resource_metrics if data else ())
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]


_REPORT_FIELDS = (
    "agent",
    "model",
    "session_id",
    "started_at",
    "duration_s",
    "end_reason",
    "error",
    "summary",
    "turns",
    "reconnects",
    "service_errors",
)


def answer(rec: Recorded, *, item: str) -> None:
    """A spoken turn answered: idle → user speaking → thinking → agent speaking."""
    rec.turn(IDLE, U)
    rec.feed(UserSpeechStarted(item_id=item, audio_start_ms=0))
    rec.turn(U, T)
    rec.feed(UserSpeechStopped(item_id=item, audio_end_ms=900))
    rec.turn(T, A)


def test_a_cough_in_the_confirmation_window_is_a_false_interruption_not_a_turn() -> None:
    rec = Recorded()
    answer(rec, item="u1")
    rec.turn(A, C)
    rec.feed(UserSpeechStarted(item_id="u2", audio_start_ms=2000))
    rec.turn(C, A)  # the window resumed the agent
    rec.feed(UserSpeechStopped(item_id="u2", audio_end_ms=2300))
    rec.turn(A, IDLE)
    report = rec.end()
    [turn] = report.turns
    assert turn.false_interruptions == 1
    assert not turn.interrupted
    assert [s.state for s in turn.states] == [
        "user_speaking",
        "thinking",
        "agent_speaking",
        "confirming",
        "agent_speaking",
    ]
    assert report.summary.false_interruptions == 1
    [point] = rec.metric("voiceagent.false_interruptions")
    assert point.value == 1


def test_confirmed_speech_starts_a_turn_where_the_speech_began() -> None:
    rec = Recorded()
    answer(rec, item="u1")
    rec.turn(A, C)
    rec.feed(UserSpeechStarted(item_id="u2", audio_start_ms=2000))
    rec.feed(Interrupted(item_id="a1", heard_ms=1234.0))  # the window is over: a barge-in
    rec.turn(C, U)
    rec.feed(UserTranscript(item_id="u2", text="Stop."))
    report = rec.end()
    first, second = report.turns
    assert first.interrupted
    assert first.heard_ms == 1234.0
    assert [s.state for s in first.states][-1] == "agent_speaking"
    assert [s.state for s in second.states] == ["confirming", "user_speaking"]
    assert second.started_s == second.states[0].started_s  # from when the speech began
    assert second.user_item_id == "u2"
    assert second.user_text == "Stop."
    assert report.summary.false_interruptions == 0
    assert report.summary.interruptions == 1


def test_a_connection_lost_in_the_window_is_no_false_interruption() -> None:
    rec = Recorded()
    answer(rec, item="u1")
    rec.turn(A, C)
    rec.turn(C, IDLE)  # the connection was lost
    rec.feed(Reconnecting(attempt=1, reason="lost"), Reconnected(gap_ms=120.0, replayed_items=3))
    answer(rec, item="u3")
    report = rec.end()
    assert report.summary.false_interruptions == 0
    assert report.summary.reconnects == 1
    [reconnect] = report.reconnects
    assert (reconnect.attempts, reconnect.gap_ms, reconnect.replayed_items) == (1, 120.0, 3)


def test_the_report_keeps_the_latest_turns_and_counts_the_rest() -> None:
    rec = Recorded(report_turns=3)
    for n in range(5):
        answer(rec, item=f"u{n}")
        rec.feed(TurnMetrics(response_id=f"r{n}", latency_s=0.1 * (n + 1)))
        rec.turn(A, IDLE)
    rec.feed(UserTranscript(item_id="u0", text="late, for a dropped turn"))  # no error
    report = rec.end()
    assert [t.index for t in report.turns] == [3, 4, 5]
    assert report.summary.turns == 5
    assert report.summary.dropped_turns == 2
    # Latency statistics cover the kept turns; the metric saw all five.
    assert report.summary.latency_max_s == pytest.approx(0.5)
    assert report.summary.latency_p50_s == pytest.approx(0.4)
    [latency] = rec.metric("voiceagent.turn.latency")
    assert latency.count == 5
    assert len(rec.recorder._by_item) == 3  # the index forgets dropped turns' items


def test_responses_and_usage_come_from_wire_events() -> None:
    rec = Recorded()
    answer(rec, item="u1")
    rec.recorder.wire({"type": "response.created", "response": {"id": "r1"}}, "response.created")
    rec.recorder.wire(
        {"type": "response.output_item.added", "response_id": "r1", "item": {"id": "a1"}},
        "response.output_item.added",
    )
    usage = {
        "input_tokens": 10,
        "output_tokens": 20,
        "total_tokens": 30,
        "input_token_details": {"text_tokens": 4, "audio_tokens": 6, "cached_tokens": True},
        "output_token_details": {"text_tokens": 5, "audio_tokens": 15},
    }
    rec.recorder.wire(
        {"type": "response.done", "response": {"id": "r1", "status": "completed", "usage": usage}},
        "response.done",
    )
    rec.recorder.wire({"type": "response.done", "response": "nonsense"}, "response.done")
    rec.recorder.wire({"type": "response.created"}, "response.created")
    report = rec.end()
    [response] = report.turns[0].responses
    assert response.status == "completed"
    assert response.usage is not None
    assert (response.usage.input_audio_tokens, response.usage.output_audio_tokens) == (6, 15)
    assert response.usage.input_cached_tokens == 0  # a bool is not a count
    assert report.summary.usage.total_tokens == 30
    assert rec.recorder._by_item["a1"] is rec.recorder._turns[0]


def test_service_errors_are_kept_and_counted() -> None:
    rec = Recorded(report_turns=2)
    for n in range(3):
        rec.feed(ServiceErrorReported(code=f"e{n}", message="bad"))
    report = rec.end()
    assert report.summary.service_errors == 3
    assert [e.code for e in report.service_errors] == ["e1", "e2"]


def test_a_failure_inside_the_recorder_is_logged_and_never_raised(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = Recorded()

    def broken(event: object, now: int) -> None:
        raise RuntimeError("bug")

    monkeypatch.setitem(rec.recorder._handlers, TurnChanged, broken)
    with caplog.at_level(logging.ERROR, logger="voiceagent.telemetry"):
        rec.turn(IDLE, U)
    assert "voiceagent telemetry failed on 'TurnChanged'" in caplog.text


def test_the_conversation_span_ends_failed_when_the_connection_is_lost() -> None:
    rec = Recorded()
    answer(rec, item="u1")
    rec.recorder.wire({"type": "response.created", "response": {"id": "r1"}}, "response.created")
    error = ConnectionError("gone")
    rec.recorder.event(SessionEnded(reason=EndReason.CONNECTION_LOST, error=error))
    spans = {span.name: span for span in rec.spans.get_finished_spans()}
    conversation = spans["invoke_agent Tester"]
    assert not conversation.status.is_ok
    assert conversation.attributes is not None
    assert conversation.attributes["error.type"] == "ConnectionError"
    assert not spans["chat gpt-realtime"].status.is_ok  # the answer in flight was lost
    assert spans["voiceagent.turn"].end_time is not None
    [active] = rec.metric("voiceagent.sessions.active")
    assert active.value == 0


def test_nothing_is_recorded_when_nothing_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Recorder.create(Telemetry.off(), agent="A", model=None) is None
    monkeypatch.setattr(voiceagent._telemetry, "_available", lambda: False)
    assert Recorder.create(Telemetry(report=False), agent="A", model=None) is None
    only_report = Recorder.create(Telemetry(), agent="A", model=None)
    assert only_report is not None
    assert only_report._otel is None


def test_a_session_never_entered_has_an_empty_report() -> None:
    result = Agent().session().result()
    report = result.report()
    assert report.turns == ()
    assert report.summary.turns == 0
    assert report.end_reason is None


# -- the report -----------------------------------------------------------------------------------


def test_percentile_is_the_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0], 0.95) == 3.0
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.95) == 95.0


def test_a_long_conversation_renders_with_every_section(tmp_path: Path) -> None:
    rec = Recorded()
    for n in range(3):
        answer(rec, item=f"u{n}")
        rec.turn(A, IDLE)
    rec.feed(Reconnecting(attempt=1, reason="dropped <1006>"), Reconnecting(attempt=2, reason="x"))
    rec.feed(ServiceErrorReported(code="rate_limit", message="slow <down>"))
    report = rec.end()
    page = report.to_html()
    assert "Reconnections" in page
    assert "dropped &lt;1006&gt;" in page
    assert "Service errors" in page
    assert "slow &lt;down&gt;" in page
    assert page.count("<tr>") >= 3 + 1 + 1
    [reconnect] = report.reconnects
    assert reconnect.attempts == 2
    assert reconnect.gap_ms is None  # it never resumed
    data = json.loads(report.to_json(indent=None))
    assert data["summary"]["turns"] == 3
    path = report.write(tmp_path / "report.HTML")
    assert path.read_text().startswith("<!DOCTYPE html>")
