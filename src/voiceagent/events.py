"""voiceagent's own high-level events.

The session turns the service's wire events into these and hands them to the router
(``@agent.on(UserTranscript)``) and to ``session.events()``. They are frozen attrs
classes; SDK server events are passed through to handlers untouched as well.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from ._turns import TurnState

__all__ = [
    "AgentTranscript",
    "AgentTranscriptDelta",
    "AvatarAnimation",
    "EndReason",
    "Event",
    "EventsDropped",
    "Interrupted",
    "McpApprovalDecided",
    "McpApprovalRequested",
    "McpCallCompleted",
    "McpCallFailed",
    "McpCallStarted",
    "McpToolsListFailed",
    "McpToolsListed",
    "Reconnected",
    "Reconnecting",
    "ServiceErrorReported",
    "ServiceWarningReported",
    "SessionEnded",
    "SessionStarted",
    "ToolCallFinished",
    "ToolCallStarted",
    "TurnChanged",
    "TurnMetrics",
    "UserSpeechStarted",
    "UserSpeechStopped",
    "UserTranscript",
    "UserTranscriptDelta",
    "UserTranscriptFailed",
]


class EndReason(enum.Enum):
    """Why a session ended."""

    INPUT_FINISHED = "input_finished"
    """The audio source was exhausted and the agent finished its last answer."""
    ENDED = "ended"
    """``session.end()`` was called (by the application, a tool or a handler)."""
    CANCELLED = "cancelled"
    """The task running the session was cancelled (for example by Ctrl-C)."""
    CONNECTION_LOST = "connection_lost"
    """The connection to the service dropped."""
    ERROR = "error"
    """An error ended the session (a fatal service error or a fatal handler error)."""


@attrs.frozen(kw_only=True)
class Event:
    """Base class of voiceagent's own events."""


@attrs.frozen(kw_only=True)
class SessionStarted(Event):
    """The connection is open and the session is configured.

    Attributes:
        session_id: The service's session id.
        model: The model the session runs on.
        session: The session configuration the service reported (``session.updated``),
            as the SDK's model object.
    """

    session_id: str
    model: str | None
    session: Any = attrs.field(repr=False, default=None)


@attrs.frozen(kw_only=True)
class SessionEnded(Event):
    """The session ended; no further events follow.

    Attributes:
        reason: Why it ended.
        error: The exception that ended it, for the error and connection-lost reasons.
    """

    reason: EndReason
    error: BaseException | None = None


@attrs.frozen(kw_only=True)
class UserSpeechStarted(Event):
    """The service heard the user start speaking.

    Attributes:
        item_id: The user item the speech will become.
        audio_start_ms: Where the speech starts, in ms of input audio since the session start.
    """

    item_id: str
    audio_start_ms: int


@attrs.frozen(kw_only=True)
class UserSpeechStopped(Event):
    """The service heard the user stop speaking.

    Attributes:
        item_id: The user item the speech becomes.
        audio_end_ms: Where the speech ends, in ms of input audio since the session start.
    """

    item_id: str
    audio_end_ms: int


@attrs.frozen(kw_only=True)
class UserTranscriptDelta(Event):
    """A partial transcription of the user's speech.

    Attributes:
        item_id: The user item being transcribed.
        delta: The new text.
    """

    item_id: str
    delta: str


@attrs.frozen(kw_only=True)
class UserTranscript(Event):
    """The final transcription of one user turn.

    Attributes:
        item_id: The user item.
        text: The full transcript.
    """

    item_id: str
    text: str


@attrs.frozen(kw_only=True)
class UserTranscriptFailed(Event):
    """The service could not transcribe one user turn (the turn itself still counts).

    Attributes:
        item_id: The user item.
        message: The service's explanation.
        code: The error code, if any.
    """

    item_id: str
    message: str
    code: str | None = None


@attrs.frozen(kw_only=True)
class AgentTranscriptDelta(Event):
    """A piece of the agent's answer as it is generated (audio transcript or text).

    Attributes:
        item_id: The assistant item.
        response_id: The response producing it.
        delta: The new text.
    """

    item_id: str
    response_id: str
    delta: str


