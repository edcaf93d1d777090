"""Shared vocabulary of the emulator: ids, error events and the invalid-request exception."""

from __future__ import annotations

import secrets
import string
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "SERVER_EVENT_CLASSES",
    "ProtocolError",
    "ServerEvent",
    "describe",
    "error_event",
    "new_id",
    "unknown_event_type",
]

ServerEvent = dict[str, Any]
"""A server event as it goes on the wire: a JSON object with a ``type``."""

_BASE62 = string.digits + string.ascii_letters


def new_id(prefix: str, length: int = 22) -> str:
    """A fresh id in the service's style: ``prefix`` + ``_`` + base62 characters.

    Examples are ``event_7VOMH1ALSp5A0Fa17nSZKM`` and ``sess_6Zxvf6tkDngFpn3CwcvbTE``.
    """
    return prefix + "_" + "".join(secrets.choice(_BASE62) for _ in range(length))


class ProtocolError(Exception):
    """A client request the service rejects with an ``error`` event.

    Raising it from an event handler sends ``{"type": "error", "error": {...}}``
    to the client and leaves the socket open, as the service does.

    Args:
        message: Human-readable description, as the service would word it.
        code: Machine-readable error code, for example ``"invalid_value"``.
        param: The offending parameter as a dotted path (``"session.turn_detection.threshold"``),
            or None.
        type: The error type: ``"invalid_request_error"`` or ``"server_error"``.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        param: str | None = None,
        type: Literal["invalid_request_error", "server_error"] = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.type = type

    def to_event(self, client_event_id: str | None = None) -> ServerEvent:
        """The ``error`` server event for this error (without its ``event_id``)."""
        return error_event(
            self.message,
            code=self.code,
            param=self.param,
            type=self.type,
            client_event_id=client_event_id,
        )


def error_event(
    message: str,
    *,
    code: str | None,
    param: str | None = None,
    type: str = "invalid_request_error",
    client_event_id: str | None = None,
) -> ServerEvent:
    """Build an ``error`` server event in the service's shape (protocol reference §5.1)."""
    return {
        "type": "error",
        "error": {
            "type": type,
            "code": code,
            "message": message,
            "param": param,
            "event_id": client_event_id,
        },
    }


