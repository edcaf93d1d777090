"""The conversation's history as the session saw it, in conversation order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import attrs

if TYPE_CHECKING:
    from .events import EndReason

__all__ = ["History", "HistoryEntry", "Message", "SessionResult", "ToolCallRecord"]


@attrs.frozen(kw_only=True)
class Message:
    """A message in the conversation.

    Attributes:
        role: ``"user"``, ``"assistant"`` or ``"system"``.
        text: Its text (for audio, the transcript; for an interrupted assistant item, what
            the user heard when word timings were available).
        item_id: The conversation item's id, when known.
        interrupted: True for an assistant item the user interrupted.
    """

    role: Literal["user", "assistant", "system"]
    text: str
    item_id: str | None = None
    interrupted: bool = False


@attrs.frozen(kw_only=True)
class ToolCallRecord:
    """A tool call and the output the model got.

    Attributes:
        call_id: The function call's id.
        name: The tool's name.
        arguments: The JSON arguments the model sent.
        output: The output sent to the model.
        error: The model-visible error text, or None on success.
    """

    call_id: str
    name: str
    arguments: str
    output: str
    error: str | None = None


HistoryEntry = Message | ToolCallRecord


class History:
    """Entries keyed by conversation item, kept in conversation order.

    An entry's slot is reserved when its item is created (a user's audio turn becomes an
    item before its transcript is ready), so late transcripts land in the right place.
    """

    def __init__(self) -> None:
        self._order: list[str] = []
        self._entries: dict[str, HistoryEntry] = {}
        self._anonymous = 0

    def reserve(self, key: str) -> None:
        """Reserve a slot for item ``key`` at the end (no-op when it exists)."""
        if key not in self._entries and key not in self._order:
            self._order.append(key)

    def set(self, key: str | None, entry: HistoryEntry) -> None:
        """Set the entry of item ``key`` (appended when not reserved)."""
        if key is None:
            self._anonymous += 1
            key = f"_anon{self._anonymous}"
        if key not in self._order:
            self._order.append(key)
        self._entries[key] = entry

    def get(self, key: str) -> HistoryEntry | None:
        """The entry of item ``key``, if set."""
        return self._entries.get(key)

    def entries(self) -> tuple[HistoryEntry, ...]:
        """The entries set so far, in conversation order."""
        return tuple(self._entries[key] for key in self._order if key in self._entries)


@attrs.frozen(kw_only=True)
class SessionResult:
    """How a conversation went.

    Attributes:
        history: The conversation, in order: messages (transcripts) and tool calls.
        reason: Why it ended.
        error: The exception that ended it, for the error and connection-lost reasons.
    """

    history: tuple[HistoryEntry, ...]
    reason: EndReason
    error: BaseException | None = None

    @property
    def transcript(self) -> str:
        """The conversation as ``role: text`` lines."""
        return "\n".join(
            f"{entry.role}: {entry.text}" for entry in self.history if isinstance(entry, Message)
        )