@attrs.frozen(kw_only=True)
class AgentTranscript(Event):
    """The final text of one assistant item.

    Attributes:
        item_id: The assistant item.
        text: The text. When ``interrupted`` and word timings were available, only the
            words the user heard; otherwise the words within the heard share of the audio
            (an estimate: speech is close to even).
        interrupted: True when the user interrupted this item before it was fully played.
    """

    item_id: str
    text: str
    interrupted: bool = False


@attrs.frozen(kw_only=True)
class Interrupted(Event):
    """The user interrupted the agent (barge-in, or ``session.interrupt()``).

    Attributes:
        item_id: The assistant audio item that was playing, if any.
        heard_ms: How much of it the user heard; the conversation is truncated there.
    """

    item_id: str | None
    heard_ms: float


@attrs.frozen(kw_only=True)
class ToolCallStarted(Event):
    """A tool call is starting.

    Attributes:
        call_id: The function call's id.
        name: The tool's name.
        arguments: The JSON arguments the model sent.
        item_id: The function call's conversation item (unique even when the model
            reuses a ``call_id``).
    """

    call_id: str
    name: str
    arguments: str
    item_id: str = ""


@attrs.frozen(kw_only=True)
class ToolCallFinished(Event):
    """A tool call ended and its output was sent to the model.

    Attributes:
        call_id: The function call's id.
        name: The tool's name.
        arguments: The JSON arguments the model sent.
        result: What the tool returned (None on error).
        output: The text sent to the model as the call's output.
        error: The model-visible error text, or None on success.
        duration_s: How long the call ran, in seconds.
        item_id: The function call's conversation item.
    """

    call_id: str
    name: str
    arguments: str
    result: Any
    output: str
    error: str | None
    duration_s: float
    item_id: str = ""


@attrs.frozen(kw_only=True)
class ServiceErrorReported(Event):
    """The service sent an ``error`` event.

    Attributes:
        code: The error code (for example ``"invalid_value"``), if any.
        message: The service's message.
        error_type: The error's type (for example ``"invalid_request_error"``).
        param: The parameter at fault, if any.
        event_id: The id of the client event that caused it, if any.
    """

    code: str | None
    message: str
    error_type: str | None = None
    param: str | None = None
    event_id: str | None = None


@attrs.frozen(kw_only=True)
class ServiceWarningReported(Event):
    """The service sent a ``warning`` event (informational: nothing failed).

    Attributes:
        code: The warning's code, if any.
        message: The service's message.
        param: The parameter it is about, if any.
    """

    code: str | None
    message: str
    param: str | None = None


@attrs.frozen(kw_only=True)
class EventsDropped(Event):
    """A subscription (``session.events()``) fell behind and its oldest events were
    discarded; the stream goes on with the events that follow this one.

    A subscriber that is not read never holds the session up: each subscription buffers
    at most its ``buffer`` events (see ``AgentSession.events``).

    Attributes:
        count: How many events were discarded.
    """

    count: int


@attrs.frozen(kw_only=True)
class Reconnecting(Event):
    """The session is opening a new connection: the old one dropped, or the service's
    session is about to end (``expires_at``). One event per attempt.

    Attributes:
        attempt: The attempt, from 1.
        reason: Why (the lost connection's error, or the coming end of the session).
    """

    attempt: int
    reason: str


@attrs.frozen(kw_only=True)
class Reconnected(Event):
    """The conversation goes on over a new connection: the session configuration was sent
    again, the conversation replayed, and the user's uncommitted audio sent again.

    Attributes:
        gap_ms: From the drop (or from the start of a planned move) to the moment the new
            connection took over.
        replayed_items: How many conversation items were replayed.
    """

    gap_ms: float
    replayed_items: int


@attrs.frozen(kw_only=True)
class TurnChanged(Event):
    """The conversation's turn state changed.

    Attributes:
        old: The previous state.
        new: The new state.
    """

    old: TurnState
    new: TurnState


@attrs.frozen(kw_only=True)
class TurnMetrics(Event):
    """Latency of one agent turn.

    Attributes:
        response_id: The response measured.
        latency_s: From the user's speech stopping (or the turn's request) to the first
            agent audio (or text) arriving, in seconds.
    """

    response_id: str
    latency_s: float


