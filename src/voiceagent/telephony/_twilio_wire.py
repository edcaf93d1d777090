"""Twilio Media Streams messages, sans-IO: parse what Twilio sends, build what we send.

Reference: Twilio's "Media Streams - WebSocket Messages". Twilio sends text frames, each a
JSON object with an ``event``: ``connected``, ``start`` (``streamSid``, ``callSid``,
``customParameters``, ``mediaFormat``), ``media`` (``track``, ``chunk``, ``timestamp`` — both
strings — and a base64 μ-law ``payload``), ``dtmf`` (``digit``), ``mark`` (``name``) and
``stop``. On a bidirectional stream (``<Connect><Stream>``) we send ``media`` (raw μ-law, no
file header), ``mark`` and ``clear``, each naming the ``streamSid``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Final

import attrs

from ._events import CarrierError

__all__ = [
    "TwilioConnected",
    "TwilioDtmf",
    "TwilioMark",
    "TwilioMedia",
    "TwilioMessage",
    "TwilioStart",
    "TwilioStop",
    "clear_message",
    "mark_message",
    "media_message",
    "parse_twilio",
]

ULAW_ENCODING: Final = "audio/x-mulaw"
"""The only media format of a Twilio stream: μ-law, 8000 Hz, mono."""


@attrs.frozen(kw_only=True)
class TwilioConnected:
    """The first message of a stream."""

    protocol: str
    version: str


@attrs.frozen(kw_only=True)
class TwilioStart:
    """The stream's metadata, sent once after ``connected``."""

    stream_sid: str
    call_sid: str
    account_sid: str
    tracks: tuple[str, ...]
    custom_parameters: dict[str, str] = attrs.field(repr=False)
    encoding: str
    sample_rate: int
    channels: int


@attrs.frozen(kw_only=True)
class TwilioMedia:
    """One chunk of the caller's audio (usually 20 ms, 160 bytes)."""

    track: str
    chunk: int
    timestamp_ms: int
    payload: bytes = attrs.field(repr=lambda p: f"<{len(p)} bytes>")


@attrs.frozen(kw_only=True)
class TwilioDtmf:
    """A key pressed by the caller."""

    digit: str
    track: str


@attrs.frozen(kw_only=True)
class TwilioMark:
    """The echo of a mark we sent: the audio before it has played (or was cleared)."""

    name: str


@attrs.frozen(kw_only=True)
class TwilioStop:
    """The stream ended (the call hung up or the stream was stopped)."""

    call_sid: str


TwilioMessage = TwilioConnected | TwilioStart | TwilioMedia | TwilioDtmf | TwilioMark | TwilioStop


def _section(message: dict[str, Any], key: str) -> dict[str, Any]:
    value = message.get(key)
    if not isinstance(value, dict):
        raise CarrierError(f"Twilio {message.get('event')!r} message has no {key!r} object")
    return value


def _text(section: dict[str, Any], key: str, what: str, default: str | None = None) -> str:
    value = section.get(key, default)
    if not isinstance(value, str):
        raise CarrierError(f"Twilio {what} message: {key!r} must be a string, got {value!r}")
    return value


def _number(section: dict[str, Any], key: str, what: str) -> int:
    value = section.get(key, "0")
    try:
        return int(value)  # Twilio sends counters and timestamps as strings
    except (TypeError, ValueError):
        raise CarrierError(f"Twilio {what} message: {key!r} is not a number: {value!r}") from None


def parse_twilio(text: str | bytes) -> TwilioMessage | None:
    """Parse one message from Twilio.

    Args:
        text: The text frame's content.

    Returns:
        The message, or None for an event this bridge does not use (Twilio may add new
        ones).

    Raises:
        CarrierError: The frame is not JSON, not an object, or a known event lacks a field.
    """
    try:
        message = json.loads(text)
    except ValueError as exc:
        raise CarrierError(f"Twilio sent a frame that is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise CarrierError("Twilio sent a JSON value that is not an object")
    event = message.get("event")
    if event == "media":
        media = _section(message, "media")
        try:
            payload = base64.b64decode(_text(media, "payload", "media"), validate=True)
        except (binascii.Error, ValueError):
            raise CarrierError("Twilio media message: payload is not base64") from None
        return TwilioMedia(
            track=_text(media, "track", "media", "inbound"),
            chunk=_number(media, "chunk", "media"),
            timestamp_ms=_number(media, "timestamp", "media"),
            payload=payload,
        )
    if event == "mark":
        return TwilioMark(name=_text(_section(message, "mark"), "name", "mark"))
    if event == "dtmf":
        dtmf = _section(message, "dtmf")
        return TwilioDtmf(
            digit=_text(dtmf, "digit", "dtmf"), track=_text(dtmf, "track", "dtmf", "inbound")
        )
    if event == "start":
        start = _section(message, "start")
        fmt = start.get("mediaFormat") or {}
        if not isinstance(fmt, dict):
            raise CarrierError("Twilio start message: mediaFormat is not an object")
        params = start.get("customParameters") or {}
        tracks = start.get("tracks") or ["inbound"]
        return TwilioStart(
            stream_sid=_text(start, "streamSid", "start", message.get("streamSid")),
            call_sid=_text(start, "callSid", "start"),
            account_sid=_text(start, "accountSid", "start", ""),
            tracks=tuple(str(t) for t in tracks) if isinstance(tracks, list) else ("inbound",),
            custom_parameters={str(k): str(v) for k, v in params.items()}
            if isinstance(params, dict)
            else {},
            encoding=str(fmt.get("encoding", ULAW_ENCODING)),
            sample_rate=_number(fmt, "sampleRate", "start") if "sampleRate" in fmt else 8000,
            channels=_number(fmt, "channels", "start") if "channels" in fmt else 1,
        )
    if event == "stop":
        stop = message.get("stop")
        call_sid = stop.get("callSid", "") if isinstance(stop, dict) else ""
        return TwilioStop(call_sid=str(call_sid))
    if event == "connected":
        return TwilioConnected(
            protocol=str(message.get("protocol", "")), version=str(message.get("version", ""))
        )
    return None


def _dump(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


def media_message(stream_sid: str, payload: bytes) -> str:
    """An outbound ``media`` message: raw μ-law 8 kHz mono, base64, no file header."""
    return _dump(
        {
            "event": "media",
            "streamSid": stream_sid,
            "media": {"payload": base64.b64encode(payload).decode("ascii")},
        }
    )


def mark_message(stream_sid: str, name: str) -> str:
    """An outbound ``mark`` message: Twilio echoes it once the media before it has played."""
    return _dump({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def clear_message(stream_sid: str) -> str:
    """An outbound ``clear`` message: Twilio drops its buffer and echoes every pending mark."""
    return _dump({"event": "clear", "streamSid": stream_sid})
