"""Session options: everything an agent configures about a Voice Live session, validated.

:class:`SessionOptions` gathers the voice, turn detection, audio processing, transcription,
sampling and tool settings of a session. Every value is checked when the options are built,
so a mistake fails where the agent is defined, with a
:class:`~voiceagent.errors.ConfigurationError` naming the field, the bad value and what is
allowed, never later on the wire. :func:`~voiceagent._request_session.to_request_session`
turns the options into the SDK's ``RequestSession``.

Unset means "service default". Most fields default to None and are then not sent. The four
features the service can switch off (turn detection, noise reduction, echo cancellation and
input transcription) use :data:`SERVICE_DEFAULT` for "not set" instead, so that None can
mean "off" (sent as ``null``): ``turn_detection=None`` means manual, push-to-talk turns.
"""

from __future__ import annotations

import enum
import math
import re
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, TypeAlias

import attrs

from ._avatar import Animation, Avatar
from ._checks import (
    CompactRepr,
    Validator,
    boolean,
    fail,
    instance_of,
    integer,
    number,
    one_of,
    optional,
    sequence,
    string_map,
    text,
    to_mapping,
    to_tuple,
)
from ._turn_detection import TURN_DETECTION_CLASSES, SemanticVad, TurnDetection
from ._voices import (
    VOICE_CLASSES,
    AzureRealtimeNativeVoice,
    OpenAIVoice,
    Voice,
    voice_from,
)
from .errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "INPUT_AUDIO_FORMATS",
    "OUTPUT_AUDIO_FORMATS",
    "SERVICE_DEFAULT",
    "EchoCancellation",
    "InputTranscription",
    "InterimResponse",
    "LlmInterimResponse",
    "NoiseReduction",
    "ServiceDefault",
    "SessionOptions",
    "StaticInterimResponse",
    "model_family",
]


class ServiceDefault(enum.Enum):
    """The type of :data:`SERVICE_DEFAULT`: "leave this to the service" (the field is not
    sent), as opposed to None, which turns the feature off."""

    SERVICE_DEFAULT = "SERVICE_DEFAULT"

    def __repr__(self) -> str:
        return "SERVICE_DEFAULT"


SERVICE_DEFAULT: Final = ServiceDefault.SERVICE_DEFAULT
"""Leave a feature as the service configures it (the field is not sent)."""

Unset: TypeAlias = Literal[ServiceDefault.SERVICE_DEFAULT]

INPUT_AUDIO_FORMATS: Final = ("pcm16", "g711_ulaw", "g711_alaw")
"""Wire formats of input audio."""
PCM16_INPUT_RATES: Final = (8000, 16000, 24000, 44100)
"""Input sampling rates for pcm16 (G.711 is always 8000 Hz)."""
OUTPUT_AUDIO_FORMATS: Final = (
    "pcm16", "pcm16_8000hz", "pcm16_16000hz", "g711_ulaw", "g711_alaw",
    "pcm16_22050hz", "pcm16_24000hz", "pcm16_44100hz", "pcm16_48000hz",
)  # fmt: skip
"""Wire formats of output audio; ``pcm16`` is 24 kHz. The last four need an Azure voice."""
_AZURE_VOICE_ONLY_FORMATS: Final = OUTPUT_AUDIO_FORMATS[5:]

MODALITIES: Final = ("text", "audio", "animation", "avatar")
REASONING_EFFORTS: Final = ("none", "minimal", "low", "medium", "high", "xhigh")
INCLUDE_OPTIONS: Final = (
    "item.input_audio_transcription.logprobs",
    "item.input_audio_transcription.phrases",
    "file_search_call.results",
)
TOOL_CHOICES: Final = ("auto", "none", "required")
_FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")

OPENAI_TRANSCRIPTION_MODELS: Final = (
    "whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "gpt-4o-transcribe-diarize",
)  # fmt: skip
AZURE_TRANSCRIPTION_MODELS: Final = (
    "azure-speech", "mai-transcribe", "mai-transcribe-1", "mai-transcribe-2",
)  # fmt: skip

ModelFamily: TypeAlias = Literal["gpt-realtime", "azure-realtime", "other", "unknown"]


