"""Session options: validation, voice_from, and conversion to the SDK's RequestSession."""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any

import attrs
import pytest
from azure.ai.voicelive.models import FunctionTool, MCPServer, RequestSession
from hypothesis import given, settings

from tests import strategies
from voiceagent._avatar import (
    Animation,
    Avatar,
    AvatarScene,
    AvatarVideo,
    IceServer,
    VideoBackground,
    VideoCrop,
    VideoResolution,
)
from voiceagent._checks import model_family
from voiceagent._features import (
    EchoCancellation,
    InputTranscription,
    LlmInterimResponse,
    NoiseReduction,
    StaticInterimResponse,
)
from voiceagent._options import (
    SERVICE_DEFAULT,
    SessionOptions,
    to_request_session,
)
from voiceagent._to_sdk import voice_to_sdk
from voiceagent._turn_detection import (
    AzureSemanticVad,
    AzureSemanticVadEn,
    AzureSemanticVadMultilingual,
    EndOfUtterance,
    SemanticVad,
    ServerVad,
)
from voiceagent._voices import (
    OPENAI_VOICES,
    AzureCustomVoice,
    AzurePersonalVoice,
    AzureRealtimeNativeVoice,
    AzureStandardVoice,
    OpenAIVoice,
    voice_from,
)
from voiceagent.errors import ConfigurationError
from voiceagent.testing._config import apply_session_update, default_session

if TYPE_CHECKING:
    from collections.abc import Callable

TOOL = FunctionTool(name="get_weather", description="Weather.", parameters={"type": "object"})


def wire(options: SessionOptions, **kwargs: Any) -> dict[str, Any]:
    """The JSON that ``session.update`` would carry for ``options``."""
    session = to_request_session(options, **kwargs)
    assert isinstance(session, RequestSession)
    result: dict[str, Any] = json.loads(json.dumps(session.as_dict()))
    return result


# --- validation: every bad value names the field, the value and what is allowed --------------

