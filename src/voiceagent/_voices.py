"""Voices: OpenAI voices and Azure standard, custom, personal and realtime-native voices.

``voice_from("alloy")`` and ``voice_from("en-US-Ava:DragonHDLatestNeural")`` turn the bare
strings an application writes into these classes; :class:`~voiceagent.SessionOptions` uses it
as the converter of its ``voice`` field.
"""

from __future__ import annotations

import re
from typing import Any, Final, TypeAlias

import attrs

from ._checks import (
    CompactRepr,
    Validator,
    fail,
    number,
    one_of,
    optional,
    sequence,
    text,
    to_tuple,
    url,
)
from .errors import ConfigurationError

__all__ = [
    "AZURE_REALTIME_NATIVE_VOICES",
    "OPENAI_VOICES",
    "PERSONAL_VOICE_MODELS",
    "AzureCustomVoice",
    "AzurePersonalVoice",
    "AzureRealtimeNativeVoice",
    "AzureStandardVoice",
    "OpenAIVoice",
    "Voice",
    "voice_from",
]

OPENAI_VOICES: Final = (
    "alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar",
)  # fmt: skip
"""The OpenAI voice names (gpt-realtime models)."""

AZURE_REALTIME_NATIVE_VOICES: Final = (
    "aarti", "andrew", "ava", "denise", "diya", "elsa", "florian", "francisca", "meera",
    "xiaoxiao", "yunxi", "ximena",
)  # fmt: skip
"""The voices of the ``azure-realtime`` model."""

PERSONAL_VOICE_MODELS: Final = (
    "DragonLatestNeural", "PhoenixLatestNeural", "PhoenixV2Neural", "DragonHDOmniLatestNeural",
    "MAI-Voice-1",
)  # fmt: skip
"""The base models of an Azure personal voice."""

# "en-US-AvaNeural", "en-US-Ava:DragonHDLatestNeural", "zh-Hans-CN-...", "en-us-AndrewNeural".
_AZURE_VOICE_NAME = re.compile(
    r"(?P<locale>[A-Za-z]{2,3}(?:-[A-Za-z]{4})?-[A-Za-z]{2})-(?P<name>[A-Za-z0-9]+)"
    r"(?::(?P<variant>[A-Za-z0-9][A-Za-z0-9-]*))?"
)
_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
_NUMBER = r"\d+(?:\.\d+)?"
_PITCH = re.compile(
    rf"x-low|low|medium|high|x-high|default|[+-]{_NUMBER}(?:%|Hz|st)|{_NUMBER}Hz", re.IGNORECASE
)
_RATE = re.compile(rf"x-slow|slow|medium|fast|x-fast|default|[+-]?{_NUMBER}%|{_NUMBER}")
_VOLUME = re.compile(
    rf"silent|x-soft|soft|medium|loud|x-loud|default|{_NUMBER}|[+-]{_NUMBER}(?:dB|%)?",
    re.IGNORECASE,
)

_locale = text(pattern=_LOCALE, hint="a BCP-47 locale such as 'en-US'")


@attrs.frozen(repr=False)
class OpenAIVoice(CompactRepr):
    """An OpenAI voice, for the gpt-realtime models.

    Attributes:
        name: One of ``alloy``, ``ash``, ``ballad``, ``coral``, ``echo``, ``sage``,
            ``shimmer``, ``verse``, ``marin``, ``cedar``.
    """

    name: str = attrs.field(validator=one_of(*OPENAI_VOICES))


@attrs.frozen(repr=False)
class AzureRealtimeNativeVoice(CompactRepr):
    """A voice of the ``azure-realtime`` model (and only that model).

    Attributes:
        name: One of ``aarti``, ``andrew``, ``ava``, ``denise``, ``diya``, ``elsa``,
            ``florian``, ``francisca``, ``meera``, ``xiaoxiao``, ``yunxi``, ``ximena``.
    """

    name: str = attrs.field(validator=one_of(*AZURE_REALTIME_NATIVE_VOICES))


def _tuning(validator: Validator) -> Any:
    return attrs.field(default=None, kw_only=True, validator=optional(validator))


@attrs.frozen(kw_only=True, repr=False)
class _AzureVoiceTuning(CompactRepr):
    """The optional fields every Azure text-to-speech voice takes (None: the voice default)."""

    temperature: float | None = _tuning(number(0.0, 1.0))
    locale: str | None = _tuning(_locale)
    prefer_locales: tuple[str, ...] | None = attrs.field(
        default=None,
        kw_only=True,
        converter=to_tuple,
        validator=optional(
            sequence(_locale, what="a list of BCP-47 locales", min_items=1, unique=True)
        ),
    )
    style: str | None = _tuning(text())
    pitch: str | None = _tuning(
        text(pattern=_PITCH, hint="an SSML pitch: x-low..x-high, '+10%', '-2st' or '200Hz'")
    )
    rate: str | None = _tuning(
        text(pattern=_RATE, hint="an SSML rate: x-slow..x-fast, '+20%' or a multiplier '1.2'")
    )
    volume: str | None = _tuning(
        text(pattern=_VOLUME, hint="an SSML volume: silent..x-loud, 0-100, '+10' or '-6dB'")
    )
    custom_lexicon_url: str | None = _tuning(url)
    custom_text_normalization_url: str | None = _tuning(url)

    def __attrs_post_init__(self) -> None:
        volume = self.volume
        if volume is not None and re.fullmatch(_NUMBER, volume) and float(volume) > 100:
            raise fail(self, "volume", volume, "an absolute volume from 0 to 100")