def model_family(model: str) -> ModelFamily:
    """Which family a model name belongs to, for the checks that depend on the model.

    Returns:
        ``"gpt-realtime"`` (``gpt-realtime*``, ``gpt-4o*-realtime*``), ``"azure-realtime"``,
        ``"other"`` for other known names (``gpt-4.1``, ``gpt-5``, ``phi4-*`` ...), and
        ``"unknown"`` otherwise: model-specific checks are then skipped.
    """
    name = model.lower()
    if name.startswith("azure-realtime"):
        return "azure-realtime"
    if name.startswith("gpt") and "realtime" in name:
        return "gpt-realtime"
    return "other" if name.startswith(("gpt-", "phi")) else "unknown"


def _opt(validator: Validator) -> Any:
    return attrs.field(default=None, validator=optional(validator))


# --- audio processing and transcription -----------------------------------------------------


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


def _check_transcription(owner: object, options: InputTranscription, model: str) -> None:
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
            _check_transcription(self, self, self.model)

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


# --- session options ------------------------------------------------------------------------


def _voice_or_none(value: str | Voice | None) -> Voice | None:
    return None if value is None else voice_from(value)


def _max_tokens(value: int | float | str | None) -> int | str | None:
    return "inf" if value == math.inf else value  # type: ignore[return-value]


def _feature(*classes: type, what: str) -> Validator:
    check = instance_of(*classes, ServiceDefault, type(None), what=what)
    return check


