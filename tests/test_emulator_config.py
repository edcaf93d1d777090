"""Tests of the emulator's session configuration (``voiceagent.testing._config``)."""

from __future__ import annotations

import copy
import datetime
import json
from typing import Any

import pytest
from azure.ai.voicelive import models as vl
from hypothesis import given
from hypothesis import strategies as st

from voiceagent.testing._config import (
    WireFormat,
    apply_session_update,
    default_session,
    input_format,
    output_format,
    response_config,
)
from voiceagent.testing._protocol import ProtocolError

EXPIRES = 1_800_000_000
REALTIME = "gpt-realtime"
CASCADED = "gpt-4.1"


def new_session(model: str = REALTIME) -> dict[str, Any]:
    return default_session(model=model, session_id="sess_test", expires_at=EXPIRES)


def update(
    changes: Any,
    *,
    base: dict[str, Any] | None = None,
    model: str = REALTIME,
    audio_sent: bool = False,
    voice_used: bool = False,
) -> dict[str, Any]:
    session = new_session(model) if base is None else base
    return apply_session_update(session, changes, audio_sent=audio_sent, voice_used=voice_used)


def rejected(changes: Any, code: str, param: str, **kwargs: Any) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        update(changes, **kwargs)
    assert (info.value.code, info.value.param) == (code, param), info.value.message
    assert info.value.type == "invalid_request_error"
    return info.value


def sdk_fields(cls: Any) -> set[str]:
    """Wire names of an SDK model's fields (``_attr_to_rest_field`` is built on first use)."""
    cls.__new__(cls)
    return {field._rest_name for field in cls._attr_to_rest_field.values()}


def sdk_session_event(session: dict[str, Any], kind: str = "session.updated") -> Any:
    deserialize: Any = vl.ServerEvent._deserialize  # untyped in the SDK
    return deserialize({"type": kind, "event_id": "event_x", "session": session}, [])


# --- wire formats ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "rate", "per_ms"),
    [
        ("pcm16", 24000, 48),
        ("pcm16", 16000, 32),
        ("pcm16", 8000, 16),
        ("g711_ulaw", 8000, 8),
        ("g711_alaw", 8000, 8),
    ],
)
def test_wire_format_sizes(encoding: Any, rate: int, per_ms: int) -> None:
    fmt = WireFormat(encoding, rate)
    assert fmt.bytes_per_ms == per_ms
    assert fmt.bytes_for_ms(100) == 100 * per_ms
    assert fmt.duration_ms(per_ms * 20) == 20


def test_bytes_for_ms_rounds_to_whole_samples() -> None:
    assert WireFormat("pcm16", 22050).bytes_for_ms(10) == 440  # 220.5 samples -> 220
    assert WireFormat("pcm16", 24000).bytes_for_ms(0.03) == 2  # 0.72 samples -> 1
    assert WireFormat("g711_ulaw", 8000).bytes_for_ms(0.1) == 1
    with pytest.raises(ValueError, match="negative"):
        WireFormat("pcm16", 24000).bytes_for_ms(-1)


def test_wire_format_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="encoding"):
        WireFormat("opus", 48000)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sample_rate"):
        WireFormat("pcm16", 0)


@given(
    fmt=st.sampled_from(
        [WireFormat("pcm16", r) for r in (8000, 16000, 22050, 24000, 44100, 48000)]
        + [WireFormat("g711_ulaw", 8000), WireFormat("g711_alaw", 8000)]
    ),
    ms=st.floats(min_value=0, max_value=600_000, allow_nan=False),
)
def test_bytes_for_ms_is_whole_samples_close_to_the_duration(fmt: WireFormat, ms: float) -> None:
    nbytes = fmt.bytes_for_ms(ms)
    assert nbytes % fmt.sample_width == 0
    assert abs(fmt.duration_ms(nbytes) - ms) <= 1000 / fmt.sample_rate / 2 + 1e-6


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (None, WireFormat("pcm16", 24000)),
        ("pcm16", WireFormat("pcm16", 24000)),
        ("pcm16_8000hz", WireFormat("pcm16", 8000)),
        ("pcm16-8000hz", WireFormat("pcm16", 8000)),
        ("pcm16_16000hz", WireFormat("pcm16", 16000)),
        ("pcm16-16000hz", WireFormat("pcm16", 16000)),
        ("pcm16_22050hz", WireFormat("pcm16", 22050)),
        ("pcm16_24000hz", WireFormat("pcm16", 24000)),
        ("pcm16_44100hz", WireFormat("pcm16", 44100)),
        ("pcm16_48000hz", WireFormat("pcm16", 48000)),
        ("pcm16_32000hz", WireFormat("pcm16", 32000)),
        ("g711_ulaw", WireFormat("g711_ulaw", 8000)),
        ("g711_alaw", WireFormat("g711_alaw", 8000)),
    ],
)
def test_output_format_mapping(name: str | None, expected: WireFormat) -> None:
    config = {} if name is None else {"output_audio_format": name}
    assert output_format(config) == expected


def test_output_format_rejects_non_audio_names() -> None:
    with pytest.raises(ValueError, match="mp3"):
        output_format({"output_audio_format": "mp3"})


def test_input_format_follows_format_and_rate() -> None:
    assert input_format(new_session()) == WireFormat("pcm16", 24000)
    assert input_format(update({"input_audio_sampling_rate": 16000})) == WireFormat("pcm16", 16000)
    ulaw = update({"input_audio_format": "g711_ulaw"})
    assert input_format(ulaw) == WireFormat("g711_ulaw", 8000)
    assert input_format({}) == WireFormat("pcm16", 24000)
    with pytest.raises(ValueError, match="opus"):
        input_format({"input_audio_format": "opus"})


AZURE_HD = {"type": "azure-standard", "name": "en-US-Ava:DragonHDLatestNeural"}


# --- defaults -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "voice", "transcription"),
    [
        ("azure-realtime", {"type": "azure-realtime-native", "name": "ava"}, None),
        ("gpt-realtime", {"type": "openai", "name": "alloy"}, None),
        ("gpt-realtime-mini", {"type": "openai", "name": "alloy"}, None),
        ("gpt-4o-realtime-preview", {"type": "openai", "name": "alloy"}, None),
        ("phi4-mm-realtime", {"type": "openai", "name": "alloy"}, None),
        ("gpt-4o", AZURE_HD, {"model": "azure-speech"}),
        ("gpt-4.1-mini", AZURE_HD, {"model": "azure-speech"}),
        ("gpt-5-chat", AZURE_HD, {"model": "azure-speech"}),
        ("phi4-mini", AZURE_HD, {"model": "azure-speech"}),
    ],
)
def test_default_session_per_model_family(model: str, voice: Any, transcription: Any) -> None:
    assert new_session(model) == {
        "id": "sess_test",
        "object": "realtime.session",
        "model": model,
        "expires_at": EXPIRES,
        "modalities": ["text", "audio"],
        "instructions": "",
        "voice": voice,
        "input_audio_format": "pcm16",
        "output_audio_format": "pcm16",
        "input_audio_sampling_rate": 24000,
        "turn_detection": {
            "type": "server_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 400,
            "silence_duration_ms": 500,
            "create_response": True,
            "interrupt_response": True,
            "auto_truncate": False,
        },
        "input_audio_noise_reduction": None,
        "input_audio_echo_cancellation": None,
        "input_audio_transcription": transcription,
        "tools": [],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "temperature": 0.8,
        "max_response_output_tokens": "inf",
    }


