"""Shared hypothesis strategies. Each area keeps its strategies in its own block."""

from __future__ import annotations

# --- audio (voiceagent.audio) ------------------------------------------------------------
import array
import itertools
import random
import sys

from hypothesis import strategies as st

from voiceagent.audio import AudioFormat, Encoding

AUDIO_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000)
"""Sample rates worth testing: every wire rate and the common device and file rates."""


@st.composite
def audio_formats(
    draw: st.DrawFn, *, encodings: tuple[Encoding, ...] = tuple(Encoding), max_channels: int = 2
) -> AudioFormat:
    """Any valid :class:`AudioFormat` (G.711 at 8 kHz, pcm16 at any of :data:`AUDIO_RATES`)."""
    encoding = draw(st.sampled_from(encodings))
    rate = 8000 if encoding is not Encoding.PCM16 else draw(st.sampled_from(AUDIO_RATES))
    channels = draw(st.integers(1, max_channels))
    return AudioFormat(encoding=encoding, sample_rate=rate, channels=channels)


def pcm16(samples: list[int]) -> bytes:
    """Signed 16-bit little-endian bytes of ``samples``."""
    data = array.array("h", samples)
    if sys.byteorder == "big":
        data.byteswap()
    return data.tobytes()


@st.composite
def pcm16_audio(
    draw: st.DrawFn, *, channels: int = 1, max_samples: int = 4000, amplitude: int = 20000
) -> bytes:
    """pcm16 audio of 0 to ``max_samples`` samples: a random walk, so it has real low
    frequencies as speech does, within +-``amplitude``."""
    n = draw(st.integers(0, max_samples))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = random.Random(seed)
    out: list[int] = []
    level = 0
    for _ in range(n * channels):
        level = max(-amplitude, min(amplitude, level + rng.randint(-2000, 2000)))
        out.append(level)
    return pcm16(out)


@st.composite
def splits(draw: st.DrawFn, data: bytes, *, max_chunks: int = 12) -> list[bytes]:
    """``data`` cut at arbitrary byte offsets (chunks may be empty or split samples)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=max_chunks - 1)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


# --- end audio ---------------------------------------------------------------------------


# --- session options (voiceagent._options and friends): valid option objects -------------
from typing import Any  # noqa: E402

from voiceagent._avatar import (  # noqa: E402
    Animation,
    Avatar,
    AvatarScene,
    AvatarVideo,
    IceServer,
    VideoBackground,
    VideoCrop,
    VideoResolution,
)
from voiceagent._checks import model_family  # noqa: E402
from voiceagent._features import (  # noqa: E402
    OPENAI_TRANSCRIPTION_MODELS,
    EchoCancellation,
    InputTranscription,
    LlmInterimResponse,
    NoiseReduction,
    StaticInterimResponse,
)
from voiceagent._options import SERVICE_DEFAULT, SessionOptions  # noqa: E402
from voiceagent._turn_detection import (  # noqa: E402
    EOU_MODELS,
    AzureSemanticVad,
    AzureSemanticVadEn,
    AzureSemanticVadMultilingual,
    EndOfUtterance,
    SemanticVad,
    ServerVad,
    TurnDetection,
)
from voiceagent._voices import (  # noqa: E402
    AZURE_REALTIME_NATIVE_VOICES,
    OPENAI_VOICES,
    PERSONAL_VOICE_MODELS,
    AzureCustomVoice,
    AzurePersonalVoice,
    AzureRealtimeNativeVoice,
    AzureStandardVoice,
    OpenAIVoice,
    Voice,
)

OPTION_MODELS = ("gpt-realtime", "gpt-realtime-mini", "azure-realtime", "gpt-4.1", "gpt-5")
"""Session models the option strategies draw from (every model family voiceagent knows)."""

_locales = st.sampled_from(["en-US", "en-GB", "es-ES", "fr-FR", "de-DE", "zh-CN", "ja-JP"])
_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12)
_sentences = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=40)
_urls = _words.map(lambda w: f"https://example.com/{w}.xml")
_ms = st.integers(0, 5000)


def _kwargs(**optional: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts holding any subset of the optional keyword arguments."""
    return st.fixed_dictionaries({}, optional=optional)


