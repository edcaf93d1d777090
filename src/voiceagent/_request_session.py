"""The one place where session options become the SDK's ``RequestSession``.

Only what is set is sent: a None option (or :data:`~voiceagent.SERVICE_DEFAULT`) leaves the
field out of ``session.update``, so the service keeps its default. The exceptions are the
switchable features set to None (turn detection, noise reduction, echo cancellation,
transcription), which are sent as ``null`` to turn them off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from azure.ai.voicelive import models as sdk

from ._options import (
    SERVICE_DEFAULT,
    TOOL_CHOICES,
    EchoCancellation,
    InputTranscription,
    InterimResponse,
    NoiseReduction,
    SessionOptions,
    StaticInterimResponse,
)
from ._turn_detection import (
    AzureSemanticVad,
    AzureSemanticVadEn,
    AzureSemanticVadMultilingual,
    EndOfUtterance,
    SemanticVad,
    ServerVad,
    TurnDetection,
)
from ._voices import (
    AzureCustomVoice,
    AzurePersonalVoice,
    AzureRealtimeNativeVoice,
    AzureStandardVoice,
    OpenAIVoice,
    Voice,
)
from .errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._avatar import Animation, Avatar, AvatarScene, AvatarVideo, IceServer

__all__ = ["to_request_session", "tool_choice_to_sdk", "voice_to_sdk"]

_FORMAT_ARGUMENTS = ("input_audio_format", "input_audio_sampling_rate", "output_audio_format")


def to_request_session(
    options: SessionOptions,
    *,
    tools: Sequence[sdk.Tool] = (),
    input_audio_format: str | None = None,
    input_audio_sampling_rate: int | None = None,
    output_audio_format: str | None = None,
) -> sdk.RequestSession:
    """The ``session`` of a ``session.update`` that applies ``options``.

    The audio format arguments are what the session derived from its audio source and sink;
    they fill in the formats the options leave unset (None). ``options.model`` is not part
    of the result: it goes to ``connect(model=...)``.

    Args:
        options: The validated session options.
        tools: The tool definitions to send (SDK ``FunctionTool``/``MCPServer`` models);
            nothing is sent when empty.
        input_audio_format: Input wire format to use if ``options`` sets none.
        input_audio_sampling_rate: Input rate to use if ``options`` sets none.
        output_audio_format: Output wire format to use if ``options`` sets none.

    Returns:
        An SDK ``RequestSession`` holding only the fields that are set.

    Raises:
        ConfigurationError: If a format argument is invalid or contradicts ``options``, a
            tool is not an SDK tool model, two tools share a name, or ``tool_choice`` names
            a function that is not among ``tools``.
    """
    given = {
        "input_audio_format": input_audio_format,
        "input_audio_sampling_rate": input_audio_sampling_rate,
        "output_audio_format": output_audio_format,
    }
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
    if fill:
        options = options.evolve(**fill)
    _check_tools(options, tools)

    session: dict[str, Any] = {}

    def put(name: str, value: Any) -> None:
        if value is not None:
            session[name] = value

    put("instructions", options.instructions)
    put("voice", None if options.voice is None else voice_to_sdk(options.voice))
    put("modalities", _listed(options.modalities))
    for name in _FORMAT_ARGUMENTS:
        put(name, getattr(options, name))
    if options.turn_detection is not SERVICE_DEFAULT:
        detection = options.turn_detection
        session["turn_detection"] = None if detection is None else _turn_detection(detection)
    if options.noise_reduction is not SERVICE_DEFAULT:
        noise = options.noise_reduction
        session["input_audio_noise_reduction"] = None if noise is None else _noise(noise)
    if options.echo_cancellation is not SERVICE_DEFAULT:
        echo = options.echo_cancellation
        session["input_audio_echo_cancellation"] = None if echo is None else _echo(echo)
    if options.input_transcription is not SERVICE_DEFAULT:
        transcription = options.input_transcription
        session["input_audio_transcription"] = (
            None if transcription is None else _transcription(transcription, options.model)
        )
    put("temperature", options.temperature)
    put("max_response_output_tokens", options.max_output_tokens)
    put("tool_choice", None if options.tool_choice is None else tool_choice_to_sdk(options))
    put("parallel_tool_calls", options.parallel_tool_calls)
    put("tools", list(tools) or None)
    put("output_audio_timestamp_types", _listed(options.output_audio_timestamp_types))
    put("avatar", None if options.avatar is None else _avatar(options.avatar))
    put("animation", None if options.animation is None else _animation(options.animation))
    put(
        "interim_response",
        None if options.interim_response is None else _interim(options.interim_response),
    )
    put("reasoning_effort", options.reasoning_effort)
    put("include", _listed(options.include))
    put("metadata", None if options.metadata is None else dict(options.metadata))
    return sdk.RequestSession(**session)


def _check_tools(options: SessionOptions, tools: Sequence[sdk.Tool]) -> None:
    names: set[str] = set()
    for i, tool in enumerate(tools):
        if not isinstance(tool, sdk.Tool):
            raise ConfigurationError(
                f"invalid tools[{i}]: {tool!r}; expected an azure.ai.voicelive.models tool "
                "such as FunctionTool(name=..., description=..., parameters=...)"
            )
        key = str(tool.get("name") or tool.get("server_label") or "")
        if key and key in names:
            raise ConfigurationError(f"duplicate tool name {key!r} in tools[{i}]")
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


def _listed(values: tuple[Any, ...] | None) -> list[Any] | None:
    return None if values is None else list(values)


def tool_choice_to_sdk(options: SessionOptions) -> str | sdk.ToolChoiceFunctionSelection:
    """The SDK form of ``options.tool_choice``: the literal, or a function selection.

    Raises:
        ConfigurationError: If ``options.tool_choice`` is None.
    """
    choice = options.tool_choice
    if choice is None:
        raise ConfigurationError("SessionOptions.tool_choice is not set")
    return choice if choice in TOOL_CHOICES else sdk.ToolChoiceFunctionSelection(name=choice)


def voice_to_sdk(voice: Voice) -> sdk.OpenAIVoice | sdk.AzureVoice | sdk.AzureRealtimeNativeVoice:
    """The SDK model of ``voice`` (also usable for a per-response voice)."""
    if isinstance(voice, OpenAIVoice):
        return sdk.OpenAIVoice(name=voice.name)
    if isinstance(voice, AzureRealtimeNativeVoice):
        return sdk.AzureRealtimeNativeVoice(name=voice.name)
    tuning = _set(
        temperature=voice.temperature,
        locale=voice.locale,
        prefer_locales=_listed(voice.prefer_locales),
        style=voice.style,
        pitch=voice.pitch,
        rate=voice.rate,
        volume=voice.volume,
        custom_lexicon_url=voice.custom_lexicon_url,
        custom_text_normalization_url=voice.custom_text_normalization_url,
    )
    if isinstance(voice, AzureStandardVoice):
        return sdk.AzureStandardVoice(name=voice.name, **tuning)
    if isinstance(voice, AzureCustomVoice):
        return sdk.AzureCustomVoice(name=voice.name, endpoint_id=voice.endpoint_id, **tuning)
    if isinstance(voice, AzurePersonalVoice):
        return sdk.AzurePersonalVoice(name=voice.name, model=voice.model, **tuning)
    raise ConfigurationError(f"invalid voice: {voice!r}")  # unreachable for a typed Voice


def _set(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def _eou(eou: EndOfUtterance) -> sdk.EouDetection:
    fields = _set(threshold_level=eou.threshold_level, timeout_ms=eou.timeout_ms)
    classes: dict[str, type[sdk.EouDetection]] = {
        "semantic_detection_v1": sdk.AzureSemanticDetection,
        "semantic_detection_v1_en": sdk.AzureSemanticDetectionEn,
        "semantic_detection_v1_multilingual": sdk.AzureSemanticDetectionMultilingual,
    }
    return classes[eou.model](**fields)


def _turn_detection(detection: TurnDetection) -> sdk.TurnDetection:
    if isinstance(detection, SemanticVad):
        result = sdk.TurnDetection(type=SemanticVad.TYPE)
        result.update(
            _set(
                eagerness=detection.eagerness,
                create_response=detection.create_response,
                interrupt_response=detection.interrupt_response,
            )
        )
        return result
    fields = _set(
        threshold=detection.threshold,
        prefix_padding_ms=detection.prefix_padding_ms,
        silence_duration_ms=detection.silence_duration_ms,
        create_response=detection.create_response,
        interrupt_response=detection.interrupt_response,
        auto_truncate=detection.auto_truncate,
    )
    if detection.end_of_utterance_detection is not None:
        fields["end_of_utterance_detection"] = _eou(detection.end_of_utterance_detection)
    if isinstance(detection, ServerVad):
        vad = sdk.ServerVad(**fields)
        # Documented for server_vad but not modelled by the SDK: set it as a raw key.
        vad.update(_set(speech_duration_ms=detection.speech_duration_ms))
        return vad
    fields.update(
        _set(
            speech_duration_ms=detection.speech_duration_ms,
            remove_filler_words=detection.remove_filler_words,
        )
    )
    if isinstance(detection, AzureSemanticVadEn):
        return sdk.AzureSemanticVadEn(**fields)
    fields.update(_set(languages=_listed(detection.languages)))
    if isinstance(detection, AzureSemanticVad):
        return sdk.AzureSemanticVad(**fields)
    assert isinstance(detection, AzureSemanticVadMultilingual)
    return sdk.AzureSemanticVadMultilingual(**fields)


def _noise(noise: NoiseReduction) -> sdk.AudioNoiseReduction:
    return sdk.AudioNoiseReduction(type=noise.type)


def _echo(echo: EchoCancellation) -> sdk.AudioEchoCancellation:
    return sdk.AudioEchoCancellation(
        **_set(reference_source=echo.reference_source, channels=echo.channels)
    )


def _transcription(
    transcription: InputTranscription, session_model: str
) -> sdk.AudioInputTranscriptionOptions:
    result = sdk.AudioInputTranscriptionOptions(
        model=transcription.model_for(session_model),
        **_set(
            language=transcription.language,
            phrase_list=_listed(transcription.phrase_list),
            custom_speech=(
                None if transcription.custom_speech is None else dict(transcription.custom_speech)
            ),
        ),
    )
    # ``prompt`` is documented for the OpenAI transcription models; the SDK does not model it.
    result.update(_set(prompt=transcription.prompt))
    return result


def _ice_server(server: IceServer) -> sdk.IceServer:
    return sdk.IceServer(
        urls=list(server.urls), **_set(username=server.username, credential=server.credential)
    )


def _video(video: AvatarVideo) -> sdk.VideoParams:
    fields = _set(bitrate=video.bitrate, codec=video.codec, gop_size=video.gop_size)
    if video.crop is not None:
        fields["crop"] = sdk.VideoCrop(
            top_left=list(video.crop.top_left), bottom_right=list(video.crop.bottom_right)
        )
    if video.resolution is not None:
        fields["resolution"] = sdk.VideoResolution(
            width=video.resolution.width, height=video.resolution.height
        )
    if video.background is not None:
        fields["background"] = sdk.Background(
            **_set(color=video.background.color, image_url=video.background.image_url)
        )
    return sdk.VideoParams(**fields)


def _scene(scene: AvatarScene) -> sdk.Scene:
    return sdk.Scene(
        **_set(
            zoom=scene.zoom,
            position_x=scene.position_x,
            position_y=scene.position_y,
            rotation_x=scene.rotation_x,
            rotation_y=scene.rotation_y,
            rotation_z=scene.rotation_z,
            amplitude=scene.amplitude,
        )
    )


def _avatar(avatar: Avatar) -> sdk.AvatarConfig:
    fields = _set(
        avatar_type=avatar.type,
        style=avatar.style,
        model=avatar.model,
        output_protocol=avatar.output_protocol,
        output_audit_audio=avatar.output_audit_audio,
    )
    if avatar.ice_servers is not None:
        fields["ice_servers"] = [_ice_server(server) for server in avatar.ice_servers]
    if avatar.video is not None:
        fields["video"] = _video(avatar.video)
    if avatar.scene is not None:
        fields["scene"] = _scene(avatar.scene)
    return sdk.AvatarConfig(character=avatar.character, customized=avatar.customized, **fields)


def _animation(animation: Animation) -> sdk.Animation:
    return sdk.Animation(
        **_set(model_name=animation.model_name, outputs=_listed(animation.outputs))
    )


def _interim(
    interim: InterimResponse,
) -> sdk.StaticInterimResponseConfig | sdk.LlmInterimResponseConfig:
    common = _set(
        triggers=_listed(interim.triggers), latency_threshold_ms=interim.latency_threshold_ms
    )
    if isinstance(interim, StaticInterimResponse):
        return sdk.StaticInterimResponseConfig(texts=_listed(interim.texts), **common)
    return sdk.LlmInterimResponseConfig(
        **common,
        **_set(
            model=interim.model,
            instructions=interim.instructions,
            max_completion_tokens=interim.max_completion_tokens,
        ),
    )