# (id, build, field as "Class.field", the value as it must appear, a fragment of what is allowed)
BAD: list[tuple[str, Callable[[], object], str, str, str]] = [
    # voices
    ("openai-name", lambda: OpenAIVoice("bob"), "OpenAIVoice.name", "'bob'", "'alloy'"),
    ("openai-case", lambda: OpenAIVoice("Alloy"), "OpenAIVoice.name", "'Alloy'", "'cedar'"),
    ("native-name", lambda: AzureRealtimeNativeVoice("alloy"), "AzureRealtimeNativeVoice.name",
     "'alloy'", "'ava'"),
    ("azure-empty", lambda: AzureStandardVoice(""), "AzureStandardVoice.name", "''",
     "non-empty string"),
    ("azure-int", lambda: AzureStandardVoice(3), "AzureStandardVoice.name", "3", "string"),  # type: ignore[arg-type]
    ("azure-temp", lambda: AzureStandardVoice("v", temperature=1.5),
     "AzureStandardVoice.temperature", "1.5", "from 0.0 to 1.0"),
    ("azure-temp-bool", lambda: AzureStandardVoice("v", temperature=True),
     "AzureStandardVoice.temperature", "True", "from 0.0 to 1.0"),
    ("azure-temp-nan", lambda: AzureStandardVoice("v", temperature=math.nan),
     "AzureStandardVoice.temperature", "nan", "from 0.0 to 1.0"),
    ("azure-locale", lambda: AzureStandardVoice("v", locale="english"),
     "AzureStandardVoice.locale", "'english'", "BCP-47"),
    ("prefer-str", lambda: AzureStandardVoice("v", prefer_locales="en-GB"),
     "AzureStandardVoice.prefer_locales", "'en-GB'", "list of BCP-47 locales"),
    ("prefer-empty", lambda: AzureStandardVoice("v", prefer_locales=[]),
     "AzureStandardVoice.prefer_locales", "()", "at least 1"),
    ("prefer-dup", lambda: AzureStandardVoice("v", prefer_locales=["en-GB", "en-GB"]),
     "AzureStandardVoice.prefer_locales", "('en-GB', 'en-GB')", "without duplicates"),
    ("prefer-item", lambda: AzureStandardVoice("v", prefer_locales=["en GB"]),
     "AzureStandardVoice.prefer_locales[0]", "'en GB'", "BCP-47"),
    ("pitch", lambda: AzureStandardVoice("v", pitch="highest"), "AzureStandardVoice.pitch",
     "'highest'", "SSML pitch"),
    ("rate", lambda: AzureStandardVoice("v", rate="-5"), "AzureStandardVoice.rate", "'-5'",
     "SSML rate"),
    ("volume-word", lambda: AzureStandardVoice("v", volume="quiet"),
     "AzureStandardVoice.volume", "'quiet'", "SSML volume"),
    ("volume-range", lambda: AzureStandardVoice("v", volume="101"),
     "AzureStandardVoice.volume", "'101'", "from 0 to 100"),
    ("style", lambda: AzureStandardVoice("v", style=""), "AzureStandardVoice.style", "''",
     "non-empty string"),
    ("lexicon", lambda: AzureStandardVoice("v", custom_lexicon_url="ftp://x/lex.xml"),
     "AzureStandardVoice.custom_lexicon_url", "'ftp://x/lex.xml'", "https:// URL"),
    ("normalization", lambda: AzureCustomVoice("v", endpoint_id="e",
                                               custom_text_normalization_url="example.com"),
     "AzureCustomVoice.custom_text_normalization_url", "'example.com'", "https:// URL"),
    ("custom-endpoint", lambda: AzureCustomVoice("v", endpoint_id=""),
     "AzureCustomVoice.endpoint_id", "''", "non-empty string"),
    ("personal-model", lambda: AzurePersonalVoice("p", "Dragon"), "AzurePersonalVoice.model",
     "'Dragon'", "'DragonLatestNeural'"),
    ("personal-temp", lambda: AzurePersonalVoice("p", "MAI-Voice-1", temperature=-0.1),
     "AzurePersonalVoice.temperature", "-0.1", "from 0.0 to 1.0"),
    # turn detection
    ("eou-model", lambda: EndOfUtterance(model="semantic_detection_v2"), "EndOfUtterance.model",
     "'semantic_detection_v2'", "'semantic_detection_v1_en'"),
    ("eou-level", lambda: EndOfUtterance(threshold_level="max"),
     "EndOfUtterance.threshold_level", "'max'", "'medium'"),
    ("eou-timeout", lambda: EndOfUtterance(timeout_ms=-1), "EndOfUtterance.timeout_ms", "-1",
     "integer >= 0"),
    ("eou-timeout-float", lambda: EndOfUtterance(timeout_ms=1.5),  # type: ignore[arg-type]
     "EndOfUtterance.timeout_ms", "1.5", "integer >= 0"),
    ("vad-threshold-0", lambda: ServerVad(threshold=0), "ServerVad.threshold", "0",
     ">= 0.01 and < 1.0"),
    ("vad-threshold-1", lambda: ServerVad(threshold=1.0), "ServerVad.threshold", "1.0",
     ">= 0.01 and < 1.0"),
    ("vad-prefix", lambda: ServerVad(prefix_padding_ms=-1), "ServerVad.prefix_padding_ms",
     "-1", "integer >= 0"),
    ("vad-silence", lambda: ServerVad(silence_duration_ms=0.5),  # type: ignore[arg-type]
     "ServerVad.silence_duration_ms", "0.5", "integer >= 0"),
    ("vad-speech-bool", lambda: ServerVad(speech_duration_ms=True),
     "ServerVad.speech_duration_ms", "True", "integer >= 0"),
    ("vad-create", lambda: ServerVad(create_response="yes"),  # type: ignore[arg-type]
     "ServerVad.create_response", "'yes'", "True or False"),
    ("vad-interrupt", lambda: AzureSemanticVadEn(interrupt_response=1),  # type: ignore[arg-type]
     "AzureSemanticVadEn.interrupt_response", "1", "True or False"),
    ("vad-truncate", lambda: AzureSemanticVad(auto_truncate="no"),  # type: ignore[arg-type]
     "AzureSemanticVad.auto_truncate", "'no'", "True or False"),
    ("vad-eou-dict", lambda: ServerVad(end_of_utterance_detection={"model": "x"}),  # type: ignore[arg-type]
     "ServerVad.end_of_utterance_detection", "{'model': 'x'}", "EndOfUtterance(...)"),
    ("vad-filler", lambda: AzureSemanticVad(remove_filler_words="no"),  # type: ignore[arg-type]
     "AzureSemanticVad.remove_filler_words", "'no'", "True or False"),
    ("vad-languages-str", lambda: AzureSemanticVad(languages="en"),
     "AzureSemanticVad.languages", "'en'", "list of language codes"),
    ("vad-languages-empty", lambda: AzureSemanticVadMultilingual(languages=[]),
     "AzureSemanticVadMultilingual.languages", "()", "at least 1"),
    ("vad-languages-item", lambda: AzureSemanticVadMultilingual(languages=["en", ""]),
     "AzureSemanticVadMultilingual.languages[1]", "''", "non-empty string"),
    ("semantic-eagerness", lambda: SemanticVad(eagerness="eager"), "SemanticVad.eagerness",
     "'eager'", "'auto'"),
    # audio processing and transcription
    ("noise-type", lambda: NoiseReduction("loud"), "NoiseReduction.type", "'loud'",
     "'near_field'"),
    ("echo-channels", lambda: EchoCancellation(channels=3), "EchoCancellation.channels", "3",
     "one of 1, 2"),
    ("echo-source", lambda: EchoCancellation(reference_source="mic"),
     "EchoCancellation.reference_source", "'mic'", "'client'"),
    ("echo-client-mono", lambda: EchoCancellation(reference_source="client"),
     "EchoCancellation.channels", "None", "2 with reference_source 'client'"),
    ("echo-server-stereo", lambda: EchoCancellation(reference_source="server", channels=2),
     "EchoCancellation.reference_source", "'server'", "'client' with channels=2"),
    ("echo-stereo", lambda: EchoCancellation(channels=2), "EchoCancellation.reference_source",
     "None", "'client' with channels=2"),
    ("transcription-model", lambda: InputTranscription(model=""), "InputTranscription.model",
     "''", "non-empty string"),
    ("transcription-language", lambda: InputTranscription(language=""),
     "InputTranscription.language", "''", "non-empty string"),
    ("phrases-str", lambda: InputTranscription(phrase_list="Contoso"),
     "InputTranscription.phrase_list", "'Contoso'", "list of phrases"),
    ("phrases-item", lambda: InputTranscription(phrase_list=["Contoso", ""]),
     "InputTranscription.phrase_list[1]", "''", "non-empty string"),
    ("custom-speech-value", lambda: InputTranscription(custom_speech={"en-US": 3}),  # type: ignore[dict-item]
     "InputTranscription.custom_speech['en-US']", "3", "mapping of strings to strings"),
    ("custom-speech-type", lambda: InputTranscription(custom_speech="id"),  # type: ignore[arg-type]
     "InputTranscription.custom_speech", "'id'", "mapping of strings to strings"),
    ("prompt-azure", lambda: InputTranscription(model="azure-speech", prompt="Contoso"),
     "InputTranscription.prompt", "'Contoso'", "None with model 'azure-speech'"),
    ("phrases-whisper", lambda: InputTranscription(model="whisper-1", phrase_list=["a"]),
     "InputTranscription.phrase_list", "('a',)", "None with model 'whisper-1'"),
    ("custom-speech-mai", lambda: InputTranscription(model="mai-transcribe",
                                                     custom_speech={"en-US": "id"}),
     "InputTranscription.custom_speech", "{'en-US': 'id'}", "custom speech is for azure-speech"),
    # interim responses
    ("interim-texts", lambda: StaticInterimResponse(texts=[]), "StaticInterimResponse.texts",
     "()", "at least 1"),
    ("interim-trigger", lambda: StaticInterimResponse(triggers=["slow"]),
     "StaticInterimResponse.triggers[0]", "'slow'", "'latency'"),
    ("interim-latency", lambda: LlmInterimResponse(latency_threshold_ms=-5),
     "LlmInterimResponse.latency_threshold_ms", "-5", "integer >= 0"),
    ("interim-tokens", lambda: LlmInterimResponse(max_completion_tokens=0),
     "LlmInterimResponse.max_completion_tokens", "0", "integer >= 1"),
    # avatar and animation
    ("ice-urls-empty", lambda: IceServer(urls=[]), "IceServer.urls", "()", "at least 1"),
    ("ice-url", lambda: IceServer(urls=["http://turn.example.com"]), "IceServer.urls[0]",
     "'http://turn.example.com'", "'stun:'"),
    ("ice-urls-str", lambda: IceServer(urls="stun:x"), "IceServer.urls", "'stun:x'",
     "list of ICE server URLs"),
    ("crop-order", lambda: VideoCrop((0, 0), (0, 10)), "VideoCrop.bottom_right", "(0, 10)",
     "right of and below (0, 0)"),
    ("crop-negative", lambda: VideoCrop((-1, 0), (5, 5)), "VideoCrop.top_left", "(-1, 0)",
     "non-negative integers"),
    ("crop-shape", lambda: VideoCrop((0, 0, 0), (5, 5)), "VideoCrop.top_left", "(0, 0, 0)",
     "(x, y) pair"),
    ("resolution-width", lambda: VideoResolution(0, 10), "VideoResolution.width", "0",
     "integer >= 1"),
    ("resolution-float", lambda: VideoResolution(10, 1.5),  # type: ignore[arg-type]
     "VideoResolution.height", "1.5", "integer >= 1"),
    ("background-none", lambda: VideoBackground(), "VideoBackground.color", "None",
     "exactly one of color and image_url"),
    ("background-both", lambda: VideoBackground(color="#000000FF",
                                                image_url="https://x.example/bg.png"),
     "VideoBackground.color", "'#000000FF'", "exactly one of color and image_url"),
    ("background-url", lambda: VideoBackground(image_url="file:///bg.png"),
     "VideoBackground.image_url", "'file:///bg.png'", "https:// URL"),
    ("video-codec", lambda: AvatarVideo(codec="vp8"), "AvatarVideo.codec", "'vp8'", "'h264'"),
    ("video-gop", lambda: AvatarVideo(gop_size=2001), "AvatarVideo.gop_size", "2001",
     "from 1 to 2000"),
    ("video-bitrate", lambda: AvatarVideo(bitrate=0), "AvatarVideo.bitrate", "0",
     "integer >= 1"),
    ("video-crop", lambda: AvatarVideo(crop=(0, 0, 1, 1)),  # type: ignore[arg-type]
     "AvatarVideo.crop", "(0, 0, 1, 1)", "VideoCrop(...)"),
    ("scene-zoom", lambda: AvatarScene(zoom=0), "AvatarScene.zoom", "0", "a number > 0"),
    ("scene-position", lambda: AvatarScene(position_x=1.5), "AvatarScene.position_x", "1.5",
     "from -1.0 to 1.0"),
    ("scene-rotation", lambda: AvatarScene(rotation_z=4), "AvatarScene.rotation_z", "4",
     "radians from -pi to pi"),
    ("scene-amplitude", lambda: AvatarScene(amplitude=0), "AvatarScene.amplitude", "0",
     "> 0.0 and <= 1.0"),
    ("avatar-character", lambda: Avatar(character=""), "Avatar.character", "''",
     "non-empty string"),
    ("avatar-customized", lambda: Avatar(character="lisa", customized="no"),  # type: ignore[arg-type]
     "Avatar.customized", "'no'", "True or False"),
    ("avatar-type", lambda: Avatar(character="lisa", type="3d-avatar"), "Avatar.type",
     "'3d-avatar'", "'photo-avatar'"),
    ("avatar-photo-model", lambda: Avatar(character="lisa", type="photo-avatar"),
     "Avatar.model", "None", "'vasa-1' for a photo avatar"),
    ("avatar-model", lambda: Avatar(character="lisa", model="vasa-2"), "Avatar.model",
     "'vasa-2'", "'vasa-1'"),
    ("avatar-protocol", lambda: Avatar(character="lisa", output_protocol="udp"),
     "Avatar.output_protocol", "'udp'", "'websocket'"),
    ("avatar-ice", lambda: Avatar(character="lisa", ice_servers=[{"urls": ["stun:x"]}]),  # type: ignore[list-item]
     "Avatar.ice_servers[0]", "{'urls': ['stun:x']}", "IceServer(urls=...)"),
    ("avatar-video", lambda: Avatar(character="lisa", video={}),  # type: ignore[arg-type]
     "Avatar.video", "{}", "AvatarVideo(...)"),
    ("animation-output", lambda: Animation(outputs=["face"]), "Animation.outputs[0]", "'face'",
     "'viseme_id'"),
    ("animation-empty", lambda: Animation(outputs=set()), "Animation.outputs", "()",
     "at least 1"),
    ("animation-str", lambda: Animation(outputs="blendshapes"), "Animation.outputs",
     "'blendshapes'", "'blendshapes' and 'viseme_id'"),
    # session options
    ("model", lambda: SessionOptions(model=""), "SessionOptions.model", "''",
     "non-empty string"),
    ("instructions", lambda: SessionOptions(instructions=3),  # type: ignore[arg-type]
     "SessionOptions.instructions", "3", "a string"),
    ("modalities-audio", lambda: SessionOptions(modalities=["audio"]),
     "SessionOptions.modalities", "('audio',)", "includes 'text'"),
    ("modalities-item", lambda: SessionOptions(modalities=["text", "video"]),
     "SessionOptions.modalities[1]", "'video'", "'avatar'"),
    ("modalities-str", lambda: SessionOptions(modalities="text"), "SessionOptions.modalities",
     "'text'", "a list of 'text', 'audio'"),
    ("turn-detection-str", lambda: SessionOptions(turn_detection="server_vad"),  # type: ignore[arg-type]
     "SessionOptions.turn_detection", "'server_vad'", "None for manual turns"),
    ("noise-str", lambda: SessionOptions(noise_reduction="near_field"),  # type: ignore[arg-type]
     "SessionOptions.noise_reduction", "'near_field'", "NoiseReduction(...)"),
    ("echo-bool", lambda: SessionOptions(echo_cancellation=True),  # type: ignore[arg-type]
     "SessionOptions.echo_cancellation", "True", "EchoCancellation(...)"),
    ("transcription-str", lambda: SessionOptions(input_transcription="azure-speech"),  # type: ignore[arg-type]
     "SessionOptions.input_transcription", "'azure-speech'", "InputTranscription(...)"),
    ("temperature-low", lambda: SessionOptions(temperature=0.5), "SessionOptions.temperature",
     "0.5", "from 0.6 to 1.2"),
    ("temperature-high", lambda: SessionOptions(temperature=1.3), "SessionOptions.temperature",
     "1.3", "from 0.6 to 1.2"),
    ("tokens-0", lambda: SessionOptions(max_output_tokens=0),
     "SessionOptions.max_output_tokens", "0", "from 1 to 4096"),
    ("tokens-big", lambda: SessionOptions(max_output_tokens=4097),
     "SessionOptions.max_output_tokens", "4097", "from 1 to 4096"),
    ("tokens-str", lambda: SessionOptions(max_output_tokens="infinite"),  # type: ignore[arg-type]
     "SessionOptions.max_output_tokens", "'infinite'", "from 1 to 4096"),
    ("tool-choice", lambda: SessionOptions(tool_choice="any tool!"),
     "SessionOptions.tool_choice", "'any tool!'", "'required'"),
    ("parallel", lambda: SessionOptions(parallel_tool_calls="yes"),  # type: ignore[arg-type]
     "SessionOptions.parallel_tool_calls", "'yes'", "True or False"),
    ("input-format", lambda: SessionOptions(input_audio_format="mp3"),
     "SessionOptions.input_audio_format", "'mp3'", "'g711_alaw'"),
    ("input-rate", lambda: SessionOptions(input_audio_sampling_rate=48000),
     "SessionOptions.input_audio_sampling_rate", "48000", "(8000, 16000, 24000, 44100)"),
    ("input-rate-g711", lambda: SessionOptions(input_audio_format="g711_ulaw",
                                               input_audio_sampling_rate=16000),
     "SessionOptions.input_audio_sampling_rate", "16000", "(8000,) for input_audio_format "
     "'g711_ulaw'"),
    ("output-format", lambda: SessionOptions(output_audio_format="mp3"),
     "SessionOptions.output_audio_format", "'mp3'", "'pcm16_16000hz'"),
    ("output-format-voice", lambda: SessionOptions(voice="alloy",
                                                   output_audio_format="pcm16_48000hz"),
     "SessionOptions.output_audio_format", "'pcm16_48000hz'", "need an Azure voice"),
    ("timestamps", lambda: SessionOptions(output_audio_timestamp_types=["sentence"]),
     "SessionOptions.output_audio_timestamp_types[0]", "'sentence'", "'word'"),
    ("avatar-dict", lambda: SessionOptions(avatar={"character": "lisa"}),  # type: ignore[arg-type]
     "SessionOptions.avatar", "{'character': 'lisa'}", "Avatar(character=...)"),
    ("animation-dict", lambda: SessionOptions(animation={}),  # type: ignore[arg-type]
     "SessionOptions.animation", "{}", "Animation(...)"),
    ("interim-dict", lambda: SessionOptions(interim_response={"texts": []}),  # type: ignore[arg-type]
     "SessionOptions.interim_response", "{'texts': []}", "StaticInterimResponse(...)"),
    ("reasoning", lambda: SessionOptions(reasoning_effort="max"),
     "SessionOptions.reasoning_effort", "'max'", "'xhigh'"),
    ("include", lambda: SessionOptions(include=["everything"]), "SessionOptions.include[0]",
     "'everything'", "'file_search_call.results'"),
    ("metadata-entries", lambda: SessionOptions(metadata={str(i): "" for i in range(17)}),
     "SessionOptions.metadata", "'17 entries'", "at most 16 entries"),
    ("metadata-key", lambda: SessionOptions(metadata={"k" * 65: "v"}),
     "SessionOptions.metadata", "'kkkk", "keys of at most 64 characters"),
    ("metadata-value", lambda: SessionOptions(metadata={"k": "v" * 513}),
     "SessionOptions.metadata['k']", "'vvvv", "values of at most 512 characters"),
    ("metadata-int", lambda: SessionOptions(metadata={"k": 1}),  # type: ignore[dict-item]
     "SessionOptions.metadata['k']", "1", "mapping of strings to strings"),
    # checks across fields and against the model
    ("echo-stereo-g711", lambda: SessionOptions(
        input_audio_format="g711_ulaw",
        echo_cancellation=EchoCancellation(reference_source="client", channels=2)),
     "SessionOptions.input_audio_format", "'g711_ulaw'", "'pcm16' with two-channel echo"),
    ("semantic-vad-model", lambda: SessionOptions(model="gpt-4.1", turn_detection=SemanticVad()),
     "SessionOptions.turn_detection", "SemanticVad()", "supported by gpt-realtime models"),
    ("near-field-model", lambda: SessionOptions(model="gpt-5",
                                                noise_reduction=NoiseReduction("near_field")),
     "SessionOptions.noise_reduction", "NoiseReduction(type='near_field')",
     "supported by gpt-realtime models"),
    ("native-voice-model", lambda: SessionOptions(voice=AzureRealtimeNativeVoice("ava")),
     "SessionOptions.voice", "AzureRealtimeNativeVoice(name='ava')",
     "supported by azure-realtime models"),
    ("whisper-model", lambda: SessionOptions(
        model="gpt-4.1", input_transcription=InputTranscription(model="whisper-1")),
     "SessionOptions.input_transcription", "InputTranscription(model='whisper-1')",
     "supported by gpt-realtime models"),
    ("auto-transcription-phrases", lambda: SessionOptions(
        input_transcription=InputTranscription(phrase_list=["Contoso"])),
     "SessionOptions.input_transcription.phrase_list", "('Contoso',)",
     "None with model 'whisper-1'"),
]  # fmt: skip


