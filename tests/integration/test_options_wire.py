"""Session options over the wire: ``to_request_session`` sent by the real SDK's
``session.update`` to the emulator, which accepts it and echoes every value."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from azure.ai.voicelive.aio import connect
from azure.ai.voicelive.models import FunctionTool, ServerEventSessionUpdated

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
from voiceagent._features import (
    EchoCancellation,
    InputTranscription,
    LlmInterimResponse,
    NoiseReduction,
    StaticInterimResponse,
)
from voiceagent._options import SERVICE_DEFAULT, SessionOptions, to_request_session
from voiceagent._turn_detection import (
    AzureSemanticVad,
    AzureSemanticVadEn,
    AzureSemanticVadMultilingual,
    EndOfUtterance,
    SemanticVad,
    ServerVad,
)
from voiceagent._voices import (
    AzureCustomVoice,
    AzurePersonalVoice,
    AzureRealtimeNativeVoice,
    AzureStandardVoice,
)

from ..helpers import is_a, recv_until, type_of

if TYPE_CHECKING:
    from voiceagent.testing import Emulator

TOOLS = [
    FunctionTool(
        name="get_weather",
        description="Current weather for a city.",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}},
    ),
    FunctionTool(name="local_time", parameters={"type": "object", "properties": {}}),
]

CASES: dict[str, tuple[SessionOptions, dict[str, Any]]] = {
    "openai-voice-server-vad-whisper": (
        SessionOptions(
            instructions="You are a concise weather assistant.",
            voice="alloy",
            turn_detection=ServerVad(
                threshold=0.6, prefix_padding_ms=300, silence_duration_ms=600,
                speech_duration_ms=150, create_response=True, interrupt_response=True,
                auto_truncate=True,
                end_of_utterance_detection=EndOfUtterance(threshold_level="low",
                                                          timeout_ms=900),
            ),
            noise_reduction=NoiseReduction(),
            echo_cancellation=EchoCancellation(reference_source="server", channels=1),
            input_transcription=InputTranscription(language="en", prompt="Weather, Paris"),
        ),
        {"input_audio_format": "pcm16", "input_audio_sampling_rate": 16000,
         "output_audio_format": "pcm16_16000hz"},
    ),
    "azure-hd-voice-semantic-vad-azure-speech-g711": (
        SessionOptions(
            model="gpt-4.1",
            voice=AzureStandardVoice(
                "en-US-Ava:DragonHDLatestNeural", temperature=0.7, locale="en-US",
                prefer_locales=["en-GB"], style="cheerful", pitch="+5%", rate="1.1",
                volume="loud", custom_lexicon_url="https://lex.example.com/l.xml",
            ),
            turn_detection=AzureSemanticVad(
                threshold=0.4, speech_duration_ms=80, remove_filler_words=True,
                languages=["en"],
                end_of_utterance_detection=EndOfUtterance(model="semantic_detection_v1_en"),
            ),
            input_transcription=InputTranscription(
                model="azure-speech", language="en-US", phrase_list=["Contoso", "Fabrikam"],
                custom_speech={"en-US": "5f1c6e3a-0000-4000-8000-000000000001"},
            ),
        ),
        {"input_audio_format": "g711_ulaw", "input_audio_sampling_rate": 8000,
         "output_audio_format": "g711_ulaw"},
    ),
    "custom-voice-semantic-vad-en-near-field": (
        SessionOptions(
            voice=AzureCustomVoice("my-voice", endpoint_id="12345678-1234-1234-1234-1234567890ab",
                                   style="excited"),
            turn_detection=AzureSemanticVadEn(silence_duration_ms=400, auto_truncate=False),
            noise_reduction=NoiseReduction("near_field"),
            input_transcription=InputTranscription(model="gpt-4o-transcribe"),
            output_audio_format="pcm16_24000hz",
        ),
        {},
    ),
    "personal-voice-multilingual-vad-client-echo": (
        SessionOptions(
            voice=AzurePersonalVoice("speaker-profile", "DragonLatestNeural", locale="fr-FR"),
            turn_detection=AzureSemanticVadMultilingual(languages=["en", "fr", "es"]),
            echo_cancellation=EchoCancellation(reference_source="client", channels=2),
            input_audio_format="pcm16",
        ),
        {},
    ),
    "native-voice-azure-realtime-mai-transcribe": (
        SessionOptions(
            model="azure-realtime",
            voice=AzureRealtimeNativeVoice("ava"),
            turn_detection=ServerVad(),
            input_transcription=InputTranscription(model="mai-transcribe-1", language="en"),
        ),
        {},
    ),
    "openai-semantic-vad-far-field": (
        SessionOptions(
            model="gpt-realtime-mini",
            voice="marin",
            turn_detection=SemanticVad(eagerness="low", create_response=True),
            noise_reduction=NoiseReduction("far_field"),
            input_transcription=InputTranscription(model="whisper-1"),
        ),
        {},
    ),
    "manual-turns-features-off": (
        SessionOptions(
            turn_detection=None,
            noise_reduction=None,
            echo_cancellation=None,
            input_transcription=None,
        ),
        {},
    ),
    "avatar-animation": (
        SessionOptions(
            model="gpt-4.1",
            voice="en-US-AvaMultilingualNeural",
            modalities=["text", "audio", "animation", "avatar"],
            output_audio_timestamp_types=["word"],
            avatar=Avatar(
                character="lisa", style="casual-sitting", customized=False,
                type="video-avatar",
                ice_servers=[IceServer(urls=["stun:stun.example.com:3478"]),
                             IceServer(urls=["turn:turn.example.com"], username="user",
                                       credential="turn-password")],
                video=AvatarVideo(
                    bitrate=2_000_000, codec="h264", crop=VideoCrop((560, 0), (1360, 1080)),
                    resolution=VideoResolution(1920, 1080),
                    background=VideoBackground(color="#FFFFFFFF"), gop_size=10,
                ),
                scene=AvatarScene(zoom=1.0, position_x=0.1, rotation_y=0.2, amplitude=0.5),
                output_protocol="webrtc", output_audit_audio=True,
            ),
            animation=Animation(outputs={"blendshapes", "viseme_id"}, model_name="default"),
            output_audio_format="pcm16_48000hz",
        ),
        {},
    ),
    "photo-avatar": (
        SessionOptions(
            model="gpt-4.1",
            avatar=Avatar(character="anna", type="photo-avatar", model="vasa-1",
                          video=AvatarVideo(background=VideoBackground(
                              image_url="https://img.example.com/bg.png"))),
        ),
        {},
    ),
    "tools-sampling-metadata-static-interim": (
        SessionOptions(
            model="gpt-4.1",  # realtime audio models have no interim responses
            modalities=["text"],
            tool_choice="get_weather",
            parallel_tool_calls=False,
            temperature=0.9,
            max_output_tokens=1024,
            reasoning_effort="low",
            include=["item.input_audio_transcription.logprobs"],
            metadata={"call_id": "c-42", "tenant": "contoso"},
            interim_response=StaticInterimResponse(
                texts=["One moment..."], triggers=["latency", "tool"], latency_threshold_ms=1500
            ),
        ),
        {},
    ),
    "llm-interim-inf-tokens": (
        SessionOptions(
            model="gpt-4.1",
            voice="en-US-AndrewNeural",
            tool_choice="auto",
            max_output_tokens="inf",
            temperature=0.6,
            interim_response=LlmInterimResponse(
                model="gpt-4.1-mini", instructions="Say you are on it.",
                max_completion_tokens=30, triggers=["tool"],
            ),
            instructions="",
        ),
        {},
    ),
    "service-defaults": (SessionOptions(input_transcription=SERVICE_DEFAULT), {}),
}  # fmt: skip


def contains(echoed: Any, sent: Any, path: str = "session") -> None:
    """Assert that ``echoed`` holds everything ``sent`` holds (objects may gain defaults)."""
    if isinstance(sent, dict):
        assert isinstance(echoed, dict), f"{path}: {echoed!r} is not an object"
        for key, value in sent.items():
            assert key in echoed, f"{path}.{key} missing from {sorted(echoed)}"
            contains(echoed[key], value, f"{path}.{key}")
    else:
        assert echoed == sent, f"{path}: sent {sent!r}, echoed {echoed!r}"


@pytest.mark.parametrize(("options", "formats"), CASES.values(), ids=CASES.keys())
async def test_emulator_accepts_and_echoes_the_options(
    emulator: Emulator, options: SessionOptions, formats: dict[str, Any]
) -> None:
    request = to_request_session(options, tools=TOOLS, **formats)
    sent = json.loads(json.dumps(request.as_dict()))
    async with connect(
        endpoint=emulator.endpoint,
        credential=emulator.credential,
        model=options.model,
        query=options.connect_query,
    ) as conn:
        assert type_of(await conn.recv()) == "session.created"
        await conn.session.update(session=request)
        events = await recv_until(conn, lambda e: type_of(e) in ("session.updated", "error"))
    reply = events[-1]
    assert type_of(reply) == "session.updated", f"rejected: {reply.error}"
    echoed = json.loads(json.dumps(is_a(reply, ServerEventSessionUpdated).session.as_dict()))
    contains(echoed, sent)
    assert echoed["model"] == options.model
    for switchable in (
        "turn_detection",
        "input_audio_noise_reduction",
        "input_audio_echo_cancellation",
        "input_audio_transcription",
    ):
        if sent.get(switchable, ...) is None:
            assert echoed[switchable] is None  # fmt: skip


async def test_emulator_records_exactly_the_sent_session(emulator: Emulator) -> None:
    options, formats = CASES["azure-hd-voice-semantic-vad-azure-speech-g711"]
    request = to_request_session(options, tools=TOOLS, **formats)
    async with connect(
        endpoint=emulator.endpoint, credential=emulator.credential, model=options.model
    ) as conn:
        await conn.recv()
        await conn.session.update(session=request)
        await recv_until(conn, "session.updated")
    recorded = await emulator.wait_for("session.update")
    assert recorded["session"] == json.loads(json.dumps(request.as_dict()))
    assert "model" not in recorded["session"]
