"""From the service's wire events to turn-machine inputs and voiceagent events.

:meth:`Translator.translate` is a pure function of one wire event (the JSON object as
received, before any SDK model is built) and the session's fixed configuration: it
reads raw fields through the typed readers below, calls nothing back, and returns a
:class:`Translation`. One table maps each server event type to its translation; types
without an entry translate to nothing (they still reach handlers that asked for them).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Final

import attrs

from . import _turns as t
from .events import (
    AgentTranscriptDelta,
    AvatarAnimation,
    Event,
    ServiceErrorReported,
    ServiceWarningReported,
    UserSpeechStarted,
    UserSpeechStopped,
    UserTranscript,
    UserTranscriptDelta,
    UserTranscriptFailed,
)

__all__ = [
    "NEEDS_POSITION",
    "ItemCreated",
    "Raw",
    "Translation",
    "Translator",
]

Raw = Mapping[str, object]
"""A wire event: the JSON object the service sent."""

NEEDS_POSITION: Final = frozenset(
    {"input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped"}
)
"""The event types whose inputs carry the sink's played position (read only for these)."""


@attrs.frozen(kw_only=True)
class ItemCreated:
    """A conversation item the service created, for the history's order and contents.

    Attributes:
        item_id: The item.
        previous_item_id: The item it follows, if the service said.
        kind: ``"message"``, ``"function_call"``, ``"function_call_output"``...
        role: A message's role, else None.
        text: A text message's text (user, system or assistant text content), else None
            (audio messages get their text from transcripts).
    """

    item_id: str
    previous_item_id: str | None
    kind: str
    role: str | None = None
    text: str | None = None


@attrs.frozen
class Translation:
    """What one wire event means to the session.

    Attributes:
        inputs: For the turn machine, in order.
        events: voiceagent events for the handlers, subscribers and history, in order.
        item: A conversation item that was created, for the history.
    """

    inputs: tuple[t.Input, ...] = ()
    events: tuple[Event, ...] = ()
    item: ItemCreated | None = None


NOTHING: Final = Translation()


# -- typed readers of raw fields ---------------------------------------------------------------


def _str(raw: Raw, key: str) -> str:
    value = raw.get(key)
    return value if isinstance(value, str) else ""


def _opt_str(raw: Raw, key: str) -> str | None:
    value = raw.get(key)
    return value if isinstance(value, str) else None


def _int(raw: Raw, key: str) -> int:
    value = raw.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _num(raw: Raw, key: str) -> float:
    value = raw.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return 0.0


def _map(raw: Raw, key: str) -> Raw:
    value = raw.get(key)
    return value if isinstance(value, Mapping) else {}


def _list(raw: Raw, key: str) -> list[object]:
    value = raw.get(key)
    return value if isinstance(value, list) else []


def _message_text(item: Raw) -> str | None:
    """The text of a message item made of text parts (None for audio messages)."""
    texts = []
    for part in _list(item, "content"):
        if isinstance(part, Mapping) and part.get("type") in ("input_text", "text"):
            texts.append(_str(part, "text"))
        else:
            return None
    return "".join(texts) if texts else None