@pytest.mark.parametrize(("build", "field", "value", "allowed"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])  # fmt: skip
def test_invalid_values_raise_configuration_error_naming_field_value_and_allowed(
    build: Callable[[], object], field: str, value: str, allowed: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        build()
    message = str(caught.value)
    assert message.startswith(f"invalid {field}: "), message
    assert value in message, message
    assert allowed in message, message
    assert type(caught.value) is ConfigurationError


GOOD: list[tuple[str, Callable[[], object]]] = [
    ("openai", lambda: OpenAIVoice("cedar")),
    ("native", lambda: AzureRealtimeNativeVoice("ximena")),
    ("azure-hd", lambda: AzureStandardVoice("en-US-Ava:DragonHDLatestNeural", temperature=0.0)),
    ("azure-all", lambda: AzureStandardVoice(
        "en-US-AvaNeural", temperature=1, locale="en-US", prefer_locales={"es-ES", "en-GB"},
        style="cheerful", pitch="+50Hz", rate="1.5", volume="-6dB",
        custom_lexicon_url="https://x.example/lex.xml",
        custom_text_normalization_url="http://x.example/norm")),
    ("prosody-words", lambda: AzureStandardVoice("v", pitch="x-high", rate="x-slow",
                                                 volume="silent")),
    ("prosody-relative", lambda: AzureStandardVoice("v", pitch="-2st", rate="-10%",
                                                    volume="+10")),
    ("volume-100", lambda: AzureStandardVoice("v", volume="100")),
    ("custom", lambda: AzureCustomVoice("v", "endpoint")),
    ("personal", lambda: AzurePersonalVoice("p", "DragonHDOmniLatestNeural", style="sad")),
    ("eou", lambda: EndOfUtterance(model="semantic_detection_v1_en", threshold_level="default",
                                   timeout_ms=0)),
    ("server-vad", lambda: ServerVad(threshold=0.01, prefix_padding_ms=0, create_response=False)),
    ("semantic-multi", lambda: AzureSemanticVadMultilingual(languages=("en", "hi"),
                                                            threshold=0.99)),
    ("semantic-vad", lambda: SemanticVad(eagerness="high")),
    ("echo-server", lambda: EchoCancellation(reference_source="server", channels=1)),
    ("echo-client", lambda: EchoCancellation(reference_source="client", channels=2)),
    ("transcription-openai", lambda: InputTranscription(model="gpt-4o-transcribe", prompt="")),
    ("transcription-other", lambda: InputTranscription(model="mai-ears-1", prompt="x",
                                                       custom_speech={"en-US": "id"})),
    ("interim", lambda: StaticInterimResponse(texts=["One moment."], triggers={"tool"})),
    ("photo", lambda: Avatar(character="anna", type="photo-avatar", model="vasa-1")),
    ("scene-edges", lambda: AvatarScene(position_x=-1, rotation_y=math.pi, amplitude=1)),
    ("ice", lambda: IceServer(urls=("turns:turn.example.com:443",), username="u",
                              credential="c")),
    ("options-inf", lambda: SessionOptions(max_output_tokens=math.inf)),
    ("options-44k", lambda: SessionOptions(input_audio_sampling_rate=44100)),
    ("options-g711", lambda: SessionOptions(input_audio_format="g711_alaw",
                                            input_audio_sampling_rate=8000)),
    ("options-unknown-model", lambda: SessionOptions(
        model="my-byom-model", noise_reduction=NoiseReduction("far_field"))),
    ("options-native", lambda: SessionOptions(model="azure-realtime",
                                              voice=AzureRealtimeNativeVoice("ava"))),
    ("options-hd-output", lambda: SessionOptions(voice="en-US-AvaNeural",
                                                 output_audio_format="pcm16_48000hz")),
]  # fmt: skip


@pytest.mark.parametrize("build", [g[1] for g in GOOD], ids=[g[0] for g in GOOD])
def test_valid_values_are_accepted(build: Callable[[], object]) -> None:
    value: Any = build()
    assert attrs.has(type(value))
    assert attrs.evolve(value) == value  # rebuilding validates the same values again


def test_collections_are_stored_as_tuples_and_read_only_mappings() -> None:
    voice = AzureStandardVoice("v", prefer_locales=["en-GB", "es-ES"])
    assert voice.prefer_locales == ("en-GB", "es-ES")
    assert Animation(outputs={"viseme_id", "blendshapes"}).outputs == ("blendshapes", "viseme_id")
    options = SessionOptions(metadata={"a": "b"})
    assert options.metadata == {"a": "b"}
    with pytest.raises(TypeError):
        options.metadata["c"] = "d"  # type: ignore[index]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        options.temperature = 1.0  # type: ignore[misc]


def test_reprs_show_what_is_set_and_hide_credentials() -> None:
    assert repr(AzureStandardVoice("en-US-AvaNeural", rate="1.2")) == (
        "AzureStandardVoice(name='en-US-AvaNeural', rate='1.2')"
    )
    assert repr(ServerVad()) == "ServerVad()"
    assert repr(SessionOptions()) == "SessionOptions()"
    server = IceServer(urls=["turn:t.example.com"], username="user", credential="s3cret-token")
    options = SessionOptions(avatar=Avatar(character="lisa", ice_servers=[server]))
    assert "s3cret-token" not in repr(options)
    assert "credential=***" in repr(server)


def test_an_invalid_secret_is_not_shown() -> None:
    with pytest.raises(ConfigurationError) as caught:
        IceServer(urls=["turn:t.example.com"], credential="")
    assert "<redacted>" in str(caught.value)


# --- voice_from -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", OPENAI_VOICES)
def test_voice_from_openai_names(name: str) -> None:
    assert voice_from(name) == OpenAIVoice(name)


@pytest.mark.parametrize(
    "name",
    [
        "en-US-AvaNeural",
        "en-US-Ava:DragonHDLatestNeural",
        "en-US-AvaMultilingualNeural",
        "zh-CN-XiaoxiaoNeural",
        "de-DE-Seraphina:DragonHDLatestNeural",
        "sr-Latn-RS-NicholasNeural",
        "en-us-andrewneural".replace("neural", "Neural"),
        "en-US-Ava3:DragonHDFlashLatestNeural",
    ],
)
def test_voice_from_azure_names(name: str) -> None:
    assert voice_from(name) == AzureStandardVoice(name)


def test_voice_from_returns_voice_objects_unchanged() -> None:
    for voice in (
        OpenAIVoice("ash"),
        AzureStandardVoice("en-US-AvaNeural", style="sad"),
        AzureCustomVoice("mine", endpoint_id="e"),
        AzurePersonalVoice("me", "PhoenixV2Neural"),
        AzureRealtimeNativeVoice("ava"),
    ):
        assert voice_from(voice) is voice


@pytest.mark.parametrize(
    "bad", ["bob", "Alloy", "", "en-US-Ava", "my-custom-voice", "en-US-:Dragon", "ava", 3, None]
)
def test_voice_from_rejects_anything_else_listing_both_forms(bad: object) -> None:
    with pytest.raises(ConfigurationError) as caught:
        voice_from(bad)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith(f"invalid voice: {bad!r}; ")
    assert "alloy" in message
    assert "cedar" in message
    assert "'en-US-AvaNeural'" in message
    assert "'en-US-Ava:DragonHDLatestNeural'" in message
    assert "AzureCustomVoice" in message


def test_session_options_converts_a_voice_string() -> None:
    assert SessionOptions(voice="alloy").voice == OpenAIVoice("alloy")
    assert SessionOptions(voice="en-US-AvaNeural").voice == AzureStandardVoice("en-US-AvaNeural")
    with pytest.raises(ConfigurationError, match=r"^invalid voice: 'bob'"):
        SessionOptions(voice="bob")


# --- SessionOptions behaviour -----------------------------------------------------------------


def test_fields_lists_every_option() -> None:
    assert {f.name for f in attrs.fields(SessionOptions)} == SessionOptions.FIELDS
    assert {"voice", "instructions", "model", "turn_detection", "temperature"} <= (
        SessionOptions.FIELDS
    )


def test_evolve_validates_and_rejects_unknown_names() -> None:
    options = SessionOptions(voice="alloy")
    changed = options.evolve(temperature=0.9, voice="en-US-AvaNeural")
    assert changed.temperature == 0.9
    assert changed.voice == AzureStandardVoice("en-US-AvaNeural")
    assert options.temperature is None
    with pytest.raises(ConfigurationError, match=r"^invalid SessionOptions.temperature: 2"):
        options.evolve(temperature=2)
    with pytest.raises(ConfigurationError) as caught:
        options.evolve(temprature=0.9, colour="red")
    message = str(caught.value)
    assert message.startswith("unknown session option(s): colour, temprature; ")
    assert "temperature" in message.split(";")[1]


def test_defaults() -> None:
    options = SessionOptions()
    assert options.model == "gpt-realtime"
    assert options.turn_detection is SERVICE_DEFAULT
    assert options.input_transcription == InputTranscription()
    assert options.effective_modalities == ("text", "audio")
    assert SessionOptions(modalities=["text"]).effective_modalities == ("text",)


def test_turn_properties() -> None:
    default = SessionOptions()
    assert not default.manual_turns
    assert default.auto_response
    assert default.effective_turn_detection() == ServerVad()
    manual = SessionOptions(turn_detection=None)
    assert manual.manual_turns
    assert not manual.auto_response
    assert manual.effective_turn_detection() is None
    quiet = SessionOptions(turn_detection=AzureSemanticVad(create_response=False))
    assert not quiet.manual_turns
    assert not quiet.auto_response
    assert quiet.effective_turn_detection() == AzureSemanticVad(create_response=False)
    assert SessionOptions(turn_detection=SemanticVad(create_response=True)).auto_response


def test_connect_query_requests_the_client_echo_reference_feature() -> None:
    assert SessionOptions().connect_query == {}
    assert SessionOptions(echo_cancellation=EchoCancellation()).connect_query == {}
    client = EchoCancellation(reference_source="client", channels=2)
    assert SessionOptions(echo_cancellation=client).connect_query == {
        "features": "client_ec_reference:true"
    }


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("gpt-realtime", "gpt-realtime"),
        ("gpt-realtime-mini", "gpt-realtime"),
        ("gpt-4o-realtime-preview", "gpt-realtime"),
        ("azure-realtime", "azure-realtime"),
        ("gpt-4.1", "other"),
        ("gpt-5-chat", "other"),
        ("phi4-mm-realtime", "other"),
        ("my-deployment", "unknown"),
    ],
)
def test_model_family(model: str, family: str) -> None:
    assert model_family(model) == family