def test_default_sessions_share_no_state() -> None:
    first = new_session()
    first["turn_detection"]["threshold"] = 0.9
    first["voice"]["name"] = "ash"
    first["tools"].append({"type": "function", "name": "f"})
    assert new_session() == default_session(
        model=REALTIME, session_id="sess_test", expires_at=EXPIRES
    )
    assert new_session()["turn_detection"]["threshold"] == 0.5


def test_default_session_is_json() -> None:
    session = new_session()
    assert json.loads(json.dumps(session)) == session


# --- merge rules ----------------------------------------------------------------------------


def test_partial_update_keeps_other_fields_and_never_mutates_input() -> None:
    base = new_session()
    snapshot = copy.deepcopy(base)
    changes = {"instructions": "Be brief.", "temperature": 0.6}
    frozen_changes = copy.deepcopy(changes)
    result = update(changes, base=base)
    assert base == snapshot
    assert changes == frozen_changes
    assert result == {**snapshot, "instructions": "Be brief.", "temperature": 0.6}
    result["turn_detection"]["threshold"] = 0.1
    assert base["turn_detection"]["threshold"] == 0.5


def test_empty_update_changes_nothing() -> None:
    assert update({}) == new_session()


def test_empty_string_clears_instructions() -> None:
    with_instructions = update({"instructions": "You are a pirate."})
    assert update({"instructions": ""}, base=with_instructions)["instructions"] == ""


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("turn_detection", {"type": "server_vad"}),
        ("input_audio_noise_reduction", {"type": "azure_deep_noise_suppression"}),
        ("input_audio_echo_cancellation", {"type": "server_echo_cancellation"}),
        ("input_audio_transcription", {"model": "azure-speech"}),
    ],
)
def test_null_turns_features_off(field: str, value: dict[str, Any]) -> None:
    on = update({field: value}, model=CASCADED)
    assert on[field] is not None
    off = update({field: None}, base=on)
    assert field in off
    assert off[field] is None


def test_null_turns_off_default_transcription_of_cascaded_models() -> None:
    assert (
        update({"input_audio_transcription": None}, model=CASCADED)["input_audio_transcription"]
        is None
    )


def test_null_restores_defaults_of_other_fields() -> None:
    changed = update(
        {
            "temperature": 1.1,
            "voice": "echo",
            "tools": [{"type": "function", "name": "f"}],
            "metadata": {"k": "v"},
            "avatar": {"character": "lisa"},
        }
    )
    restored = update(
        {"temperature": None, "voice": None, "tools": None, "metadata": None, "avatar": None},
        base=changed,
    )
    assert restored == new_session()


def test_nested_objects_are_replaced_wholesale_with_type_defaults() -> None:
    first = update({"turn_detection": {"type": "server_vad", "silence_duration_ms": 900}})
    second = update({"turn_detection": {"type": "server_vad", "threshold": 0.7}}, base=first)
    assert second["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.7,
        "prefix_padding_ms": 400,
        "silence_duration_ms": 500,
        "create_response": True,
        "interrupt_response": True,
        "auto_truncate": False,
    }


def test_turn_detection_type_defaults_to_server_vad() -> None:
    td = update({"turn_detection": {"create_response": False}})["turn_detection"]
    assert td["type"] == "server_vad"
    assert td["create_response"] is False
    assert td["threshold"] == 0.5


@pytest.mark.parametrize(
    "kind", ["azure_semantic_vad", "azure_semantic_vad_en", "azure_semantic_vad_multilingual"]
)
def test_azure_semantic_vad_defaults(kind: str) -> None:
    assert update({"turn_detection": {"type": kind}})["turn_detection"] == {
        "type": kind,
        "threshold": 0.5,
        "prefix_padding_ms": 420,
        "silence_duration_ms": 500,
        "speech_duration_ms": 80,
        "remove_filler_words": False,
        "create_response": True,
        "interrupt_response": True,
        "auto_truncate": False,
    }


def test_openai_semantic_vad_defaults() -> None:
    td = update({"turn_detection": {"type": "semantic_vad", "eagerness": "high"}})
    assert td["turn_detection"] == {
        "type": "semantic_vad",
        "eagerness": "high",
        "create_response": True,
        "interrupt_response": True,
    }


def test_unknown_turn_detection_keys_are_echoed() -> None:
    extra = {
        "appended_text_after_truncation": "...",
        "speech_duration_assistant_speaking_ms": 300,
        "window_size": 5,
        "distinct_ci_phones": 2,
        "require_vowel": True,
    }
    td = update({"turn_detection": {"type": "azure_semantic_vad", "languages": ["en"], **extra}})
    assert td["turn_detection"]["languages"] == ["en"]
    assert td["turn_detection"].items() >= extra.items()


def test_end_of_utterance_detection_defaults_and_extras() -> None:
    td = update(
        {
            "turn_detection": {
                "type": "azure_semantic_vad",
                "end_of_utterance_detection": {
                    "model": "semantic_detection_v1",
                    "threshold": 0.01,  # older clients' keys: echoed
                    "timeout": 2,
                },
            }
        }
    )["turn_detection"]
    assert td["end_of_utterance_detection"] == {
        "model": "semantic_detection_v1",
        "threshold_level": "default",
        "timeout_ms": 1000,
        "threshold": 0.01,
        "timeout": 2,
    }
    off = update({"turn_detection": {"type": "server_vad", "end_of_utterance_detection": None}})
    assert off["turn_detection"]["end_of_utterance_detection"] is None


def test_bare_string_voice_is_echoed_as_sent() -> None:
    assert update({"voice": "alloy"})["voice"] == "alloy"


@pytest.mark.parametrize(
    ("model", "voice"),
    [
        (REALTIME, {"type": "openai", "name": "marin"}),
        (CASCADED, {"type": "azure-standard", "name": "en-US-AvaNeural", "temperature": 0.9}),
        (CASCADED, {"type": "azure-standard", "name": "en-US-Ava", "rate": "1.2", "style": "x"}),
        (CASCADED, {"type": "azure-custom", "name": "MyVoice", "endpoint_id": "e-1"}),
        (CASCADED, {"type": "azure-personal", "name": "me", "model": "DragonLatestNeural"}),
        (CASCADED, {"type": "avatar-voice-sync", "model": "vs-1"}),
        ("azure-realtime", {"type": "azure-realtime-native", "name": "andrew"}),
    ],
)
def test_voice_forms(model: str, voice: dict[str, Any]) -> None:
    assert update({"voice": voice}, model=model)["voice"] == voice


def test_echo_cancellation_defaults() -> None:
    server = update({"input_audio_echo_cancellation": {"type": "server_echo_cancellation"}})
    assert server["input_audio_echo_cancellation"] == {
        "type": "server_echo_cancellation",
        "reference_source": "server",
        "channels": 1,
    }
    client = update(
        {
            "input_audio_echo_cancellation": {
                "type": "server_echo_cancellation",
                "reference_source": "client",
            }
        }
    )
    assert client["input_audio_echo_cancellation"]["channels"] == 2


def test_animation_defaults() -> None:
    assert update({"animation": {}})["animation"] == {
        "model_name": "default",
        "outputs": ["blendshapes"],
    }
    visemes = update({"animation": {"outputs": ["viseme_id"]}})["animation"]
    assert visemes == {"model_name": "default", "outputs": ["viseme_id"]}


