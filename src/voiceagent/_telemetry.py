"""Telemetry settings, and the OpenTelemetry side of a session's recording.

:class:`Telemetry` says what a session records about itself: OpenTelemetry traces and
metrics (through the API only: spans and measurements go to whatever SDK the application
configured, and nowhere when it configured none), and the timeline behind
``SessionResult.report()``.

:class:`Instrumentation` turns what the session's recorder (``_recorder.py``) learns into
spans and metric points. Everything OpenTelemetry is imported here, lazily, when the first
session that wants it starts: without the ``opentelemetry-api`` package, traces and
metrics are simply off.
"""

from __future__ import annotations

import logging
import os
import weakref
from typing import TYPE_CHECKING, Any, Final

import attrs

from ._checks import CompactRepr
from ._version import __version__
from .errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from opentelemetry.metrics import Counter, Histogram, Meter, UpDownCounter
    from opentelemetry.trace import Span, Tracer

__all__ = [
    "CONTENT_VARIABLES",
    "METRICS",
    "Instrumentation",
    "Telemetry",
    "content_recording_from_env",
]

log = logging.getLogger("voiceagent.telemetry")

SCOPE: Final = "voiceagent"
"""The instrumentation scope of voiceagent's tracer and meter."""
PROVIDER: Final = "microsoft.foundry"
"""``gen_ai.provider.name``, as the Voice Live SDK's own instrumentation sets it."""
SYSTEM: Final = "az.ai.voicelive"
"""``gen_ai.system``, as the Voice Live SDK's own instrumentation sets it."""
CONTENT_VARIABLES: Final = (
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
    "AZURE_TRACING_GEN_AI_CONTENT_RECORDING_ENABLED",
)
"""The environment variables that switch content recording on, preferred first (the
Voice Live SDK's ``VoiceLiveInstrumentor`` reads the same ones, the same way)."""

METRICS: Final[Mapping[str, str]] = {
    "voiceagent.turn.latency": "s: user stopped speaking (or asked) → first agent audio",
    "voiceagent.response.duration": "s: response.created → response.done",
    "voiceagent.interruptions": "{interruption}: the user interrupted the agent",
    "voiceagent.false_interruptions": "{interruption}: speech in the confirmation window "
    "that was not a turn (the agent resumed)",
    "voiceagent.tool.duration": "s: one tool call, by gen_ai.tool.name and outcome",
    "voiceagent.reconnects": "{reconnect}: the conversation moved to a new connection",
    "voiceagent.sessions.active": "{session}: conversations in progress",
    "voiceagent.conversation.duration": "s: one conversation, by end reason",
    "gen_ai.client.token.usage": "{token}: response.done usage, by gen_ai.token.type",
}
"""Every metric voiceagent records: name → unit and meaning."""

_LATENCY_BUCKETS: Final = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
_DURATION_BUCKETS: Final = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
_CONVERSATION_BUCKETS: Final = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 3600.0)
_TOKEN_BUCKETS: Final = tuple(float(4**n) for n in range(14))  # 1, 4, 16, ... 67108864


