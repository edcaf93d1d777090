"""The browser protocol: what the page and the server say over one WebSocket.

Audio travels in **binary** frames, raw pcm16 little-endian mono: the user's microphone
from the client (at the ``input`` rate the server announced), the agent's voice from the
server (at the ``output`` rate). Everything else is a **text** frame holding one JSON
object with a ``type``.

Server to client:

==============  ================================================================================
``welcome``     first message: ``protocol`` (1), ``conversation`` (id), ``input`` and ``output``
                (``{"encoding": "pcm16", "sample_rate": 24000, "channels": 1}``),
                ``report_ms`` (how often to report the played position while playing),
                ``prebuffer_ms`` (audio to hold before playback starts)
``ready``       the voice session started: ``session_id``
``clear``       drop all queued agent audio now (barge-in), then report the position;
                ``epoch``: the number of clears so far
``pause``       hold playback, keeping the queue (the agent may be interrupted); report
``resume``      play the queue again
``transcript``  ``role`` (``user``/``agent``), ``item_id``; a partial has ``delta``; a final
                has ``text``, ``final: true`` and ``interrupted`` (the agent was cut off)
``state``       ``state``: ``idle``, ``user_speaking``, ``thinking``, ``tool_running``,
                ``agent_speaking``
``interrupted`` ``item_id``, ``heard_ms``: where the agent's answer was cut
``tool``        ``name``, ``status`` (``started``/``finished``), ``ok`` (finished)
``turn``        ``latency_ms``: user stopped speaking → first agent audio
``ended``       the conversation ended: ``reason``; the server then closes (code 1000)
``error``       ``message``: the client broke the protocol; the server then closes (1007)
==============  ================================================================================

Client to server:

==============  ================================================================================
``played``      ``samples``: agent audio samples played since the connection opened (never
                decreasing), ``epoch``: the last ``clear`` epoch seen (0 before any),
                ``playing``: whether playback goes on. Sent every ``report_ms`` while
                playing, and at once after ``clear``, ``pause`` and when the queue runs dry
``text``        ``text``: a typed user message (the agent answers it)
``interrupt``   stop the agent now (a "stop" button)
``end``         the user is done: the conversation ends once the agent has answered
==============  ================================================================================

Closing the socket hangs up at once. Close codes from the server: 1000 after ``ended``,
1001 when the server shuts down, 1007 for a protocol error, 1011 when the voice session
could not start, 1013 when the server is at capacity (try again later).
"""

from __future__ import annotations

import json
from typing import Any, Final

import attrs

from ..errors import VoiceAgentError

__all__ = [
    "CLOSE_NORMAL",
    "CLOSE_PROTOCOL_ERROR",
    "CLOSE_SESSION_FAILED",
    "PROTOCOL_VERSION",
    "ClientMessage",
    "End",
    "Interrupt",
    "Played",
    "ProtocolError",
    "Text",
    "dumps",
    "parse_client_message",
]

PROTOCOL_VERSION: Final = 1
CLOSE_NORMAL: Final = 1000
CLOSE_PROTOCOL_ERROR: Final = 1007
CLOSE_SESSION_FAILED: Final = 1011
MAX_TEXT_CHARS: Final = 4096
"""The longest ``text`` message a client may send, by default."""


class ProtocolError(VoiceAgentError):
    """A client sent something the browser protocol does not allow."""


@attrs.frozen
class Played:
    """``{"type": "played", "samples": N, "epoch": E, "playing": P}``: the client's
    playback position, and whether playback goes on."""

    samples: int
    epoch: int
    playing: bool = False


@attrs.frozen
class Text:
    """``{"type": "text", "text": "..."}``: a typed user message."""

    text: str


@attrs.frozen
class Interrupt:
    """``{"type": "interrupt"}``: stop the agent now."""


@attrs.frozen
class End:
    """``{"type": "end"}``: the user is done talking."""


ClientMessage = Played | Text | Interrupt | End


def _count(message: dict[str, Any], key: str) -> int:
    value = message.get(key, 0 if key == "epoch" else None)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError(f"{message.get('type')}.{key} must be an integer >= 0, got {value!r}")
    return value


def parse_client_message(data: str, *, max_text_chars: int = MAX_TEXT_CHARS) -> ClientMessage:
    """Parse one text frame from the client.

    Args:
        data: The frame.
        max_text_chars: The longest ``text`` message allowed.

    Raises:
        ProtocolError: Not a JSON object, an unknown type, or bad fields.
    """
    try:
        message = json.loads(data)
    except ValueError:
        raise ProtocolError("text frames must hold one JSON object") from None
    if not isinstance(message, dict):
        raise ProtocolError("text frames must hold one JSON object")
    kind = message.get("type")
    if kind == "played":
        playing = message.get("playing", False)
        if not isinstance(playing, bool):
            raise ProtocolError(f"played.playing must be true or false, got {playing!r}")
        return Played(
            samples=_count(message, "samples"), epoch=_count(message, "epoch"), playing=playing
        )
    if kind == "text":
        text = message.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ProtocolError("text.text must be a non-empty string")
        if len(text) > max_text_chars:
            raise ProtocolError(f"text.text is longer than {max_text_chars} characters")
        return Text(text=text)
    if kind == "interrupt":
        return Interrupt()
    if kind == "end":
        return End()
    raise ProtocolError(f"unknown message type {kind!r}")


def dumps(message: dict[str, Any]) -> str:
    """One server message as a compact JSON text frame."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)
