"""Conversion of each option object to its ``azure.ai.voicelive.models`` counterpart.

:func:`voiceagent._options.to_request_session` is the one entry point that assembles a
``RequestSession``; the functions here convert its parts (and can convert a per-response
voice). Only fields that are set become keys: None is never sent by accident.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from azure.ai.voicelive import models as sdk

from ._features import (
    EchoCancellation,
    InputTranscription,
    InterimResponse,
    NoiseReduction,
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
    from ._avatar import Animation, Avatar, AvatarScene, AvatarVideo, IceServer

__all__ = [
    "TOOL_CHOICES",
    "animation_to_sdk",
    "avatar_to_sdk",
    "echo_cancellation_to_sdk",
    "interim_response_to_sdk",
    "listed",
    "noise_reduction_to_sdk",
    "tool_choice_to_sdk",
    "transcription_to_sdk",
    "turn_detection_to_sdk",
    "voice_to_sdk",
]

TOOL_CHOICES: Final = ("auto", "none", "required")
"""The tool choices that are not a function name."""


def listed(values: tuple[Any, ...] | None) -> list[Any] | None:
    """A tuple option as the list the SDK models take; None stays None."""
    return None if values is None else list(values)


def tool_choice_to_sdk(choice: str) -> str | sdk.ToolChoiceFunctionSelection:
    """The SDK form of a tool choice: the literal, or a selection of one function."""
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
        prefer_locales=listed(voice.prefer_locales),
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


def turn_detection_to_sdk(detection: TurnDetection) -> sdk.TurnDetection:
    """The SDK model of a turn detection (``semantic_vad`` as a base ``TurnDetection``)."""
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
    fields.update(_set(languages=listed(detection.languages)))
    if isinstance(detection, AzureSemanticVad):
        return sdk.AzureSemanticVad(**fields)
    assert isinstance(detection, AzureSemanticVadMultilingual)
    return sdk.AzureSemanticVadMultilingual(**fields)


def noise_reduction_to_sdk(noise: NoiseReduction) -> sdk.AudioNoiseReduction:
    """The SDK model of a noise reduction setting."""
    return sdk.AudioNoiseReduction(type=noise.type)


def echo_cancellation_to_sdk(echo: EchoCancellation) -> sdk.AudioEchoCancellation:
    """The SDK model of an echo cancellation setting."""
    return sdk.AudioEchoCancellation(
        **_set(reference_source=echo.reference_source, channels=echo.channels)
    )


def transcription_to_sdk(
    transcription: InputTranscription, session_model: str
) -> sdk.AudioInputTranscriptionOptions:
    """The SDK model of a transcription setting; its model resolved for ``session_model``."""
    result = sdk.AudioInputTranscriptionOptions(
        model=transcription.model_for(session_model),
        **_set(
            language=transcription.language,
            phrase_list=listed(transcription.phrase_list),
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


def avatar_to_sdk(avatar: Avatar) -> sdk.AvatarConfig:
    """The SDK model of an avatar configuration."""
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


def animation_to_sdk(animation: Animation) -> sdk.Animation:
    """The SDK model of an animation configuration."""
    return sdk.Animation(**_set(model_name=animation.model_name, outputs=listed(animation.outputs)))


def interim_response_to_sdk(
    interim: InterimResponse,
) -> sdk.StaticInterimResponseConfig | sdk.LlmInterimResponseConfig:
    """The SDK model of an interim response configuration."""
    common = _set(
        triggers=listed(interim.triggers), latency_threshold_ms=interim.latency_threshold_ms
    )
    if isinstance(interim, StaticInterimResponse):
        return sdk.StaticInterimResponseConfig(texts=listed(interim.texts), **common)
    return sdk.LlmInterimResponseConfig(
        **common,
        **_set(
            model=interim.model,
            instructions=interim.instructions,
            max_completion_tokens=interim.max_completion_tokens,
        ),
    )