@pytest.mark.parametrize("key", ["interim_response", "interim-response"])
@pytest.mark.parametrize(
    ("kind", "stored"),
    [
        ("static_interim_response", "static_interim_response"),
        ("static-interim-response", "static_interim_response"),
        ("llm_interim_response", "llm_interim_response"),
        ("llm-interim-response", "llm_interim_response"),
    ],
)
def test_interim_response_spellings(key: str, kind: str, stored: str) -> None:
    config = {"type": kind, "triggers": ["latency", "tool"], "latency_threshold_ms": 2000}
    session = update({key: config}, model=CASCADED)
    assert "interim-response" not in session
    assert session["interim_response"] == {**config, "type": stored}


def test_tools_and_tool_choice_are_stored() -> None:
    tools = [
        {
            "type": "function",
            "name": "get_time",
            "description": "d",
            "parameters": {"type": "object", "properties": {}},
        },
        {
            "type": "mcp",
            "server_label": "docs",
            "server_url": "https://mcp.example/sse",
            "require_approval": {"never": ["search"]},
            "headers": {"X-Key": "1"},
            "allowed_tools": ["search"],
        },
    ]
    session = update(
        {"tools": tools, "tool_choice": {"type": "function", "name": "get_time"}},
        model=CASCADED,
    )
    assert session["tools"] == tools
    assert session["tool_choice"] == {"type": "function", "name": "get_time"}
    for choice in ("auto", "none", "required", "get_time"):
        assert update({"tool_choice": choice})["tool_choice"] == choice


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", 0.0),
        ("temperature", 0.6),
        ("temperature", 1.2),
        ("temperature", 2),
        ("max_response_output_tokens", 1),
        ("max_response_output_tokens", 4096),
        ("max_response_output_tokens", "inf"),
        ("modalities", ["text"]),
        ("modalities", ["text", "audio", "avatar"]),
        ("modalities", ["audio", "text", "animation"]),
        ("turn_detection", {"type": "server_vad", "threshold": 0.01}),
        ("turn_detection", {"type": "server_vad", "threshold": 0.99}),
        ("turn_detection", {"type": "server_vad", "prefix_padding_ms": 0}),
        ("input_audio_sampling_rate", 8000),
        ("input_audio_sampling_rate", 16000),
        ("input_audio_sampling_rate", 22050),
        ("input_audio_sampling_rate", 44100),
        ("input_audio_sampling_rate", 48000),
        ("output_audio_format", "pcm16_8000hz"),
        ("output_audio_format", "pcm16-8000hz"),
        ("output_audio_format", "pcm16-16000hz"),
        ("output_audio_format", "pcm16_44100hz"),
        ("output_audio_format", "g711_alaw"),
        ("input_audio_noise_reduction", {"type": "near_field"}),
        ("input_audio_noise_reduction", {"type": "far_field"}),
        ("input_audio_transcription", {"model": "whisper-1", "prompt": "names"}),
        ("input_audio_transcription", {"model": "mai-transcribe-1", "language": "en-US,de-DE"}),
        ("input_audio_transcription", {"model": "azure-speech", "phrase_list": ["Contoso"]}),
        ("input_audio_transcription", {"model": "azure-speech", "custom_speech": {"en-US": "id"}}),
        ("output_audio_timestamp_types", ["word"]),
        ("reasoning_effort", "xhigh"),
        ("include", ["item.input_audio_transcription.logprobs", "file_search_call.results"]),
        ("metadata", {f"k{i}": "v" * 512 for i in range(16)}),
        ("metadata", {"k" * 64: ""}),
        ("avatar", {"character": "lisa", "style": "casual-sitting"}),
        (
            "avatar",
            {
                "type": "photo-avatar",
                "character": "anika",
                "model": "vasa-1",
                "customized": False,
                "ice_servers": [{"urls": ["turn:x"], "username": "u", "credential": "c"}],
                "video": {"bitrate": 2000000, "codec": "h264"},
                "scene": {"zoom": 1.0},
                "output_protocol": "websocket",
                "output_audit_audio": True,
            },
        ),
        ("parallel_tool_calls", False),
    ],
)
def test_valid_values_are_accepted_and_echoed(field: str, value: Any) -> None:
    stored = update({field: value})[field]
    if field == "turn_detection":  # plus the defaults of the fields not given
        assert stored.items() >= value.items()
    else:
        assert stored == value


def test_integral_floats_count_as_integers() -> None:
    td = update({"turn_detection": {"type": "server_vad", "silence_duration_ms": 700.0}})
    assert td["turn_detection"]["silence_duration_ms"] == 700
    assert isinstance(td["turn_detection"]["silence_duration_ms"], int)


# --- fixed and unknown fields ---------------------------------------------------------------


def test_model_and_read_only_fields_may_be_echoed_unchanged() -> None:
    base = new_session()
    echoed = {k: base[k] for k in ("model", "id", "object", "expires_at")}
    assert update({**echoed, "instructions": "x"}, base=base) == {**base, "instructions": "x"}
    assert update({"model": None, "agent": None}, base=base) == base


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model", "gpt-4o"),
        ("id", "sess_other"),
        ("object", "realtime.conversation"),
        ("expires_at", 1),
        ("agent", {"type": "agent"}),
    ],
)
def test_model_and_read_only_fields_cannot_change(field: str, value: Any) -> None:
    error = rejected({field: value}, "invalid_value", f"session.{field}")
    assert "cannot be changed" in error.message


@pytest.mark.parametrize("field", ["foo", "voices", "input_audio", "type", "audio"])
def test_unknown_top_level_fields_are_rejected(field: str) -> None:
    error = rejected({field: 1}, "unknown_parameter", f"session.{field}")
    assert field in error.message


def test_missing_or_malformed_session() -> None:
    rejected(None, "missing_required_parameter", "session")
    rejected("x", "invalid_type", "session")
    rejected([{"voice": "alloy"}], "invalid_type", "session")


def test_every_sdk_request_session_field_is_known() -> None:
    names = sdk_fields(vl.RequestSession)
    assert "turn_detection" in names
    assert len(names) >= 20
    for name in names:
        update({name: None}, model=CASCADED)  # null: turns off or restores the default
    assert set(VALID_SESSION_SAMPLES) >= names - {"model"}
    for name, value in VALID_SESSION_SAMPLES.items():
        assert update({name: value}, model=CASCADED)[name] is not None


VALID_SESSION_SAMPLES: dict[str, Any] = {
    "modalities": ["text"],
    "animation": {"outputs": ["viseme_id"]},
    "voice": {"type": "azure-standard", "name": "en-US-AvaNeural"},
    "instructions": "x",
    "input_audio_sampling_rate": 16000,
    "input_audio_format": "g711_ulaw",
    "output_audio_format": "pcm16_16000hz",
    "turn_detection": {"type": "azure_semantic_vad_multilingual", "languages": ["en", "fr"]},
    "input_audio_noise_reduction": {"type": "azure_deep_noise_suppression"},
    "input_audio_echo_cancellation": {"type": "server_echo_cancellation"},
    "avatar": {"character": "lisa"},
    "input_audio_transcription": {"model": "azure-speech", "language": "en"},
    "output_audio_timestamp_types": ["word"],
    "tools": [{"type": "function", "name": "f"}],
    "tool_choice": "required",
    "parallel_tool_calls": False,
    "temperature": 0.7,
    "max_response_output_tokens": 100,
    "reasoning_effort": "low",
    "interim_response": {"type": "static_interim_response", "texts": ["One moment."]},
    "include": ["item.input_audio_transcription.phrases"],
    "metadata": {"trace": "1"},
}