_azure_tuning = _kwargs(
    temperature=st.floats(0.0, 1.0),
    locale=_locales,
    prefer_locales=st.lists(_locales, min_size=1, max_size=3, unique=True),
    style=st.sampled_from(["cheerful", "sad", "friendly"]),
    pitch=st.sampled_from(["x-low", "high", "+10%", "-2st", "+50Hz", "200Hz", "default"]),
    rate=st.sampled_from(["slow", "x-fast", "+20%", "-10%", "1.2", "0.5", "default"]),
    volume=st.sampled_from(["soft", "x-loud", "50", "100", "+10", "-6dB", "default"]),
    custom_lexicon_url=_urls,
    custom_text_normalization_url=_urls,
)
azure_voice_names = st.builds(
    lambda locale, name, variant: f"{locale}-{name.capitalize()}{variant}",
    _locales,
    _words,
    st.sampled_from(["Neural", "MultilingualNeural", ":DragonHDLatestNeural"]),
)
"""Names that ``voice_from`` takes for Azure voices."""

openai_voices = st.sampled_from(OPENAI_VOICES).map(OpenAIVoice)
azure_standard_voices = st.builds(
    lambda name, kw: AzureStandardVoice(name, **kw), azure_voice_names, _azure_tuning
)
azure_custom_voices = st.builds(
    lambda name, endpoint, kw: AzureCustomVoice(name, endpoint_id=endpoint, **kw),
    _words,
    st.uuids().map(str),
    _azure_tuning,
)
azure_personal_voices = st.builds(
    lambda name, model, kw: AzurePersonalVoice(name, model, **kw),
    _words,
    st.sampled_from(PERSONAL_VOICE_MODELS),
    _azure_tuning,
)
native_voices = st.sampled_from(AZURE_REALTIME_NATIVE_VOICES).map(AzureRealtimeNativeVoice)


def voices(model: str = "gpt-realtime") -> st.SearchStrategy[Voice]:
    """Voices valid for ``model``."""
    kinds: list[st.SearchStrategy[Voice]] = [
        openai_voices,
        azure_standard_voices,
        azure_custom_voices,
        azure_personal_voices,
    ]
    if model_family(model) == "azure-realtime":
        kinds.append(native_voices)
    return st.one_of(kinds)


end_of_utterances = st.builds(
    lambda model, kw: EndOfUtterance(model=model, **kw),
    st.sampled_from(EOU_MODELS),
    _kwargs(
        threshold_level=st.sampled_from(["low", "medium", "high", "default"]),
        timeout_ms=_ms,
    ),
)
_vad_common: dict[str, st.SearchStrategy[Any]] = {
    "threshold": st.floats(0.01, 0.99),
    "prefix_padding_ms": _ms,
    "silence_duration_ms": _ms,
    "speech_duration_ms": _ms,
    "end_of_utterance_detection": end_of_utterances,
    "create_response": st.booleans(),
    "interrupt_response": st.booleans(),
    "auto_truncate": st.booleans(),
}
_languages = st.lists(
    st.sampled_from(["en", "es", "fr", "de", "ja", "zh"]), min_size=1, max_size=3, unique=True
)


def turn_detections(model: str = "gpt-realtime") -> st.SearchStrategy[TurnDetection]:
    """Turn detection objects valid for ``model``."""
    semantic = {**_vad_common, "remove_filler_words": st.booleans()}
    kinds: list[st.SearchStrategy[TurnDetection]] = [
        _kwargs(**_vad_common).map(lambda kw: ServerVad(**kw)),
        _kwargs(**semantic, languages=_languages).map(lambda kw: AzureSemanticVad(**kw)),
        _kwargs(**semantic).map(lambda kw: AzureSemanticVadEn(**kw)),
        _kwargs(**semantic, languages=_languages).map(
            lambda kw: AzureSemanticVadMultilingual(**kw)
        ),
    ]
    if model_family(model) == "gpt-realtime":
        kinds.append(
            _kwargs(
                eagerness=st.sampled_from(["auto", "low", "medium", "high"]),
                create_response=st.booleans(),
                interrupt_response=st.booleans(),
            ).map(lambda kw: SemanticVad(**kw))
        )
    return st.one_of(kinds)


def noise_reductions(model: str = "gpt-realtime") -> st.SearchStrategy[NoiseReduction]:
    """Noise reduction settings valid for ``model``."""
    kinds = ["azure_deep_noise_suppression"]
    if model_family(model) == "gpt-realtime":
        kinds += ["near_field", "far_field"]
    return st.sampled_from(kinds).map(NoiseReduction)


