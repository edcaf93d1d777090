"""Resolving a session's configuration once: from the agent, its audio ends and the
session's overrides to the ``session.update`` to send, the wire formats and the turn
machine's configuration.

:func:`resolve` is pure (no I/O, no clock): everything a session derives from its
options is derived here, in one place, and the session only carries the result.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import attrs

from . import _turns as t
from ._features import EchoCancellation
from ._options import SERVICE_DEFAULT, SessionOptions, to_request_session
from ._wire import RECEIVE_LIMIT
from .audio import AudioFormat, wire_format_for
from .errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from azure.ai.voicelive.models import RequestSession

    from ._agent import Agent
    from ._reconnect import ReconnectPolicy
    from ._telemetry import Telemetry
    from .audio import AudioSink, AudioSource

__all__ = ["SessionPlan", "resolve", "turn_config"]


@attrs.frozen(kw_only=True)
class SessionPlan:
    """Everything a session derives from its agent, audio ends and overrides.

    Attributes:
        options: The options in force: the agent's, with the session's overrides, the
            echo cancellation a microphone with a speaker needs, and the server turn
            settings a confirmation window needs.
        request: The ``session`` of the ``session.update`` that configures the service.
        input_format: The wire format of the user's audio; None without a source.
        output_format: The wire format of the agent's audio (a session without a sink
            still receives it in this format and drops it).
        audio_out: Whether the agent answers with audio (``"audio"`` in the modalities).
        turns: The turn machine's configuration.
        query: Extra query parameters of the connection.
        cancel_on_interrupt: Each tool's ``cancel_on_interrupt`` policy, by name.
        reconnect: How the session survives a lost connection.
        telemetry: What the session records about itself.
    """

    options: SessionOptions
    request: RequestSession = attrs.field(repr=False)
    input_format: AudioFormat | None
    output_format: AudioFormat
    audio_out: bool
    turns: t.TurnConfig
    query: Mapping[str, str]
    cancel_on_interrupt: Mapping[str, bool]
    reconnect: ReconnectPolicy
    telemetry: Telemetry


def resolve(
    agent: Agent,
    *,
    source: AudioSource | None,
    sink: AudioSink | None,
    overrides: Mapping[str, Any],
    reconnect: ReconnectPolicy | None = None,
    telemetry: Telemetry | None = None,
) -> SessionPlan:
    """Resolve one session's configuration.

    Args:
        agent: The agent.
        source: The user's audio, or None.
        sink: Where the agent's audio goes, or None (dropped).
        overrides: Session option overrides for this session.
        reconnect: The session's reconnection policy (default: the agent's).
        telemetry: The session's telemetry settings (default: the agent's).

    Returns:
        The plan.

    Raises:
        ConfigurationError: An invalid override, formats that contradict the options, or a
            configuration too large for the service to echo back.
    """
    try:
        options = agent.options.evolve(**overrides) if overrides else agent.options
    except (ConfigurationError, TypeError) as exc:
        raise ConfigurationError(f"{type(agent).__qualname__}.session(): {exc}") from None
    if options.foundry_agent is not None and len(agent.tools):
        raise ConfigurationError(
            f"{type(agent).__qualname__}: function tools ({', '.join(agent.tools.names())}) "
            f"cannot be used with foundry_agent={options.foundry_agent!r}: the Foundry agent "
            "answers and calls its own tools; declare them on the agent in the Foundry project"
        )
    audio_out = "audio" in options.effective_modalities
    input_format = None if source is None else _input_wire(source.format, options)
    output_format = _output_wire(None if sink is None else sink.format, options)
    options = _with_echo_cancellation(options, source, sink)
    options = _with_confirmation_window(options, agent.confirm_interruption_ms)
    request = to_request_session(
        options,
        tools=agent.tools.to_sdk(),
        input_audio_format=input_format,
        output_audio_format=output_format if audio_out and sink is not None else None,
    )
    size = len(json.dumps(request.as_dict()))
    if size + 4096 > RECEIVE_LIMIT:
        raise ConfigurationError(
            f"{type(agent).__qualname__}: the session configuration (instructions and tool "
            f"definitions) is {size / 1_048_576:.1f} MiB once encoded; Voice Live echoes it "
            f"back in one message, which the connection receives only up to "
            f"{RECEIVE_LIMIT // 1_048_576} MiB"
        )
    return SessionPlan(
        options=options,
        request=request,
        input_format=input_format,
        output_format=output_format,
        audio_out=audio_out,
        turns=turn_config(options, agent.confirm_interruption_ms, agent.min_turn_ms),
        query=options.connect_query,
        cancel_on_interrupt={spec.name: spec.cancel_on_interrupt for spec in agent.tools},
        reconnect=agent.reconnect if reconnect is None else reconnect,
        telemetry=agent.telemetry if telemetry is None else telemetry,
    )


def _input_wire(fmt: AudioFormat, options: SessionOptions) -> AudioFormat:
    if options.input_audio_format is not None:
        return AudioFormat.from_wire(options.input_audio_format, options.input_audio_sampling_rate)
    if options.input_audio_sampling_rate is not None:
        return AudioFormat(sample_rate=options.input_audio_sampling_rate)
    return wire_format_for(fmt)


def _output_wire(fmt: AudioFormat | None, options: SessionOptions) -> AudioFormat:
    if options.output_audio_format is not None:
        return AudioFormat.from_wire(options.output_audio_format)
    return AudioFormat() if fmt is None else wire_format_for(fmt)


def _with_echo_cancellation(
    options: SessionOptions, source: AudioSource | None, sink: AudioSink | None
) -> SessionOptions:
    """A microphone and a speaker in one session hear each other: unless the application
    chose otherwise, turn on the service's echo cancellation."""
    from .audio import Microphone, Speaker

    if (
        isinstance(source, Microphone)
        and isinstance(sink, Speaker)
        and options.echo_cancellation is SERVICE_DEFAULT
    ):
        return options.evolve(echo_cancellation=EchoCancellation())
    return options


def _with_confirmation_window(options: SessionOptions, window_ms: int | None) -> SessionOptions:
    """With a confirmation window the client decides about interruptions, so the server
    must neither cancel, truncate nor answer on its own."""
    detection = options.effective_turn_detection()
    if window_ms is None or detection is None:
        return options
    changes: dict[str, Any] = {"interrupt_response": False, "create_response": False}
    if attrs.has(type(detection)) and "auto_truncate" in attrs.fields_dict(type(detection)):
        changes["auto_truncate"] = False
    return options.evolve(turn_detection=attrs.evolve(detection, **changes))


def turn_config(options: SessionOptions, window_ms: int | None, min_turn_ms: int) -> t.TurnConfig:
    """The turn machine's configuration for ``options``."""
    detection = options.effective_turn_detection()
    if detection is None:
        return t.TurnConfig.manual()
    prefix = getattr(detection, "prefix_padding_ms", None)
    silence = getattr(detection, "silence_duration_ms", None)
    interrupts = detection.interrupt_response is not False
    return t.TurnConfig(
        server_cancels_on_speech=interrupts,
        # The service truncates by itself only when it also interrupts (protocol §4.7).
        server_truncates=interrupts and bool(getattr(detection, "auto_truncate", None)),
        server_creates_response=detection.create_response is not False,
        server_detects_turns=True,
        confirm_window_ms=window_ms,
        min_turn_ms=min_turn_ms,
        vad_padding_ms=(300 if prefix is None else prefix) + (500 if silence is None else silence),
    )