def _flag(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{attribute.name} must be True or False, not {value!r}")


def _optional_flag(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _flag(instance, attribute, value)


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{attribute.name} must be a whole number >= 1, not {value!r}")


def _provider(method: str) -> Any:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and not callable(getattr(value, method, None)):
            raise ConfigurationError(
                f"{attribute.name} must be an OpenTelemetry provider (with {method}()) or "
                f"None, not {value!r}"
            )

    return check


@attrs.frozen(kw_only=True, repr=False)
class Telemetry(CompactRepr):
    """What a session records about itself: ``Agent.telemetry`` (or ``telemetry=`` for
    one session).

    Traces and metrics go through the OpenTelemetry API: they cost next to nothing and go
    nowhere until the application configures an OpenTelemetry SDK (a ``TracerProvider``
    and a ``MeterProvider``, set globally or given here), and they are off when the
    ``opentelemetry-api`` package is not installed (``pip install "voiceagent[otel]"``
    brings the SDK). The report's timeline is kept in memory, up to ``report_turns`` turns.

    Attributes:
        traces: Record a span per conversation, user turn, response and tool call.
        metrics: Record turn latency, response and tool durations, interruptions,
            reconnections, active sessions and token usage.
        report: Keep the conversation's timeline for ``SessionResult.report()``.
        record_content: Put tool arguments and outputs (and transcripts) on spans. None
            (default): as the environment says, like the Voice Live SDK's own
            instrumentation: ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, else
            ``AZURE_TRACING_GEN_AI_CONTENT_RECORDING_ENABLED``, set to ``true``; off when
            both are set and differ. The report always holds the content (leave it out with
            ``report(content=False)``).
        report_turns: The most turns the report keeps (the latest); older turns are
            dropped from the timeline, and counted (``summary.dropped_turns``). Also the
            most reconnections and service errors kept. About 2-4 kB per turn.
        tracer_provider: The ``TracerProvider`` to use instead of the global one.
        meter_provider: The ``MeterProvider`` to use instead of the global one.
    """

    traces: bool = attrs.field(default=True, validator=_flag)
    metrics: bool = attrs.field(default=True, validator=_flag)
    report: bool = attrs.field(default=True, validator=_flag)
    record_content: bool | None = attrs.field(default=None, validator=_optional_flag)
    report_turns: int = attrs.field(default=1000, validator=_positive)
    tracer_provider: Any = attrs.field(default=None, validator=_provider("get_tracer"))
    meter_provider: Any = attrs.field(default=None, validator=_provider("get_meter"))

    @classmethod
    def off(cls) -> Telemetry:
        """No traces, no metrics, no report: the session records nothing."""
        return cls(traces=False, metrics=False, report=False)

    def content_recording(self) -> bool:
        """Whether content goes on spans: ``record_content``, or the environment's say."""
        if self.record_content is not None:
            return self.record_content
        return content_recording_from_env()


def content_recording_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment switches GenAI content recording on.

    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is preferred,
    ``AZURE_TRACING_GEN_AI_CONTENT_RECORDING_ENABLED`` is read when it is not set; the
    value ``true`` (any case) switches it on. When both are set and differ, recording is
    off and an error is logged, as the Voice Live SDK does.
    """
    env = os.environ if environ is None else environ
    new, old = (env.get(name) for name in CONTENT_VARIABLES)
    if new and old and new != old:
        log.error(
            "%s and %s are both set and differ: content recording is off; set only %s",
            *CONTENT_VARIABLES,
            CONTENT_VARIABLES[0],
        )
        return False
    value = new or old
    return value is not None and value.lower() == "true"


# -- OpenTelemetry ------------------------------------------------------------------------------


class _Instruments:
    """voiceagent's metric instruments on one meter provider."""

    def __init__(self, meter: Meter) -> None:
        def histogram(name: str, buckets: tuple[float, ...]) -> Histogram:
            unit, _, description = METRICS[name].partition(": ")
            return meter.create_histogram(
                name,
                unit=unit,
                description=description,
                explicit_bucket_boundaries_advisory=list(buckets),
            )

        def counter(name: str) -> Counter:
            unit, _, description = METRICS[name].partition(": ")
            return meter.create_counter(name, unit=unit, description=description)

        self.latency = histogram("voiceagent.turn.latency", _LATENCY_BUCKETS)
        self.response = histogram("voiceagent.response.duration", _DURATION_BUCKETS)
        self.tool = histogram("voiceagent.tool.duration", _DURATION_BUCKETS)
        self.conversation = histogram("voiceagent.conversation.duration", _CONVERSATION_BUCKETS)
        self.tokens = histogram("gen_ai.client.token.usage", _TOKEN_BUCKETS)
        self.interruptions = counter("voiceagent.interruptions")
        self.false_interruptions = counter("voiceagent.false_interruptions")
        self.reconnects = counter("voiceagent.reconnects")
        unit, _, description = METRICS["voiceagent.sessions.active"].partition(": ")
        self.active: UpDownCounter = meter.create_up_down_counter(
            "voiceagent.sessions.active", unit=unit, description=description
        )


_instruments: weakref.WeakKeyDictionary[Any, _Instruments] = weakref.WeakKeyDictionary()
"""Instruments per meter provider (created once, shared by its sessions)."""


def _instruments_for(provider: Any) -> _Instruments:
    from opentelemetry import metrics

    key = metrics.get_meter_provider() if provider is None else provider
    found = _instruments.get(key)
    if found is None:
        meter = metrics.get_meter(SCOPE, __version__, meter_provider=provider)
        found = _instruments[key] = _Instruments(meter)
    return found


def _available() -> bool:
    try:
        import opentelemetry.metrics
        import opentelemetry.trace  # noqa: F401
    except ImportError:
        return False
    return True


class Instrumentation:
    """One session's spans and metric points.

    Made by :meth:`create` (None when neither traces nor metrics are wanted, or the
    OpenTelemetry API is missing). Times are nanoseconds since the epoch. Spans are
    recorded only when the conversation's span records (an SDK is configured and the
    sampler kept it); metric points go to the meter provider's instruments, which the API
    makes no-ops until an SDK is configured.

    Args:
        tracer: The tracer, or None for no spans.
        instruments: The metric instruments, or None for no metrics.
        record_content: Whether tool arguments, outputs and transcripts go on spans.
        attributes: The attributes of every metric point (agent, model, provider).
    """

    def __init__(
        self,
        tracer: Tracer | None,
        instruments: _Instruments | None,
        *,
        record_content: bool,
        attributes: dict[str, str],
    ) -> None:
        self._tracer = tracer
        self.metrics = instruments
        self.record_content = record_content
        self.attributes = attributes
        self.conversation: Span | None = None
        """The conversation's span, while it records."""

    @classmethod
    def create(
        cls, settings: Telemetry, *, agent: str, model: str | None
    ) -> Instrumentation | None:
        """The instrumentation ``settings`` ask for, or None."""
        if not (settings.traces or settings.metrics) or not _available():
            return None
        from opentelemetry import trace

        tracer = (
            trace.get_tracer(SCOPE, __version__, tracer_provider=settings.tracer_provider)
            if settings.traces
            else None
        )
        instruments = _instruments_for(settings.meter_provider) if settings.metrics else None
        attributes = {"gen_ai.provider.name": PROVIDER, "gen_ai.agent.name": agent}
        if model:
            attributes["gen_ai.request.model"] = model
        return cls(
            tracer,
            instruments,
            record_content=settings.content_recording(),
            attributes=attributes,
        )

    # -- spans ------------------------------------------------------------------------------

    def start_conversation(self, at_ns: int, attributes: dict[str, Any]) -> None:
        """Start the conversation's span (kept only if it records)."""
        if self._tracer is None:
            return
        from opentelemetry.trace import SpanKind

        span = self._tracer.start_span(
            f"invoke_agent {self.attributes['gen_ai.agent.name']}",
            kind=SpanKind.INTERNAL,
            attributes={
                **self.attributes,
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.system": SYSTEM,
                **attributes,
            },
            start_time=at_ns,
        )
        if span.is_recording():
            self.conversation = span
        else:
            span.end()  # a no-op span (no SDK, or sampled out): nothing more to do

    def attach_conversation(self) -> object | None:
        """Make the conversation's span current (a token for :meth:`detach`), if it records."""
        if self.conversation is None:
            return None
        from opentelemetry import context, trace

        return context.attach(trace.set_span_in_context(self.conversation))

    @staticmethod
    def attach(span: Span) -> object:
        """Make ``span`` current in the running task; a token for :meth:`detach`."""
        from opentelemetry import context, trace

        return context.attach(trace.set_span_in_context(span))

    @staticmethod
    def detach(token: object) -> None:
        """Undo :meth:`attach` (in the same task)."""
        from opentelemetry import context

        context.detach(token)  # type: ignore[arg-type]

    def start_span(
        self,
        name: str,
        at_ns: int,
        attributes: dict[str, Any],
        *,
        parent: Span | None = None,
        client: bool = False,
    ) -> Span | None:
        """A child span of ``parent`` (default: the conversation), or None when the
        conversation does not record."""
        if self.conversation is None or self._tracer is None:
            return None
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind

        return self._tracer.start_span(
            name,
            context=trace.set_span_in_context(parent or self.conversation),
            kind=SpanKind.CLIENT if client else SpanKind.INTERNAL,
            attributes=attributes,
            start_time=at_ns,
        )

    @staticmethod
    def end_span(span: Span, at_ns: int, *, error: str | None = None) -> None:
        """End ``span`` at ``at_ns``, failed with ``error`` (its ``error.type``) if given."""
        if error is not None:
            from opentelemetry.trace import Status, StatusCode

            span.set_attribute("error.type", error)
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=at_ns)

    @staticmethod
    def event(span: Span | None, name: str, at_ns: int, attributes: dict[str, Any]) -> None:
        """A span event, if there is a span."""
        if span is not None:
            span.add_event(name, attributes, timestamp=at_ns)

    # -- metrics -----------------------------------------------------------------------------

    def point(self, metric: str, value: float, extra: Mapping[str, Any] | None = None) -> None:
        """Record ``value`` on the named instrument (see :data:`METRICS`)."""
        instruments = self.metrics
        if instruments is None:
            return
        attributes = self.attributes if not extra else {**self.attributes, **extra}
        instrument = getattr(instruments, _INSTRUMENT[metric])
        if hasattr(instrument, "record"):
            instrument.record(value, attributes)
        else:
            instrument.add(value, attributes)


_INSTRUMENT: Final = {
    "voiceagent.turn.latency": "latency",
    "voiceagent.response.duration": "response",
    "voiceagent.tool.duration": "tool",
    "voiceagent.conversation.duration": "conversation",
    "gen_ai.client.token.usage": "tokens",
    "voiceagent.interruptions": "interruptions",
    "voiceagent.false_interruptions": "false_interruptions",
    "voiceagent.reconnects": "reconnects",
    "voiceagent.sessions.active": "active",
}