def test_sdk_request_session_samples_roundtrip() -> None:
    """An update built with the SDK's own models is accepted as the SDK serializes it."""
    request = vl.RequestSession(
        modalities=[vl.Modality.TEXT, vl.Modality.AUDIO],
        instructions="hi",
        voice=vl.AzureStandardVoice(name="en-US-Ava:DragonHDLatestNeural"),
        input_audio_format=vl.InputAudioFormat.PCM16,
        output_audio_format=vl.OutputAudioFormat.PCM16,
        turn_detection=vl.ServerVad(threshold=0.5, prefix_padding_ms=300, silence_duration_ms=500),
        input_audio_echo_cancellation=vl.AudioEchoCancellation(),
        input_audio_noise_reduction=vl.AudioNoiseReduction(type="azure_deep_noise_suppression"),
        input_audio_transcription=vl.AudioInputTranscriptionOptions(model="azure-speech"),
        tools=[vl.FunctionTool(name="get_time", description="d", parameters={"type": "object"})],
        tool_choice=vl.ToolChoiceLiteral.AUTO,
        avatar=None,
    )
    wire = json.loads(json.dumps(request.as_dict()))
    session = update(wire, model=CASCADED)
    assert session["turn_detection"]["prefix_padding_ms"] == 300
    assert "avatar" not in session  # explicit None restores the default: no avatar
    assert session["tools"][0]["name"] == "get_time"


def test_sdk_openai_voice_name_is_accepted() -> None:
    request = vl.RequestSession(voice=vl.OpenAIVoiceName.ALLOY)
    assert update(json.loads(json.dumps(request.as_dict())))["voice"] == "alloy"


# --- validation -----------------------------------------------------------------------------

S = "session"
TD = "session.turn_detection"
EOU = f"{TD}.end_of_utterance_detection"
V = "session.voice"
EC = "session.input_audio_echo_cancellation"
TR = "session.input_audio_transcription"
IV = "invalid_value"
IT = "invalid_type"
MISSING = "missing_required_parameter"
ECHO = {"type": "server_echo_cancellation"}