@attrs.frozen(kw_only=True)
class Translator:
    """Translates one session's wire events (pure: the fields are fixed configuration).

    Attributes:
        bytes_per_ms: Bytes per millisecond of the agent's audio in its wire format.
        cancel_on_interrupt: Each tool's ``cancel_on_interrupt`` policy by name; a name
            that is not there (the model called an unknown tool) counts as True.
    """

    bytes_per_ms: float
    cancel_on_interrupt: Mapping[str, bool] = attrs.field(factory=dict)

    def translate(self, raw: Raw, played_ms: float | None = None) -> Translation:
        """What ``raw`` means.

        Args:
            raw: The wire event.
            played_ms: The sink's played position, read when the event arrived; needed
                only for the types in :data:`NEEDS_POSITION` (0 is assumed without it).

        Returns:
            The translation; :data:`NOTHING` for types without one.
        """
        handler = _TABLE.get(_str(raw, "type"))
        return NOTHING if handler is None else handler(self, raw, played_ms or 0.0)

    # -- per event type ----------------------------------------------------------------

    def _speech_started(self, raw: Raw, played_ms: float) -> Translation:
        item_id, start = _str(raw, "item_id"), _int(raw, "audio_start_ms")
        return Translation(
            (t.SpeechStarted(item_id=item_id, audio_start_ms=start, played_ms=played_ms),),
            (UserSpeechStarted(item_id=item_id, audio_start_ms=start),),
        )

    def _speech_stopped(self, raw: Raw, played_ms: float) -> Translation:
        item_id, end = _str(raw, "item_id"), _int(raw, "audio_end_ms")
        return Translation(
            (t.SpeechStopped(item_id=item_id, audio_end_ms=end, played_ms=played_ms),),
            (UserSpeechStopped(item_id=item_id, audio_end_ms=end),),
        )

    def _committed(self, raw: Raw, played_ms: float) -> Translation:
        return Translation((t.InputCommitted(_str(raw, "item_id")),))

    def _item_created(self, raw: Raw, played_ms: float) -> Translation:
        item = _map(raw, "item")
        item_id = _str(item, "id")
        if not item_id:
            return NOTHING
        kind = _str(item, "type")
        role = _opt_str(item, "role") if kind == "message" else None
        return Translation(
            item=ItemCreated(
                item_id=item_id,
                previous_item_id=_opt_str(raw, "previous_item_id"),
                kind=kind,
                role=role,
                text=_message_text(item) if kind == "message" else None,
            )
        )

    def _user_transcript_delta(self, raw: Raw, played_ms: float) -> Translation:
        return Translation(
            events=(UserTranscriptDelta(item_id=_str(raw, "item_id"), delta=_str(raw, "delta")),)
        )

    def _user_transcript(self, raw: Raw, played_ms: float) -> Translation:
        return Translation(
            events=(UserTranscript(item_id=_str(raw, "item_id"), text=_str(raw, "transcript")),)
        )

    def _user_transcript_failed(self, raw: Raw, played_ms: float) -> Translation:
        error = _map(raw, "error")
        return Translation(
            events=(
                UserTranscriptFailed(
                    item_id=_str(raw, "item_id"),
                    message=_str(error, "message"),
                    code=_opt_str(error, "code"),
                ),
            )
        )

    def _response_created(self, raw: Raw, played_ms: float) -> Translation:
        return Translation((t.ResponseCreated(_str(_map(raw, "response"), "id")),))

    def _output_item_added(self, raw: Raw, played_ms: float) -> Translation:
        item = _map(raw, "item")
        item_id = _str(item, "id")
        if not item_id:
            return NOTHING
        kind = _str(item, "type")
        call = kind == "function_call"
        return Translation(
            (
                t.OutputItemAdded(
                    response_id=_str(raw, "response_id"),
                    item_id=item_id,
                    kind=kind,
                    call_id=_str(item, "call_id") if call else None,
                    name=_opt_str(item, "name") if call else None,
                ),
            )
        )

    def _audio_delta(self, raw: Raw, played_ms: float) -> Translation:
        # The hottest event (about 50 a second): its fields are read once, here.
        delta = raw.get("delta")
        try:
            data = base64.b64decode(delta) if isinstance(delta, str) else b""
        except (binascii.Error, ValueError):
            data = b""
        return Translation(
            (
                t.AudioDelta(
                    response_id=_str(raw, "response_id"),
                    item_id=_str(raw, "item_id"),
                    content_index=_int(raw, "content_index"),
                    data=data,
                    duration_ms=len(data) / self.bytes_per_ms,
                ),
            )
        )

    def _audio_done(self, raw: Raw, played_ms: float) -> Translation:
        return Translation(
            (t.AudioDone(response_id=_str(raw, "response_id"), item_id=_str(raw, "item_id")),)
        )

    def _transcript_delta(self, raw: Raw, played_ms: float) -> Translation:
        item_id, response_id, delta = (
            _str(raw, "item_id"),
            _str(raw, "response_id"),
            _str(raw, "delta"),
        )
        text_only = raw.get("type") == "response.text.delta"
        return Translation(
            (
                t.TranscriptDelta(
                    item_id=item_id, text=delta, response_id=response_id, text_only=text_only
                ),
            ),
            (AgentTranscriptDelta(item_id=item_id, response_id=response_id, delta=delta),),
        )

    def _transcript_done(self, raw: Raw, played_ms: float) -> Translation:
        key = "text" if raw.get("type") == "response.text.done" else "transcript"
        return Translation(
            (
                t.TranscriptDone(
                    item_id=_str(raw, "item_id"),
                    text=_str(raw, key),
                    response_id=_str(raw, "response_id"),
                ),
            )
        )

    def _word_timestamp(self, raw: Raw, played_ms: float) -> Translation:
        if raw.get("timestamp_type", "word") != "word":
            return NOTHING
        return Translation(
            (
                t.WordTimestamp(
                    item_id=_str(raw, "item_id"),
                    text=_str(raw, "text"),
                    start_ms=_num(raw, "audio_offset_ms"),
                    duration_ms=_num(raw, "audio_duration_ms"),
                    response_id=_str(raw, "response_id"),
                ),
            )
        )

    def _call_done(self, raw: Raw, played_ms: float) -> Translation:
        name = _str(raw, "name")
        return Translation(
            (
                t.FunctionCallDone(
                    response_id=_str(raw, "response_id"),
                    item_id=_str(raw, "item_id"),
                    call_id=_str(raw, "call_id"),
                    name=name,
                    arguments=_str(raw, "arguments"),
                    cancel_on_interrupt=self.cancel_on_interrupt.get(name, True),
                ),
            )
        )

    def _response_done(self, raw: Raw, played_ms: float) -> Translation:
        response = _map(raw, "response")
        return Translation(
            (t.ResponseDone(response_id=_str(response, "id"), status=_str(response, "status")),)
        )

    def _error(self, raw: Raw, played_ms: float) -> Translation:
        error = _map(raw, "error")
        return Translation(
            events=(
                ServiceErrorReported(
                    code=_opt_str(error, "code"),
                    message=_str(error, "message"),
                    error_type=_opt_str(error, "type"),
                    param=_opt_str(error, "param"),
                    event_id=_opt_str(error, "event_id"),
                ),
            )
        )

    def _warning(self, raw: Raw, played_ms: float) -> Translation:
        warning = _map(raw, "warning")
        return Translation(
            events=(
                ServiceWarningReported(
                    code=_opt_str(warning, "code"),
                    message=_str(warning, "message"),
                    param=_opt_str(warning, "param"),
                ),
            )
        )

    def _viseme(self, raw: Raw, played_ms: float) -> Translation:
        return Translation(
            events=(
                AvatarAnimation(
                    kind="viseme",
                    item_id=_str(raw, "item_id"),
                    audio_offset_ms=_int(raw, "audio_offset_ms"),
                    viseme_id=_int(raw, "viseme_id"),
                ),
            )
        )

    def _blendshapes(self, raw: Raw, played_ms: float) -> Translation:
        return Translation(
            events=(
                AvatarAnimation(
                    kind="blendshapes", item_id=_str(raw, "item_id"), frames=_list(raw, "frames")
                ),
            )
        )


_TABLE: Final[dict[str, Callable[[Translator, Raw, float], Translation]]] = {
    "input_audio_buffer.speech_started": Translator._speech_started,
    "input_audio_buffer.speech_stopped": Translator._speech_stopped,
    "input_audio_buffer.committed": Translator._committed,
    "conversation.item.created": Translator._item_created,
    "conversation.item.input_audio_transcription.delta": Translator._user_transcript_delta,
    "conversation.item.input_audio_transcription.completed": Translator._user_transcript,
    "conversation.item.input_audio_transcription.failed": Translator._user_transcript_failed,
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
    "warning": Translator._warning,
    "response.animation_viseme.delta": Translator._viseme,
    "response.animation_blendshapes.delta": Translator._blendshapes,
}
