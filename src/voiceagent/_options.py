"""Session options: everything an agent configures about a Voice Live session, validated.

:class:`SessionOptions` gathers the voice, turn detection, audio processing, transcription,
sampling and tool settings of a session. Every value is checked when the options are built,
so a mistake fails where the agent is defined, with a
:class:`~voiceagent.errors.ConfigurationError` naming the field, the bad value and what is
allowed, never later on the wire. :func:`to_request_session`
turns them into the SDK's ``RequestSession``, in this one place.

Unset means "service default". Most fields default to None and are then not sent. The four
features the service can switch off (turn detection, noise reduction, echo cancellation and
input transcription) use :data:`SERVICE_DEFAULT` for "not set" instead, so that None can
mean "off" (sent as ``null``): ``turn_detection=None`` means manual, push-to-talk turns.
"""

from __future__ import annotations

import enum
import math
import re
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, Protocol, TypeAlias

import attrs
from azure.ai.voicelive import models as sdk

from . import _to_sdk as to_sdk
from ._avatar import Animation, Avatar
from ._checks import (
    CompactRepr,
    Validator,
    as_tuple,
    boolean,
    fail,
    instance_of,
    integer,
    model_family,
    number,
    one_of,
    optional,
    sequence,
    string_map,
    text,
    to_mapping,
    to_tuple,
)
from ._features import (
    OPENAI_TRANSCRIPTION_MODELS,
    EchoCancellation,
    InputTranscription,
    InterimResponse,
    LlmInterimResponse,
    NoiseReduction,
    StaticInterimResponse,
    check_transcription,
)
from ._foundry import FoundryAgent, check_foundry_options
from ._mcp import McpServer
from ._to_sdk import TOOL_CHOICES
from ._turn_detection import TURN_DETECTION_CLASSES, SemanticVad, ServerVad, TurnDetection
from ._voices import (
    VOICE_CLASSES,
    AzureRealtimeNativeVoice,
    OpenAIVoice,
    Voice,
    voice_from,
)
from .errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "INPUT_AUDIO_FORMATS",
    "OUTPUT_AUDIO_FORMATS",
    "PCM16_INPUT_RATES",
    "SERVICE_DEFAULT",
    "ServiceDefault",
    "SessionOptions",
    "to_request_session",
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
_FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _opt(validator: Validator) -> Any:
    return attrs.field(default=None, validator=optional(validator))


# --- session options ------------------------------------------------------------------------


def _voice_or_none(value: str | Voice | None) -> Voice | None:
    return None if value is None else voice_from(value)


def _max_tokens(value: int | float | Literal["inf"] | None) -> int | str | None:
    return "inf" if value == math.inf else value  # type: ignore[return-value]


def _feature(*classes: type, what: str) -> Validator:
    check = instance_of(*classes, ServiceDefault, type(None), what=what)
    return check


