"""Azure Communication Services bidirectional media streaming messages, sans-IO.

Reference: ACS "Audio streaming" and "Bidirectional audio streaming" (Call Automation).
ACS opens the WebSocket given as ``MediaStreamingOptions.transport_url`` and sends text
frames, each a JSON object with a ``kind``: first ``AudioMetadata`` (``subscriptionId``,
``encoding`` ``"PCM"``, ``sampleRate`` 16000 or 24000, ``channels`` 1, ``length``), then
``AudioData`` every 20 ms (``timestamp``, ``participantRawID``, ``data`` base64 PCM16
little-endian mono, ``silent``) and ``DtmfData`` (``data``: the key). Other kinds are
ignored. We send ``{"kind": "AudioData", "audioData": {"data": ...}}`` to play audio and
``{"kind": "StopAudio", "stopAudio": {}}`` to drop what ACS has queued (barge-in).

Both key casings are accepted on input: ACS sends camelCase, while the docs' Python sample
builds PascalCase (``"Kind"``, ``"AudioData"``, ``"Data"``).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import attrs

from ._events import CarrierError

__all__ = [
    "AcsAudio",
    "AcsDtmf",
    "AcsMessage",
    "AcsMetadata",
    "audio_message",
    "parse_acs",
    "stop_audio_message",
]


@attrs.frozen(kw_only=True)
class AcsMetadata:
    """The stream's format, sent once before any audio."""

    subscription_id: str
    encoding: str
    sample_rate: int
    channels: int
    length: int


@attrs.frozen(kw_only=True)
class AcsAudio:
    """20 ms of the call's audio."""

    data: bytes = attrs.field(repr=lambda d: f"<{len(d)} bytes>")
    timestamp: str
    participant: str
    silent: bool


@attrs.frozen(kw_only=True)
class AcsDtmf:
    """A key pressed by the caller."""

    digit: str
    participant: str


AcsMessage = AcsMetadata | AcsAudio | AcsDtmf


def _get(obj: dict[str, Any], key: str, default: Any = None) -> Any:
    """``obj[key]`` in camelCase or PascalCase (``audioData`` / ``AudioData``)."""
    if key in obj:
        return obj[key]
    pascal = key[:1].upper() + key[1:]
    if pascal in obj:
        return obj[pascal]
    lower = key.lower()  # participantRawID vs participantRawId
    for name, value in obj.items():
        if name.lower() == lower:
            return value
    return default


def _section(message: dict[str, Any], key: str, kind: str) -> dict[str, Any]:
    value = _get(message, key)
    if not isinstance(value, dict):
        raise CarrierError(f"ACS {kind} message has no {key!r} object")
    return value


def parse_acs(text: str | bytes) -> AcsMessage | None:
    """Parse one message from ACS.

    Args:
        text: The text frame's content.

    Returns:
        The message, or None for a kind this bridge does not use.

    Raises:
        CarrierError: The frame is not a JSON object, or a known kind lacks a field.
    """
    try:
        message = json.loads(text)
    except ValueError as exc:
        raise CarrierError(f"ACS sent a frame that is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise CarrierError("ACS sent a JSON value that is not an object")
    kind = _get(message, "kind")
    if kind == "AudioData":
        audio = _section(message, "audioData", kind)
        data = _get(audio, "data") or ""
        if not isinstance(data, str):
            raise CarrierError("ACS AudioData message: data is not a string")
        try:
            pcm = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise CarrierError("ACS AudioData message: data is not base64") from None
        return AcsAudio(
            data=pcm,
            timestamp=str(_get(audio, "timestamp", "")),
            participant=str(_get(audio, "participantRawID", "")),
            silent=bool(_get(audio, "silent", False)),
        )
    if kind == "DtmfData":
        dtmf = _section(message, "dtmfData", kind)
        digit = _get(dtmf, "data")
        if not isinstance(digit, str):
            raise CarrierError("ACS DtmfData message: data is not a string")
        return AcsDtmf(digit=digit, participant=str(_get(dtmf, "participantRawID", "")))
    if kind == "AudioMetadata":
        meta = _section(message, "audioMetadata", kind)
        try:
            return AcsMetadata(
                subscription_id=str(_get(meta, "subscriptionId", "")),
                encoding=str(_get(meta, "encoding", "PCM")),
                sample_rate=int(_get(meta, "sampleRate", 16000)),
                channels=int(_get(meta, "channels", 1)),
                length=int(_get(meta, "length", 0)),
            )
        except (TypeError, ValueError):
            raise CarrierError("ACS AudioMetadata message: a field is not a number") from None
    return None


def audio_message(pcm: bytes) -> str:
    """An outbound ``AudioData`` message (PCM16 mono at the stream's rate)."""
    return json.dumps(
        {"kind": "AudioData", "audioData": {"data": base64.b64encode(pcm).decode("ascii")}},
        separators=(",", ":"),
    )


def stop_audio_message() -> str:
    """An outbound ``StopAudio`` message: ACS drops the audio it has queued."""
    return json.dumps({"kind": "StopAudio", "stopAudio": {}}, separators=(",", ":"))
