"""Surviving a lost connection: the policy, the backoff, and the replay that carries the
conversation over to a new connection.

When the connection drops (a network error, a close code other than the session's own
end, the service's ``session_expired``), the session connects again with bounded
exponential backoff and jitter, sends its ``session.update`` again, replays the
conversation as items (:func:`replay_events`, pure), then the user audio that the old
connection never committed, and goes on. Sessions also end on their own
(``session.expires_at``): the session opens the next connection in advance and moves
over at a quiet moment, or at the last safe one.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import attrs

from ._executor import message_item
from ._history import Message, ToolCallRecord
from .errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ._history import HistoryEntry
    from ._turn_events import StartTool

__all__ = ["ReconnectPolicy", "answer_owed", "replay_events"]


def _non_negative(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ConfigurationError(f"{attribute.name} must be a number >= 0, not {value!r}")


def _whole(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{attribute.name} must be a whole number >= 0, not {value!r}")


def _fraction(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    _non_negative(instance, attribute, value)
    if value > 1:
        raise ConfigurationError(f"{attribute.name} must be between 0 and 1, not {value!r}")


@attrs.frozen(kw_only=True)
class ReconnectPolicy:
    """How a session survives a lost connection and the service's session limit.

    ``Agent.reconnect`` (or ``reconnect=`` for one session) takes one;
    ``ReconnectPolicy.off()`` (or ``attempts=0``) ends the conversation with
    ``CONNECTION_LOST`` at the first drop, as before.

    Attributes:
        attempts: Connection attempts per outage (the first is immediate, then with
            backoff) before the session gives up with ``CONNECTION_LOST``. Also used for
            the first connection when it is refused (a refused credential is final at
            once).
        initial_backoff_s: The wait before the second attempt; it doubles each time.
        max_backoff_s: The longest wait between two attempts.
        jitter: The fraction of each wait drawn at random (0: none; 0.5, the default:
            the wait is between half and all of the backoff), so that many sessions cut off
            together do not reconnect in lockstep.
        buffer_ms: How much of the user's audio the session keeps for the next connection:
            the audio the old connection never committed, then what the user says during
            the outage. Beyond it the oldest is dropped, with a warning. It costs up to
            ``buffer_ms`` of audio in memory per session (5 s of 24 kHz pcm16: 240 kB). With
            the service's VAD, while connected and before a turn has begun (the service's
            ``speech_started``), the session keeps only the last 1.6 s or so (the VAD's
            prefix padding and shortest speech, plus 1 s for the event to arrive): older
            audio cannot belong to a turn.
        recycle_s: How long before the service's ``expires_at`` the session opens its next
            connection and looks for a quiet moment (nobody speaking, no tool running) to
            move over.
        last_safe_s: How long before ``expires_at`` the session moves over even if the
            moment is not quiet (the answer in flight fails, as on a drop).
        stable_s: How long a new connection must last before a later drop counts as a new
            outage with ``attempts`` of its own; a connection that drops sooner counts as
            one more attempt of the same outage, so a service that accepts connections and
            drops them at once cannot keep the session reconnecting forever.
    """

    attempts: int = attrs.field(default=6, validator=_whole)
    initial_backoff_s: float = attrs.field(default=0.2, validator=_non_negative)
    max_backoff_s: float = attrs.field(default=5.0, validator=_non_negative)
    jitter: float = attrs.field(default=0.5, validator=_fraction)
    buffer_ms: float = attrs.field(default=5000.0, validator=_non_negative)
    recycle_s: float = attrs.field(default=60.0, validator=_non_negative)
    last_safe_s: float = attrs.field(default=5.0, validator=_non_negative)
    stable_s: float = attrs.field(default=10.0, validator=_non_negative)

    def __attrs_post_init__(self) -> None:
        if self.last_safe_s > self.recycle_s:
            raise ConfigurationError(
                f"last_safe_s ({self.last_safe_s}) must not be more than recycle_s "
                f"({self.recycle_s}): the quiet moment is looked for first"
            )

    @classmethod
    def off(cls) -> ReconnectPolicy:
        """A policy that never reconnects: a drop ends the conversation."""
        return cls(attempts=0)

    @property
    def enabled(self) -> bool:
        """Whether the session reconnects at all."""
        return self.attempts > 0

    def backoff_s(self, attempt: int, rng: random.Random | None = None) -> float:
        """The wait before attempt number ``attempt`` (1 is the first: no wait).

        Args:
            attempt: The attempt, from 1.
            rng: The random source for the jitter (default: the module's).

        Returns:
            Seconds.
        """
        if attempt <= 1:
            return 0.0
        base: float = min(self.max_backoff_s, self.initial_backoff_s * 2 ** (attempt - 2))
        draw = (rng or random).random()
        return base * (1 - self.jitter * draw)


def _item(item: dict[str, Any], item_id: str | None) -> dict[str, Any]:
    if item_id:
        item = {"id": item_id, **item}
    return {"type": "conversation.item.create", "item": item}


def replay_events(
    history: Iterable[HistoryEntry], running: Iterable[StartTool] = ()
) -> list[dict[str, Any]]:
    """The ``conversation.item.create`` events that rebuild the conversation on a new
    connection.

    User and system messages go as text (an audio turn as its transcript), assistant
    messages as text cut to what the user heard, tool calls as their ``function_call``
    item and its ``function_call_output``; calls still running as their
    ``function_call`` item only (the output follows). Items keep their ids (the service
    keeps a client's item id), so the history does not count them twice.

    Args:
        history: The conversation so far.
        running: Calls still running (the turn machine's ``running_calls()``).

    Returns:
        The client events, in conversation order.
    """
    events: list[dict[str, Any]] = []
    for entry in history:
        if isinstance(entry, Message):
            if entry.text:
                events.append(_item(message_item(entry.role, entry.text), entry.item_id))
        elif isinstance(entry, ToolCallRecord):
            call = {
                "type": "function_call",
                "call_id": entry.call_id,
                "name": entry.name,
                "arguments": entry.arguments,
            }
            events.append(_item(call, entry.item_id))
            output = {"type": "function_call_output", "call_id": entry.call_id}
            events.append(_item({**output, "output": entry.output}, None))
    for pending in running:
        call = {
            "type": "function_call",
            "call_id": pending.call_id,
            "name": pending.name,
            "arguments": pending.arguments,
        }
        events.append(_item(call, pending.item_id))
    return events


def answer_owed(history: Iterable[HistoryEntry], *, tools_running: bool) -> bool:
    """Whether the agent owes an answer once the conversation is replayed: it ends with
    a user message or a tool's output, and no tool is still running."""
    last: HistoryEntry | None = None
    for entry in history:
        if isinstance(entry, ToolCallRecord) or (isinstance(entry, Message) and entry.text):
            last = entry
    if tools_running or last is None:
        return False
    return isinstance(last, ToolCallRecord) or last.role == "user"