echo_cancellations = st.sampled_from(
    [
        EchoCancellation(),
        EchoCancellation(reference_source="server"),
        EchoCancellation(channels=1),
        EchoCancellation(reference_source="server", channels=1),
        EchoCancellation(reference_source="client", channels=2),
    ]
)


def transcriptions(model: str = "gpt-realtime") -> st.SearchStrategy[InputTranscription]:
    """Input transcription settings valid for ``model``."""
    language = st.sampled_from(["en", "en-US", "en,zh", "fr-FR"])
    phrases = st.lists(_words, max_size=4)
    azure = _kwargs(
        language=language,
        phrase_list=phrases,
        custom_speech=st.dictionaries(_locales, st.uuids().map(str), max_size=2),
    ).map(lambda kw: InputTranscription(model="azure-speech", **kw))
    mai = st.builds(
        lambda m, kw: InputTranscription(model=m, **kw),
        st.sampled_from(["mai-transcribe", "mai-transcribe-1"]),
        _kwargs(language=language, phrase_list=phrases),
    )
    kinds = [azure, mai]
    if model_family(model) == "gpt-realtime":
        openai = _kwargs(language=language, prompt=_sentences)
        kinds.append(
            st.builds(
                lambda m, kw: InputTranscription(model=m, **kw),
                st.sampled_from(OPENAI_TRANSCRIPTION_MODELS),
                openai,
            )
        )
        kinds.append(openai.map(lambda kw: InputTranscription(**kw)))
    else:
        auto = _kwargs(language=language, phrase_list=phrases)
        kinds.append(auto.map(lambda kw: InputTranscription(**kw)))
    return st.one_of(kinds)


_ice_servers = st.builds(
    lambda urls, kw: IceServer(urls=urls, **kw),
    st.lists(
        st.sampled_from(["stun:stun.example.com:3478", "turn:turn.example.com"]),
        min_size=1,
        max_size=2,
    ),
    _kwargs(username=_words, credential=_words),
)
_crops = st.builds(
    lambda x, y, w, h: VideoCrop((x, y), (x + w, y + h)),
    st.integers(0, 1000),
    st.integers(0, 1000),
    st.integers(1, 1000),
    st.integers(1, 1000),
)
_videos = _kwargs(
    bitrate=st.integers(100_000, 8_000_000),
    codec=st.just("h264"),
    crop=_crops,
    resolution=st.builds(VideoResolution, st.integers(1, 3840), st.integers(1, 2160)),
    background=st.one_of(
        st.just(VideoBackground(color="#FFFFFFFF")),
        _urls.map(lambda u: VideoBackground(image_url=u)),
    ),
    gop_size=st.integers(1, 2000),
).map(lambda kw: AvatarVideo(**kw))
_scenes = _kwargs(
    zoom=st.floats(0.1, 5.0),
    position_x=st.floats(-1.0, 1.0),
    position_y=st.floats(-1.0, 1.0),
    rotation_x=st.floats(-3.14, 3.14),
    rotation_y=st.floats(-3.14, 3.14),
    rotation_z=st.floats(-3.14, 3.14),
    amplitude=st.floats(0.01, 1.0),
).map(lambda kw: AvatarScene(**kw))
avatars = st.builds(
    lambda character, kind, kw: Avatar(
        character=character,
        type=kind,
        model="vasa-1" if kind == "photo-avatar" else None,
        **kw,
    ),
    st.sampled_from(["lisa", "harry", "meg"]),
    st.sampled_from([None, "video-avatar", "photo-avatar"]),
    _kwargs(
        style=st.sampled_from(["casual-sitting", "graceful-sitting"]),
        customized=st.booleans(),
        ice_servers=st.lists(_ice_servers, max_size=2),
        video=_videos,
        scene=_scenes,
        output_protocol=st.sampled_from(["webrtc", "websocket"]),
        output_audit_audio=st.booleans(),
    ),
)
animations = _kwargs(
    outputs=st.sets(st.sampled_from(["blendshapes", "viseme_id"]), min_size=1),
    model_name=st.just("default"),
).map(lambda kw: Animation(**kw))
_triggers = st.lists(st.sampled_from(["latency", "tool"]), min_size=1, max_size=2, unique=True)
interim_responses = st.one_of(
    _kwargs(
        texts=st.lists(_sentences, min_size=1, max_size=3),
        triggers=_triggers,
        latency_threshold_ms=_ms,
    ).map(lambda kw: StaticInterimResponse(**kw)),
    _kwargs(
        model=st.just("gpt-4.1-mini"),
        instructions=_sentences,
        max_completion_tokens=st.integers(1, 200),
        triggers=_triggers,
        latency_threshold_ms=_ms,
    ).map(lambda kw: LlmInterimResponse(**kw)),
)


