"""How a session is set up from its options and its audio ends: wire formats, echo
cancellation for a microphone with a speaker, the confirmation window, and the turn
machine's configuration. Pure functions of their arguments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from . import _turns as t
from ._features import EchoCancellation
from ._options import SERVICE_DEFAULT
from .audio import AudioFormat, wire_format_for

if TYPE_CHECKING:
    from ._options import SessionOptions
    from .audio import AudioSink, AudioSource

__all__ = [
    "input_wire",
    "output_wire",
    "turn_config",
    "with_confirmation_window",
    "with_echo_cancellation",
]


def input_wire(fmt: AudioFormat, options: SessionOptions) -> AudioFormat:
    if options.input_audio_format is not None:
        return AudioFormat.from_wire(options.input_audio_format, options.input_audio_sampling_rate)
    if options.input_audio_sampling_rate is not None:
        return AudioFormat(sample_rate=options.input_audio_sampling_rate)
    return wire_format_for(fmt)


def output_wire(fmt: AudioFormat, options: SessionOptions) -> AudioFormat:
    if options.output_audio_format is not None:
        return AudioFormat.from_wire(options.output_audio_format)
    return wire_format_for(fmt)


def with_echo_cancellation(
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


def with_confirmation_window(options: SessionOptions, window_ms: int | None) -> SessionOptions:
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
    detection = options.effective_turn_detection()
    if detection is None:
        return t.TurnConfig(
            server_cancels_on_speech=False,
            server_truncates=False,
            server_creates_response=False,
            server_detects_turns=False,
        )
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
