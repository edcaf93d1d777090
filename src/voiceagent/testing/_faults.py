"""Fault injection settings of the emulator: what goes wrong, and when.

A :class:`Faults` object is shared by every connection of an :class:`Emulator` and read
live, so a test can change it at any moment. Faults that happen *at an event* are small
action objects with a common trigger (:class:`Disconnect`, :class:`Warn`): "the 3rd
``response.audio.delta``", "the first ``response.create``" — on the server's or the
client's side, whichever sends events of that type.
"""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["Disconnect", "Faults", "ServerWarning", "TranscriptionFailure", "Warn"]


def _positive(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{attribute.name} must be a positive integer, got {value!r}")


def _connections(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _positive(_, attribute, value)


def _close_code(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    # 1005 and 1015 may not be sent in a close frame; 1006 means "no close frame at all".
    valid = (
        isinstance(value, int)
        and not isinstance(value, bool)
        and (
            value in (1000, 1001, 1002, 1003, 1006)
            or 1007 <= value <= 1014
            or 3000 <= value <= 4999
        )
    )
    if not valid:
        raise ValueError(
            f"{attribute.name} must be a WebSocket close code (1000-1003, 1006 for an abrupt "
            f"drop, 1007-1014, 3000-4999), got {value!r}"
        )


@attrs.define(kw_only=True)
class _AtEvent:
    """When an event-triggered fault fires (shared by :class:`Disconnect` and :class:`Warn`)."""

    at: str
    """The event type that triggers it: a server event (fires right after the emulator sent
    it) or a client event (fires when it arrives, before the emulator acts on it)."""
    count: int = attrs.field(default=1, validator=_positive)
    """Fire on the ``count``-th event of that type on a connection (1 = the first)."""
    connections: int | None = attrs.field(default=1, validator=_connections)
    """How many connections it fires on, in all (None: every connection). The default,
    one, breaks the first connection and lets a reconnecting client's next one be."""
    fired: int = attrs.field(default=0, init=False)
    """How many times it fired so far."""

    def exhausted(self) -> bool:
        """Whether it has fired on as many connections as it may."""
        return self.connections is not None and self.fired >= self.connections


@attrs.define(kw_only=True)
class Disconnect(_AtEvent):
    """Close the connection at an event, with a given WebSocket close code.

    ``Disconnect(at="response.audio.delta", count=3)`` drops the connection abruptly right
    after the third audio delta of a response went out; ``Disconnect(at="response.created",
    code=1011, reason="internal error")`` closes it with a close frame.
    """

    code: int = attrs.field(default=1006, validator=_close_code)
    """The close code. 1006 (the default) is an abrupt drop: the TCP connection is cut
    with no close frame, as when the network fails. Any other code is sent in a close frame
    (1001 going away, 1011 internal error, 1000 normal...)."""
    reason: str = ""
    """The close frame's reason text (at most 123 bytes of UTF-8); ignored for 1006."""

    def __attrs_post_init__(self) -> None:
        if len(self.reason.encode()) > 123:
            raise ValueError("reason must be at most 123 bytes of UTF-8 (a close frame's limit)")


@attrs.frozen(kw_only=True)
class ServerWarning:
    """A ``warning`` server event's details (informational; the session goes on).

    Attributes:
        message: The warning's text.
        code: Its machine-readable code.
        param: The parameter it concerns, if any.
    """

    message: str = "The request was accepted with a warning."
    code: str | None = "warning"
    param: str | None = None

    def event(self) -> dict[str, Any]:
        """The ``warning`` event (without its ``event_id``)."""
        return {
            "type": "warning",
            "warning": {"message": self.message, "code": self.code, "param": self.param},
        }


@attrs.define(kw_only=True)
class Warn(_AtEvent):
    """Send a ``warning`` server event at an event (``connections`` defaults to all)."""

    warning: ServerWarning = attrs.Factory(ServerWarning)
    """What the warning says."""
    connections: int | None = attrs.field(default=None, validator=_connections)


@attrs.frozen(kw_only=True)
class TranscriptionFailure:
    """Makes the transcription of a user audio turn fail:
    ``conversation.item.input_audio_transcription.failed`` instead of ``.delta``/
    ``.completed``; the turn itself goes on (its transcript stays null).

    Attributes:
        message: The error message.
        code: The error code.
        type: The error type.
    """

    message: str = "The audio could not be transcribed."
    code: str | None = "audio_unintelligible"
    type: str = "transcription_error"

    def error(self) -> dict[str, Any]:
        """The event's ``error`` object."""
        return {"type": self.type, "code": self.code, "message": self.message, "param": None}


def _session_max(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or not value > 0
    ):
        raise ValueError(f"{attribute.name} must be a positive number of seconds or None")


@attrs.define(kw_only=True)
class Faults:
    """Faults the emulator injects, read live: change them at any time from a test.

    Attributes:
        drop_after_events: Drop the connection (abruptly, no close frame) right after
            this many client events were received on it.
        drop_on_event: Drop the connection when a client event of this type arrives.
        response_delay: Seconds each response waits after ``response.created`` before its
            first output (a slow model).
        stall_audio_at_ms: Audio offset (ms into an item's audio) at which the audio stream
            of every response stalls once, for ``stall_seconds``.
        stall_seconds: How long a stall lasts.
        disconnects: Close connections at given events with given close codes
            (:class:`Disconnect`).
        warnings: Send ``warning`` events at given events (:class:`Warn`).
        transcription_failure: While set, the transcription of every user audio turn
            fails with it (when transcription is on).
        refuse_connections: Refuse this many of the next connection attempts at the HTTP
            upgrade (counted down as they come), with ``refuse_status``.
        refuse_status: The HTTP status of a refused attempt: 503 (service unavailable,
            the default), 429 (too many requests, with ``Retry-After``), 500, 502...
        session_max_s: The session's maximum duration, in *emulated* seconds: the
            session lasts ``session_max_s / speed`` seconds of wall time (``session_max_s``
            with ``speed=None``). ``session.created.expires_at`` says when (whole Unix
            seconds, rounded down: the session never ends before it), and then the
            emulator sends an ``error`` (``session_expired``) and closes the socket with
            1001, as the service does. None (the default): the session never expires
            (``expires_at`` still says 30 minutes). Read when a connection opens.
    """

    drop_after_events: int | None = None
    drop_on_event: str | None = None
    response_delay: float = 0.0
    stall_audio_at_ms: float | None = None
    stall_seconds: float = 0.0
    disconnects: list[Disconnect] = attrs.Factory(list)
    warnings: list[Warn] = attrs.Factory(list)
    transcription_failure: TranscriptionFailure | None = None
    refuse_connections: int = 0
    refuse_status: int = 503
    session_max_s: float | None = attrs.field(default=None, validator=_session_max)
