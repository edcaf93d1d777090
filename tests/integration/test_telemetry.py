"""Telemetry end to end: conversations through the real SDK against the emulator, recorded
by the OpenTelemetry SDK's in-memory span exporter and metric reader (a real SDK, not a
mock): the span tree, the metric points, the SDK instrumentor's spans nesting under ours,
content recording, false interruptions, reconnections, and the report."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import anyio
import attrs
import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.test.globals_test import reset_metrics_globals, reset_trace_globals

from voiceagent import Agent, tool
from voiceagent.audio import AudioFormat, MemorySink, MemorySource
from voiceagent.errors import ConfigurationError
from voiceagent.events import EndReason
from voiceagent.options import ServerVad
from voiceagent.telemetry import CONTENT_VARIABLES, Telemetry
from voiceagent.testing import Disconnect, Emulator, Faults, Script, ToolCall, Turn, synthesize

from ..helpers import connect_args

if TYPE_CHECKING:
    from collections.abc import Iterator

PCM = AudioFormat()
RATE = 24000
QUESTION = "What's the weather in Paris?"
ANSWER = (
    "It is sunny in Paris, twenty one degrees, with a light breeze from the west and a few "
    "clouds late in the afternoon, so take a jacket if you go out this evening."
)
STOP = "Stop please."
OKAY = "Okay."


@attrs.frozen
class Otel:
    """An OpenTelemetry SDK that keeps what it records in memory."""

    spans: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def telemetry(self, **settings: Any) -> Telemetry:
        return Telemetry(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **settings
        )

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def points(self, name: str) -> list[Any]:
        """The data points of metric ``name`` (empty when it has none)."""
        data = self.reader.get_metrics_data()
        found: list[Any] = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found


def make_otel() -> Otel:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    return Otel(spans, reader, tracer_provider, MeterProvider(metric_readers=[reader]))


@pytest.fixture
def otel(monkeypatch: pytest.MonkeyPatch) -> Iterator[Otel]:
    for name in CONTENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    found = make_otel()
    yield found
    found.tracer_provider.shutdown()
    found.meter_provider.shutdown()


@pytest.fixture
def global_otel(monkeypatch: pytest.MonkeyPatch) -> Iterator[Otel]:
    """The SDK set as the global providers (what the Voice Live SDK's instrumentation uses),
    reset afterwards."""
    for name in CONTENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    found = make_otel()
    reset_trace_globals()
    reset_metrics_globals()
    trace.set_tracer_provider(found.tracer_provider)
    metrics.set_meter_provider(found.meter_provider)
    yield found
    found.tracer_provider.shutdown()
    found.meter_provider.shutdown()
    reset_trace_globals()
    reset_metrics_globals()


class Weather(Agent):
    instructions = "You are a weather assistant."
    turn_detection = ServerVad(silence_duration_ms=300)

    @tool
    async def get_weather(self, city: str) -> dict[str, object]:
        """Current weather for a city."""
        # The application's own span, inside the tool: it nests under the tool's span.
        with trace.get_tracer("weather-app").start_as_current_span("weather lookup"):
            await anyio.sleep(0.01)
        return {"city": city, "temp_c": 21}


def tool_and_barge_in() -> tuple[Script, bytes]:
    """The user asks, the agent calls a tool and answers; the user says "Stop please" over
    the answer; the agent says "Okay"."""
    script = Script(
        Turn(hears=QUESTION, calls=[ToolCall("get_weather", {"city": "Paris"})], says=ANSWER),
        Turn(hears=STOP, says=OKAY),
    )
    audio = synthesize(QUESTION).audio
    audio += bytes(RATE * 2 * 5500 // 1000 - len(audio)) + synthesize(STOP).audio
    return script, audio + bytes(RATE * 3)


def by_name(spans: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return sorted((s for s in spans if s.name == name), key=lambda s: s.start_time or 0)


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    found: int = span.context.span_id
    return found


def sent_usage(emu: Emulator) -> tuple[int, int]:
    """The input and output tokens the emulator reported in its ``response.done`` events."""
    done = [e for c in emu.connections for e in c.sent if e["type"] == "response.done"]
    usage = [e["response"]["usage"] for e in done if e["response"].get("usage")]
    return sum(u["input_tokens"] for u in usage), sum(u["output_tokens"] for u in usage)


async def test_a_tool_call_and_a_barge_in_make_the_span_tree_and_the_metric_points(
    otel: Otel,
) -> None:
    script, audio = tool_and_barge_in()
    async with Emulator(speed=1.0, script=script, audio_chunk_ms=20) as emu:
        agent = Weather(telemetry=otel.telemetry())
        with anyio.fail_after(40):
            result = await agent.run(
                source=MemorySource(audio, PCM, realtime=True),
                sink=MemorySink(realtime=True),
                **connect_args(emu),
            )
        tokens_in, tokens_out = sent_usage(emu)
        session_id = emu.connections[0].id
    assert result.reason is EndReason.INPUT_FINISHED, result.error
    spans = otel.finished()

    # The tree: the conversation, two turns under it, the responses and the tool call
    # under their turn.
    [conversation] = by_name(spans, "invoke_agent Weather")
    assert conversation.parent is None
    assert conversation.attributes is not None
    assert conversation.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert conversation.attributes["gen_ai.agent.name"] == "Weather"
    assert conversation.attributes["gen_ai.provider.name"] == "microsoft.foundry"
    assert conversation.attributes["gen_ai.request.model"] == "gpt-realtime"
    assert conversation.attributes["gen_ai.conversation.id"] == session_id
    assert conversation.attributes["voiceagent.end_reason"] == "input_finished"
    assert conversation.attributes["voiceagent.turns"] == 2
    assert conversation.attributes["voiceagent.interruptions"] == 1
    assert conversation.attributes["voiceagent.tool_calls"] == 1
    assert conversation.attributes["gen_ai.usage.input_tokens"] == tokens_in
    assert conversation.attributes["gen_ai.usage.output_tokens"] == tokens_out
    assert conversation.status.is_ok

    first, second = by_name(spans, "voiceagent.turn")
    assert parent_of(first) == parent_of(second) == span_id(conversation)
    assert first.attributes is not None
    assert second.attributes is not None
    assert first.attributes["voiceagent.turn.index"] == 1
    assert first.attributes["voiceagent.turn.trigger"] == "speech"
    assert first.attributes["voiceagent.turn.interrupted"] is True
    assert 0 < float(first.attributes["voiceagent.turn.heard_ms"]) < 5000  # type: ignore[arg-type]
    assert float(first.attributes["voiceagent.turn.latency"]) > 0  # type: ignore[arg-type]
    assert second.attributes["voiceagent.turn.interrupted"] is False
    assert first.end_time is not None
    assert second.start_time is not None
    assert first.end_time <= second.start_time  # the barge-in ended the first turn

    responses = by_name(spans, "chat gpt-realtime")
    assert [parent_of(r) for r in responses] == [span_id(first)] * 2 + [span_id(second)]
    finishes = [r.attributes["gen_ai.response.finish_reasons"] for r in responses]  # type: ignore[index]
    assert finishes == [("completed",), ("cancelled",), ("completed",)]
    assert sum(r.attributes["gen_ai.usage.output_tokens"] for r in responses) == tokens_out  # type: ignore[index,misc]

    [call] = by_name(spans, "execute_tool get_weather")
    assert parent_of(call) == span_id(first)
    assert call.attributes is not None
    assert call.attributes["gen_ai.operation.name"] == "execute_tool"
    assert call.attributes["gen_ai.tool.name"] == "get_weather"
    assert call.attributes["gen_ai.tool.type"] == "function"
    assert call.attributes["voiceagent.tool.outcome"] == "ok"
    assert "gen_ai.tool.call.arguments" not in call.attributes  # content recording is off
    assert "gen_ai.tool.call.result" not in call.attributes
    assert first.start_time is not None
    assert call.start_time is not None
    assert first.start_time < call.start_time

    # Metrics.
    [latency] = otel.points("voiceagent.turn.latency")
    assert latency.count == 2
    assert latency.attributes["gen_ai.agent.name"] == "Weather"
    [interruptions] = otel.points("voiceagent.interruptions")
    assert interruptions.value == 1
    assert [p.value for p in otel.points("voiceagent.false_interruptions")] in ([], [0])
    [tool_time] = otel.points("voiceagent.tool.duration")
    assert tool_time.count == 1
    assert tool_time.attributes["gen_ai.tool.name"] == "get_weather"
    assert tool_time.attributes["voiceagent.tool.outcome"] == "ok"
    assert tool_time.min >= 0.01  # it slept that long
    durations = {
        p.attributes["voiceagent.response.status"]: p.count
        for p in otel.points("voiceagent.response.duration")
    }
    assert durations == {"completed": 2, "cancelled": 1}
    tokens = {
        p.attributes["gen_ai.token.type"]: p.sum for p in otel.points("gen_ai.client.token.usage")
    }
    assert tokens == {"input": tokens_in, "output": tokens_out}
    [active] = otel.points("voiceagent.sessions.active")
    assert active.value == 0  # up at the start, down at the end
    [conversation_time] = otel.points("voiceagent.conversation.duration")
    assert conversation_time.count == 1
    assert conversation_time.attributes["voiceagent.end_reason"] == "input_finished"
    assert otel.points("voiceagent.reconnects") == []

    # The report tells the same story.
    report = result.report()
    assert report.session_id == session_id
    assert report.end_reason == "input_finished"
    assert report.summary.turns == 2
    assert report.summary.interruptions == 1
    assert report.summary.tool_calls == 1
    assert (report.summary.usage.input_tokens, report.summary.usage.output_tokens) == (
        tokens_in,
        tokens_out,
    )
    one, two = report.turns
    assert one.user_text == QUESTION
    assert two.user_text == STOP
    assert one.interrupted
    assert not two.interrupted
    assert one.heard_ms == first.attributes["voiceagent.turn.heard_ms"]
    assert ANSWER.startswith(one.agent_text or "")
    assert two.agent_text == OKAY
    [report_call] = one.tool_calls
    assert report_call.outcome == "ok"
    assert report_call.arguments == '{"city":"Paris"}'
    assert [s.state for s in one.states] == [
        "user_speaking",
        "thinking",
        "tool_running",
        "thinking",
        "agent_speaking",
    ]
    assert one.latency_s == pytest.approx(float(first.attributes["voiceagent.turn.latency"]))  # type: ignore[arg-type]


async def test_spans_of_the_tools_own_code_nest_under_its_span(global_otel: Otel) -> None:
    script = Script(
        Turn(hears=QUESTION, calls=[ToolCall("get_weather", {"city": "Paris"})], says=OKAY)
    )
    async with Emulator(speed=None, script=script) as emu:
        # Telemetry() uses the global providers: the application configured them.
        async with Weather(modalities=["text"]).session(**connect_args(emu)) as session:
            await session.send_text(QUESTION)
            session.end()
            with anyio.fail_after(20):
                await session.wait()
    spans = global_otel.finished()
    [call] = by_name(spans, "execute_tool get_weather")
    [lookup] = by_name(spans, "weather lookup")
    assert parent_of(lookup) == span_id(call)
    [turn] = by_name(spans, "voiceagent.turn")
    assert turn.attributes is not None
    assert turn.attributes["voiceagent.turn.trigger"] == "request"  # typed, not spoken


async def test_the_voice_live_sdks_spans_nest_under_the_conversation(
    global_otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azure.ai.voicelive.telemetry import VoiceLiveInstrumentor
    from azure.core.settings import settings

    monkeypatch.setenv("AZURE_EXPERIMENTAL_ENABLE_GENAI_TRACING", "true")
    settings.tracing_implementation = "opentelemetry"
    instrumentor = VoiceLiveInstrumentor()
    instrumentor.instrument()
    assert instrumentor.is_instrumented()
    try:
        # A drop in the middle: the second connection's spans nest under the conversation
        # as well (the session's loops carry its context into their tasks).
        faults = Faults(disconnects=[Disconnect(at="response.text.delta", count=2)])
        script = Script(Turn(says=ANSWER))
        async with Emulator(speed=None, script=script, faults=faults) as emu:
            agent = Weather(modalities=["text"])
            async with agent.session(**connect_args(emu)) as session:
                await session.send_text(QUESTION)
                with anyio.fail_after(20):
                    async for _event in session.events(
                        "response.done"
                    ):  # the answer, after the reconnection
                        if len(emu.connections) == 2:
                            break
                session.end()
                await session.wait()
    finally:
        instrumentor.uninstrument()
        settings.tracing_implementation.unset_value()
    spans = global_otel.finished()
    [conversation] = by_name(spans, "invoke_agent Weather")
    connects = by_name(spans, "connect")
    assert len(connects) == 2
    assert [parent_of(c) for c in connects] == [span_id(conversation)] * 2
    sends = [s for s in spans if s.name.startswith("send")]
    assert {parent_of(s) for s in sends} == {span_id(c) for c in connects}
    assert any(s.name == "send session.update" for s in sends)
    assert conversation.context is not None
    trace_ids = {s.context.trace_id for s in spans if s.context is not None}
    assert trace_ids == {conversation.context.trace_id}  # one trace
    assert conversation.attributes is not None
    assert conversation.attributes["voiceagent.reconnects"] == 1
    assert [e.name for e in conversation.events] == [
        "voiceagent.reconnecting",
        "voiceagent.reconnected",
    ]
    [reconnects] = global_otel.points("voiceagent.reconnects")
    assert reconnects.value == 1


@pytest.mark.parametrize(
    ("environ", "record_content", "recorded"),
    [
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}, None, True),
        ({"AZURE_TRACING_GEN_AI_CONTENT_RECORDING_ENABLED": "TRUE"}, None, True),
        ({}, None, False),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}, False, False),
        ({}, True, True),
    ],
)
async def test_tool_arguments_and_outputs_go_on_spans_only_when_content_recording_is_on(
    otel: Otel,
    monkeypatch: pytest.MonkeyPatch,
    environ: dict[str, str],
    record_content: bool | None,
    recorded: bool,
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    script = Script(
        Turn(hears=QUESTION, calls=[ToolCall("get_weather", {"city": "Paris"})], says=OKAY)
    )
    async with Emulator(speed=None, script=script) as emu:
        agent = Weather(
            modalities=["text"], telemetry=otel.telemetry(record_content=record_content)
        )
        async with agent.session(**connect_args(emu)) as session:
            await session.send_text(QUESTION)
            session.end()
            with anyio.fail_after(20):
                await session.wait()
    [call] = by_name(otel.finished(), "execute_tool get_weather")
    [turn] = by_name(otel.finished(), "voiceagent.turn")
    assert call.attributes is not None
    assert turn.attributes is not None
    if recorded:
        assert call.attributes["gen_ai.tool.call.arguments"] == '{"city":"Paris"}'
        assert call.attributes["gen_ai.tool.call.result"] == '{"city":"Paris","temp_c":21}'
        assert turn.attributes["voiceagent.turn.agent_text"] == OKAY
    else:
        assert "gen_ai.tool.call.arguments" not in call.attributes
        assert "gen_ai.tool.call.result" not in call.attributes
        assert "voiceagent.turn.agent_text" not in turn.attributes


STORY = (
    "Once upon a time there was a lighthouse keeper who counted the waves every night "
    "and wrote each number in a small blue book that nobody ever read."
)


async def test_a_cough_in_the_confirmation_window_is_a_false_interruption(otel: Otel) -> None:
    script = Script(Turn(hears="Tell me a story.", says=STORY))
    question = synthesize("Tell me a story.").audio
    cough = synthesize("Mmmmmm hmmmmm.").audio[: RATE * 2 * 450 // 1000]
    gap = RATE * 2 * 2400 // 1000 - len(question)
    audio = question + bytes(gap) + cough + bytes(RATE * 2 * 3)
    async with Emulator(speed=1.0, script=script, audio_chunk_ms=20) as emu:
        agent = Agent(
            turn_detection=ServerVad(silence_duration_ms=300, prefix_padding_ms=300),
            confirm_interruption_ms=1500,
            min_turn_ms=600,
            telemetry=otel.telemetry(),
        )
        with anyio.fail_after(40):
            result = await agent.run(
                source=MemorySource(audio, PCM, realtime=True),
                sink=MemorySink(realtime=True),
                **connect_args(emu),
            )
    [false] = otel.points("voiceagent.false_interruptions")
    assert false.value == 1
    assert otel.points("voiceagent.interruptions") == []
    [turn] = by_name(otel.finished(), "voiceagent.turn")  # the cough started no turn
    assert turn.attributes is not None
    assert turn.attributes["voiceagent.turn.false_interruptions"] == 1
    assert turn.attributes["voiceagent.turn.interrupted"] is False
    assert [e.name for e in turn.events] == ["voiceagent.false_interruption"]
    report = result.report()
    assert report.summary.false_interruptions == 1
    assert report.summary.interruptions == 0
    [only] = report.turns
    states = [s.state for s in only.states]
    assert states[:2] == ["user_speaking", "thinking"]
    assert "confirming" in states
    assert states[states.index("confirming") + 1] == "agent_speaking"  # it resumed
    assert only.agent_text == STORY


async def test_a_tool_cancelled_by_an_interruption_is_reported_cancelled(otel: Otel) -> None:
    started = anyio.Event()

    class Slow(Agent):
        instructions = "x"

        @tool(cancel_on_interrupt=True)
        async def search(self, query: str) -> str:
            """Search slowly."""
            started.set()
            await anyio.sleep(30)
            return "found"

    script = Script(
        Turn(hears=QUESTION, calls=[ToolCall("search", {"query": "x"})], says=OKAY),
        Turn(hears=STOP, says=OKAY),
    )
    async with Emulator(speed=None, script=script) as emu:
        agent = Slow(modalities=["text"], telemetry=otel.telemetry())
        async with agent.session(**connect_args(emu)) as session:
            await session.send_text(QUESTION)
            with anyio.fail_after(10):
                await started.wait()
            await session.send_text(STOP)  # interrupts: the call is cancelled
            session.end()
            with anyio.fail_after(20):
                result = await session.wait()
    [call] = by_name(otel.finished(), "execute_tool search")
    assert call.attributes is not None
    assert call.attributes["voiceagent.tool.outcome"] == "cancelled"
    assert not call.status.is_ok
    [tool_time] = otel.points("voiceagent.tool.duration")
    assert tool_time.attributes["voiceagent.tool.outcome"] == "cancelled"
    [first, second] = result.report().turns
    [cancelled] = first.tool_calls
    assert cancelled.outcome == "cancelled"
    assert cancelled.duration_s is not None
    assert cancelled.duration_s < 30
    assert first.interrupted
    assert second.trigger == "request"


async def test_without_an_sdk_nothing_is_recorded_but_the_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reset_trace_globals()
    reset_metrics_globals()
    script = Script(Turn(says=OKAY))
    async with Emulator(speed=None, script=script) as emu:
        agent = Weather(modalities=["text"])
        async with agent.session(**connect_args(emu)) as session:
            # No provider configured: the conversation's span is the API's no-op span, so
            # no context is attached either.
            await session.send_text(QUESTION)
            session.end()
            with anyio.fail_after(20):
                result = await session.wait()
    assert not trace.get_current_span().is_recording()
    report = result.report()
    assert report.summary.turns == 1
    assert report.turns[0].agent_text == OKAY


async def test_telemetry_off_keeps_no_report(otel: Otel) -> None:
    async with Emulator(speed=None, script=Script(Turn(says=OKAY))) as emu:
        agent = Weather(modalities=["text"])
        async with agent.session(telemetry=Telemetry.off(), **connect_args(emu)) as session:
            await session.send_text(QUESTION)
            session.end()
            with anyio.fail_after(20):
                result = await session.wait()
    with pytest.raises(ConfigurationError, match=r"Telemetry\(report=False\)"):
        result.report()
    assert otel.finished() == []


async def test_the_report_is_written_as_json_and_html(otel: Otel, tmp_path: Any) -> None:
    script = Script(
        Turn(hears=QUESTION, calls=[ToolCall("get_weather", {"city": "<Paris>"})], says=OKAY)
    )
    async with Emulator(speed=None, script=script) as emu:
        agent = Weather(modalities=["text"])
        async with agent.session(**connect_args(emu)) as session:
            await session.send_text("<script>alert(1)</script>")
            session.end()
            with anyio.fail_after(20):
                result = await session.wait()
    report = result.report()
    written = json.loads(report.write(tmp_path / "r.json").read_text())
    assert written == json.loads(report.to_json())
    assert written["turns"][0]["tool_calls"][0]["arguments"] == '{"city":"<Paris>"}'
    page = report.write(tmp_path / "r.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "<script>" not in page  # everything said is escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "get_weather" in page
    bare = result.report(content=False)
    assert bare.turns[0].tool_calls[0].arguments is None
    assert bare.turns[0].agent_text is None
    assert "alert" not in bare.to_html()
    with pytest.raises(ConfigurationError, match=r"\.json or \.html"):
        report.write(tmp_path / "r.txt")
