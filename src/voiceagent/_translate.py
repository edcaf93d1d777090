"""From the service's wire events to turn-machine inputs and voiceagent events.

One table maps each server event type to a translation; events without an entry pass
through to handlers untouched and feed nothing to the machine.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import _turns as t
from ._history import History, Message
from .events import (
    AgentTranscript,
    AgentTranscriptDelta,
    AvatarAnimation,
    ServiceErrorReported,
    UserSpeechStarted,
    UserSpeechStopped,
    UserTranscript,
    UserTranscriptDelta,
)

if TYPE_CHECKING:
    from .audio import AudioFormat

__all__ = ["Translator"]

Inputs = list[t.Input]
Events = list[object]
_Translation = Callable[["Translator", Any, float], tuple[Inputs, Events]]
_NOTHING: tuple[Inputs, Events] = ([], [])


class Translator:
    """Translates one session's server events.

    Args:
        output_format: The wire format of the agent's audio (for delta durations).
        history: The session's history (slots are reserved as items are created).
        cancel_on_interrupt: Looks up a tool's ``cancel_on_interrupt`` policy by name.
    """

    def __init__(
        self,
        output_format: AudioFormat,
        history: History,
        cancel_on_interrupt: Callable[[str], bool],
    ) -> None:
        self._bytes_per_ms = output_format.bytes_per_ms
        self._history = history
        self._cancel_on_interrupt = cancel_on_interrupt

    def translate(
        self, event: Any, *, played_ms: float, kind: str | None = None
    ) -> tuple[Inputs, Events]:
        """The machine inputs and voiceagent events for one server event (of type ``kind``
        when the caller has read it already)."""
        handler = _TABLE.get(kind if kind is not None else event.get("type"))
        if handler is None:
            return _NOTHING
        return handler(self, event, played_ms)

    # -- per event type ----------------------------------------------------------------

    def _speech_started(self, event: Any, played_ms: float) -> tuple[Inputs, Events]:
        return (
            [
                t.SpeechStarted(
                    item_id=event.item_id, audio_start_ms=event.audio_start_ms, played_ms=played_ms
                )
            ],
            [UserSpeechStarted(item_id=event.item_id, audio_start_ms=event.audio_start_ms)],
        )

    def _speech_stopped(self, event: Any, played_ms: float) -> tuple[Inputs, Events]:
        return (
            [
                t.SpeechStopped(
                    item_id=event.item_id, audio_end_ms=event.audio_end_ms, played_ms=played_ms
                )
            ],
            [UserSpeechStopped(item_id=event.item_id, audio_end_ms=event.audio_end_ms)],
        )

    def _committed(self, event: Any, played_ms: float) -> tuple[Inputs, Events]:
        self._history.reserve(event.item_id)
        return [t.InputCommitted(item_id=event.item_id)], []

    def _item_created(self, event: Any, played_ms: float) -> tuple[Inputs, Events]:
        item = event.item
        if item is not None and item.id:
            self._history.reserve(item.id)
        return _NOTHING

    def _user_transcript_delta(self, event: Any, played_ms: float) -> tuple[Inputs, Events]:
        return [], [UserTranscriptDelta(item_id=event.item_id, delta=event.delta or "")]

    def _user_transcript(self, event: Any, played_ms: float) -> tuple[Inputs, Events]:
        return [], [UserTranscript(item_id=event.item_id, text=event.transcript or "")]

    def _response_created(self, event: Any, played_ms: float) -> tuple[Inputs, Events]:
        return [t.ResponseCreated(response_id=event.response.id)], []

    def _output_item_added(self, event: Any, played_ms: float) -> tuple[Inputs, Events]:
        item = event.item
        if item is None:
            return _NOTHING
        kind = item.type
        self._history.reserve(item.id)
        return (
            [
                t.OutputItemAdded(
                    response_id=event.response_id,
                    item_id=item.id,
                    kind=kind,
                    call_id=getattr(item, "call_id", None) if kind == "function_call" else None,
                    name=getattr(item, "name", None) if kind == "function_call" else None,
                )
            ],
            [],
        )

    def _audio_delta(self, event: Any, played_ms: float) -> tuple[Inputs, Events]:
        # The hottest event: its raw fields, read once (an SDK attribute read decodes the
        # field each time: base64 for ``delta``), cost a fifth of the attribute reads.
        data = base64.b64decode(event["delta"])
        return (
            [
                t.AudioDelta(
                    response_id=event["response_id"],
                    item_id=event["item_id"],
                    content_index=event.get("content_index", 0),
                    data=data,
                    duration_ms=len(data) / self._bytes_per_ms,
                )
            ],
            [],
        )

    def _audio_done(self, event: Any, played_ms: float) -> tuple[Inputs, Events]:
        return [t.AudioDone(response_id=event.response_id, item_id=event.item_id)], []

    def _transcript_delta(self, event: Any, played_ms: float) -> tuple[Inputs, Events]:
        delta = event.delta or ""
        return (
            [t.TranscriptDelta(item_id=event.item_id, text=delta, response_id=event.response_id)],
            [
                AgentTranscriptDelta(
                    item_id=event.item_id, response_id=event.response_id, delta=delta
                )
            ],
        )

    def _transcript_done(self, event: Any, played_ms: float) -> tuple[Inputs, Events]:
        text = getattr(event, "transcript", None)
        if text is None:
            text = getattr(event, "text", "")
        return (
            [
                t.TranscriptDone(
                    item_id=event.item_id, text=text or "", response_id=event.response_id
                )
            ],
            [],
        )

    def _word_timestamp(self, event: Any, played_ms: float) -> tuple[Inputs, Events]:
        return (
            [
                t.WordTimestamp(
                    item_id=event.item_id,
                    text=event.text,
                    start_ms=event.audio_offset_ms,
                    duration_ms=event.audio_duration_ms,
                    response_id=event.response_id,
                )
            ],
            [],
        )

    def _call_done(self, event: Any, played_ms: float) -> tuple[Inputs, Events]:
        return (
            [
                t.FunctionCallDone(
                    response_id=event.response_id,
                    item_id=event.item_id,
                    call_id=event.call_id,
                    name=event.name,
                    arguments=event.arguments,
                    cancel_on_interrupt=self._cancel_on_interrupt(event.name),
                )
            ],
            [],
        )

    def _response_done(self, event: Any, played_ms: float) -> tuple[Inputs, Events]:
        response = event.response
        status = response.status
        status = status.value if isinstance(status, enum.Enum) else str(status)
        return [t.ResponseDone(response_id=response.id, status=status)], []

    def _error(self, event: Any, played_ms: float) -> tuple[Inputs, Events]:
        error = event.error
        return (
            [],
            [
                ServiceErrorReported(
                    code=getattr(error, "code", None),
                    message=str(getattr(error, "message", "")),
                    error_type=getattr(error, "type", None),
                    param=getattr(error, "param", None),
                    event_id=getattr(error, "event_id", None),
                )
            ],
        )

    def _viseme(self, event: Any, played_ms: float) -> tuple[Inputs, Events]:
        return (
            [],
            [
                AvatarAnimation(
                    kind="viseme",
                    item_id=event.item_id,
                    audio_offset_ms=event.audio_offset_ms,
                    viseme_id=event.viseme_id,
                )
            ],
        )

    def _blendshapes(self, event: Any, played_ms: float) -> tuple[Inputs, Events]:
        return [], [AvatarAnimation(kind="blendshapes", item_id=event.item_id, frames=event.frames)]

    # -- from actions ----------------------------------------------------------------------

    def agent_transcript(self, action: t.AgentTranscriptFinal) -> AgentTranscript:
        """The voiceagent event for a final agent transcript."""
        return AgentTranscript(
            item_id=action.item_id, text=action.text, interrupted=action.interrupted
        )

    def record(self, event: object) -> None:
        """Record transcripts in the history."""
        if isinstance(event, UserTranscript):
            self._history.set(
                event.item_id, Message(role="user", text=event.text, item_id=event.item_id)
            )
        elif isinstance(event, AgentTranscript):
            self._history.set(
                event.item_id,
                Message(
                    role="assistant",
                    text=event.text,
                    item_id=event.item_id,
                    interrupted=event.interrupted,
                ),
            )


_TABLE: dict[str, _Translation] = {
    "input_audio_buffer.speech_started": Translator._speech_started,
    "input_audio_buffer.speech_stopped": Translator._speech_stopped,
    "input_audio_buffer.committed": Translator._committed,
    "conversation.item.created": Translator._item_created,
    "conversation.item.input_audio_transcription.delta": Translator._user_transcript_delta,
    "conversation.item.input_audio_transcription.completed": Translator._user_transcript,
    "response.created": Translator._response_created,
    "response.output_item.added": Translator._output_item_added,
    "response.audio.delta": Translator._audio_delta,
    "response.audio.done": Translator._audio_done,
    "response.audio_transcript.delta": Translator._transcript_delta,
    "response.text.delta": Translator._transcript_delta,
    "response.audio_transcript.done": Translator._transcript_done,
    "response.text.done": Translator._transcript_done,
    "response.audio_timestamp.delta": Translator._word_timestamp,
    "response.function_call_arguments.done": Translator._call_done,
    "response.done": Translator._response_done,
    "error": Translator._error,
    "response.animation_viseme.delta": Translator._viseme,
    "response.animation_blendshapes.delta": Translator._blendshapes,
}