@pytest.mark.parametrize(
    ("model", "transcription_model"),
    [("gpt-realtime", "whisper-1"), ("gpt-4.1", "azure-speech"), ("azure-realtime", "azure-speech"),
     ("my-deployment", "azure-speech")],
)  # fmt: skip
def test_default_transcription_model_follows_the_session_model(
    model: str, transcription_model: str
) -> None:
    session = wire(SessionOptions(model=model))
    assert session == {"input_audio_transcription": {"model": transcription_model}}


# --- conversion -------------------------------------------------------------------------------


def test_nothing_set_sends_only_transcription() -> None:
    assert wire(SessionOptions(input_transcription=SERVICE_DEFAULT)) == {}
    assert wire(SessionOptions()) == {"input_audio_transcription": {"model": "whisper-1"}}


def test_none_turns_switchable_features_off() -> None:
    options = SessionOptions(
        turn_detection=None, noise_reduction=None, echo_cancellation=None, input_transcription=None
    )
    assert wire(options) == {
        "turn_detection": None,
        "input_audio_noise_reduction": None,
        "input_audio_echo_cancellation": None,
        "input_audio_transcription": None,
    }


@pytest.mark.parametrize(
    ("voice", "expected"),
    [
        (OpenAIVoice("alloy"), {"type": "openai", "name": "alloy"}),
        (AzureRealtimeNativeVoice("ava"), {"type": "azure-realtime-native", "name": "ava"}),
        (
            AzureStandardVoice("en-US-Ava:DragonHDLatestNeural", temperature=0.8),
            {"type": "azure-standard", "name": "en-US-Ava:DragonHDLatestNeural",
             "temperature": 0.8},
        ),
        (
            AzureStandardVoice(
                "en-US-AvaNeural", locale="en-US", prefer_locales=["en-GB"], style="cheerful",
                pitch="+5%", rate="1.1", volume="loud",
                custom_lexicon_url="https://x.example/l.xml",
                custom_text_normalization_url="https://x.example/n",
            ),
            {"type": "azure-standard", "name": "en-US-AvaNeural", "locale": "en-US",
             "prefer_locales": ["en-GB"], "style": "cheerful", "pitch": "+5%", "rate": "1.1",
             "volume": "loud", "custom_lexicon_url": "https://x.example/l.xml",
             "custom_text_normalization_url": "https://x.example/n"},
        ),
        (
            AzureCustomVoice("my-voice", endpoint_id="1234", style="excited"),
            {"type": "azure-custom", "name": "my-voice", "endpoint_id": "1234",
             "style": "excited"},
        ),
        (
            AzurePersonalVoice("speaker", "DragonLatestNeural", locale="fr-FR"),
            {"type": "azure-personal", "name": "speaker", "model": "DragonLatestNeural",
             "locale": "fr-FR"},
        ),
    ],
)  # fmt: skip
def test_voice_conversion(voice: Any, expected: dict[str, Any]) -> None:
    model = "azure-realtime" if isinstance(voice, AzureRealtimeNativeVoice) else "gpt-realtime"
    options = SessionOptions(model=model, voice=voice, input_transcription=SERVICE_DEFAULT)
    assert wire(options) == {"voice": expected}
    assert json.loads(json.dumps(voice_to_sdk(voice).as_dict())) == expected