def _tokens(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value != "inf":
        integer(1, 4096)(instance, attribute, value)


def _tool_choice(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not _FUNCTION_NAME.fullmatch(value):
        raise fail(instance, attribute.name, value, "'auto', 'none', 'required' or the name "
                   "of a function tool (1-64 letters, digits, '_' or '-')")  # fmt: skip


_modalities = sequence(one_of(*MODALITIES), what="a list of 'text', 'audio', 'animation' and "
                       "'avatar'", min_items=1, unique=True)  # fmt: skip


@attrs.frozen(kw_only=True, repr=False)
class SessionOptions(CompactRepr):
    """The configuration of a Voice Live session, validated when built.

    Agent subclasses set the same names as class attributes (``voice = "alloy"``); see
    :attr:`FIELDS`. None (or :data:`SERVICE_DEFAULT`, for the four switchable features)
    leaves a setting to the service: it is not sent.

    Attributes:
        model: The model, sent as the connection's ``model`` query parameter (not as a
            session field): ``"gpt-realtime"`` (default), ``"gpt-realtime-mini"``,
            ``"azure-realtime"``, ``"gpt-4.1"``, ``"gpt-5"``... Any name is accepted.
        instructions: The system prompt; ``""`` clears the service's.
        voice: A voice object, or a string: an OpenAI voice name (``"alloy"``) or an Azure
            voice name (``"en-US-Ava:DragonHDLatestNeural"``); see :func:`voice_from`.
        modalities: Output modalities, including ``"text"``: ``("text",)`` for text only,
            ``("text", "audio")`` (service default), plus ``"animation"``/``"avatar"``.
        turn_detection: :class:`ServerVad`, :class:`AzureSemanticVad`,
            :class:`AzureSemanticVadEn`, :class:`AzureSemanticVadMultilingual` or
            :class:`SemanticVad`; None for manual (push-to-talk) turns; the default,
            :data:`SERVICE_DEFAULT`, keeps the service's (server VAD, auto responses).
        noise_reduction: A :class:`NoiseReduction`; None turns it off; default: service's
            (off).
        echo_cancellation: An :class:`EchoCancellation`; None turns it off; default:
            service's (off).
        input_transcription: An :class:`InputTranscription`, on by default (the model is
            picked per session model) because user transcripts need it; None turns it off;
            :data:`SERVICE_DEFAULT` keeps the service's (off for realtime models).
        temperature: Sampling temperature, 0.6 to 1.2 (service default 0.8).
        max_output_tokens: Most tokens per answer, 1 to 4096, or ``"inf"`` (the default).
        tool_choice: ``"auto"`` (service default), ``"none"``, ``"required"`` or the name
            of one function tool the model must call.
        parallel_tool_calls: Whether the model may call several tools at once (default True).
        input_audio_format: ``"pcm16"``, ``"g711_ulaw"`` or ``"g711_alaw"``; None: the
            session picks it from the audio source.
        input_audio_sampling_rate: 8000, 16000, 24000 or 44100 for pcm16; 8000 for G.711.
            None: the session picks it from the audio source.
        output_audio_format: ``"pcm16"`` (24 kHz), ``"pcm16_8000hz"``, ``"pcm16_16000hz"``,
            ``"g711_ulaw"``, ``"g711_alaw"``, or with an Azure voice ``"pcm16_22050hz"``,
            ``"pcm16_24000hz"``, ``"pcm16_44100hz"``, ``"pcm16_48000hz"``. None: the session
            picks it from the audio sink.
        output_audio_timestamp_types: ``("word",)`` to get word timestamps with the audio.
        avatar: An :class:`Avatar` that speaks the answers on video.
        animation: :class:`Animation` data (blendshapes, visemes) with the audio.
        interim_response: A :class:`StaticInterimResponse` or :class:`LlmInterimResponse`
            filler while the answer is slow or a tool runs.
        reasoning_effort: For reasoning models: ``"none"``, ``"minimal"``, ``"low"``,
            ``"medium"``, ``"high"`` or ``"xhigh"``.
        include: Extra data in events: ``"item.input_audio_transcription.logprobs"``,
            ``"item.input_audio_transcription.phrases"``, ``"file_search_call.results"``.
        metadata: Up to 16 string pairs (keys <= 64, values <= 512 characters) attached to
            the session and its resource logs.
    """

    FIELDS: ClassVar[frozenset[str]]
    """The option names, which are also the class attributes an ``Agent`` subclass sets."""

    model: str = attrs.field(default="gpt-realtime", validator=text())
    instructions: str | None = _opt(text(non_empty=False))
    voice: Voice | None = attrs.field(default=None, converter=_voice_or_none)
    modalities: tuple[str, ...] | None = attrs.field(
        default=None, converter=to_tuple, validator=optional(_modalities)
    )
    turn_detection: TurnDetection | Unset | None = attrs.field(
        default=SERVICE_DEFAULT,
        validator=_feature(
            *TURN_DETECTION_CLASSES,
            what="ServerVad(...), AzureSemanticVad(...), AzureSemanticVadEn(...), "
            "AzureSemanticVadMultilingual(...), SemanticVad(...), None for manual turns, "
            "or SERVICE_DEFAULT",
        ),
    )
    noise_reduction: NoiseReduction | Unset | None = attrs.field(
        default=SERVICE_DEFAULT,
        validator=_feature(NoiseReduction, what="NoiseReduction(...), None or SERVICE_DEFAULT"),
    )
    echo_cancellation: EchoCancellation | Unset | None = attrs.field(
        default=SERVICE_DEFAULT,
        validator=_feature(EchoCancellation, what="EchoCancellation(...), None or SERVICE_DEFAULT"),
    )
    input_transcription: InputTranscription | Unset | None = attrs.field(
        factory=InputTranscription,
        validator=_feature(
            InputTranscription, what="InputTranscription(...), None or SERVICE_DEFAULT"
        ),
    )
    temperature: float | None = _opt(number(0.6, 1.2))
    max_output_tokens: int | Literal["inf"] | None = attrs.field(
        default=None, converter=_max_tokens, validator=optional(_tokens)
    )
    tool_choice: str | None = _opt(_tool_choice)
    parallel_tool_calls: bool | None = _opt(boolean)
    input_audio_format: str | None = _opt(one_of(*INPUT_AUDIO_FORMATS))
    input_audio_sampling_rate: int | None = _opt(integer(lo=1))
    output_audio_format: str | None = _opt(one_of(*OUTPUT_AUDIO_FORMATS))
    output_audio_timestamp_types: tuple[str, ...] | None = attrs.field(
        default=None,
        converter=to_tuple,
        validator=optional(
            sequence(one_of("word"), what="a list of 'word'", min_items=1, unique=True)
        ),
    )
    avatar: Avatar | None = attrs.field(
        default=None, validator=optional(instance_of(Avatar, what="an Avatar(character=...)"))
    )
    animation: Animation | None = attrs.field(
        default=None, validator=optional(instance_of(Animation, what="an Animation(...)"))
    )
    interim_response: InterimResponse | None = attrs.field(
        default=None,
        validator=optional(
            instance_of(
                StaticInterimResponse,
                LlmInterimResponse,
                what="a StaticInterimResponse(...) or LlmInterimResponse(...)",
            )
        ),
    )
    reasoning_effort: str | None = _opt(one_of(*REASONING_EFFORTS))
    include: tuple[str, ...] | None = attrs.field(
        default=None,
        converter=to_tuple,
        validator=optional(
            sequence(one_of(*INCLUDE_OPTIONS), what="a list of include options", unique=True)
        ),
    )
    metadata: Mapping[str, str] | None = attrs.field(
        default=None,
        converter=to_mapping,
        validator=optional(string_map(max_entries=16, max_key=64, max_value=512)),
        hash=False,
    )

    def __attrs_post_init__(self) -> None:
        if self.voice is not None and not isinstance(self.voice, VOICE_CLASSES):
            raise fail(self, "voice", self.voice, "a voice name or a voice object")
        if self.modalities is not None and "text" not in self.modalities:
            raise fail(self, "modalities", self.modalities, "a list that includes 'text' "
                       "(audio-only output is not allowed)")  # fmt: skip
        self._check_audio_formats()
        self._check_model_support()
        transcription = self.input_transcription
        if isinstance(transcription, InputTranscription) and transcription.model is None:
            _check_transcription(self, transcription, transcription.model_for(self.model))

    def _check_audio_formats(self) -> None:
        fmt = self.input_audio_format or "pcm16"
        rate = self.input_audio_sampling_rate
        allowed = (8000,) if fmt.startswith("g711") else PCM16_INPUT_RATES
        if rate is not None and rate not in allowed:
            raise fail(self, "input_audio_sampling_rate", rate, f"one of {allowed} for "
                       f"input_audio_format {fmt!r}")  # fmt: skip
        echo = self.echo_cancellation
        if isinstance(echo, EchoCancellation) and echo.channels == 2 and fmt != "pcm16":
            raise fail(self, "input_audio_format", fmt, "'pcm16' with two-channel echo "
                       "cancellation")  # fmt: skip
        if self.output_audio_format in _AZURE_VOICE_ONLY_FORMATS and isinstance(
            self.voice, OpenAIVoice | AzureRealtimeNativeVoice
        ):
            raise fail(self, "output_audio_format", self.output_audio_format, "one of "
                       f"{OUTPUT_AUDIO_FORMATS[:5]} with voice {self.voice!r} (other rates "
                       "need an Azure voice)")  # fmt: skip

    def _check_model_support(self) -> None:
        """Reject features documented for other models (only for models voiceagent knows)."""
        family = model_family(self.model)
        if family == "unknown":
            return
        restrictions: list[tuple[str, object, bool, str]] = [
            ("voice", self.voice, isinstance(self.voice, AzureRealtimeNativeVoice),
             "azure-realtime"),
            ("turn_detection", self.turn_detection, isinstance(self.turn_detection, SemanticVad),
             "gpt-realtime"),
            ("noise_reduction", self.noise_reduction,
             isinstance(self.noise_reduction, NoiseReduction)
             and self.noise_reduction.type in ("near_field", "far_field"), "gpt-realtime"),
            ("input_transcription", self.input_transcription,
             isinstance(self.input_transcription, InputTranscription)
             and self.input_transcription.model in OPENAI_TRANSCRIPTION_MODELS, "gpt-realtime"),
        ]  # fmt: skip
        for name, value, restricted, needs in restrictions:
            if restricted and family != needs:
                raise fail(self, name, value, f"a setting supported by {needs} models; the "
                           f"model is {self.model!r}")  # fmt: skip

    @property
    def manual_turns(self) -> bool:
        """Whether turns are manual (``turn_detection=None``): the app commits the input."""
        return self.turn_detection is None

    @property
    def auto_response(self) -> bool:
        """Whether the service answers by itself when a detected turn ends."""
        detection = self.turn_detection
        if detection is None:
            return False
        return detection is SERVICE_DEFAULT or detection.create_response is not False

    @property
    def connect_query(self) -> dict[str, str]:
        """Extra query parameters the connection needs for these options (may be empty).

        Client-referenced echo cancellation is a preview feature that must be requested
        with ``features=client_ec_reference:true``.
        """
        echo = self.echo_cancellation
        if isinstance(echo, EchoCancellation) and echo.reference_source == "client":
            return {"features": "client_ec_reference:true"}
        return {}

    def evolve(self, **changes: Any) -> SessionOptions:
        """A copy with ``changes`` applied, validated like a new instance.

        Raises:
            ConfigurationError: If a name is not an option or a value is invalid.
        """
        unknown = sorted(set(changes) - self.FIELDS)
        if unknown:
            raise ConfigurationError(
                f"unknown session option(s): {', '.join(unknown)}; the options are: "
                + ", ".join(sorted(self.FIELDS))
            )
        return attrs.evolve(self, **changes)


SessionOptions.FIELDS = frozenset(field.name for field in attrs.fields(SessionOptions))
