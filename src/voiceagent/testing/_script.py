"""The emulator's brain: what it "hears" in the user's audio and how the model answers.

A test describes a conversation as a :class:`Script` of :class:`Turn` objects, one
per user turn, consumed in order::

    script = Script(
        Turn(
            hears="What's the weather in Paris?",
            calls=[ToolCall("get_weather", {"city": "Paris"})],
            says=lambda ctx: f"It is {ctx.output('get_weather')['temp']} degrees in Paris.",
        ),
        Turn(hears="Thanks!", says="You're welcome."),
    )

A user turn is a committed audio buffer (server VAD or a manual commit) or a user
message created with ``conversation.item.create``. For audio the emulator cannot
understand speech, so the turn's ``hears`` is the transcript it reports; for text
the user's own words are the transcript.

A turn with ``calls`` answers in two responses, as the real model does: the first
response carries the function calls (optionally after a spoken ``preface``); after the
client sends the outputs and a new ``response.create``, the second response speaks
``says``, which may be computed from the tool outputs.

When the script runs out (or when there is none) the default brain answers: it
echoes text turns (``You said: ...``) and acknowledges audio turns.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ._mcp import McpCall, McpServer, approval_needed

if TYPE_CHECKING:
    from ._faults import ServerWarning, TranscriptionFailure

__all__ = ["ReplyContext", "ResponseFailure", "Script", "ToolCall", "Turn"]


@attrs.frozen
class ToolCall:
    """A function call the scripted model makes.

    Attributes:
        name: The tool's name, as declared in the session's ``tools``.
        arguments: The arguments, as a mapping (serialized to JSON) or a raw JSON string
            (sent verbatim, so a test can send malformed arguments on purpose).
        call_id: The call's ``call_id``; None (default) for a fresh one. A test can give
            two calls the same id, as a misbehaving model might.
    """

    name: str
    arguments: Mapping[str, Any] | str = attrs.field(factory=dict)
    call_id: str | None = attrs.field(default=None, kw_only=True)

    def arguments_json(self) -> str:
        """The arguments as the JSON string the service streams."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments), separators=(",", ":"))


@attrs.frozen
class ResponseFailure:
    """Makes a scripted response fail (``response.done`` with status ``failed``).

    Attributes:
        message: The error message in ``status_details.error``.
        code: The error code.
        type: The error type.
    """

    message: str = "The server had an error while processing your request."
    code: str = "internal_error"
    type: str = "server_error"


@attrs.frozen(kw_only=True)
class ReplyContext:
    """What a computed reply (``says=callable``) can look at.

    Attributes:
        transcript: The transcript of the user turn being answered.
        outputs: The ``function_call_output`` items' outputs sent for this turn's calls,
            by call name, in call order, as sent (strings).
        instructions: The effective instructions of the response.
    """

    transcript: str
    outputs: Mapping[str, str]
    instructions: str

    def output(self, name: str) -> Any:
        """The output of the call named ``name``, parsed as JSON when it is JSON.

        Raises:
            KeyError: No output was sent for a call of that name.
        """
        raw = self.outputs[name]
        try:
            return json.loads(raw)
        except ValueError:
            return raw


Reply = str | Callable[[ReplyContext], str]


def _as_mcp_calls(value: Sequence[McpCall]) -> tuple[McpCall, ...]:
    calls = tuple(value)
    for call in calls:
        if not isinstance(call, McpCall):
            raise TypeError(f"Turn.mcp_calls takes McpCall objects, got {call!r}")
    return calls


def _as_calls(value: Sequence[ToolCall]) -> tuple[ToolCall, ...]:
    calls = tuple(value)
    for call in calls:
        if not isinstance(call, ToolCall):
            raise TypeError(f"Turn.calls takes ToolCall objects, got {call!r}")
    return calls


@attrs.frozen(kw_only=True)
class Turn:
    """One user turn and the model's answer to it.

    Attributes:
        hears: The transcript the emulator reports for the user's audio in this turn
            (``conversation.item.input_audio_transcription.*``); ignored for text turns.
        says: The model's final answer: a text, or a callable computing it from a
            :class:`ReplyContext` (tool outputs included). Spoken as audio plus transcript,
            or sent as text, by the session's modalities.
        calls: Function calls the model makes before answering (parallel calls when
            several). The answer ``says`` comes in the response after the outputs.
        preface: Spoken before the calls in the same response, e.g. "Let me check.".
        fail: Makes the (first) response for this turn fail instead.
        transcription_fails: Makes the transcription of this turn's audio fail
            (``conversation.item.input_audio_transcription.failed``, when transcription is
            on); the turn is still answered.
        warning: A ``warning`` event the service sends right after this turn's user item
            was created.
        mcp_calls: MCP tool calls the model makes before answering, run by the service
            on the session's MCP servers (or first put to the client for approval). The
            answer ``says`` comes in the response the client requests after the results
            (``ReplyContext.output(tool_name)`` reads them).
    """

    hears: str | None = None
    says: Reply | None = None
    calls: tuple[ToolCall, ...] = attrs.field(default=(), converter=_as_calls)
    preface: str | None = None
    fail: ResponseFailure | None = None
    transcription_fails: TranscriptionFailure | None = None
    warning: ServerWarning | None = None
    mcp_calls: tuple[McpCall, ...] = attrs.field(default=(), converter=_as_mcp_calls)