def _switchable(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(SERVICE_DEFAULT), st.none(), inner)


@st.composite
def session_options(draw: st.DrawFn, model: str | None = None) -> SessionOptions:
    """Valid ``SessionOptions``: any mix of fields, consistent with each other."""
    model = draw(st.sampled_from(OPTION_MODELS)) if model is None else model
    echo = draw(_switchable(echo_cancellations))
    two_channels = isinstance(echo, EchoCancellation) and echo.channels == 2
    formats = ["pcm16"] if two_channels else ["pcm16", "g711_ulaw", "g711_alaw"]
    input_format = draw(st.none() | st.sampled_from(formats))
    g711 = input_format is not None and input_format.startswith("g711")
    rates = [8000] if g711 else [8000, 16000, 24000, 44100]
    voice = draw(st.none() | voices(model))
    outputs = ["pcm16", "pcm16_8000hz", "pcm16_16000hz", "g711_ulaw", "g711_alaw"]
    if isinstance(voice, AzureStandardVoice | AzureCustomVoice | AzurePersonalVoice):
        outputs += ["pcm16_22050hz", "pcm16_24000hz", "pcm16_44100hz", "pcm16_48000hz"]
    include = st.sampled_from(
        ["item.input_audio_transcription.logprobs", "item.input_audio_transcription.phrases"]
    )
    modalities = [["text"], ["text", "audio"], ["audio", "text"], ["text", "audio", "animation"]]
    # Realtime audio models have no interim responses.
    realtime = model_family(model) in ("gpt-realtime", "azure-realtime")
    fields = draw(
        _kwargs(
            instructions=st.text(max_size=40),
            modalities=st.sampled_from(modalities),
            turn_detection=_switchable(turn_detections(model)),
            noise_reduction=_switchable(noise_reductions(model)),
            input_transcription=_switchable(transcriptions(model)),
            temperature=st.floats(0.6, 1.2),
            max_output_tokens=st.integers(1, 4096) | st.just("inf"),
            tool_choice=st.sampled_from(["auto", "none", "required"]),
            parallel_tool_calls=st.booleans(),
            input_audio_sampling_rate=st.sampled_from(rates),
            output_audio_format=st.sampled_from(outputs),
            output_audio_timestamp_types=st.just(["word"]),
            avatar=avatars,
            animation=animations,
            reasoning_effort=st.sampled_from(["low", "medium", "high"]),
            include=st.lists(include, unique=True),
            metadata=st.dictionaries(_words, st.text(max_size=20), max_size=16),
        )
    )
    if not realtime:
        fields.update(draw(_kwargs(interim_response=interim_responses)))
    return SessionOptions(
        model=model,
        voice=voice,
        echo_cancellation=echo,
        input_audio_format=input_format,
        **fields,
    )


# --- end session options -----------------------------------------------------------------


# --- tools (voiceagent._tools): supported tool-parameter annotations with values ---------
import dataclasses as _dataclasses  # noqa: E402
import enum as _enum  # noqa: E402
from typing import Any as _Any  # noqa: E402
from typing import Literal as _Literal  # noqa: E402
from typing import TypedDict as _TypedDict  # noqa: E402

import attrs as _attrs  # noqa: E402


class ToolColor(_enum.Enum):
    """A str-valued Enum for generated tool annotations."""

    RED = "red"
    GREEN = "green"


class ToolLevel(_enum.IntEnum):
    """An int-valued Enum for generated tool annotations."""

    LOW = 1
    HIGH = 2


@_attrs.frozen
class Typed:
    """A supported tool-parameter annotation and a strategy drawing Python values of it.

    Attributes:
        annotation: The annotation (a real type object, never a string).
        values: Draws values of that annotation, as a tool would receive them.
    """

    annotation: _Any
    values: st.SearchStrategy[_Any]


_TOOL_FIELD_NAMES = ("alpha", "beta", "gamma")
_tool_class_counter = itertools.count()

_TOOL_LEAVES: list[Typed] = [
    Typed(str, st.text(max_size=20)),
    Typed(int, st.integers()),
    Typed(float, st.floats(allow_nan=False, allow_infinity=False)),
    Typed(bool, st.booleans()),
    Typed(type(None), st.none()),
    Typed(_Literal["c", "f"], st.sampled_from(["c", "f"])),
    Typed(_Literal[1, 2, 3], st.sampled_from([1, 2, 3])),
    Typed(ToolColor, st.sampled_from(ToolColor)),
    Typed(ToolLevel, st.sampled_from(ToolLevel)),
]