INVALID: list[tuple[dict[str, Any], str, str]] = [
    # modalities
    ({"modalities": "text"}, IT, f"{S}.modalities"),
    ({"modalities": []}, IV, f"{S}.modalities"),
    ({"modalities": ["audio"]}, IV, f"{S}.modalities"),
    ({"modalities": ["audio", "avatar"]}, IV, f"{S}.modalities"),
    ({"modalities": ["text", "video"]}, IV, f"{S}.modalities[1]"),
    ({"modalities": ["text", "text"]}, IV, f"{S}.modalities[1]"),
    ({"modalities": ["text", 1]}, IT, f"{S}.modalities[1]"),
    # instructions
    ({"instructions": 5}, IT, f"{S}.instructions"),
    ({"instructions": ["a"]}, IT, f"{S}.instructions"),
    # formats and rates
    ({"input_audio_format": "mp3"}, IV, f"{S}.input_audio_format"),
    ({"input_audio_format": "pcm16_16000hz"}, IV, f"{S}.input_audio_format"),
    ({"input_audio_format": 16}, IT, f"{S}.input_audio_format"),
    ({"output_audio_format": "opus"}, IV, f"{S}.output_audio_format"),
    ({"output_audio_format": "pcm16_11025hz"}, IV, f"{S}.output_audio_format"),
    ({"input_audio_sampling_rate": 11025}, IV, f"{S}.input_audio_sampling_rate"),
    ({"input_audio_sampling_rate": 0}, IV, f"{S}.input_audio_sampling_rate"),
    ({"input_audio_sampling_rate": "16000"}, IT, f"{S}.input_audio_sampling_rate"),
    ({"input_audio_sampling_rate": True}, IT, f"{S}.input_audio_sampling_rate"),
    ({"input_audio_sampling_rate": 16000.5}, IT, f"{S}.input_audio_sampling_rate"),
    (
        {"input_audio_format": "g711_ulaw", "input_audio_sampling_rate": 16000},
        IV,
        f"{S}.input_audio_sampling_rate",
    ),
    # turn detection
    ({"turn_detection": "server_vad"}, IT, TD),
    ({"turn_detection": {"type": "magic_vad"}}, IV, f"{TD}.type"),
    ({"turn_detection": {"type": 1}}, IT, f"{TD}.type"),
    ({"turn_detection": {"type": "server_vad", "threshold": 1.0}}, IV, f"{TD}.threshold"),
    ({"turn_detection": {"type": "server_vad", "threshold": 0.0}}, IV, f"{TD}.threshold"),
    ({"turn_detection": {"type": "server_vad", "threshold": 0.005}}, IV, f"{TD}.threshold"),
    ({"turn_detection": {"threshold": float("nan")}}, IV, f"{TD}.threshold"),
    ({"turn_detection": {"type": "server_vad", "threshold": "0.5"}}, IT, f"{TD}.threshold"),
    ({"turn_detection": {"type": "server_vad", "threshold": True}}, IT, f"{TD}.threshold"),
    ({"turn_detection": {"type": "server_vad", "threshold": None}}, IT, f"{TD}.threshold"),
    ({"turn_detection": {"prefix_padding_ms": -1}}, IV, f"{TD}.prefix_padding_ms"),
    ({"turn_detection": {"prefix_padding_ms": 1.5}}, IT, f"{TD}.prefix_padding_ms"),
    ({"turn_detection": {"prefix_padding_ms": "300"}}, IT, f"{TD}.prefix_padding_ms"),
    ({"turn_detection": {"silence_duration_ms": -5}}, IV, f"{TD}.silence_duration_ms"),
    ({"turn_detection": {"speech_duration_ms": -5}}, IV, f"{TD}.speech_duration_ms"),
    ({"turn_detection": {"create_response": "yes"}}, IT, f"{TD}.create_response"),
    ({"turn_detection": {"interrupt_response": 1}}, IT, f"{TD}.interrupt_response"),
    ({"turn_detection": {"auto_truncate": "false"}}, IT, f"{TD}.auto_truncate"),
    ({"turn_detection": {"end_of_utterance_detection": "semantic"}}, IT, EOU),
    ({"turn_detection": {"end_of_utterance_detection": {}}}, MISSING, f"{EOU}.model"),
    ({"turn_detection": {"end_of_utterance_detection": {"model": "x"}}}, IV, f"{EOU}.model"),
    (
        {
            "turn_detection": {
                "end_of_utterance_detection": {
                    "model": "semantic_detection_v1",
                    "threshold_level": "extreme",
                }
            }
        },
        IV,
        f"{EOU}.threshold_level",
    ),
    (
        {
            "turn_detection": {
                "end_of_utterance_detection": {"model": "semantic_detection_v1", "timeout_ms": -1}
            }
        },
        IV,
        f"{EOU}.timeout_ms",
    ),
    (
        {"turn_detection": {"type": "azure_semantic_vad", "remove_filler_words": "no"}},
        IT,
        f"{TD}.remove_filler_words",
    ),
    ({"turn_detection": {"type": "azure_semantic_vad", "languages": "en"}}, IT, f"{TD}.languages"),
    (
        {"turn_detection": {"type": "azure_semantic_vad", "languages": [""]}},
        IV,
        f"{TD}.languages[0]",
    ),
    ({"turn_detection": {"type": "semantic_vad", "eagerness": "fast"}}, IV, f"{TD}.eagerness"),
    # voices
    ({"voice": "nova"}, IV, V),
    ({"voice": "en-US-AvaNeural"}, IV, V),
    ({"voice": 7}, IT, V),
    ({"voice": {"name": "x"}}, MISSING, f"{V}.type"),
    ({"voice": {"type": "elevenlabs", "name": "x"}}, IV, f"{V}.type"),
    ({"voice": {"type": "openai", "name": "nova"}}, IV, f"{V}.name"),
    ({"voice": {"type": "openai"}}, MISSING, f"{V}.name"),
    ({"voice": {"type": "azure-standard"}}, MISSING, f"{V}.name"),
    ({"voice": {"type": "azure-standard", "name": ""}}, IV, f"{V}.name"),
    (
        {"voice": {"type": "azure-standard", "name": "x", "temperature": 1.5}},
        IV,
        f"{V}.temperature",
    ),
    ({"voice": {"type": "azure-standard", "name": "x", "rate": 1.2}}, IT, f"{V}.rate"),
    (
        {"voice": {"type": "azure-standard", "name": "x", "prefer_locales": "en"}},
        IT,
        f"{V}.prefer_locales",
    ),
    ({"voice": {"type": "azure-custom", "name": "x"}}, MISSING, f"{V}.endpoint_id"),
    ({"voice": {"type": "azure-personal", "name": "x"}}, MISSING, f"{V}.model"),
    ({"voice": {"type": "azure-personal", "name": "x", "model": "Foo"}}, IV, f"{V}.model"),
    ({"voice": {"type": "azure-realtime-native", "name": "ava"}}, IV, f"{V}.type"),
    # noise reduction
    ({"input_audio_noise_reduction": "near_field"}, IT, "session.input_audio_noise_reduction"),
    (
        {"input_audio_noise_reduction": {"type": "loud"}},
        IV,
        "session.input_audio_noise_reduction.type",
    ),
    ({"input_audio_noise_reduction": {}}, MISSING, "session.input_audio_noise_reduction.type"),
    # echo cancellation
    ({"input_audio_echo_cancellation": True}, IT, EC),
    ({"input_audio_echo_cancellation": {"type": "acoustic"}}, IV, f"{EC}.type"),
    ({"input_audio_echo_cancellation": {**ECHO, "channels": 3}}, IV, f"{EC}.channels"),
    (
        {"input_audio_echo_cancellation": {**ECHO, "reference_source": "both"}},
        IV,
        f"{EC}.reference_source",
    ),
    (
        {"input_audio_echo_cancellation": {**ECHO, "channels": 2}},
        "invalid_ec_channels_requires_client",
        f"{EC}.channels",
    ),
    (
        {"input_audio_echo_cancellation": {**ECHO, "reference_source": "server", "channels": 2}},
        "invalid_ec_channels_requires_client",
        f"{EC}.channels",
    ),
    (
        {"input_audio_echo_cancellation": {**ECHO, "reference_source": "client", "channels": 1}},
        "invalid_ec_reference_channels",
        f"{EC}.channels",
    ),
    (
        {
            "input_audio_format": "g711_alaw",
            "input_audio_echo_cancellation": {**ECHO, "reference_source": "client"},
        },
        "invalid_ec_channels_format",
        f"{EC}.channels",
    ),
    # transcription
    ({"input_audio_transcription": "azure-speech"}, IT, TR),
    ({"input_audio_transcription": {}}, MISSING, f"{TR}.model"),
    ({"input_audio_transcription": {"model": 5}}, IT, f"{TR}.model"),
    ({"input_audio_transcription": {"model": ""}}, IV, f"{TR}.model"),
    ({"input_audio_transcription": {"model": "azure-speech", "language": 5}}, IT, f"{TR}.language"),
    (
        {"input_audio_transcription": {"model": "azure-speech", "phrase_list": "a"}},
        IT,
        f"{TR}.phrase_list",
    ),
    (
        {"input_audio_transcription": {"model": "azure-speech", "custom_speech": {"en": 1}}},
        IT,
        f"{TR}.custom_speech.en",
    ),
    # tools
    ({"tools": {}}, IT, f"{S}.tools"),
    ({"tools": ["f"]}, IT, f"{S}.tools[0]"),
    ({"tools": [{"name": "f"}]}, MISSING, f"{S}.tools[0].type"),
    ({"tools": [{"type": "retrieval"}]}, IV, f"{S}.tools[0].type"),
    ({"tools": [{"type": "function"}]}, MISSING, f"{S}.tools[0].name"),
    ({"tools": [{"type": "function", "name": "bad name!"}]}, IV, f"{S}.tools[0].name"),
    ({"tools": [{"type": "function", "name": "f" * 65}]}, IV, f"{S}.tools[0].name"),
    (
        {"tools": [{"type": "function", "name": "f", "description": 3}]},
        IT,
        f"{S}.tools[0].description",
    ),
    (
        {"tools": [{"type": "function", "name": "f", "parameters": "{}"}]},
        IT,
        f"{S}.tools[0].parameters",
    ),
    (
        {"tools": [{"type": "function", "name": "f"}, {"type": "function", "name": "f"}]},
        IV,
        f"{S}.tools[1].name",
    ),
    ({"tools": [{"type": "mcp", "server_label": "a"}]}, MISSING, f"{S}.tools[0].server_url"),
    (
        {"tools": [{"type": "mcp", "server_url": "https://x"}]},
        MISSING,
        f"{S}.tools[0].server_label",
    ),
    (
        {"tools": [{"type": "mcp", "server_label": "a", "server_url": "ftp://x"}]},
        IV,
        f"{S}.tools[0].server_url",
    ),
    (
        {
            "tools": [
                {
                    "type": "mcp",
                    "server_label": "a",
                    "server_url": "https://x",
                    "require_approval": "sometimes",
                }
            ]
        },
        IV,
        f"{S}.tools[0].require_approval",
    ),
    (
        {
            "tools": [
                {"type": "mcp", "server_label": "a", "server_url": "https://x"},
                {"type": "mcp", "server_label": "a", "server_url": "https://y"},
            ]
        },
        IV,
        f"{S}.tools[1].server_label",
    ),
    # tool choice and friends
    ({"tool_choice": 5}, IT, f"{S}.tool_choice"),
    ({"tool_choice": "auto!"}, IV, f"{S}.tool_choice"),
    ({"tool_choice": {"type": "function"}}, MISSING, f"{S}.tool_choice.name"),
    ({"tool_choice": {"type": "file_search"}}, IV, f"{S}.tool_choice.type"),
    ({"parallel_tool_calls": "true"}, IT, f"{S}.parallel_tool_calls"),
    ({"temperature": -0.1}, IV, f"{S}.temperature"),
    ({"temperature": 2.1}, IV, f"{S}.temperature"),
    ({"temperature": float("inf")}, IV, f"{S}.temperature"),
    ({"temperature": "hot"}, IT, f"{S}.temperature"),
    ({"max_response_output_tokens": 0}, IV, f"{S}.max_response_output_tokens"),
    ({"max_response_output_tokens": 4097}, IV, f"{S}.max_response_output_tokens"),
    ({"max_response_output_tokens": "infinite"}, IV, f"{S}.max_response_output_tokens"),
    ({"max_response_output_tokens": 1.5}, IT, f"{S}.max_response_output_tokens"),
    ({"max_response_output_tokens": True}, IT, f"{S}.max_response_output_tokens"),
    # animation, avatar, timestamps
    ({"animation": "default"}, IT, f"{S}.animation"),
    ({"animation": {"outputs": ["video"]}}, IV, f"{S}.animation.outputs[0]"),
    ({"animation": {"model_name": 1}}, IT, f"{S}.animation.model_name"),
    ({"avatar": "lisa"}, IT, f"{S}.avatar"),
    ({"avatar": {}}, MISSING, f"{S}.avatar.character"),
    (
        {"avatar": {"character": "lisa", "output_protocol": "sip"}},
        IV,
        f"{S}.avatar.output_protocol",
    ),
    ({"avatar": {"character": "lisa", "type": "3d-avatar"}}, IV, f"{S}.avatar.type"),
    ({"avatar": {"character": "lisa", "customized": "no"}}, IT, f"{S}.avatar.customized"),
    (
        {"avatar": {"character": "lisa", "ice_servers": [{}]}},
        MISSING,
        f"{S}.avatar.ice_servers[0].urls",
    ),
    ({"output_audio_timestamp_types": ["sentence"]}, IV, f"{S}.output_audio_timestamp_types[0]"),
    ({"output_audio_timestamp_types": "word"}, IT, f"{S}.output_audio_timestamp_types"),
    # metadata
    ({"metadata": ["a"]}, IT, f"{S}.metadata"),
    ({"metadata": {f"k{i}": "v" for i in range(17)}}, IV, f"{S}.metadata"),
    ({"metadata": {"k" * 65: "v"}}, IV, f"{S}.metadata"),
    ({"metadata": {"k": "v" * 513}}, IV, f"{S}.metadata.k"),
    ({"metadata": {"k": 5}}, IT, f"{S}.metadata.k"),
    # reasoning, interim responses, include
    ({"reasoning_effort": "max"}, IV, f"{S}.reasoning_effort"),
    ({"interim_response": "static"}, IT, f"{S}.interim_response"),
    ({"interim_response": {"texts": ["x"]}}, MISSING, f"{S}.interim_response.type"),
    ({"interim_response": {"type": "canned"}}, IV, f"{S}.interim_response.type"),
    (
        {"interim_response": {"type": "static_interim_response", "triggers": ["idle"]}},
        IV,
        f"{S}.interim_response.triggers[0]",
    ),
    (
        {"interim-response": {"type": "llm-interim-response", "latency_threshold_ms": -1}},
        IV,
        f"{S}.interim-response.latency_threshold_ms",
    ),
    (
        {"interim_response": {"type": "llm_interim_response", "max_completion_tokens": 0}},
        IV,
        f"{S}.interim_response.max_completion_tokens",
    ),
    ({"include": ["everything"]}, IV, f"{S}.include[0]"),
    ({"include": "file_search_call.results"}, IT, f"{S}.include"),
]