def _turns(value: Sequence[Turn]) -> tuple[Turn, ...]:
    turns = tuple(value)
    for turn in turns:
        if not isinstance(turn, Turn):
            raise TypeError(f"Script takes Turn objects, got {turn!r}")
    return turns


@attrs.frozen(init=False)
class Script:
    """An ordered list of :class:`Turn` objects; each connection plays it from the start.

    Args:
        *turns: The turns, in the order the user takes them.
        greeting: What the model says when asked to respond before the user said anything.
        mcp_servers: The MCP servers the session may declare (by ``server_label``): their
            tools and canned results.
    """

    turns: tuple[Turn, ...]
    greeting: str
    mcp_servers: tuple[McpServer, ...]

    def __init__(
        self,
        *turns: Turn,
        greeting: str = "Hello! How can I help you today?",
        mcp_servers: Sequence[McpServer] = (),
    ) -> None:
        servers = tuple(mcp_servers)
        for server in servers:
            if not isinstance(server, McpServer):
                raise TypeError(f"Script.mcp_servers takes McpServer objects, got {server!r}")
        self.__attrs_init__(_turns(turns), greeting, servers)

    def mcp_server(self, label: str) -> McpServer | None:
        """The scripted MCP server for ``server_label``, or None."""
        return next((s for s in self.mcp_servers if s.label == label), None)

    def turn(self, index: int) -> Turn | None:
        """The ``index``-th turn (0-based), or None past the end."""
        return self.turns[index] if index < len(self.turns) else None


DEFAULT_AUDIO_REPLY = "I heard you, but I need a script to answer."
"""The default brain's answer to unscripted audio."""


def default_reply(*, transcript: str | None) -> str:
    """The default brain's answer: echo what was understood, or acknowledge unscripted audio."""
    if transcript is None:
        # About three seconds, like a real model's short spoken answer: programs
        # and the SDK's own live tests expect more than a word of audio back.
        return DEFAULT_AUDIO_REPLY
    return f"You said: {transcript}" if transcript.strip() else "I did not catch that."


def default_transcript(audio_ms: float) -> str:
    """The transcript reported for unscripted audio: a description of what was heard."""
    return f"(speech, {audio_ms / 1000:.1f} seconds)"


@attrs.frozen
class Say:
    """A planned message output: text spoken (audio) or written (text modality)."""

    text: str


@attrs.frozen
class Call:
    """A planned function call output."""

    call_id: str
    name: str
    arguments: str


@attrs.frozen
class Fail:
    """A planned failure of the whole response."""

    failure: ResponseFailure


@attrs.frozen(eq=False)
class Mcp:
    """A planned MCP call: an ``mcp_call`` item (run after the response), or, when the
    server needs approval, an ``mcp_approval_request`` item."""

    call: McpCall
    needs_approval: bool
    approval_request_id: str | None = None


Output = Say | Call | Fail | Mcp


@attrs.define
class UserTurn:
    """What the brain knows about one user turn of a connection."""

    turn: Turn | None
    transcript: str
    scripted: bool
    calls_made: tuple[Call, ...] | None = None
    failed: bool = False
    mcp_made: bool = False