# Subscripted at run time with drawn annotations: typed Any so mypy reads no type expression.
_LIST: _Any = list
_DICT: _Any = dict


def _tool_fields(children: st.SearchStrategy[Typed]) -> st.SearchStrategy[list[tuple[str, Typed]]]:
    return st.lists(children, min_size=1, max_size=3).map(
        lambda typed: list(zip(_TOOL_FIELD_NAMES, typed, strict=False))
    )


def _tool_dataclass(fields: list[tuple[str, Typed]]) -> Typed:
    cls = _dataclasses.make_dataclass(
        f"GeneratedDataclass{next(_tool_class_counter)}",
        [(name, t.annotation) for name, t in fields],
    )
    return Typed(cls, st.builds(cls, **{name: t.values for name, t in fields}))


def _tool_attrs_class(fields: list[tuple[str, Typed]]) -> Typed:
    cls = _attrs.make_class(
        f"GeneratedAttrs{next(_tool_class_counter)}",
        {name: _attrs.field(type=t.annotation) for name, t in fields},
    )
    return Typed(cls, st.builds(cls, **{name: t.values for name, t in fields}))


def _tool_typeddict(fields: list[tuple[str, Typed]], total: bool) -> Typed:
    annotations = {name: t.annotation for name, t in fields}
    name = f"GeneratedTypedDict{next(_tool_class_counter)}"
    cls = _TypedDict(name, annotations, total=total)  # type: ignore[misc]
    strategies = {name: t.values for name, t in fields}
    values = (
        st.fixed_dictionaries(strategies)
        if total
        else st.fixed_dictionaries({}, optional=strategies)
    )
    return Typed(cls, values)


def _tool_extend(children: st.SearchStrategy[Typed]) -> st.SearchStrategy[Typed]:
    return st.one_of(
        children.map(lambda t: Typed(_LIST[t.annotation], st.lists(t.values, max_size=3))),
        children.map(
            lambda t: Typed(
                _DICT[str, t.annotation], st.dictionaries(st.text(max_size=5), t.values, max_size=3)
            )
        ),
        children.map(lambda t: Typed(t.annotation | None, st.none() | t.values)),
        _tool_fields(children).map(_tool_dataclass),
        _tool_fields(children).map(_tool_attrs_class),
        st.builds(_tool_typeddict, _tool_fields(children), st.booleans()),
    )


def tool_types(max_leaves: int = 6) -> st.SearchStrategy[Typed]:
    """A supported tool-parameter annotation (nested: lists, dicts, optionals, dataclasses,
    attrs classes, TypedDicts), with a strategy for its values."""
    return st.recursive(st.sampled_from(_TOOL_LEAVES), _tool_extend, max_leaves=max_leaves)


json_values: st.SearchStrategy[_Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from([*_TOOL_FIELD_NAMES, "other"]), children, max_size=3)
    ),
    max_leaves=10,
)
"""Arbitrary decoded JSON, with object keys that sometimes match generated field names."""


# --- end tools ---------------------------------------------------------------------------


# --- turns (voiceagent._turns): valid turn-machine configurations ------------------------

from voiceagent._turns import TurnConfig  # noqa: E402


@st.composite
def turn_configs(draw: st.DrawFn) -> TurnConfig:
    """Any valid :class:`TurnConfig`: manual turns, server VAD with any combination of
    server-side cancel/truncate/create, or a confirmation window (client decides)."""
    kind = draw(st.sampled_from(["manual", "vad", "vad", "window", "window"]))
    if kind == "manual":
        return TurnConfig.manual()
    if kind == "window":  # the most intricate path gets its share of examples
        min_turn = draw(st.integers(0, 1500))
        return TurnConfig(
            server_cancels_on_speech=False,
            server_truncates=False,
            server_creates_response=False,
            min_turn_ms=min_turn,
            confirm_window_ms=draw(st.integers(max(1, min_turn), 3000)),
            vad_padding_ms=draw(st.integers(0, 900)),
        )
    return TurnConfig(
        server_cancels_on_speech=draw(st.booleans()),
        server_truncates=draw(st.booleans()),
        server_creates_response=draw(st.booleans()),
    )


# --- end turns ---------------------------------------------------------------------------