@pytest.mark.parametrize(("changes", "code", "param"), INVALID)
def test_invalid_session_values(changes: dict[str, Any], code: str, param: str) -> None:
    error = rejected(changes, code, param, model=CASCADED)
    assert f"'{param}'" in error.message


def test_error_messages_name_field_value_and_what_is_allowed() -> None:
    threshold = rejected({"turn_detection": {"threshold": 1.5}}, IV, f"{TD}.threshold")
    assert "session.turn_detection.threshold" in threshold.message
    assert "1.5" in threshold.message
    assert "0.01" in threshold.message
    assert "1.0" in threshold.message
    fmt = rejected({"input_audio_format": "mp3"}, IV, "session.input_audio_format")
    assert '"mp3"' in fmt.message
    assert '"g711_ulaw"' in fmt.message
    kind = rejected({"temperature": "hot"}, IT, "session.temperature")
    assert "number" in kind.message
    assert "string" in kind.message


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"voice": {"type": "azure-realtime-native", "name": "ava"}}, f"{V}.type"),
        (
            {"input_audio_noise_reduction": {"type": "near_field"}},
            "session.input_audio_noise_reduction.type",
        ),
        (
            {"input_audio_noise_reduction": {"type": "far_field"}},
            "session.input_audio_noise_reduction.type",
        ),
        ({"turn_detection": {"type": "semantic_vad"}}, f"{TD}.type"),
        ({"input_audio_transcription": {"model": "gpt-4o-transcribe"}}, f"{TR}.model"),
        ({"input_audio_transcription": {"model": "whisper-1"}}, f"{TR}.model"),
    ],
)
def test_model_specific_options(changes: dict[str, Any], param: str) -> None:
    error = rejected(changes, IV, param, model=CASCADED)
    assert "gpt-4.1" in error.message
    model = "azure-realtime" if "voice" in changes else REALTIME
    update(changes, model=model)


def test_azure_realtime_native_names() -> None:
    rejected(
        {"voice": {"type": "azure-realtime-native", "name": "bob"}},
        IV,
        f"{V}.name",
        model="azure-realtime",
    )


def test_failed_update_applies_nothing() -> None:
    base = new_session()
    snapshot = copy.deepcopy(base)
    with pytest.raises(ProtocolError):
        update({"instructions": "x", "temperature": 9}, base=base)
    assert base == snapshot


# --- locks and sample-rate switching --------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"input_audio_format": "g711_ulaw"}, "session.input_audio_format"),
        ({"input_audio_sampling_rate": 16000}, "session.input_audio_sampling_rate"),
        ({"input_audio_sampling_rate": None}, "session.input_audio_sampling_rate"),
        (
            {"input_audio_echo_cancellation": {**ECHO, "reference_source": "client"}},
            "session.input_audio_echo_cancellation.channels",
        ),
    ],
)
def test_input_audio_settings_lock_after_audio_was_sent(
    changes: dict[str, Any], param: str
) -> None:
    base = update({"input_audio_sampling_rate": 44100})
    update(changes, base=base)  # fine before audio
    error = rejected(changes, IV, param, base=base, audio_sent=True)
    assert "audio" in error.message


def test_locked_settings_may_be_resent_unchanged() -> None:
    base = update({"input_audio_format": "g711_alaw", "voice": "ash"})
    same = {"input_audio_format": "g711_alaw", "input_audio_sampling_rate": 8000, "voice": "ash"}
    assert update(same, base=base, audio_sent=True, voice_used=True) == base
    changed = update(
        {"turn_detection": None, "instructions": "x"}, base=base, audio_sent=True, voice_used=True
    )
    assert changed["turn_detection"] is None


def test_echo_cancellation_channels_lock_covers_turning_it_off() -> None:
    stereo = update({"input_audio_echo_cancellation": {**ECHO, "reference_source": "client"}})
    rejected(
        {"input_audio_echo_cancellation": None},
        IV,
        "session.input_audio_echo_cancellation.channels",
        base=stereo,
        audio_sent=True,
    )
    mono = update({"input_audio_echo_cancellation": ECHO})
    assert (
        update({"input_audio_echo_cancellation": None}, base=mono, audio_sent=True)[
            "input_audio_echo_cancellation"
        ]
        is None
    )


def test_voice_locks_after_it_was_used() -> None:
    base = update({"voice": "ash"})
    assert update({"voice": "coral"}, base=base)["voice"] == "coral"
    error = rejected({"voice": "coral"}, IV, "session.voice", base=base, voice_used=True)
    assert '"ash"' in error.message
    same = update({"voice": {"type": "openai", "name": "ash"}}, base=base, voice_used=True)
    assert same["voice"] == {"type": "openai", "name": "ash"}
    update({"voice": "coral"}, base=base, audio_sent=True)  # input audio does not lock the voice