@attrs.frozen(repr=False)
class AzureStandardVoice(_AzureVoiceTuning):
    """An Azure text-to-speech voice by name, e.g. ``"en-US-Ava:DragonHDLatestNeural"``.

    Attributes:
        name: The voice name: ``<locale>-<Name>Neural`` or ``<locale>-<Name>:<variant>``
            (HD voices such as ``en-US-Ava:DragonHDLatestNeural``).
        temperature: 0.0 to 1.0; how varied HD voices sound. None: the voice's default.
        locale: Force this BCP-47 locale for all speech, e.g. ``"en-US"``.
        prefer_locales: Accents to prefer per language, e.g. ``("en-GB", "es-ES")``.
        style: A speaking style the voice supports, e.g. ``"cheerful"``.
        pitch: SSML prosody pitch: ``x-low`` … ``x-high``, ``default``, ``"+10%"``,
            ``"-2st"``, ``"+50Hz"`` or ``"200Hz"``.
        rate: SSML prosody rate: ``x-slow`` … ``x-fast``, ``default``, ``"+20%"`` or a
            multiplier such as ``"1.2"``.
        volume: SSML prosody volume: ``silent`` … ``x-loud``, ``default``, ``"0"`` to
            ``"100"``, or a relative change such as ``"+10"`` or ``"-6dB"``.
        custom_lexicon_url: URL of a custom lexicon (pronunciations).
        custom_text_normalization_url: URL of a custom text normalization.
    """

    name: str = attrs.field(validator=text())


@attrs.frozen(repr=False)
class AzureCustomVoice(_AzureVoiceTuning):
    """An Azure custom neural voice, deployed at an endpoint.

    Attributes:
        name: The custom voice's name.
        endpoint_id: The id of the endpoint (deployment) that hosts it.
        temperature: 0.0 to 1.0. None: the voice's default.
        locale: Force this BCP-47 locale for all speech.
        prefer_locales: Accents to prefer per language, e.g. ``("en-GB", "es-ES")``.
        style: A speaking style the voice supports.
        pitch: SSML prosody pitch (see :class:`AzureStandardVoice`).
        rate: SSML prosody rate (see :class:`AzureStandardVoice`).
        volume: SSML prosody volume (see :class:`AzureStandardVoice`).
        custom_lexicon_url: URL of a custom lexicon (pronunciations).
        custom_text_normalization_url: URL of a custom text normalization.
    """

    name: str = attrs.field(validator=text())
    endpoint_id: str = attrs.field(validator=text())


@attrs.frozen(repr=False)
class AzurePersonalVoice(_AzureVoiceTuning):
    """An Azure personal voice (a speaker profile) on one of the personal-voice base models.

    Attributes:
        name: The speaker profile's name.
        model: ``DragonLatestNeural``, ``PhoenixLatestNeural``, ``PhoenixV2Neural``,
            ``DragonHDOmniLatestNeural`` or ``MAI-Voice-1``.
        temperature: 0.0 to 1.0. None: the model's default.
        locale: Force this BCP-47 locale for all speech.
        prefer_locales: Accents to prefer per language.
        style: A speaking style.
        pitch: SSML prosody pitch (see :class:`AzureStandardVoice`).
        rate: SSML prosody rate (see :class:`AzureStandardVoice`).
        volume: SSML prosody volume (see :class:`AzureStandardVoice`).
        custom_lexicon_url: URL of a custom lexicon (pronunciations).
        custom_text_normalization_url: URL of a custom text normalization.
    """

    name: str = attrs.field(validator=text())
    model: str = attrs.field(validator=one_of(*PERSONAL_VOICE_MODELS))


Voice: TypeAlias = (
    OpenAIVoice | AzureStandardVoice | AzureCustomVoice | AzurePersonalVoice
    | AzureRealtimeNativeVoice
)  # fmt: skip
"""Any voice the session can speak with."""

VOICE_CLASSES: Final = (
    OpenAIVoice,
    AzureStandardVoice,
    AzureCustomVoice,
    AzurePersonalVoice,
    AzureRealtimeNativeVoice,
)


def voice_from(value: str | Voice) -> Voice:
    """The voice a string names, or ``value`` itself when it already is a voice.

    Args:
        value: A voice object, an OpenAI voice name such as ``"alloy"``, or an Azure voice
            name such as ``"en-US-AvaNeural"`` or ``"en-US-Ava:DragonHDLatestNeural"``.

    Returns:
        ``OpenAIVoice(value)`` for an OpenAI name, ``AzureStandardVoice(value)`` for an Azure
        name, or ``value`` unchanged when it is a voice object.

    Raises:
        ConfigurationError: If ``value`` is neither; the message lists both forms.
    """
    if isinstance(value, VOICE_CLASSES):
        return value
    if isinstance(value, str):
        if value in OPENAI_VOICES:
            return OpenAIVoice(value)
        if _looks_like_azure_voice(value):
            return AzureStandardVoice(value)
    raise ConfigurationError(
        f"invalid voice: {value!r}; expected an OpenAI voice name ("
        + ", ".join(OPENAI_VOICES)
        + "), an Azure voice name such as 'en-US-AvaNeural' or "
        "'en-US-Ava:DragonHDLatestNeural', or a voice object: OpenAIVoice, "
        "AzureStandardVoice, AzureCustomVoice(name, endpoint_id=...), "
        "AzurePersonalVoice(name, model), AzureRealtimeNativeVoice(name)"
    )


def _looks_like_azure_voice(name: str) -> bool:
    match = _AZURE_VOICE_NAME.fullmatch(name)
    return match is not None and (
        match.group("variant") is not None or match.group("name").endswith("Neural")
    )