EOU = EndOfUtterance(threshold_level="low", timeout_ms=800)
EOU_JSON = {"model": "semantic_detection_v1", "threshold_level": "low", "timeout_ms": 800}


@pytest.mark.parametrize(
    ("detection", "expected"),
    [
        (ServerVad(), {"type": "server_vad"}),
        (
            ServerVad(threshold=0.6, prefix_padding_ms=300, silence_duration_ms=700,
                      speech_duration_ms=150, end_of_utterance_detection=EOU,
                      create_response=False, interrupt_response=False, auto_truncate=True),
            {"type": "server_vad", "threshold": 0.6, "prefix_padding_ms": 300,
             "silence_duration_ms": 700, "speech_duration_ms": 150,
             "end_of_utterance_detection": EOU_JSON, "create_response": False,
             "interrupt_response": False, "auto_truncate": True},
        ),
        (
            AzureSemanticVad(remove_filler_words=True, languages=["en"], speech_duration_ms=80),
            {"type": "azure_semantic_vad", "remove_filler_words": True, "languages": ["en"],
             "speech_duration_ms": 80},
        ),
        (
            AzureSemanticVadEn(
                end_of_utterance_detection=EndOfUtterance(model="semantic_detection_v1_en")
            ),
            {"type": "azure_semantic_vad_en",
             "end_of_utterance_detection": {"model": "semantic_detection_v1_en"}},
        ),
        (
            AzureSemanticVadMultilingual(languages=["en", "es"], threshold=0.4),
            {"type": "azure_semantic_vad_multilingual", "languages": ["en", "es"],
             "threshold": 0.4},
        ),
        (
            SemanticVad(eagerness="low", interrupt_response=True),
            {"type": "semantic_vad", "eagerness": "low", "interrupt_response": True},
        ),
    ],
)  # fmt: skip
def test_turn_detection_conversion(detection: Any, expected: dict[str, Any]) -> None:
    options = SessionOptions(turn_detection=detection, input_transcription=SERVICE_DEFAULT)
    assert wire(options) == {"turn_detection": expected}