@pytest.mark.parametrize(
    ("steps", "rate"),
    [
        ([{"input_audio_format": "g711_ulaw"}], 8000),
        ([{"input_audio_format": "g711_alaw", "input_audio_sampling_rate": 8000}], 8000),
        ([{"input_audio_format": "g711_ulaw"}, {"input_audio_format": "pcm16"}], 24000),
        ([{"input_audio_format": "g711_ulaw"}, {"input_audio_format": "g711_alaw"}], 8000),
        ([{"input_audio_sampling_rate": 16000}, {"output_audio_format": "g711_ulaw"}], 16000),
        ([{"input_audio_sampling_rate": 16000}, {"input_audio_format": "pcm16"}], 16000),
        ([{"input_audio_sampling_rate": 16000}, {"input_audio_sampling_rate": None}], 24000),
        (
            [
                {"input_audio_format": "g711_ulaw"},
                {"input_audio_format": "pcm16", "input_audio_sampling_rate": 16000},
            ],
            16000,
        ),
        ([{"input_audio_format": "g711_ulaw"}, {"input_audio_format": None}], 24000),
        ([{"input_audio_format": "g711_ulaw"}, {"input_audio_sampling_rate": None}], 8000),
    ],
)
def test_sampling_rate_follows_format_switches(steps: list[dict[str, Any]], rate: int) -> None:
    session = new_session()
    for step in steps:
        session = update(step, base=session)
    assert session["input_audio_sampling_rate"] == rate


def test_g711_session_rejects_pcm16_only_rates() -> None:
    ulaw = update({"input_audio_format": "g711_ulaw"})
    error = rejected(
        {"input_audio_sampling_rate": 16000}, IV, f"{S}.input_audio_sampling_rate", base=ulaw
    )
    assert "8000" in error.message
    rejected(
        {"input_audio_echo_cancellation": {**ECHO, "reference_source": "client"}},
        "invalid_ec_channels_format",
        f"{EC}.channels",
        base=ulaw,
    )


# --- response.create ------------------------------------------------------------------------

TEXT_MESSAGE = {
    "type": "message",
    "role": "user",
    "content": [{"type": "input_text", "text": "hi"}],
}
PREGENERATED: dict[str, Any] = {
    "type": "message",
    "role": "assistant",
    "content": [{"type": "text", "text": "Welcome back!"}],
}


def test_response_config_defaults_come_from_the_session() -> None:
    session = update(
        {
            "instructions": "Be kind.",
            "voice": "sage",
            "output_audio_format": "g711_ulaw",
            "tools": [{"type": "function", "name": "f"}],
            "tool_choice": "required",
            "temperature": 0.7,
            "max_response_output_tokens": 200,
            "metadata": {"session": "meta"},
            "reasoning_effort": "low",
        }
    )
    for params in (None, dict[str, Any]()):
        assert response_config(session, params) == {
            "modalities": ["text", "audio"],
            "instructions": "Be kind.",
            "voice": "sage",
            "output_audio_format": "g711_ulaw",
            "tools": [{"type": "function", "name": "f"}],
            "tool_choice": "required",
            "temperature": 0.7,
            "max_output_tokens": 200,
            "metadata": None,
            "commit": True,
            "cancel_previous": True,
            "input_items": None,
            "append_input_items": None,
            "pre_generated_assistant_message": None,
            "conversation": "auto",
            "reasoning_effort": "low",
            "interim_response": None,
            "animation": None,
            "invoke_input": None,
        }


def test_response_config_overrides() -> None:
    session = new_session()
    params: dict[str, Any] = {
        "modalities": ["text"],
        "instructions": "Only this time.",
        "voice": {"type": "openai", "name": "verse"},
        "output_audio_format": "pcm16_16000hz",
        "tools": [],
        "tool_choice": "none",
        "temperature": 1.0,
        "max_output_tokens": 50,
        "metadata": {"topic": "greeting"},
        "commit": False,
        "cancel_previous": False,
        "input_items": [TEXT_MESSAGE, {"type": "item_reference", "id": "item_1"}],
        "append_input_items": [TEXT_MESSAGE],
        "pre_generated_assistant_message": PREGENERATED,
        "conversation": "none",
        "reasoning_effort": "minimal",
        "interim_response": {"type": "static_interim_response", "texts": ["Hm."]},
        "animation": {"outputs": ["viseme_id"]},
        "invoke_input": {"x": 1},
    }
    config = response_config(session, params)
    assert config == {**params, "animation": {"model_name": "default", "outputs": ["viseme_id"]}}
    assert output_format(config) == WireFormat("pcm16", 16000)
    assert session == new_session()


def test_response_config_aliases_and_nulls() -> None:
    session = new_session()
    config = response_config(
        session,
        {
            "max_response_output_tokens": 7,
            "interim-response": {"type": "llm-interim-response"},
            "voice": None,
            "temperature": None,
        },
    )
    assert config["max_output_tokens"] == 7
    assert config["interim_response"] == {"type": "llm_interim_response"}
    assert config["voice"] == session["voice"]
    assert config["temperature"] == 0.8


def test_response_config_does_not_alias_the_session() -> None:
    session = update({"tools": [{"type": "function", "name": "f"}]})
    config = response_config(session, None)
    config["tools"].append({"type": "function", "name": "g"})
    config["voice"]["name"] = "ash"
    assert len(session["tools"]) == 1
    assert session["voice"]["name"] == "alloy"


@pytest.mark.parametrize(
    ("session_instructions", "params", "extra", "expected"),
    [
        ("Base.", {}, "Extra.", "Base.\nExtra."),
        ("", {}, "Extra.", "Extra."),
        ("Base.", {"instructions": "Override."}, "Extra.", "Override.\nExtra."),
        ("Base.", {}, None, "Base."),
        ("Base.", {}, "", "Base."),
    ],
)
def test_additional_instructions_are_appended(
    session_instructions: str, params: dict[str, Any], extra: str | None, expected: str
) -> None:
    session = update({"instructions": session_instructions})
    config = response_config(session, params, additional_instructions=extra)
    assert config["instructions"] == expected
    assert session["instructions"] == session_instructions


def test_every_sdk_response_create_field_is_known() -> None:
    names = sdk_fields(vl.ResponseCreateParams)
    assert {"commit", "cancel_previous", "pre_generated_assistant_message"} <= names
    for name in names:
        response_config(new_session(), {name: None})


def test_sdk_response_create_params_are_accepted() -> None:
    params = vl.ResponseCreateParams(
        modalities=[vl.Modality.TEXT],
        instructions="x",
        max_output_tokens="inf",
        pre_generated_assistant_message=vl.AssistantMessageItem(
            content=[vl.OutputTextContentPart(text="Hello there.")]
        ),
        input_items=[vl.UserMessageItem(content=[vl.InputTextContentPart(text="hi")])],
    )
    config = response_config(new_session(), json.loads(json.dumps(params.as_dict())))
    assert config["pre_generated_assistant_message"]["content"][0]["text"] == "Hello there."
    assert config["input_items"][0]["role"] == "user"