@attrs.frozen(kw_only=True)
class AvatarAnimation(Event):
    """Avatar animation data from the service (visemes or blendshapes).

    Attributes:
        kind: ``"viseme"`` or ``"blendshapes"``.
        item_id: The assistant item it belongs to.
        audio_offset_ms: Where in the item's audio it applies (visemes).
        viseme_id: The viseme id (visemes).
        frames: The blendshape frames as the service sent them (blendshapes).
    """

    kind: str
    item_id: str
    audio_offset_ms: int | None = None
    viseme_id: int | None = None
    frames: Any = None


# -- MCP servers (the service calls their tools; the agent approves the calls) ----------------


@attrs.frozen(kw_only=True)
class McpToolsListed(Event):
    """The service listed the tools of one of the session's MCP servers.

    Attributes:
        server_label: The server's label.
        tools: The names of the tools the model may call (``allowed_tools`` applied).
        item_id: The ``mcp_list_tools`` conversation item.
    """

    server_label: str
    tools: tuple[str, ...]
    item_id: str


@attrs.frozen(kw_only=True)
class McpToolsListFailed(Event):
    """The service could not list the tools of one of the session's MCP servers (it is
    unreachable, refused the headers, ...): the model cannot call its tools.

    Attributes:
        server_label: The server's label.
        item_id: The ``mcp_list_tools`` conversation item.
    """

    server_label: str
    item_id: str


@attrs.frozen(kw_only=True)
class McpApprovalRequested(Event):
    """The model wants to call an MCP tool that needs the agent's approval; the agent's
    approvers decide (:func:`voiceagent.approve`).

    Attributes:
        item_id: The ``mcp_approval_request`` item (the approval answers it).
        server_label: The server's label.
        name: The tool's name.
        arguments: The JSON arguments the model wants to call it with.
    """

    item_id: str
    server_label: str
    name: str
    arguments: str


@attrs.frozen(kw_only=True)
class McpApprovalDecided(Event):
    """The agent answered an approval request (the answer went to the service).

    Attributes:
        item_id: The ``mcp_approval_request`` item.
        server_label: The server's label.
        name: The tool's name.
        arguments: The JSON arguments.
        approved: Whether the call may run.
        decided_by: ``"approver"`` (an approver said so), ``"default"`` (no approver had
            an opinion: ``Agent.mcp_default_approval`` applied), ``"timeout"`` (the
            approver took longer than its timeout: the default applied) or ``"error"``
            (the approver raised: the call was denied).
    """

    item_id: str
    server_label: str
    name: str
    arguments: str
    approved: bool
    decided_by: str


@attrs.frozen(kw_only=True)
class McpCallStarted(Event):
    """The service started running an MCP tool call.

    Attributes:
        item_id: The ``mcp_call`` item.
        server_label: The server's label.
        name: The tool's name.
        arguments: The JSON arguments.
    """

    item_id: str
    server_label: str
    name: str
    arguments: str


@attrs.frozen(kw_only=True)
class McpCallCompleted(Event):
    """An MCP tool call returned; the model reads its output in the next answer.

    Attributes:
        item_id: The ``mcp_call`` item.
        server_label: The server's label.
        name: The tool's name.
        arguments: The JSON arguments.
        output: What the tool returned, as the service reported it.
        duration_s: From the call's start to its result, as seen by the session.
    """

    item_id: str
    server_label: str
    name: str
    arguments: str
    output: str
    duration_s: float


@attrs.frozen(kw_only=True)
class McpCallFailed(Event):
    """An MCP tool call failed (the server refused it, was unreachable, the tool raised);
    the model reads the error in the next answer.

    Attributes:
        item_id: The ``mcp_call`` item.
        server_label: The server's label.
        name: The tool's name.
        arguments: The JSON arguments.
        error: The service's error message.
        duration_s: From the call's start to its failure, as seen by the session.
    """

    item_id: str
    server_label: str
    name: str
    arguments: str
    error: str
    duration_s: float