def test_audio_processing_and_transcription_conversion() -> None:
    options = SessionOptions(
        noise_reduction=NoiseReduction("near_field"),
        echo_cancellation=EchoCancellation(reference_source="client", channels=2),
        input_transcription=InputTranscription(
            model="gpt-4o-transcribe", language="en,zh", prompt="Contoso, Fabrikam"
        ),
    )
    assert wire(options) == {
        "input_audio_noise_reduction": {"type": "near_field"},
        "input_audio_echo_cancellation": {
            "type": "server_echo_cancellation",
            "reference_source": "client",
            "channels": 2,
        },
        "input_audio_transcription": {
            "model": "gpt-4o-transcribe",
            "language": "en,zh",
            "prompt": "Contoso, Fabrikam",
        },
    }
    azure = SessionOptions(
        model="gpt-4.1",
        echo_cancellation=EchoCancellation(),
        input_transcription=InputTranscription(
            language="en-US", phrase_list=["Contoso"], custom_speech={"en-US": "endpoint-id"}
        ),
    )
    assert wire(azure) == {
        "input_audio_echo_cancellation": {"type": "server_echo_cancellation"},
        "input_audio_transcription": {
            "model": "azure-speech",
            "language": "en-US",
            "phrase_list": ["Contoso"],
            "custom_speech": {"en-US": "endpoint-id"},
        },
    }