R = "response"
INVALID_RESPONSES: list[tuple[Any, str, str]] = [
    ("text", IT, R),
    (["text"], IT, R),
    ({"foo": 1}, "unknown_parameter", f"{R}.foo"),
    ({"max_response_output_token": 1}, "unknown_parameter", f"{R}.max_response_output_token"),
    ({"modalities": ["audio"]}, IV, f"{R}.modalities"),
    ({"instructions": 1}, IT, f"{R}.instructions"),
    ({"voice": "nova"}, IV, f"{R}.voice"),
    ({"voice": {"type": "azure-realtime-native", "name": "ava"}}, IV, f"{R}.voice.type"),
    ({"output_audio_format": "mp3"}, IV, f"{R}.output_audio_format"),
    ({"tools": [{"type": "function"}]}, MISSING, f"{R}.tools[0].name"),
    ({"tool_choice": 1}, IT, f"{R}.tool_choice"),
    ({"temperature": 3}, IV, f"{R}.temperature"),
    ({"max_output_tokens": 0}, IV, f"{R}.max_output_tokens"),
    ({"max_response_output_tokens": 5000}, IV, f"{R}.max_response_output_tokens"),
    ({"metadata": {"k": 1}}, IT, f"{R}.metadata.k"),
    ({"commit": "yes"}, IT, f"{R}.commit"),
    ({"cancel_previous": 0}, IT, f"{R}.cancel_previous"),
    ({"conversation": "new"}, IV, f"{R}.conversation"),
    ({"reasoning_effort": "max"}, IV, f"{R}.reasoning_effort"),
    ({"invoke_input": "x"}, IT, f"{R}.invoke_input"),
    ({"input_items": {}}, IT, f"{R}.input_items"),
    ({"input_items": [{"type": "note"}]}, IV, f"{R}.input_items[0].type"),
    ({"input_items": [{"type": "message", "content": []}]}, MISSING, f"{R}.input_items[0].role"),
    (
        {"input_items": [{"type": "message", "role": "robot", "content": []}]},
        IV,
        f"{R}.input_items[0].role",
    ),
    (
        {"input_items": [{"type": "message", "role": "user"}]},
        MISSING,
        f"{R}.input_items[0].content",
    ),
    (
        {
            "input_items": [
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "input_text", "text": "x"}],
                }
            ]
        },
        IV,
        f"{R}.input_items[0].content[0].type",
    ),
    (
        {"input_items": [{"type": "message", "role": "user", "content": [{"type": "input_text"}]}]},
        MISSING,
        f"{R}.input_items[0].content[0].text",
    ),
    (
        {"input_items": [{"type": "function_call_output", "call_id": "c"}]},
        MISSING,
        f"{R}.input_items[0].output",
    ),
    (
        {"input_items": [{"type": "function_call", "name": "f"}]},
        MISSING,
        f"{R}.input_items[0].call_id",
    ),
    ({"input_items": [{"type": "item_reference"}]}, MISSING, f"{R}.input_items[0].id"),
    (
        {
            "input_items": [
                {"type": "mcp_approval_response", "approval_request_id": "a", "approve": "y"}
            ]
        },
        IT,
        f"{R}.input_items[0].approve",
    ),
    ({"append_input_items": [{"type": "note"}]}, IV, f"{R}.append_input_items[0].type"),
    ({"pre_generated_assistant_message": "Hello"}, IT, f"{R}.pre_generated_assistant_message"),
    (
        {"pre_generated_assistant_message": {**PREGENERATED, "role": "user"}},
        IV,
        f"{R}.pre_generated_assistant_message.role",
    ),
    (
        {"pre_generated_assistant_message": {**PREGENERATED, "content": []}},
        IV,
        f"{R}.pre_generated_assistant_message.content",
    ),
    (
        {
            "pre_generated_assistant_message": {
                **PREGENERATED,
                "content": PREGENERATED["content"] * 2,
            }
        },
        IV,
        f"{R}.pre_generated_assistant_message.content",
    ),
    (
        {
            "pre_generated_assistant_message": {
                **PREGENERATED,
                "content": [{"type": "audio", "audio": ""}],
            }
        },
        IV,
        f"{R}.pre_generated_assistant_message.content[0].type",
    ),
    (
        {
            "pre_generated_assistant_message": {
                **PREGENERATED,
                "content": [{"type": "text", "text": 5}],
            }
        },
        IT,
        f"{R}.pre_generated_assistant_message.content[0].text",
    ),
    (
        {"pre_generated_assistant_message": {**PREGENERATED, "type": "function_call"}},
        IV,
        f"{R}.pre_generated_assistant_message.type",
    ),
]


@pytest.mark.parametrize(("params", "code", "param"), INVALID_RESPONSES)
def test_invalid_response_params(params: Any, code: str, param: str) -> None:
    with pytest.raises(ProtocolError) as info:
        response_config(new_session(), params)
    assert (info.value.code, info.value.param) == (code, param), info.value.message
    assert f"'{param}'" in info.value.message


def test_pre_generated_message_type_defaults_to_message() -> None:
    message = {"role": "assistant", "content": [{"type": "text", "text": "Hi."}]}
    config = response_config(new_session(), {"pre_generated_assistant_message": message})
    assert config["pre_generated_assistant_message"] == {"type": "message", **message}


def test_additional_instructions_must_be_a_string() -> None:
    with pytest.raises(ProtocolError) as info:
        response_config(new_session(), {}, additional_instructions=5)  # type: ignore[arg-type]
    assert (info.value.code, info.value.param) == (IT, "additional_instructions")


# --- the SDK reads what the emulator sends --------------------------------------------------


@pytest.mark.parametrize(
    ("turn_detection", "cls"),
    [
        ({"type": "server_vad"}, vl.ServerVad),
        ({"type": "azure_semantic_vad"}, vl.AzureSemanticVad),
        ({"type": "azure_semantic_vad_en"}, vl.AzureSemanticVadEn),
        ({"type": "azure_semantic_vad_multilingual"}, vl.AzureSemanticVadMultilingual),
        ({"type": "semantic_vad"}, vl.TurnDetection),
    ],
)
def test_sdk_deserializes_updated_session(turn_detection: dict[str, Any], cls: type[Any]) -> None:
    session = update(
        {
            "turn_detection": {
                **turn_detection,
                "window_size": 3,
                "end_of_utterance_detection": {"model": "semantic_detection_v1_en"},
            },
            "voice": "alloy",
            "input_audio_echo_cancellation": ECHO,
        }
    )
    event = sdk_session_event(json.loads(json.dumps(session)))
    assert isinstance(event, vl.ServerEventSessionUpdated)
    turn: Any = event.session.turn_detection
    assert type(turn) is cls
    assert turn["create_response"] is True
    assert event.session.id == "sess_test"
    assert event.session.expires_at == datetime.datetime.fromtimestamp(EXPIRES, datetime.UTC)
    assert event.session.voice == "alloy"
    assert event.session.input_audio_sampling_rate == 24000
    if cls is not vl.TurnDetection:
        eou = turn.end_of_utterance_detection
        assert isinstance(eou, vl.AzureSemanticDetectionEn)
        assert eou.timeout_ms == 1000


@pytest.mark.parametrize("model", ["azure-realtime", REALTIME, CASCADED])
def test_sdk_deserializes_default_session(model: str) -> None:
    event = sdk_session_event(json.loads(json.dumps(new_session(model))), "session.created")
    assert isinstance(event, vl.ServerEventSessionCreated)
    assert isinstance(event.session.turn_detection, vl.ServerVad)
    assert event.session.turn_detection.threshold == 0.5
    assert isinstance(event.session.expires_at, datetime.datetime)
    assert event.session.model == model
    assert event.session.max_response_output_tokens == "inf"
    voice: Any = event.session.voice
    assert voice["type"] in {"azure-realtime-native", "openai", "azure-standard"}
