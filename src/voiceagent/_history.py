"""The conversation's history as the session saw it, in conversation order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import attrs

from ._translate import ItemCreated
from .events import AgentTranscript, UserTranscript

if TYPE_CHECKING:
    from ._report import ConversationReport
    from ._timeline import Recording
    from .events import EndReason

__all__ = [
    "ROLES",
    "History",
    "HistoryEntry",
    "HistoryFact",
    "Message",
    "SessionResult",
    "ToolCallRecord",
]

ROLES: dict[str, Literal["user", "assistant", "system"]] = {
    "user": "user",
    "assistant": "assistant",
    "system": "system",
}


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
        item_id: The function call's conversation item.
    """

    call_id: str
    name: str
    arguments: str
    output: str
    error: str | None = None
    item_id: str | None = None


HistoryEntry = Message | ToolCallRecord
HistoryFact = ItemCreated | UserTranscript | AgentTranscript | ToolCallRecord
"""What :meth:`History.apply` records."""


class History:
    """The conversation's entries, in the service's conversation order.

    Written in one place, :meth:`apply`, from what the session learns: the service's
    ``conversation.item.created`` events give every item its place (after the item the
    service says it follows), and text messages their text; transcripts and tool outputs
    fill their item's place when they arrive. A user's audio turn is an item before its
    transcript is ready, so a late transcript still lands in the right place.
    """

    def __init__(self) -> None:
        self._order: list[str] = []
        self._entries: dict[str, HistoryEntry] = {}

    def apply(self, fact: HistoryFact) -> None:
        """Record one fact: an item created, a transcript, or a tool call's output."""
        if isinstance(fact, ItemCreated):
            self._place(fact.item_id, fact.previous_item_id)
            # An item replayed on a new connection keeps its id and its entry.
            if fact.text is not None and fact.role in ROLES and fact.item_id not in self._entries:
                self._entries[fact.item_id] = Message(
                    role=ROLES[fact.role], text=fact.text, item_id=fact.item_id
                )
        elif isinstance(fact, UserTranscript):
            self._set(fact.item_id, Message(role="user", text=fact.text, item_id=fact.item_id))
        elif isinstance(fact, AgentTranscript):
            self._set(
                fact.item_id,
                Message(
                    role="assistant",
                    text=fact.text,
                    item_id=fact.item_id,
                    interrupted=fact.interrupted,
                ),
            )
        elif fact.item_id:
            self._set(fact.item_id, fact)

    def entries(self) -> tuple[HistoryEntry, ...]:
        """The entries known so far, in conversation order."""
        return tuple(self._entries[key] for key in self._order if key in self._entries)

    def _place(self, key: str, previous: str | None) -> None:
        if key in self._entries or key in self._order:
            return
        if previous is not None and previous in self._order:
            self._order.insert(self._order.index(previous) + 1, key)
        else:
            self._order.append(key)

    def _set(self, key: str, entry: HistoryEntry) -> None:
        if key not in self._order:
            self._order.append(key)
        self._entries[key] = entry


@attrs.frozen(kw_only=True)
class SessionResult:
    """How a conversation went.

    Attributes:
        history: The conversation, in order: messages (transcripts) and tool calls.
        reason: Why it ended.
        error: The exception that ended it, for the error and connection-lost reasons.
        recording: What the session recorded for :meth:`report` (None when its telemetry
            had ``report=False``).
    """

    history: tuple[HistoryEntry, ...]
    reason: EndReason
    error: BaseException | None = None
    recording: Recording | None = attrs.field(default=None, repr=False, eq=False)

    def report(self, *, content: bool = True) -> ConversationReport:
        """The conversation's report: its turns on a timeline, with latencies, tool calls,
        interruptions, reconnections and token usage
        (:class:`~voiceagent.telemetry.ConversationReport`; ``.write("report.html")``).

        Args:
            content: Include what was said (transcripts, tool arguments and outputs).

        Raises:
            ConfigurationError: The session kept no report (``Telemetry(report=False)``).
        """
        from ._report import build_report

        return build_report(self, content=content)

    @property
    def transcript(self) -> str:
        """The conversation as ``role: text`` lines."""
        return "\n".join(
            f"{entry.role}: {entry.text}" for entry in self.history if isinstance(entry, Message)
        )
