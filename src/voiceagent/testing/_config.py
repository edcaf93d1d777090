"""Session configuration of the emulator: defaults, session.update, response.create, formats.

Pure functions over JSON-shaped dicts, as they travel on the wire (protocol reference §1.4, §3,
§6). Every invalid request raises :class:`ProtocolError` with a dotted ``param`` path.

Validation is table-driven: each field maps to a small validator built from combinators
(``string``, ``integer``, ``obj``, ``tagged`` …). Nested objects echo keys they do not model
(the service and real clients use more keys than the SDK knows, e.g. ``window_size`` in
``turn_detection``); only *top-level* unknown fields are rejected.

Choices made where the reference is UNVERIFIED:

* Error codes: ``unknown_parameter``, ``missing_required_parameter`` (OpenAI Realtime's codes),
  ``invalid_type``, ``invalid_value``; the echo-cancellation codes of §5.2
  (``invalid_ec_reference_channels``, ``invalid_ec_channels_requires_client``,
  ``invalid_ec_channels_format``). Changing a locked field (model, audio format after audio was
  sent, voice after it spoke) is ``invalid_value``.
* ``null`` for ``turn_detection``, noise reduction, echo cancellation and transcription turns
  the feature off; ``null`` for any other field resets it to its ``session.created`` default
  (the SDK sends ``null`` for every keyword explicitly passed as ``None``).
* Read-only fields (``id``, ``object``, ``expires_at``, ``agent``) and ``model`` may be sent back
  unchanged (a client echoing ``session.created``) and are ignored; a different value is an error.
* ``temperature``: 0.0 to 2.0 inclusive (docs say 0.6 to 1.2, the SDK docstring 0.0 to 1.0).
* Defaults filled into replaced objects: turn detection (per type), end-of-utterance detection
  (``threshold_level`` "default", ``timeout_ms`` 1000), echo cancellation (``reference_source``
  server / 1 channel, or 2 channels for client) and animation.
* ``additional_instructions`` is appended to the instructions after a newline.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal, cast

import attrs

from ._protocol import ProtocolError
from ._validators import (
    Validator,
    array,
    boolean,
    choice,
    integer,
    missing,
    nullable,
    number,
    obj,
    one_of,
    show,
    string,
    string_map,
    tagged,
    type_error,
    value_error,
)

__all__ = [
    "Encoding",
    "WireFormat",
    "apply_session_update",
    "default_session",
    "input_format",
    "output_format",
    "response_config",
]

Encoding = Literal["pcm16", "g711_ulaw", "g711_alaw"]


@attrs.frozen
class WireFormat:
    """An audio format on the wire: mono samples of one encoding at one rate."""

    encoding: Encoding = attrs.field(
        validator=attrs.validators.in_(("pcm16", "g711_ulaw", "g711_alaw"))
    )
    """``pcm16`` (signed 16-bit little-endian) or G.711 µ-law / A-law (8 bits a sample)."""
    sample_rate: int = attrs.field(validator=attrs.validators.gt(0))
    """Samples per second."""

    @property
    def sample_width(self) -> int:
        """Bytes per sample: 2 for pcm16, 1 for G.711."""
        return 2 if self.encoding == "pcm16" else 1

    @property
    def bytes_per_ms(self) -> float:
        """Bytes per millisecond of audio (pcm16 at 24 kHz: 48; G.711: 8)."""
        return self.sample_rate * self.sample_width / 1000

    def duration_ms(self, nbytes: int) -> float:
        """Milliseconds of audio in ``nbytes`` bytes."""
        return nbytes / self.bytes_per_ms

    def bytes_for_ms(self, ms: float) -> int:
        """Bytes holding ``ms`` milliseconds of audio, rounded to whole samples.

        Raises:
            ValueError: If ``ms`` is negative.
        """
        if ms < 0:
            raise ValueError(f"duration must not be negative, got {ms} ms")
        return round(ms * self.sample_rate / 1000) * self.sample_width


# --- vocabulary -----------------------------------------------------------------------------

_MODALITIES = ("text", "audio", "animation", "avatar")
_INPUT_FORMATS = ("pcm16", "g711_ulaw", "g711_alaw")
_PCM16_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
_G711_RATES = (8000,)
_OUTPUT_FORMATS: dict[str, WireFormat] = {
    "pcm16": WireFormat("pcm16", 24000),
    **{f"pcm16_{rate}hz": WireFormat("pcm16", rate) for rate in _PCM16_RATES},
    "pcm16-8000hz": WireFormat("pcm16", 8000),  # legacy names the SDK still maps
    "pcm16-16000hz": WireFormat("pcm16", 16000),
    "g711_ulaw": WireFormat("g711_ulaw", 8000),
    "g711_alaw": WireFormat("g711_alaw", 8000),
}
_OPENAI_VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar",
)  # fmt: skip
_NATIVE_VOICES = (
    "aarti", "andrew", "ava", "denise", "diya", "elsa", "florian", "francisca", "meera",
    "xiaoxiao", "yunxi", "ximena",
)  # fmt: skip
_PERSONAL_VOICE_MODELS = (
    "DragonLatestNeural", "PhoenixLatestNeural", "PhoenixV2Neural", "DragonHDOmniLatestNeural",
    "MAI-Voice-1",
)  # fmt: skip
_OPENAI_TRANSCRIPTION_MODELS = (
    "whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "gpt-4o-transcribe-diarize",
)  # fmt: skip
_EOU_MODELS = (
    "semantic_detection_v1", "semantic_detection_v1_en", "semantic_detection_v1_multilingual",
)  # fmt: skip
_REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
_INCLUDE_OPTIONS = (
    "item.input_audio_transcription.logprobs",
    "item.input_audio_transcription.phrases",
    "file_search_call.results",
)
_TOOL_CHOICES = ("auto", "none", "required")
_FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HTTP_URL = re.compile(r"https?://\S+")
_PCM16_RATE_NAME = re.compile(r"pcm16[_-](\d+)hz")

_SERVER_VAD_DEFAULTS: dict[str, Any] = {
    "threshold": 0.5,
    "prefix_padding_ms": 400,
    "silence_duration_ms": 500,
    "create_response": True,
    "interrupt_response": True,
    "auto_truncate": False,
}
_SEMANTIC_VAD_DEFAULTS: dict[str, Any] = {
    "threshold": 0.5,
    "prefix_padding_ms": 420,
    "silence_duration_ms": 500,
    "speech_duration_ms": 80,
    "remove_filler_words": False,
    "create_response": True,
    "interrupt_response": True,
    "auto_truncate": False,
}
_DEFAULT_VOICES: dict[str, Any] = {
    "azure-realtime": {"type": "azure-realtime-native", "name": "ava"},
    "realtime": {"type": "openai", "name": "alloy"},
    "cascaded": {"type": "azure-standard", "name": "en-US-Ava:DragonHDLatestNeural"},
}


def _model_family(model: str) -> Literal["azure-realtime", "realtime", "cascaded"]:
    name = model.lower()
    if name.startswith("azure-realtime"):
        return "azure-realtime"
    return "realtime" if "realtime" in name else "cascaded"


def _is_azure_realtime(model: str) -> bool:
    return _model_family(model) == "azure-realtime"


def _is_gpt_realtime(model: str) -> bool:
    name = model.lower()
    return name.startswith("gpt") and "realtime" in name


# --- field tables ---------------------------------------------------------------------------

_text = string()
_name = string(non_empty=True)
_ms = integer(lo=0)
_strings = array(_text)
_metadata = string_map(max_entries=16, max_key=64, max_value=512)
_max_tokens_int = integer(1, 4096)
_function_name = string(
    pattern=_FUNCTION_NAME, hint="Expected 1-64 characters of letters, digits, '_' and '-'."
)


def _modalities(value: Any, path: str) -> list[str]:
    out: list[str] = array(choice(*_MODALITIES), min_items=1, unique=True)(value, path)
    if "text" not in out:
        raise value_error(out, path, "Modalities must include 'text' (audio-only is not allowed).")
    return out


_EOU_FIELDS = {"threshold_level": choice("low", "medium", "high", "default"), "timeout_ms": _ms}
_EOU_DEFAULTS = {"threshold_level": "default", "timeout_ms": 1000}
_EOU = tagged("model", {model: obj(_EOU_FIELDS, defaults=_EOU_DEFAULTS) for model in _EOU_MODELS})
_VAD_FIELDS: dict[str, Validator] = {
    "threshold": number(0.01, 1.0, hi_open=True),
    "prefix_padding_ms": _ms,
    "silence_duration_ms": _ms,
    "speech_duration_ms": _ms,
    "end_of_utterance_detection": nullable(_EOU),
    "create_response": boolean,
    "interrupt_response": boolean,
    "auto_truncate": boolean,
}
_SEMANTIC_VAD_FIELDS = {**_VAD_FIELDS, "remove_filler_words": boolean, "languages": array(_name)}
_TURN_DETECTION = tagged(
    "type",
    {
        "server_vad": obj(_VAD_FIELDS, defaults=_SERVER_VAD_DEFAULTS),
        "azure_semantic_vad": obj(_SEMANTIC_VAD_FIELDS, defaults=_SEMANTIC_VAD_DEFAULTS),
        "azure_semantic_vad_en": obj(_SEMANTIC_VAD_FIELDS, defaults=_SEMANTIC_VAD_DEFAULTS),
        "azure_semantic_vad_multilingual": obj(
            _SEMANTIC_VAD_FIELDS, defaults=_SEMANTIC_VAD_DEFAULTS
        ),
        "semantic_vad": obj(
            {
                "eagerness": choice("auto", "low", "medium", "high"),
                "create_response": boolean,
                "interrupt_response": boolean,
            },
            defaults={"eagerness": "auto", "create_response": True, "interrupt_response": True},
        ),
    },
    default="server_vad",
)

_AZURE_VOICE_FIELDS: dict[str, Validator] = {
    "name": _name,
    "temperature": number(0.0, 1.0),
    "custom_lexicon_url": _text,
    "custom_text_normalization_url": _text,
    "prefer_locales": array(_name),
    "locale": _text,
    "style": _text,
    "pitch": _text,
    "rate": _text,
    "volume": _text,
}
_VOICE_OBJECT = tagged(
    "type",
    {
        "openai": obj({"name": choice(*_OPENAI_VOICES)}, required=("name",)),
        "azure-standard": obj(_AZURE_VOICE_FIELDS, required=("name",)),
        "azure-custom": obj(
            {**_AZURE_VOICE_FIELDS, "endpoint_id": _name}, required=("name", "endpoint_id")
        ),
        "azure-personal": obj(
            {**_AZURE_VOICE_FIELDS, "model": choice(*_PERSONAL_VOICE_MODELS)},
            required=("name", "model"),
        ),
        "avatar-voice-sync": obj({**_AZURE_VOICE_FIELDS, "model": _name}),
        "azure-realtime-native": obj({"name": choice(*_NATIVE_VOICES)}, required=("name",)),
    },
)


def _voice(value: Any, path: str) -> Any:
    if not isinstance(value, str):
        return _VOICE_OBJECT(value, path)
    if value not in _OPENAI_VOICES:
        raise value_error(
            value,
            path,
            "A string voice names an OpenAI voice; "
            + one_of(_OPENAI_VOICES)
            + ' Azure voices are objects such as {"type": "azure-standard", "name": ...}.',
        )
    return value


_NOISE_REDUCTION = tagged(
    "type", {kind: obj({}) for kind in ("azure_deep_noise_suppression", "near_field", "far_field")}
)
_ECHO_CANCELLATION = tagged(
    "type",
    {
        "server_echo_cancellation": obj(
            {"reference_source": choice("server", "client"), "channels": integer(1, 2)}
        )
    },
)


def _echo_cancellation(value: Any, path: str) -> dict[str, Any]:
    out: dict[str, Any] = _ECHO_CANCELLATION(value, path)
    source = out.setdefault("reference_source", "server")
    channels = out.setdefault("channels", 2 if source == "client" else 1)
    if channels == 2 and source != "client":
        raise ProtocolError(
            f"Invalid value for '{path}.channels': 2. Two channels carry a client echo "
            "reference and require reference_source 'client'.",
            code="invalid_ec_channels_requires_client",
            param=f"{path}.channels",
        )
    if source == "client" and channels != 2:
        raise ProtocolError(
            f"Invalid value for '{path}.channels': {channels}. reference_source 'client' needs "
            "2 interleaved channels (microphone, reference).",
            code="invalid_ec_reference_channels",
            param=f"{path}.channels",
        )
    return out


_TRANSCRIPTION = obj(
    {
        "model": _name,
        "language": _text,
        "custom_speech": string_map(),
        "phrase_list": _strings,
        "prompt": _text,
    },
    required=("model",),
)
_ANIMATION = obj(
    {"model_name": _name, "outputs": array(choice("blendshapes", "viseme_id"), unique=True)},
    defaults={"model_name": "default", "outputs": ["blendshapes"]},
)
_AVATAR = obj(
    {
        "type": choice("video-avatar", "photo-avatar"),
        "character": _name,
        "style": _text,
        "model": _name,
        "customized": boolean,
        "ice_servers": array(obj({"urls": array(_name, min_items=1)}, required=("urls",))),
        "video": obj({}),
        "scene": obj({}),
        "output_protocol": choice("webrtc", "websocket"),
        "output_audit_audio": boolean,
    },
    required=("character",),
)


def _require_approval(value: Any, path: str) -> Any:
    if isinstance(value, str):
        return choice("never", "always")(value, path)
    return obj({"never": _strings, "always": _strings})(value, path)


_TOOL = tagged(
    "type",
    {
        "function": obj(
            {"name": _function_name, "description": _text, "parameters": obj({})},
            required=("name",),
        ),
        "mcp": obj(
            {
                "server_label": _name,
                "server_url": string(pattern=_HTTP_URL, hint="Expected an http(s) URL."),
                "authorization": _text,
                "headers": string_map(),
                "allowed_tools": _strings,
                "require_approval": _require_approval,
            },
            required=("server_label", "server_url"),
        ),
        "foundry_agent": obj({}),
    },
)


def _tools(value: Any, path: str) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = array(_TOOL)(value, path)
    seen: set[tuple[str, str]] = set()
    for i, tool in enumerate(tools):
        key_field = {"function": "name", "mcp": "server_label"}.get(tool["type"])
        if key_field is None:
            continue
        key = (tool["type"], tool[key_field])
        if key in seen:
            unique = f"Each {tool['type']} tool needs a unique {key_field}."
            raise value_error(key[1], f"{path}[{i}].{key_field}", unique)
        seen.add(key)
    return tools


_TOOL_CHOICE_OBJECT = tagged(
    "type", {"function": obj({"name": _function_name}, required=("name",))}
)


def _tool_choice(value: Any, path: str) -> Any:
    if not isinstance(value, str):
        return _TOOL_CHOICE_OBJECT(value, path)
    if value not in _TOOL_CHOICES and not _FUNCTION_NAME.fullmatch(value):
        raise value_error(value, path, one_of(_TOOL_CHOICES) + " Or a function name.")
    return value


def _max_tokens(value: Any, path: str) -> int | str:
    if isinstance(value, str):
        if value != "inf":
            raise value_error(value, path, 'Expected an integer between 1 and 4096 or "inf".')
        return value
    result: int = _max_tokens_int(value, path)
    return result


_INTERIM_COMMON: dict[str, Validator] = {
    "triggers": array(choice("latency", "tool"), unique=True),
    "latency_threshold_ms": _ms,
}
_INTERIM = tagged(
    "type",
    {
        "static_interim_response": obj({**_INTERIM_COMMON, "texts": _strings}),
        "llm_interim_response": obj(
            {
                **_INTERIM_COMMON,
                "model": _name,
                "instructions": _text,
                "max_completion_tokens": integer(lo=1),
            }
        ),
    },
    aliases={
        "static-interim-response": "static_interim_response",
        "llm-interim-response": "llm_interim_response",
    },
)

_SESSION_FIELDS: dict[str, Validator] = {
    "modalities": _modalities,
    "animation": _ANIMATION,
    "voice": _voice,
    "instructions": _text,
    "input_audio_sampling_rate": integer(lo=1),  # checked against the format afterwards
    "input_audio_format": choice(*_INPUT_FORMATS),
    "output_audio_format": choice(*_OUTPUT_FORMATS),
    "turn_detection": _TURN_DETECTION,
    "input_audio_noise_reduction": _NOISE_REDUCTION,
    "input_audio_echo_cancellation": _echo_cancellation,
    "avatar": _AVATAR,
    "input_audio_transcription": _TRANSCRIPTION,
    "output_audio_timestamp_types": array(choice("word"), unique=True),
    "tools": _tools,
    "tool_choice": _tool_choice,
    "parallel_tool_calls": boolean,
    "temperature": number(0.0, 2.0),
    "max_response_output_tokens": _max_tokens,
    "reasoning_effort": choice(*_REASONING_EFFORTS),
    "interim_response": _INTERIM,
    "include": array(choice(*_INCLUDE_OPTIONS), unique=True),
    "metadata": _metadata,
}
_SESSION_ALIASES = {"interim-response": "interim_response"}
_FIXED_FIELDS = ("model", "id", "object", "expires_at", "agent")
_NULL_TURNS_OFF = (
    "turn_detection",
    "input_audio_noise_reduction",
    "input_audio_echo_cancellation",
    "input_audio_transcription",
)

# (field, sub-field, restricted values, model predicate, which models) — §6.3-6.5.
_MODEL_RESTRICTIONS: tuple[tuple[str, str, tuple[str, ...], Callable[[str], bool], str], ...] = (
    ("voice", "type", ("azure-realtime-native",), _is_azure_realtime, "model 'azure-realtime'"),
    ("input_audio_noise_reduction", "type", ("near_field", "far_field"), _is_gpt_realtime,
     "gpt-realtime models"),
    ("turn_detection", "type", ("semantic_vad",), _is_gpt_realtime, "gpt-realtime models"),
    ("input_audio_transcription", "model", _OPENAI_TRANSCRIPTION_MODELS, _is_gpt_realtime,
     "gpt-realtime models"),
)  # fmt: skip


# --- session --------------------------------------------------------------------------------


def default_session(*, model: str, session_id: str, expires_at: int) -> dict[str, Any]:
    """The full session of ``session.created`` for ``model`` (protocol reference §1.4).

    Args:
        model: The ``model`` query value of the connection.
        session_id: The session id, ``sess_`` + 22 base62 characters.
        expires_at: Expiry as integer Unix seconds.

    Returns:
        A new dict; the voice depends on the model family (``azure-realtime``: native ``ava``;
        other realtime models: OpenAI ``alloy``; cascaded text models: an Azure HD voice), and
        cascaded models transcribe input with ``azure-speech`` by default.
    """
    family = _model_family(model)
    return {
        "id": session_id,
        "object": "realtime.session",
        "model": model,
        "expires_at": expires_at,
        "modalities": ["text", "audio"],
        "instructions": "",
        "voice": copy.deepcopy(_DEFAULT_VOICES[family]),
        "input_audio_format": "pcm16",
        "output_audio_format": "pcm16",
        "input_audio_sampling_rate": 24000,
        "turn_detection": {"type": "server_vad", **_SERVER_VAD_DEFAULTS},
        "input_audio_noise_reduction": None,
        "input_audio_echo_cancellation": None,
        "input_audio_transcription": None if family != "cascaded" else {"model": "azure-speech"},
        "tools": [],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "temperature": 0.8,
        "max_response_output_tokens": "inf",
    }


def apply_session_update(
    session: Mapping[str, Any], update: Any, *, audio_sent: bool, voice_used: bool
) -> dict[str, Any]:
    """Merge a ``session.update`` into ``session`` and return the new effective session.

    Only the fields present in ``update`` change; objects are replaced wholesale and get their
    type's defaults; ``""`` clears the instructions; ``null`` turns a feature off (turn
    detection, noise reduction, echo cancellation, transcription) or restores a field's default.

    Args:
        session: The current effective session (not modified).
        update: The raw value of the event's ``session`` key.
        audio_sent: Whether input audio was appended; locks the input format, sampling rate
            and echo-cancellation channels.
        voice_used: Whether the voice produced audio; locks the voice.

    Returns:
        A new dict holding the full effective session.

    Raises:
        ProtocolError: If the update is invalid; nothing is applied then.
    """
    if update is None:
        raise missing("session")
    if not isinstance(update, Mapping):
        raise type_error(update, "session", "an object")
    model = str(session.get("model", ""))
    defaults = default_session(model=model, session_id="", expires_at=0)
    merged = dict(session)
    for key, value in update.items():
        name = str(_SESSION_ALIASES.get(key, key))
        path = f"session.{key}"
        if name in _FIXED_FIELDS:
            if value is not None and value != session.get(name):
                raise value_error(
                    value, path, f"'{name}' cannot be changed; it is {show(session.get(name))}."
                )
            continue
        validator = _SESSION_FIELDS.get(name)
        if validator is None:
            raise ProtocolError(
                f"Unknown parameter: '{path}'.", code="unknown_parameter", param=path
            )
        if value is not None:
            merged[name] = validator(value, path)
        elif name in _NULL_TURNS_OFF:
            merged[name] = None
        elif name in defaults:
            merged[name] = copy.deepcopy(defaults[name])
        else:
            merged.pop(name, None)
    _settle_sampling_rate(session, merged, update)
    _check_model_support(model, merged, update, prefix="session")
    if _echo_channels(merged) == 2 and merged.get("input_audio_format", "pcm16") != "pcm16":
        raise ProtocolError(
            "Invalid value for 'session.input_audio_echo_cancellation.channels': 2. Two-channel "
            "input requires input_audio_format 'pcm16', not "
            f"{show(merged.get('input_audio_format'))}.",
            code="invalid_ec_channels_format",
            param="session.input_audio_echo_cancellation.channels",
        )
    _check_locks(session, merged, audio_sent=audio_sent, voice_used=voice_used)
    return copy.deepcopy(merged)


def _is_g711(fmt: Any) -> bool:
    return isinstance(fmt, str) and fmt.startswith("g711")


def _settle_sampling_rate(
    session: Mapping[str, Any], merged: dict[str, Any], update: Mapping[str, Any]
) -> None:
    """Derive the input rate from the format when not given, and check the pair."""
    key = "input_audio_sampling_rate"
    fmt = merged.get("input_audio_format", "pcm16")
    g711 = _is_g711(fmt)
    switched = g711 != _is_g711(session.get("input_audio_format", "pcm16"))
    if update.get(key) is None and (key in update or switched or key not in merged):
        merged[key] = _G711_RATES[0] if g711 else 24000
    allowed = _G711_RATES if g711 else _PCM16_RATES
    if merged[key] not in allowed:
        raise value_error(
            merged[key],
            f"session.{key}",
            f"Supported rates for input_audio_format {show(fmt)} are: "
            + ", ".join(map(str, allowed))
            + ".",
        )


def _check_model_support(
    model: str, config: Mapping[str, Any], given: Mapping[str, Any], *, prefix: str
) -> None:
    for field, sub, values, supported, which in _MODEL_RESTRICTIONS:
        value = config.get(field) if given.get(field) is not None else None
        if isinstance(value, Mapping) and value.get(sub) in values and not supported(model):
            raise value_error(
                value[sub],
                f"{prefix}.{field}.{sub}",
                f"It is only available with {which}, not with model {show(model)}.",
            )


def _echo_channels(session: Mapping[str, Any]) -> int:
    echo = session.get("input_audio_echo_cancellation")
    return int(echo.get("channels", 1)) if isinstance(echo, Mapping) else 1


def _voice_identity(voice: Any) -> Any:
    """A bare OpenAI voice name and ``{"type": "openai", "name": ...}`` are the same voice."""
    return {"type": "openai", "name": voice} if isinstance(voice, str) else voice


def _check_locks(
    session: Mapping[str, Any], merged: Mapping[str, Any], *, audio_sent: bool, voice_used: bool
) -> None:
    locked: list[tuple[str, Any, Any, str]] = []
    if audio_sent:
        reason = "after input audio was appended"
        locked += [
            (name, session.get(name), merged.get(name), reason)
            for name in ("input_audio_format", "input_audio_sampling_rate")
        ]
        locked.append(
            (
                "input_audio_echo_cancellation.channels",
                _echo_channels(session),
                _echo_channels(merged),
                reason,
            )
        )
    if voice_used:
        before, after = (_voice_identity(c.get("voice")) for c in (session, merged))
        locked.append(("voice", before, after, "after it produced audio"))
    for name, before, after, reason in locked:
        if before != after:
            raise value_error(
                after, f"session.{name}", f"It cannot change {reason}; it is {show(before)}."
            )


# --- response.create ------------------------------------------------------------------------

_TEXT_PART = obj({"text": _text}, required=("text",))
_CONTENT_PARTS: dict[str, Validator] = {
    "input_text": _TEXT_PART,
    "input_audio": obj({"audio": _text, "transcript": nullable(_text)}),
    "input_image": obj(
        {"image_url": _name, "detail": choice("auto", "low", "high")}, required=("image_url",)
    ),
    "text": _TEXT_PART,
}


def _message(
    roles: Mapping[str, tuple[str, ...]], *, min_items: int = 0, max_items: int | None = None
) -> Validator:
    """A message item: ``roles`` maps each allowed role to its allowed content part types."""
    variants: dict[str, Validator] = {}
    for role, parts in roles.items():
        part = tagged("type", {p: _CONTENT_PARTS[p] for p in parts})
        content = array(part, min_items=min_items, max_items=max_items)
        variants[role] = obj({"content": content}, required=("content",))
    return tagged("role", variants)


_ITEM = tagged(
    "type",
    {
        "message": _message(
            {
                "system": ("input_text",),
                "user": ("input_text", "input_audio", "input_image"),
                "assistant": ("text",),
            }
        ),
        "function_call": obj(
            {"call_id": _name, "name": _name, "arguments": _text}, required=("call_id", "name")
        ),
        "function_call_output": obj(
            {"call_id": _name, "output": _text}, required=("call_id", "output")
        ),
        "mcp_approval_response": obj(
            {"approval_request_id": _name, "approve": boolean, "reason": _text},
            required=("approval_request_id", "approve"),
        ),
        "item_reference": obj({"id": _name}, required=("id",)),
    },
)
_PRE_GENERATED_MESSAGE = tagged(
    "type",
    {"message": _message({"assistant": ("text",)}, min_items=1, max_items=1)},
    default="message",
)

_RESPONSE_FIELDS: dict[str, Validator] = {
    "commit": boolean,
    "cancel_previous": boolean,
    "append_input_items": array(_ITEM),
    "input_items": array(_ITEM),
    "modalities": _modalities,
    "instructions": _text,
    "voice": _voice,
    "output_audio_format": _SESSION_FIELDS["output_audio_format"],
    "tools": _tools,
    "tool_choice": _tool_choice,
    "temperature": _SESSION_FIELDS["temperature"],
    "max_output_tokens": _max_tokens,
    "pre_generated_assistant_message": _PRE_GENERATED_MESSAGE,
    "reasoning_effort": _SESSION_FIELDS["reasoning_effort"],
    "metadata": _metadata,
    "interim_response": _INTERIM,
    "invoke_input": obj({}),
    "conversation": choice("auto", "none"),
    "animation": _ANIMATION,
}
_RESPONSE_ALIASES = {
    "max_response_output_tokens": "max_output_tokens",
    "interim-response": "interim_response",
}


def response_config(
    session: Mapping[str, Any], params: Any, *, additional_instructions: str | None = None
) -> dict[str, Any]:
    """Validate ``response.create``'s ``response`` object and return the per-response config.

    Args:
        session: The current effective session, which supplies every unset value.
        params: The raw ``response`` value of the event; None means ``{}``.
        additional_instructions: The event's top-level ``additional_instructions``, appended
            to the instructions (after a newline) for this response only.

    Returns:
        A new dict with ``modalities``, ``instructions``, ``voice``, ``output_audio_format``,
        ``tools``, ``tool_choice``, ``temperature``, ``max_output_tokens``, ``metadata``,
        ``commit``, ``cancel_previous``, ``input_items``, ``append_input_items``,
        ``pre_generated_assistant_message``, ``conversation``, ``reasoning_effort``,
        ``interim_response``, ``animation`` and ``invoke_input``.

    Raises:
        ProtocolError: If a field is unknown or invalid.
    """
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise type_error(params, "response", "an object")
    if additional_instructions is not None and not isinstance(additional_instructions, str):
        raise type_error(additional_instructions, "additional_instructions", "a string")
    config: dict[str, Any] = {
        "modalities": session.get("modalities", ["text", "audio"]),
        "instructions": session.get("instructions", ""),
        "voice": session.get("voice"),
        "output_audio_format": session.get("output_audio_format", "pcm16"),
        "tools": session.get("tools", []),
        "tool_choice": session.get("tool_choice", "auto"),
        "temperature": session.get("temperature", 0.8),
        "max_output_tokens": session.get("max_response_output_tokens", "inf"),
        "metadata": None,
        "commit": True,
        "cancel_previous": True,
        "input_items": None,
        "append_input_items": None,
        "pre_generated_assistant_message": None,
        "conversation": "auto",
        "reasoning_effort": session.get("reasoning_effort"),
        "interim_response": session.get("interim_response"),
        "animation": session.get("animation"),
        "invoke_input": None,
    }
    given: dict[str, Any] = {}
    for key, value in params.items():
        name = str(_RESPONSE_ALIASES.get(key, key))
        validator = _RESPONSE_FIELDS.get(name)
        if validator is None:
            raise ProtocolError(
                f"Unknown parameter: 'response.{key}'.",
                code="unknown_parameter",
                param=f"response.{key}",
            )
        if value is not None:
            given[name] = config[name] = validator(value, f"response.{key}")
    _check_model_support(str(session.get("model", "")), config, given, prefix="response")
    if additional_instructions:
        base = config["instructions"]
        config["instructions"] = (
            f"{base}\n{additional_instructions}" if base else additional_instructions
        )
    return copy.deepcopy(config)


# --- wire formats ---------------------------------------------------------------------------


def input_format(session: Mapping[str, Any]) -> WireFormat:
    """The wire format of input audio under ``session``."""
    encoding = session.get("input_audio_format") or "pcm16"
    if encoding not in _INPUT_FORMATS:
        raise ValueError(f"unknown input_audio_format {encoding!r}")
    default_rate = _G711_RATES[0] if _is_g711(encoding) else 24000
    rate = int(session.get("input_audio_sampling_rate") or default_rate)
    return WireFormat(cast("Encoding", encoding), rate)


def output_format(config: Mapping[str, Any]) -> WireFormat:
    """The wire format of output audio under a session or a :func:`response_config` result.

    ``pcm16`` is 24 kHz, ``pcm16_<n>hz`` (or ``pcm16-<n>hz``) is ``n`` Hz, G.711 is 8 kHz.

    Raises:
        ValueError: If ``output_audio_format`` is not an audio format.
    """
    name = config.get("output_audio_format") or "pcm16"
    if name in _OUTPUT_FORMATS:
        return _OUTPUT_FORMATS[name]
    match = _PCM16_RATE_NAME.fullmatch(str(name))
    if match is None:
        raise ValueError(f"unknown output_audio_format {name!r}")
    return WireFormat("pcm16", int(match.group(1)))
