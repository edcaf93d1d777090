"""Optional service features: noise reduction, echo cancellation, input transcription and
interim responses.

Each is an attrs value validated when built; :class:`~voiceagent.SessionOptions` decides
whether it is sent, turned off (None) or left to the service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, TypeAlias

import attrs

from ._checks import (
    CompactRepr,
    Validator,
    fail,
    integer,
    model_family,
    one_of,
    optional,
    sequence,
    string_map,
    text,
    to_mapping,
    to_tuple,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "AZURE_TRANSCRIPTION_MODELS",
    "OPENAI_TRANSCRIPTION_MODELS",
    "EchoCancellation",
    "InputTranscription",
    "InterimResponse",
    "LlmInterimResponse",
    "NoiseReduction",
    "StaticInterimResponse",
    "check_transcription",
]

OPENAI_TRANSCRIPTION_MODELS: Final = (
    "whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "gpt-4o-transcribe-diarize",
)  # fmt: skip
AZURE_TRANSCRIPTION_MODELS: Final = (
    "azure-speech", "mai-transcribe", "mai-transcribe-1", "mai-transcribe-2",
)  # fmt: skip


def _opt(validator: Validator) -> Any:
    return attrs.field(default=None, validator=optional(validator))


@attrs.frozen(repr=False)
class NoiseReduction(CompactRepr):
    """Input noise suppression, applied before voice activity detection and the model.

    Attributes:
        type: ``"azure_deep_noise_suppression"`` (default, every model), or ``"near_field"``
            / ``"far_field"`` (gpt-realtime models only: close-talking or distant microphone).
    """

    type: str = attrs.field(
        default="azure_deep_noise_suppression",
        validator=one_of("azure_deep_noise_suppression", "near_field", "far_field"),
    )


@attrs.frozen(kw_only=True, repr=False)
class EchoCancellation(CompactRepr):
    """Server-side echo cancellation: removes the agent's own voice picked up by the mic.

    The service assumes the client plays answers as they arrive; playback delayed by more
    than 2 s degrades it.

    Attributes:
        reference_source: ``"server"`` (the service's own audio is the reference; the
            service default) or ``"client"`` (preview: channel 1 of stereo input carries
            the reference; needs ``channels=2`` and the ``client_ec_reference`` feature,
            which :attr:`SessionOptions.connect_query` requests).
        channels: 1 (mono input, the default) or 2 (interleaved stereo pcm16: microphone,
            reference); 2 goes with ``reference_source="client"`` only.
    """

    reference_source: str | None = _opt(one_of("server", "client"))
    channels: int | None = _opt(one_of(1, 2))

    def __attrs_post_init__(self) -> None:
        client = self.reference_source == "client"
        if client and self.channels != 2:
            raise fail(self, "channels", self.channels, "2 with reference_source 'client'")
        if self.channels == 2 and not client:
            raise fail(self, "reference_source", self.reference_source, "'client' with channels=2")


def check_transcription(owner: object, options: InputTranscription, model: str) -> None:
    """Fields each transcription model supports (only for models known to voiceagent)."""
    openai = model in OPENAI_TRANSCRIPTION_MODELS
    azure = model in AZURE_TRANSCRIPTION_MODELS
    if options.prompt is not None and azure:
        raise fail(owner, "prompt", options.prompt, f"None with model {model!r} (prompts are "
                   "for " + ", ".join(OPENAI_TRANSCRIPTION_MODELS) + ")")  # fmt: skip
    if options.phrase_list is not None and openai:
        raise fail(owner, "phrase_list", options.phrase_list, f"None with model {model!r} "
                   "(phrase lists are for azure-speech and mai-transcribe)")  # fmt: skip
    if options.custom_speech is not None and (openai or (azure and model != "azure-speech")):
        raise fail(owner, "custom_speech", dict(options.custom_speech),
                   f"None with model {model!r} (custom speech is for azure-speech)")  # fmt: skip


@attrs.frozen(kw_only=True, repr=False)
class InputTranscription(CompactRepr):
    """Transcription of the user's speech, which produces the user transcript events.

    Attributes:
        model: ``"azure-speech"``, ``"mai-transcribe"`` (``-1``, ``-2``), or for
            gpt-realtime models ``"whisper-1"``, ``"gpt-4o-transcribe"``,
            ``"gpt-4o-mini-transcribe"``, ``"gpt-4o-transcribe-diarize"``; any other name
            is passed through. None (the default) picks by session model: ``whisper-1`` for
            gpt-realtime models, ``azure-speech`` for the others.
        language: A BCP-47 (``"en-US"``) or ISO-639-1 (``"en"``) code, or a comma list
            (``"en,zh"``) to auto-detect among.
        prompt: Guidance text for the OpenAI transcription models only.
        phrase_list: Phrases to bias recognition towards (azure-speech, mai-transcribe).
        custom_speech: Custom speech models, locale to endpoint id (azure-speech only).
    """

    model: str | None = _opt(text())
    language: str | None = _opt(text())
    prompt: str | None = _opt(text(non_empty=False))
    phrase_list: tuple[str, ...] | None = attrs.field(
        default=None,
        converter=to_tuple,
        validator=optional(sequence(text(), what="a list of phrases")),
    )
    custom_speech: Mapping[str, str] | None = attrs.field(
        default=None, converter=to_mapping, validator=optional(string_map()), hash=False
    )

    def __attrs_post_init__(self) -> None:
        if self.model is not None:
            check_transcription(self, self, self.model)

    def model_for(self, session_model: str) -> str:
        """The transcription model to send with a session on ``session_model``."""
        if self.model is not None:
            return self.model
        return "whisper-1" if model_family(session_model) == "gpt-realtime" else "azure-speech"


# --- interim responses ----------------------------------------------------------------------

_triggers = optional(
    sequence(one_of("latency", "tool"), what="a list of 'latency' and 'tool'", min_items=1,
             unique=True)
)  # fmt: skip


@attrs.frozen(kw_only=True, repr=False)
class StaticInterimResponse(CompactRepr):
    """Say one of fixed ``texts`` while the answer is slow or a tool runs.

    Attributes:
        texts: The phrases to pick from at random, e.g. ``("One moment...",)``.
        triggers: ``"latency"`` and/or ``"tool"`` (service default: latency).
        latency_threshold_ms: Delay before a latency trigger fires (service default 2000).
    """

    texts: tuple[str, ...] | None = attrs.field(
        default=None,
        converter=to_tuple,
        validator=optional(sequence(text(), what="a list of phrases", min_items=1)),
    )
    triggers: tuple[str, ...] | None = attrs.field(
        default=None, converter=to_tuple, validator=_triggers
    )
    latency_threshold_ms: int | None = _opt(integer(lo=0))


@attrs.frozen(kw_only=True, repr=False)
class LlmInterimResponse(CompactRepr):
    """Let a small text model improvise a filler while the answer is slow or a tool runs
    (cascaded models with an Azure voice).

    Attributes:
        model: The text model (service default ``gpt-4.1-mini``).
        instructions: How to phrase the filler.
        max_completion_tokens: Longest filler, >= 1 (service default 50).
        triggers: ``"latency"`` and/or ``"tool"`` (service default: latency).
        latency_threshold_ms: Delay before a latency trigger fires (service default 2000).
    """

    model: str | None = _opt(text())
    instructions: str | None = _opt(text())
    max_completion_tokens: int | None = _opt(integer(lo=1))
    triggers: tuple[str, ...] | None = attrs.field(
        default=None, converter=to_tuple, validator=_triggers
    )
    latency_threshold_ms: int | None = _opt(integer(lo=0))


InterimResponse: TypeAlias = StaticInterimResponse | LlmInterimResponse
"""Either kind of interim response."""