def test_avatar_and_animation_conversion() -> None:
    avatar = Avatar(
        character="lisa",
        style="casual-sitting",
        customized=True,
        type="video-avatar",
        ice_servers=[IceServer(urls=["turn:t.example.com"], username="u", credential="c")],
        video=AvatarVideo(
            bitrate=2_000_000,
            codec="h264",
            crop=VideoCrop((10, 0), (1910, 1080)),
            resolution=VideoResolution(1920, 1080),
            background=VideoBackground(color="#00FF00FF"),
            gop_size=10,
        ),
        scene=AvatarScene(zoom=1.2, position_x=0.1, rotation_y=-0.5, amplitude=0.8),
        output_protocol="websocket",
        output_audit_audio=False,
    )
    options = SessionOptions(
        avatar=avatar,
        animation=Animation(outputs=["viseme_id"], model_name="default"),
        modalities=["text", "audio", "animation", "avatar"],
        input_transcription=SERVICE_DEFAULT,
    )
    assert wire(options) == {
        "modalities": ["text", "audio", "animation", "avatar"],
        "avatar": {
            "type": "video-avatar",
            "character": "lisa",
            "style": "casual-sitting",
            "customized": True,
            "ice_servers": [{"urls": ["turn:t.example.com"], "username": "u", "credential": "c"}],
            "video": {
                "bitrate": 2000000,
                "codec": "h264",
                "crop": {"top_left": [10, 0], "bottom_right": [1910, 1080]},
                "resolution": {"width": 1920, "height": 1080},
                "background": {"color": "#00FF00FF"},
                "gop_size": 10,
            },
            "scene": {"zoom": 1.2, "position_x": 0.1, "rotation_y": -0.5, "amplitude": 0.8},
            "output_protocol": "websocket",
            "output_audit_audio": False,
        },
        "animation": {"model_name": "default", "outputs": ["viseme_id"]},
    }
    photo = SessionOptions(
        avatar=Avatar(character="anna", type="photo-avatar", model="vasa-1"),
        input_transcription=SERVICE_DEFAULT,
    )
    assert wire(photo) == {
        "avatar": {"character": "anna", "customized": False, "type": "photo-avatar",
                   "model": "vasa-1"}
    }  # fmt: skip


def test_scalar_fields_and_interim_responses_conversion() -> None:
    options = SessionOptions(
        model="gpt-4.1",  # realtime audio models have no interim responses
        instructions="Be brief.",
        modalities=["text"],
        temperature=0.7,
        max_output_tokens=512,
        tool_choice="required",
        parallel_tool_calls=False,
        output_audio_timestamp_types=["word"],
        reasoning_effort="low",
        include=["item.input_audio_transcription.logprobs"],
        metadata={"call": "42"},
        interim_response=StaticInterimResponse(
            texts=["One moment."], triggers=["latency", "tool"], latency_threshold_ms=1500
        ),
        input_transcription=SERVICE_DEFAULT,
    )
    assert wire(options) == {
        "instructions": "Be brief.",
        "modalities": ["text"],
        "temperature": 0.7,
        "max_response_output_tokens": 512,
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "output_audio_timestamp_types": ["word"],
        "reasoning_effort": "low",
        "include": ["item.input_audio_transcription.logprobs"],
        "metadata": {"call": "42"},
        "interim_response": {
            "type": "static_interim_response",
            "texts": ["One moment."],
            "triggers": ["latency", "tool"],
            "latency_threshold_ms": 1500,
        },
    }
    llm = SessionOptions(
        model="gpt-4.1",
        instructions="",
        max_output_tokens="inf",
        interim_response=LlmInterimResponse(
            model="gpt-4.1-mini", instructions="Say you are on it.", max_completion_tokens=30,
            triggers=["tool"],
        ),
        input_transcription=SERVICE_DEFAULT,
    )  # fmt: skip
    assert wire(llm) == {
        "instructions": "",
        "max_response_output_tokens": "inf",
        "interim_response": {
            "type": "llm_interim_response",
            "model": "gpt-4.1-mini",
            "instructions": "Say you are on it.",
            "max_completion_tokens": 30,
            "triggers": ["tool"],
        },
    }


