"""Turn detection: how the service decides that the user started and stopped speaking.

Every field defaults to None, which means "the service's default" (the field is not sent).
``None`` *instead of* a turn detection object means manual turns (push-to-talk); see
:class:`~voiceagent.SessionOptions`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final, TypeAlias

import attrs

from ._checks import (
    CompactRepr,
    Validator,
    boolean,
    instance_of,
    integer,
    number,
    one_of,
    optional,
    sequence,
    text,
    to_tuple,
)

__all__ = [
    "EOU_MODELS",
    "AzureSemanticVad",
    "AzureSemanticVadEn",
    "AzureSemanticVadMultilingual",
    "EndOfUtterance",
    "SemanticVad",
    "ServerVad",
    "TurnDetection",
]

EOU_MODELS: Final = (
    "semantic_detection_v1",
    "semantic_detection_v1_en",
    "semantic_detection_v1_multilingual",
)
"""The end-of-utterance detection models."""


def _opt(validator: Validator) -> Any:
    return attrs.field(default=None, validator=optional(validator))


_ms = integer(lo=0)


@attrs.frozen(kw_only=True, repr=False)
class EndOfUtterance(CompactRepr):
    """Semantic end-of-utterance detection: waits through natural pauses before ending a turn.

    Attributes:
        model: ``"semantic_detection_v1"`` (default), ``"semantic_detection_v1_en"`` or
            ``"semantic_detection_v1_multilingual"``.
        threshold_level: ``"low"``, ``"medium"``, ``"high"`` or ``"default"`` (= medium);
            lower means the service is surer the sentence is complete. None: service default.
        timeout_ms: Longest wait, in milliseconds, for more speech (service default 1000).
    """

    model: str = attrs.field(default="semantic_detection_v1", validator=one_of(*EOU_MODELS))
    threshold_level: str | None = _opt(one_of("low", "medium", "high", "default"))
    timeout_ms: int | None = _opt(_ms)


_eou = instance_of(EndOfUtterance, what="an EndOfUtterance(...)")


@attrs.frozen(kw_only=True, repr=False)
class _Vad(CompactRepr):
    """Fields every Azure VAD takes; subclasses set ``TYPE``."""

    TYPE: ClassVar[str]

    threshold: float | None = _opt(
        number(0.01, 1.0, hi_open=True, what="a number >= 0.01 and < 1.0")
    )
    prefix_padding_ms: int | None = _opt(_ms)
    silence_duration_ms: int | None = _opt(_ms)
    speech_duration_ms: int | None = _opt(_ms)
    end_of_utterance_detection: EndOfUtterance | None = attrs.field(
        default=None, validator=optional(_eou)
    )
    create_response: bool | None = _opt(boolean)
    interrupt_response: bool | None = _opt(boolean)
    auto_truncate: bool | None = _opt(boolean)


@attrs.frozen(kw_only=True, repr=False)
class ServerVad(_Vad):
    """Energy-based voice activity detection (``server_vad``), the service's default.

    Attributes:
        threshold: Activation threshold, >= 0.01 and < 1.0 (service default 0.5); higher
            needs louder speech.
        prefix_padding_ms: Audio kept before detected speech (service default 400).
        silence_duration_ms: Silence that ends a turn (service default 500).
        speech_duration_ms: Shortest speech that starts a turn (service default 200).
        end_of_utterance_detection: Semantic end-of-utterance detection, or None.
        create_response: Whether the end of a turn starts a response (service default True).
        interrupt_response: Whether speech interrupts (barges in on) the agent (default True).
        auto_truncate: Whether the service truncates an interrupted answer to what was
            played (service default False).
    """

    TYPE: ClassVar[str] = "server_vad"


@attrs.frozen(kw_only=True, repr=False)
class _AzureSemantic(_Vad):
    remove_filler_words: bool | None = _opt(boolean)


_languages = sequence(text(), what="a list of language codes", min_items=1, unique=True)


@attrs.frozen(kw_only=True, repr=False)
class AzureSemanticVad(_AzureSemantic):
    """Azure semantic VAD (``azure_semantic_vad``): a speech model, robust to noise.

    Attributes:
        threshold: Activation threshold, >= 0.01 and < 1.0 (service default 0.5).
        prefix_padding_ms: Audio kept before detected speech (service default 420).
        silence_duration_ms: Silence that ends a turn (service default 500).
        speech_duration_ms: Shortest speech that starts a turn (service default 80).
        end_of_utterance_detection: Semantic end-of-utterance detection, or None.
        create_response: Whether the end of a turn starts a response (service default True).
        interrupt_response: Whether speech interrupts the agent (service default True).
        auto_truncate: Whether an interrupted answer is truncated (service default False).
        remove_filler_words: Ignore filler words ("umm", "uh", ...) while the agent speaks,
            so they do not interrupt it (English; service default False).
        languages: Languages to expect, e.g. ``("en",)``; this variant supports English and
            the service ignores others.
    """

    TYPE: ClassVar[str] = "azure_semantic_vad"

    languages: tuple[str, ...] | None = attrs.field(
        default=None, converter=to_tuple, validator=optional(_languages)
    )


@attrs.frozen(kw_only=True, repr=False)
class AzureSemanticVadEn(_AzureSemantic):
    """Azure semantic VAD optimized for English (``azure_semantic_vad_en``).

    Attributes:
        threshold: Activation threshold, >= 0.01 and < 1.0 (service default 0.5).
        prefix_padding_ms: Audio kept before detected speech (service default 420).
        silence_duration_ms: Silence that ends a turn (service default 500).
        speech_duration_ms: Shortest speech that starts a turn (service default 80).
        end_of_utterance_detection: Semantic end-of-utterance detection, or None.
        create_response: Whether the end of a turn starts a response (service default True).
        interrupt_response: Whether speech interrupts the agent (service default True).
        auto_truncate: Whether an interrupted answer is truncated (service default False).
        remove_filler_words: Ignore filler words while the agent speaks (default False).
    """

    TYPE: ClassVar[str] = "azure_semantic_vad_en"


@attrs.frozen(kw_only=True, repr=False)
class AzureSemanticVadMultilingual(_AzureSemantic):
    """Multilingual Azure semantic VAD (``azure_semantic_vad_multilingual``).

    Attributes:
        threshold: Activation threshold, >= 0.01 and < 1.0 (service default 0.5).
        prefix_padding_ms: Audio kept before detected speech (service default 420).
        silence_duration_ms: Silence that ends a turn (service default 500).
        speech_duration_ms: Shortest speech that starts a turn (service default 80).
        end_of_utterance_detection: Semantic end-of-utterance detection, or None.
        create_response: Whether the end of a turn starts a response (service default True).
        interrupt_response: Whether speech interrupts the agent (service default True).
        auto_truncate: Whether an interrupted answer is truncated (service default False).
        remove_filler_words: Ignore filler words while the agent speaks (default False).
        languages: Languages to expect; supported: English, Spanish, French, Italian,
            German, Japanese, Portuguese, Chinese, Korean and Hindi (e.g. ``("en", "es")``);
            the service ignores others.
    """

    TYPE: ClassVar[str] = "azure_semantic_vad_multilingual"

    languages: tuple[str, ...] | None = attrs.field(
        default=None, converter=to_tuple, validator=optional(_languages)
    )


@attrs.frozen(kw_only=True, repr=False)
class SemanticVad(CompactRepr):
    """OpenAI semantic VAD (``semantic_vad``), for gpt-realtime models only.

    Attributes:
        eagerness: ``"low"`` lets the user take their time, ``"high"`` answers as soon as
            possible, ``"medium"``; ``"auto"`` (the service default) is medium.
        create_response: Whether the end of a turn starts a response (service default True).
        interrupt_response: Whether speech interrupts the agent (service default True).
    """

    TYPE: ClassVar[str] = "semantic_vad"

    eagerness: str | None = _opt(one_of("auto", "low", "medium", "high"))
    create_response: bool | None = _opt(boolean)
    interrupt_response: bool | None = _opt(boolean)


TurnDetection: TypeAlias = (
    ServerVad | AzureSemanticVad | AzureSemanticVadEn | AzureSemanticVadMultilingual
    | SemanticVad
)  # fmt: skip
"""Any turn detection configuration."""

TURN_DETECTION_CLASSES: Final = (
    ServerVad,
    AzureSemanticVad,
    AzureSemanticVadEn,
    AzureSemanticVadMultilingual,
    SemanticVad,
)