SERVER_EVENT_CLASSES: dict[str, str] = {
    "session.created": "ServerEventSessionCreated",
    "session.updated": "ServerEventSessionUpdated",
    "session.avatar.connecting": "ServerEventSessionAvatarConnecting",
    "session.avatar.switch_to_speaking": "ServerEventSessionAvatarSwitchToSpeaking",
    "session.avatar.switch_to_idle": "ServerEventSessionAvatarSwitchToIdle",
    "error": "ServerEventError",
    "warning": "ServerEventWarning",
    "input_audio_buffer.speech_started": "ServerEventInputAudioBufferSpeechStarted",
    "input_audio_buffer.speech_stopped": "ServerEventInputAudioBufferSpeechStopped",
    "input_audio_buffer.committed": "ServerEventInputAudioBufferCommitted",
    "input_audio_buffer.cleared": "ServerEventInputAudioBufferCleared",
    "conversation.item.created": "ServerEventConversationItemCreated",
    "conversation.item.retrieved": "ServerEventConversationItemRetrieved",
    "conversation.item.truncated": "ServerEventConversationItemTruncated",
    "conversation.item.deleted": "ServerEventConversationItemDeleted",
    "conversation.item.input_audio_transcription.delta": (
        "ServerEventConversationItemInputAudioTranscriptionDelta"
    ),
    "conversation.item.input_audio_transcription.completed": (
        "ServerEventConversationItemInputAudioTranscriptionCompleted"
    ),
    "conversation.item.input_audio_transcription.failed": (
        "ServerEventConversationItemInputAudioTranscriptionFailed"
    ),
    "response.created": "ServerEventResponseCreated",
    "response.done": "ServerEventResponseDone",
    "response.output_item.added": "ServerEventResponseOutputItemAdded",
    "response.output_item.done": "ServerEventResponseOutputItemDone",
    "response.content_part.added": "ServerEventResponseContentPartAdded",
    "response.content_part.done": "ServerEventResponseContentPartDone",
    "response.text.delta": "ServerEventResponseTextDelta",
    "response.text.done": "ServerEventResponseTextDone",
    "response.audio_transcript.delta": "ServerEventResponseAudioTranscriptDelta",
    "response.audio_transcript.done": "ServerEventResponseAudioTranscriptDone",
    "response.audio.delta": "ServerEventResponseAudioDelta",
    "response.audio.done": "ServerEventResponseAudioDone",
    "response.audio_timestamp.delta": "ServerEventResponseAudioTimestampDelta",
    "response.audio_timestamp.done": "ServerEventResponseAudioTimestampDone",
    "response.animation_viseme.delta": "ServerEventResponseAnimationVisemeDelta",
    "response.animation_viseme.done": "ServerEventResponseAnimationVisemeDone",
    "response.animation_blendshapes.delta": "ServerEventResponseAnimationBlendshapeDelta",
    "response.animation_blendshapes.done": "ServerEventResponseAnimationBlendshapeDone",
    "response.function_call_arguments.delta": "ServerEventResponseFunctionCallArgumentsDelta",
    "response.function_call_arguments.done": "ServerEventResponseFunctionCallArgumentsDone",
    "output_audio_buffer.cleared": "ServerEventOutputAudioBufferCleared",
    "mcp_list_tools.in_progress": "ServerEventMcpListToolsInProgress",
    "mcp_list_tools.completed": "ServerEventMcpListToolsCompleted",
    "mcp_list_tools.failed": "ServerEventMcpListToolsFailed",
    "response.mcp_call_arguments.delta": "ServerEventResponseMcpCallArgumentsDelta",
    "response.mcp_call_arguments.done": "ServerEventResponseMcpCallArgumentsDone",
    "response.mcp_call.in_progress": "ServerEventResponseMcpCallInProgress",
    "response.mcp_call.completed": "ServerEventResponseMcpCallCompleted",
    "response.mcp_call.failed": "ServerEventResponseMcpCallFailed",
}
"""Every server event type the emulator emits, with the SDK model class it must parse to."""


def unknown_event_type(kind: Any) -> ProtocolError:
    if kind is None:
        return ProtocolError(
            "Missing required parameter: 'type'.", code="missing_required_parameter", param="type"
        )
    return ProtocolError(
        f"Invalid value: '{kind}'. Supported values are: 'session.update', "
        "'input_audio_buffer.append', 'input_audio_buffer.commit', 'input_audio_buffer.clear', "
        "'conversation.item.create', 'conversation.item.retrieve', "
        "'conversation.item.truncate', 'conversation.item.delete', 'response.create', "
        "'response.cancel', 'output_audio_buffer.clear', 'session.avatar.connect', "
        "'input_text.delta', 'input_text.done', 'input_audio.turn.start', "
        "'input_audio.turn.append', 'input_audio.turn.end', 'input_audio.turn.cancel', "
        "'input_audio.clear' and 'mcp_approval_response'.",
        code="invalid_value",
        param="type",
    )


def describe(event: Mapping[str, Any]) -> str:
    kind = event.get("type")
    details = []
    for key in ("item_id", "response_id", "audio_start_ms", "audio_end_ms", "delta", "audio"):
        if key in event and not isinstance(event[key], dict | list):
            value = event[key]
            if isinstance(value, str) and len(value) > 40:
                value = value[:37] + "..."
            details.append(f"{key}={value}")
    if kind == "error":
        details.append(f"code={event['error'].get('code')} message={event['error'].get('message')}")
    return f"{kind} {' '.join(details)}".rstrip()