def test_tools_and_function_tool_choice() -> None:
    options = SessionOptions(tool_choice="get_weather", input_transcription=SERVICE_DEFAULT)
    assert wire(options, tools=[TOOL]) == {
        "tools": [
            {"type": "function", "name": "get_weather", "description": "Weather.",
             "parameters": {"type": "object"}}
        ],
        "tool_choice": {"type": "function", "name": "get_weather"},
    }  # fmt: skip
    assert "tools" not in wire(SessionOptions(), tools=[])


def test_tool_problems_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match=r"tool_choice: 'lookup' is not a function tool"):
        to_request_session(SessionOptions(tool_choice="lookup"), tools=[TOOL])
    with pytest.raises(ConfigurationError, match=r"'auto', 'none', 'required', 'get_weather'"):
        to_request_session(SessionOptions(tool_choice="lookup"), tools=[TOOL])
    with pytest.raises(
        ConfigurationError, match=r"duplicate tool name 'get_weather' in tools\[1\]"
    ):
        to_request_session(SessionOptions(), tools=[TOOL, TOOL])
    with pytest.raises(ConfigurationError, match=r"invalid tools\[0\]: \{'name': 'x'\}"):
        to_request_session(SessionOptions(), tools=[{"name": "x"}])  # type: ignore[list-item]
    mcp = MCPServer(server_label="docs", server_url="https://mcp.example.com")
    assert wire(SessionOptions(), tools=[TOOL, mcp])["tools"][1]["server_label"] == "docs"


class WireFormat:
    """Stands in for voiceagent.audio.AudioFormat: the two wire methods the session uses."""

    def __init__(self, encoding: str, rate: int) -> None:
        self.encoding, self.rate = encoding, rate

    def to_wire(self) -> tuple[str, int]:
        return self.encoding, self.rate

    def to_output_wire(self) -> str:
        return self.encoding if self.rate in (8000, 24000) else f"pcm16_{self.rate}hz"


def test_session_formats_fill_in_what_the_options_leave_unset() -> None:
    options = SessionOptions(input_transcription=SERVICE_DEFAULT)
    assert wire(
        options,
        input_audio_format="g711_ulaw",
        input_audio_sampling_rate=8000,
        output_audio_format="pcm16_16000hz",
    ) == {
        "input_audio_format": "g711_ulaw",
        "input_audio_sampling_rate": 8000,
        "output_audio_format": "pcm16_16000hz",
    }
    assert wire(
        options,
        input_audio_format=WireFormat("pcm16", 16000),
        output_audio_format=WireFormat("pcm16", 16000),
    ) == {
        "input_audio_format": "pcm16",
        "input_audio_sampling_rate": 16000,
        "output_audio_format": "pcm16_16000hz",
    }
    fixed = options.evolve(input_audio_format="pcm16", output_audio_format="pcm16")
    assert wire(fixed, input_audio_format="pcm16", output_audio_format="pcm16") == {
        "input_audio_format": "pcm16",
        "output_audio_format": "pcm16",
    }


def test_session_formats_that_contradict_the_options_or_are_invalid_fail() -> None:
    options = SessionOptions(input_audio_format="pcm16")
    with pytest.raises(ConfigurationError, match=r"conflicting input_audio_format: the options "
                       r"set 'pcm16' but the session asked for 'g711_ulaw'"):  # fmt: skip
        to_request_session(options, input_audio_format="g711_ulaw")
    with pytest.raises(ConfigurationError, match=r"invalid SessionOptions.output_audio_format"):
        to_request_session(SessionOptions(), output_audio_format="mp3")
    with pytest.raises(ConfigurationError, match=r"input_audio_sampling_rate: 16000"):
        to_request_session(SessionOptions(), input_audio_format="g711_alaw",
                           input_audio_sampling_rate=16000)  # fmt: skip
    with pytest.raises(ConfigurationError, match=r"conflicting input_audio_sampling_rate"):
        to_request_session(
            SessionOptions(), input_audio_format=WireFormat("pcm16", 24000),
            input_audio_sampling_rate=16000,
        )  # fmt: skip


# --- properties over any valid options ---------------------------------------------------------

_WIRE_NAMES = {
    "noise_reduction": "input_audio_noise_reduction",
    "echo_cancellation": "input_audio_echo_cancellation",
    "input_transcription": "input_audio_transcription",
    "max_output_tokens": "max_response_output_tokens",
}


def expected_keys(options: SessionOptions) -> set[str]:
    """The session fields that must be sent: exactly the options that are set."""
    keys = set()
    for field in attrs.fields(SessionOptions):
        value = getattr(options, field.name)
        if field.name != "model" and value is not None and value is not SERVICE_DEFAULT:
            keys.add(_WIRE_NAMES.get(field.name, field.name))
    for name in ("turn_detection", "noise_reduction", "echo_cancellation", "input_transcription"):
        if getattr(options, name) is None:
            keys.add(_WIRE_NAMES.get(name, name))
    return keys


@settings(max_examples=300, deadline=None)
@given(strategies.session_options())
def test_any_valid_options_convert_to_exactly_their_set_fields(options: SessionOptions) -> None:
    session = wire(options)
    assert set(session) == expected_keys(options)
    assert wire(options) == session
    assert options.evolve() == options
    assert re.fullmatch(r"SessionOptions\(.*\)", repr(options), re.DOTALL)


@settings(max_examples=300, deadline=None)
@given(strategies.session_options())
def test_the_emulator_accepts_any_valid_options(options: SessionOptions) -> None:
    """Cross-check with the emulator's validator of session.update (its protocol reading)."""
    session = default_session(model=options.model, session_id="sess_x", expires_at=0)
    updated = apply_session_update(session, wire(options), audio_sent=False, voice_used=False)
    for key, value in wire(options).items():
        if value is None or not isinstance(value, dict):
            assert updated[key] == value or key == "input_audio_sampling_rate"