def _tokens(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value != "inf":
        integer(1, 4096)(instance, attribute, value)


def _mcp_servers_tuple(value: Sequence[McpServer] | None) -> tuple[McpServer, ...] | None:
    result: tuple[McpServer, ...] | None = as_tuple(value)
    return result


def _mcp_servers(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    what = "a list of McpServer(label, url, ...)"
    if not isinstance(value, tuple) or not value:
        raise fail(instance, attribute.name, value, what)
    labels: set[str] = set()
    for i, server in enumerate(value):
        if not isinstance(server, McpServer):
            raise fail(instance, f"{attribute.name}[{i}]", server, what)
        if server.label in labels:
            raise fail(instance, f"{attribute.name}[{i}]", server,
                       f"a server label not used before ({server.label!r} is)")  # fmt: skip
        labels.add(server.label)


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
        mcp_servers: Remote :class:`McpServer` s whose tools the model may call (the service
            calls them; the agent approves the calls that need it, see
            :func:`voiceagent.approve`).
        foundry_agent: A :class:`FoundryAgent` of a Microsoft Foundry project that answers
            instead of a Voice Live model (Foundry Agent Service mode). It owns the model,
            the instructions and the tools, so ``model``, ``instructions``, ``tool_choice``,
            ``parallel_tool_calls``, ``mcp_servers`` and function tools must stay unset;
            Microsoft Entra ID is required.
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
    mcp_servers: tuple[McpServer, ...] | None = attrs.field(
        default=None, converter=_mcp_servers_tuple, validator=optional(_mcp_servers)
    )
    foundry_agent: FoundryAgent | None = attrs.field(
        default=None,
        validator=optional(instance_of(FoundryAgent, what="a FoundryAgent(name, project=...)")),
    )

    def __attrs_post_init__(self) -> None:
        if self.voice is not None and not isinstance(self.voice, VOICE_CLASSES):
            raise fail(self, "voice", self.voice, "a voice name or a voice object")
        if self.modalities is not None and "text" not in self.modalities:
            raise fail(self, "modalities", self.modalities, "a list that includes 'text' "
                       "(audio-only output is not allowed)")  # fmt: skip
        self._check_audio_formats()
        check_foundry_options(self)
        self._check_model_support()
        transcription = self.input_transcription
        if isinstance(transcription, InputTranscription) and transcription.model is None:
            check_transcription(
                "SessionOptions.input_transcription",
                transcription,
                transcription.model_for(self.answering_model),
            )

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
        family = model_family(self.answering_model)
        if self.interim_response is not None and family in ("gpt-realtime", "azure-realtime"):
            raise fail(self, "interim_response", self.interim_response, "None with model "
                       f"{self.model!r}: realtime audio models do not support interim responses "
                       "(a cascaded model such as 'gpt-4.1' with an Azure voice, or a "
                       "foundry_agent, does)")  # fmt: skip
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
    def answering_model(self) -> str:
        """The model whose rules apply: :attr:`model`, or ``"foundry-agent"`` (no model
        family) when a :attr:`foundry_agent` answers."""
        return "foundry-agent" if self.foundry_agent is not None else self.model

    @property
    def connect_model(self) -> str | None:
        """The connection's ``model`` query parameter: None with a :attr:`foundry_agent`
        (the agent's own model answers)."""
        return None if self.foundry_agent is not None else self.model

    @property
    def manual_turns(self) -> bool:
        """Whether turns are manual (``turn_detection=None``): the app commits the input."""
        return self.turn_detection is None

    def effective_turn_detection(self) -> TurnDetection | None:
        """The turn detection in force: the configured one, ``ServerVad()`` (service
        defaults: server VAD that answers and can be interrupted) when it is left to the
        service, or None for manual turns."""
        detection = self.turn_detection
        return ServerVad() if detection is SERVICE_DEFAULT else detection

    @property
    def auto_response(self) -> bool:
        """Whether the service answers by itself when a detected turn ends."""
        detection = self.effective_turn_detection()
        return detection is not None and detection.create_response is not False

    @property
    def effective_modalities(self) -> tuple[str, ...]:
        """The output modalities in force: :attr:`modalities`, or the service default
        ``("text", "audio")``."""
        return self.modalities if self.modalities is not None else ("text", "audio")

    @property
    def connect_query(self) -> dict[str, str]:
        """Extra query parameters the connection needs for these options (may be empty).

        A :attr:`foundry_agent` is named here (``agent-name``, ``agent-project-name``...).
        Client-referenced echo cancellation is a preview feature that must be requested
        with ``features=client_ec_reference:true``, and MCP servers with
        ``features=mcp_preview:true`` (as the SDK's MCP sample does); several features are
        joined with commas.
        """
        query = {} if self.foundry_agent is None else self.foundry_agent.query()
        features = []
        echo = self.echo_cancellation
        if isinstance(echo, EchoCancellation) and echo.reference_source == "client":
            features.append("client_ec_reference:true")
        if self.mcp_servers:
            features.append("mcp_preview:true")
        if features:
            query["features"] = ",".join(features)
        return query

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


# --- conversion -----------------------------------------------------------------------------


class InputWireFormat(Protocol):
    """An input audio format that knows its session settings (``voiceagent.audio.AudioFormat``)."""

    def to_wire(self) -> tuple[str, int]:
        """``(input_audio_format, input_audio_sampling_rate)``."""
        ...


class OutputWireFormat(Protocol):
    """An output audio format that knows its session setting (``voiceagent.audio.AudioFormat``)."""

    def to_output_wire(self) -> str:
        """The ``output_audio_format`` name."""
        ...


def to_request_session(
    options: SessionOptions,
    *,
    tools: Sequence[sdk.Tool] = (),
    input_audio_format: str | InputWireFormat | None = None,
    input_audio_sampling_rate: int | None = None,
    output_audio_format: str | OutputWireFormat | None = None,
) -> sdk.RequestSession:
    """The ``session`` of a ``session.update`` that applies ``options``: the one place where
    options become the SDK's models.

    Only what is set is sent. A None option, or :data:`SERVICE_DEFAULT`, leaves the field
    out so that the service keeps its default; the switchable features set to None (turn
    detection, noise reduction, echo cancellation, transcription) are sent as ``null`` to
    turn them off. ``options.model`` is not part of the result: it goes to
    ``connect(model=...)``.

    The audio format arguments are what the session derived from its audio source and sink;
    they fill in the formats the options leave unset (None), and must agree with the ones
    the options set.

    Args:
        options: The validated session options.
        tools: The tool definitions to send (SDK ``FunctionTool``/``MCPServer`` models);
            nothing is sent when empty.
        input_audio_format: The input wire format, as a name (``"pcm16"``) or as an object
            with ``to_wire()`` (``voiceagent.audio.AudioFormat``, which also gives the rate).
        input_audio_sampling_rate: The input rate, when ``input_audio_format`` is a name.
        output_audio_format: The output wire format, as a name (``"pcm16_16000hz"``) or an
            object with ``to_output_wire()``.

    Returns:
        An SDK ``RequestSession`` holding only the fields that are set. It may hold an ICE
        server credential: do not log it.

    Raises:
        ConfigurationError: If a format argument is invalid or contradicts ``options``, a
            tool is not an SDK tool model, two tools share a name, or ``tool_choice`` names
            a function that is not among ``tools``.
    """
    if input_audio_format is not None and not isinstance(input_audio_format, str):
        input_audio_format, rate = input_audio_format.to_wire()
        if input_audio_sampling_rate not in (None, rate):
            raise ConfigurationError(
                f"conflicting input_audio_sampling_rate: {input_audio_sampling_rate} but the "
                f"input format is {rate} Hz"
            )
        input_audio_sampling_rate = rate
    if output_audio_format is not None and not isinstance(output_audio_format, str):
        output_audio_format = output_audio_format.to_output_wire()
    options = _with_formats(
        options,
        input_audio_format=input_audio_format,
        input_audio_sampling_rate=input_audio_sampling_rate,
        output_audio_format=output_audio_format,
    )
    tools = [*tools, *(server.to_sdk() for server in options.mcp_servers or ())]
    _check_tools(options, tools)

    session: dict[str, Any] = {}

    def put(name: str, value: Any) -> None:
        if value is not None:
            session[name] = value

    put("instructions", options.instructions)
    put("voice", None if options.voice is None else to_sdk.voice_to_sdk(options.voice))
    put("modalities", to_sdk.listed(options.modalities))
    put("input_audio_format", options.input_audio_format)
    put("input_audio_sampling_rate", options.input_audio_sampling_rate)
    put("output_audio_format", options.output_audio_format)
    if options.turn_detection is not SERVICE_DEFAULT:
        detection = options.turn_detection
        session["turn_detection"] = (
            None if detection is None else to_sdk.turn_detection_to_sdk(detection)
        )
    if options.noise_reduction is not SERVICE_DEFAULT:
        noise = options.noise_reduction
        session["input_audio_noise_reduction"] = (
            None if noise is None else to_sdk.noise_reduction_to_sdk(noise)
        )
    if options.echo_cancellation is not SERVICE_DEFAULT:
        echo = options.echo_cancellation
        session["input_audio_echo_cancellation"] = (
            None if echo is None else to_sdk.echo_cancellation_to_sdk(echo)
        )
    if options.input_transcription is not SERVICE_DEFAULT:
        transcription = options.input_transcription
        session["input_audio_transcription"] = (
            None
            if transcription is None
            else to_sdk.transcription_to_sdk(transcription, options.answering_model)
        )
    put("temperature", options.temperature)
    put("max_response_output_tokens", options.max_output_tokens)
    if options.tool_choice is not None:
        session["tool_choice"] = to_sdk.tool_choice_to_sdk(options.tool_choice)
    put("parallel_tool_calls", options.parallel_tool_calls)
    put("tools", list(tools) or None)
    put("output_audio_timestamp_types", to_sdk.listed(options.output_audio_timestamp_types))
    put("avatar", None if options.avatar is None else to_sdk.avatar_to_sdk(options.avatar))
    if options.animation is not None:
        session["animation"] = to_sdk.animation_to_sdk(options.animation)
    if options.interim_response is not None:
        session["interim_response"] = to_sdk.interim_response_to_sdk(options.interim_response)
    put("reasoning_effort", options.reasoning_effort)
    put("include", to_sdk.listed(options.include))
    put("metadata", None if options.metadata is None else dict(options.metadata))
    return sdk.RequestSession(**session)


def _with_formats(options: SessionOptions, **given: Any) -> SessionOptions:
    """``options`` with the unset formats filled in from ``given``; validated again."""
    fill: dict[str, Any] = {}
    for name, value in given.items():
        current = getattr(options, name)
        if value is None:
            continue
        if current is None:
            fill[name] = value
        elif current != value:
            raise ConfigurationError(
                f"conflicting {name}: the options set {current!r} but the session asked for "
                f"{value!r}"
            )
    return options.evolve(**fill) if fill else options


def _check_tools(options: SessionOptions, tools: Sequence[sdk.Tool]) -> None:
    names: set[str] = set()
    for i, tool in enumerate(tools):
        if not isinstance(tool, sdk.Tool):
            raise ConfigurationError(
                f"invalid tools[{i}]: {tool!r}; expected an azure.ai.voicelive.models tool "
                "such as FunctionTool(name=..., description=..., parameters=...)"
            )
        # Function names and MCP server labels are separate namespaces.
        name = str(tool.get("name") or tool.get("server_label") or "")
        key = f"{tool.get('type')}:{name}"
        if name and key in names:
            raise ConfigurationError(f"duplicate tool name {name!r} in tools[{i}]")
        names.add(key)
    choice = options.tool_choice
    if choice is not None and choice not in TOOL_CHOICES:
        functions = sorted(
            str(tool.get("name")) for tool in tools if isinstance(tool, sdk.FunctionTool)
        )
        if choice not in functions:
            allowed = ", ".join(repr(c) for c in (*TOOL_CHOICES, *functions))
            raise ConfigurationError(
                f"invalid SessionOptions.tool_choice: {choice!r} is not a function tool of "
                f"this session; expected one of {allowed}"
            )