class ScriptRunner:
    """One connection's progress through a :class:`Script`.

    A planned output only consumes its part of the script once the response has emitted
    it (:meth:`emitted`): a response cancelled before its function calls went out (by
    ``response.cancel``, barge-in, or a ``response.create`` that replaces it) leaves the
    turn as it was, so the next response makes the calls again, as a real model would.
    """

    def __init__(self, script: Script | None) -> None:
        self._script = script or Script()
        self._next = 0
        self._turns: dict[str, UserTurn] = {}
        # Planned outputs waiting to be emitted, by id(): what emitting them settles.
        self._pending: dict[int, tuple[Output, Callable[[], None]]] = {}

    def on_user_item(self, item_id: str, *, text: str | None, audio_ms: float) -> UserTurn:
        """Assign the next scripted turn to a new user item and return it.

        Args:
            item_id: The user item's id.
            text: The user's text for text turns; None for audio turns.
            audio_ms: The audio's duration, for the description of unscripted audio.
        """
        turn = self._script.turn(self._next)
        self._next += 1
        if text is not None:
            user_turn = UserTurn(turn, text, scripted=True)
        elif turn is not None and turn.hears is not None:
            user_turn = UserTurn(turn, turn.hears, scripted=True)
        else:
            user_turn = UserTurn(turn, default_transcript(audio_ms), scripted=False)
        self._turns[item_id] = user_turn
        return user_turn

    @property
    def script(self) -> Script:
        """The script being played."""
        return self._script

    def plan(
        self,
        context: Sequence[Mapping[str, Any]],
        *,
        instructions: str,
        pre_generated: str | None,
        new_id: Callable[[str], str],
        mcp_tools: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> list[Output]:
        """Decide the outputs of a response given the conversation context it sees."""
        if pre_generated is not None:
            return [Say(pre_generated)]
        index = _last_user_index(context)
        if index is None:
            return [Say(self._script.greeting)]
        user_item = context[index]
        user_turn = self._turns.get(str(user_item.get("id")))
        if user_turn is None:
            from ._conversation import message_text

            user_turn = self.on_user_item(
                str(user_item.get("id")), text=message_text(user_item), audio_ms=0.0
            )
        turn = user_turn.turn
        if turn is not None and turn.fail is not None and not user_turn.failed:
            fail = Fail(turn.fail)
            self._on_emitted(fail, lambda: setattr(user_turn, "failed", True))
            return [fail]
        tool_outputs: list[Output] = []
        if turn is not None and turn.mcp_calls and not user_turn.mcp_made:
            tools = mcp_tools or {}
            mcps = [
                Mcp(call, approval_needed(tools[call.server], call.tool))
                if call.server in tools
                else Mcp(call, needs_approval=False)
                for call in turn.mcp_calls
            ]
            self._on_emitted(mcps[-1], lambda: setattr(user_turn, "mcp_made", True))
            tool_outputs += mcps
        if turn is not None and turn.calls and user_turn.calls_made is None:
            # Calls the conversation already holds after the user's message (a client
            # replaying a conversation on a new connection) were made: a model reads them
            # in its context and does not call again.
            present = [item for item in context[index + 1 :] if item.get("type") == "function_call"]
            if {call.name for call in turn.calls} <= {str(item.get("name")) for item in present}:
                user_turn.calls_made = tuple(
                    Call(
                        str(item.get("call_id")), str(item.get("name")), str(item.get("arguments"))
                    )
                    for item in present
                )
        if turn is not None and turn.calls and user_turn.calls_made is None:
            calls = tuple(
                Call(call.call_id or new_id("call"), call.name, call.arguments_json())
                for call in turn.calls
            )
            # The turn moves on to its answer once the last call went out whole.
            self._on_emitted(calls[-1], lambda: setattr(user_turn, "calls_made", calls))
            tool_outputs += calls
        if tool_outputs:
            preface: list[Output] = [Say(turn.preface)] if turn and turn.preface else []
            return [*preface, *tool_outputs]
        says = turn.says if turn is not None else None
        if says is None:
            return [
                Say(default_reply(transcript=user_turn.transcript if user_turn.scripted else None))
            ]
        if isinstance(says, str):
            return [Say(says)]
        ctx = ReplyContext(
            transcript=user_turn.transcript,
            outputs=_outputs_by_name(context[index + 1 :], user_turn.calls_made or ()),
            instructions=instructions,
        )
        return [Say(says(ctx))]

    def _on_emitted(self, output: Output, settle: Callable[[], None]) -> None:
        self._pending[id(output)] = (output, settle)

    def emitted(self, output: Output) -> None:
        """Note that a response emitted ``output`` whole (a call: its ``output_item.done``;
        a failure: its ``response.done``), so the script moves past it."""
        pending = self._pending.pop(id(output), None)
        if pending is not None:
            pending[1]()

    def discard(self, outputs: Sequence[Output]) -> None:
        """Forget the outputs of a finished response that were never emitted."""
        for output in outputs:
            self._pending.pop(id(output), None)


def _last_user_index(context: Sequence[Mapping[str, Any]]) -> int | None:
    for i in range(len(context) - 1, -1, -1):
        item = context[i]
        if item.get("type") == "message" and item.get("role") == "user":
            return i
    return None


def _outputs_by_name(after: Sequence[Mapping[str, Any]], calls: Sequence[Call]) -> dict[str, str]:
    names = {call.call_id: call.name for call in calls}
    for item in after:
        if item.get("type") == "function_call":
            names.setdefault(str(item.get("call_id")), str(item.get("name")))
    outputs: dict[str, str] = {}
    for item in after:
        if item.get("type") == "mcp_call" and item.get("output") is not None:
            outputs[str(item.get("name"))] = str(item["output"])
        if item.get("type") == "function_call_output":
            name = names.get(str(item.get("call_id")))
            if name is not None:
                outputs[name] = str(item.get("output", ""))
    return outputs
