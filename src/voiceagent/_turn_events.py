"""The turn machine's vocabulary: its states, its configuration, its inputs and its actions.

The session builds inputs from the service's events (and from the sink and the
application), feeds them to :class:`~voiceagent._turns.TurnMachine` and executes the actions
it gets back. Every value here is a frozen attrs class of plain data: ids, texts, bytes and
numbers. Times and positions are milliseconds; ``played_ms`` is always the sink's
cumulative ``played_ms()`` (total audio played since the sink opened, cleared audio never
counted), read by the session when the input is built. A session without a sink of its
own plays into a :class:`~voiceagent.audio.NullSink`, whose position is everything written.
"""

from __future__ import annotations

import enum
from typing import Any, Literal

import attrs

from .errors import ConfigurationError

__all__ = [
    "OUTPUT_CANCELLED",
    "OUTPUT_INCOMPLETE",
    "OUTPUT_NOT_RUN",
    "Action",
    "AddMessage",
    "AgentInterrupted",
    "AgentTranscriptFinal",
    "AnswerStarted",
    "AudioDelta",
    "AudioDone",
    "CancelResponse",
    "CancelTool",
    "ClearPlayback",
    "Commit",
    "CommitFailed",
    "CommitInput",
    "ConnectionLost",
    "CreateFailed",
    "CreateResponse",
    "EndOfAudio",
    "FunctionCallDone",
    "Input",
    "InputCommitted",
    "InputEnded",
    "Interrupt",
    "OutputItemAdded",
    "PausePlayback",
    "PlayAudio",
    "PlaybackProgress",
    "ResponseCreated",
    "ResponseDone",
    "ResponseRequested",
    "ResumePlayback",
    "Resumed",
    "Say",
    "SendToolOutput",
    "SpeechStarted",
    "SpeechStopped",
    "StartTool",
    "Tick",
    "ToolFinished",
    "TranscriptDelta",
    "TranscriptDone",
    "Truncate",
    "TurnChanged",
    "TurnConfig",
    "TurnState",
    "UserText",
    "WordTimestamp",
]

#: The output sent for a call of an interrupted response that never started (a
#: ``str.format`` template taking the tool's ``name``; the same text as the tool layer's).
OUTPUT_NOT_RUN = "Error: tool {name!r} was not run because the user interrupted; it has no result."
#: The output sent for a running call cancelled because the user interrupted.
OUTPUT_CANCELLED = (
    "Error: tool {name!r} was cancelled before it finished because the user interrupted; "
    "it has no result."
)
#: The output sent for a call whose response ended before its arguments were complete.
OUTPUT_INCOMPLETE = (
    "Error: tool {name!r} was not run because the response ended before its arguments "
    "were complete; it has no result."
)


class TurnState(enum.Enum):
    """Who holds the conversation's turn."""

    IDLE = "idle"
    """Nobody: the agent is not answering and the user is not speaking."""
    USER_SPEAKING = "user_speaking"
    """The user is speaking (server VAD heard speech start and not yet stop)."""
    CONFIRMING = "confirming"
    """The user started speaking while the agent held the turn, and the confirmation window
    is deciding whether that is a turn: the agent's audio is paused meanwhile."""
    THINKING = "thinking"
    """The user's turn ended and the agent's answer is on its way: requested, or being
    generated with no audio yet."""
    TOOL_RUNNING = "tool_running"
    """The agent is waiting for one or more of its tools."""
    AGENT_SPEAKING = "agent_speaking"
    """The agent's audio is arriving or still playing: until its response is done and the
    sink has played everything written."""


def _non_negative_int(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(
            f"{attribute.name} must be a whole number of milliseconds >= 0, not {value!r}"
        )


def _window(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigurationError(
            f"confirm_window_ms must be None (immediate barge-in) or a whole number of "
            f"milliseconds >= 1, not {value!r}"
        )


def _flag(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{attribute.name} must be True or False, not {value!r}")


@attrs.frozen(kw_only=True)
class TurnConfig:
    """How the server behaves and which barge-in policy the machine applies.

    The defaults match the service's default server VAD (``interrupt_response`` and
    ``create_response`` on, ``auto_truncate`` off) with immediate barge-in.

    Attributes:
        server_detects_turns: Server turn detection (VAD) is on, so the machine gets
            :class:`SpeechStarted`, :class:`SpeechStopped` and VAD commits. Off for manual
            turns (push-to-talk), where the three VAD flags below must be off too.
        server_cancels_on_speech: The server cancels the active response itself when it
            hears the user start speaking (server VAD with ``interrupt_response`` on), so
            the machine never sends ``response.cancel`` for speech; it still does for
            :class:`Interrupt` and :class:`Commit`.
        server_truncates: The server truncates the interrupted assistant item itself when it
            hears speech (``auto_truncate`` on), so the machine never sends
            ``conversation.item.truncate`` for speech; it still does for :class:`Interrupt`
            and :class:`Commit`.
        server_creates_response: The server answers each turn its VAD commits
            (``create_response`` on). When off, the machine sends ``response.create`` for
            each committed turn itself.
        confirm_window_ms: None for immediate barge-in (the default). Otherwise speech
            heard while the agent holds the turn pauses its audio for up to this long while
            the machine decides: speech that stops shorter than ``min_turn_ms`` (a cough, an
            "mm-hm") resumes the agent; longer speech, or speech still going when the window
            ends, interrupts it. Needs the client to decide, so the three ``server_*`` flags
            must be off (``interrupt_response``, ``auto_truncate`` and ``create_response``
            false), and must be at least ``min_turn_ms``.
        min_turn_ms: With a confirmation window, the shortest speech that counts as a turn.
        vad_padding_ms: How much longer the server VAD's reported span is than the speech
            itself: its ``prefix_padding_ms`` plus ``silence_duration_ms``. Subtracted from
            ``audio_end_ms - audio_start_ms`` before comparing with ``min_turn_ms``.

    Raises:
        ConfigurationError: A value has the wrong type or range, or the confirmation window
            is combined with server-side cancellation, truncation or response creation.
    """

    server_detects_turns: bool = attrs.field(default=True, validator=_flag)
    server_cancels_on_speech: bool = attrs.field(default=True, validator=_flag)
    server_truncates: bool = attrs.field(default=False, validator=_flag)
    server_creates_response: bool = attrs.field(default=True, validator=_flag)
    confirm_window_ms: int | None = attrs.field(default=None, validator=_window)
    min_turn_ms: int = attrs.field(default=400, validator=_non_negative_int)
    vad_padding_ms: int = attrs.field(default=0, validator=_non_negative_int)

    def __attrs_post_init__(self) -> None:
        server_side = [
            name
            for name in ("server_cancels_on_speech", "server_truncates", "server_creates_response")
            if getattr(self, name)
        ]
        if not self.server_detects_turns and (server_side or self.confirm_window_ms is not None):
            wrong = [*server_side, *(["confirm_window_ms"] if self.confirm_window_ms else [])]
            raise ConfigurationError(
                f"without server turn detection (server_detects_turns=False) there is no "
                f"speech to act on, so {', '.join(wrong)} must be off"
            )
        if self.confirm_window_ms is None:
            return
        if server_side:
            raise ConfigurationError(
                f"confirm_window_ms={self.confirm_window_ms} lets the client decide whether "
                f"speech interrupts the agent, so {', '.join(server_side)} must be False "
                f"(turn detection with interrupt_response, auto_truncate and create_response "
                f"off)"
            )
        if self.confirm_window_ms < self.min_turn_ms:
            raise ConfigurationError(
                f"confirm_window_ms ({self.confirm_window_ms}) must be at least min_turn_ms "
                f"({self.min_turn_ms}): the window has to outlast the shortest turn"
            )

    @classmethod
    def manual(cls) -> TurnConfig:
        """The configuration for manual turns (push-to-talk, ``turn_detection`` off).

        Returns:
            A config in which the server neither cancels, truncates nor creates responses.
        """
        return cls(
            server_detects_turns=False,
            server_cancels_on_speech=False,
            server_truncates=False,
            server_creates_response=False,
        )


# -- inputs ----------------------------------------------------------------------------------


@attrs.frozen
class Input:
    """Base class of everything :meth:`TurnMachine.handle` accepts."""


@attrs.frozen(kw_only=True)
class SpeechStarted(Input):
    """``input_audio_buffer.speech_started``: the server VAD heard the user start speaking.

    Attributes:
        item_id: The user item the speech will become.
        audio_start_ms: Where the speech starts in the session's input audio.
        played_ms: The sink's ``played_ms()`` when the event arrived.
    """

    item_id: str
    audio_start_ms: int
    played_ms: float


@attrs.frozen(kw_only=True)
class SpeechStopped(Input):
    """``input_audio_buffer.speech_stopped``: the server VAD heard the user stop speaking.

    Attributes:
        item_id: The user item the speech becomes.
        audio_end_ms: Where the speech ends in the session's input audio (including the
            VAD's silence duration).
        played_ms: The sink's ``played_ms()`` when the event arrived, if read.
    """

    item_id: str
    audio_end_ms: int
    played_ms: float | None = None


@attrs.frozen
class InputCommitted(Input):
    """``input_audio_buffer.committed``: the user's audio became a conversation item.

    Attributes:
        item_id: The user item.
    """

    item_id: str


@attrs.frozen
class ResponseCreated(Input):
    """``response.created``.

    Attributes:
        response_id: The new response.
    """

    response_id: str


@attrs.frozen(kw_only=True)
class OutputItemAdded(Input):
    """``response.output_item.added``: a response announced an item.

    Attributes:
        response_id: The response.
        item_id: The item.
        kind: The item's type: ``"message"``, ``"function_call"``, or another type (which
            the machine only records).
        call_id: The call's id, for a ``"function_call"`` item (required then).
        name: The function's name, for a ``"function_call"`` item.
    """

    response_id: str
    item_id: str
    kind: str
    call_id: str | None = None
    name: str | None = None


@attrs.frozen(kw_only=True)
class AudioDelta(Input):
    """``response.audio.delta``: a piece of the agent's audio, decoded.

    Attributes:
        response_id: The response.
        item_id: The assistant item.
        content_index: The item's audio content part.
        data: The audio, as the sink will take it.
        duration_ms: How long ``data`` plays.
    """

    response_id: str
    item_id: str
    content_index: int
    data: bytes = attrs.field(repr=lambda data: f"<{len(data)} bytes>")
    duration_ms: float


@attrs.frozen(kw_only=True)
class AudioDone(Input):
    """``response.audio.done``: no more audio for the item.

    Attributes:
        response_id: The response.
        item_id: The assistant item.
    """

    response_id: str
    item_id: str


@attrs.frozen(kw_only=True)
class TranscriptDelta(Input):
    """``response.audio_transcript.delta`` (or ``response.text.delta``).

    Attributes:
        item_id: The assistant item.
        text: The new text.
        response_id: The response, needed only if the item was not announced by an
            :class:`OutputItemAdded` or :class:`AudioDelta` (else the text is ignored).
        text_only: True for ``response.text.delta`` (a text answer, which has no audio:
            its first text is where the answer starts, for the turn's latency).
    """

    item_id: str
    text: str
    response_id: str | None = None
    text_only: bool = False


@attrs.frozen(kw_only=True)
class TranscriptDone(Input):
    """``response.audio_transcript.done`` (or ``response.text.done``).

    Attributes:
        item_id: The assistant item.
        text: The item's full text.
        response_id: The response, as for :class:`TranscriptDelta`.
    """

    item_id: str
    text: str
    response_id: str | None = None


@attrs.frozen(kw_only=True)
class WordTimestamp(Input):
    """``response.audio_timestamp.delta`` of type word: when a word plays in the item.

    Attributes:
        item_id: The assistant item.
        text: The word.
        start_ms: Where the word starts in the item's audio.
        duration_ms: How long the word lasts.
        response_id: The response, as for :class:`TranscriptDelta`.
    """

    item_id: str
    text: str
    start_ms: float
    duration_ms: float
    response_id: str | None = None


@attrs.frozen(kw_only=True)
class FunctionCallDone(Input):
    """``response.function_call_arguments.done``: a function call is complete.

    Attributes:
        response_id: The response.
        item_id: The function call item.
        call_id: The call's id.
        name: The function's name.
        arguments: The arguments, as the JSON text the model wrote.
        cancel_on_interrupt: The tool's policy (``@tool(cancel_on_interrupt=...)``) for a
            call still running when the user interrupts: True cancels it, False lets it
            finish and sends its output. The session looks it up by ``name``.
    """

    response_id: str
    item_id: str
    call_id: str
    name: str
    arguments: str
    cancel_on_interrupt: bool


@attrs.frozen(kw_only=True)
class ResponseDone(Input):
    """``response.done``.

    Attributes:
        response_id: The response.
        status: ``"completed"``, ``"cancelled"``, ``"failed"`` or ``"incomplete"``.
    """

    response_id: str
    status: str


@attrs.frozen(kw_only=True)
class ToolFinished(Input):
    """A tool the machine started has finished (returned, raised or timed out).

    Attributes:
        item_id: The function call item (a call is known by its item: the model may reuse a
            ``call_id``, never an item id).
        output: What goes to the model: the serialized result or the error text.
        error: True when ``output`` is an error text rather than a result.
    """

    item_id: str
    output: str
    error: bool = False


@attrs.frozen
class PlaybackProgress(Input):
    """The sink's position, sent while audio is queued and when the sink drains.

    Attributes:
        played_ms: The sink's ``played_ms()``.
        drained: True when the session knows the sink has nothing left queued (its
            ``drain()`` returned): anything still counted as queued is then dropped.
    """

    played_ms: float
    drained: bool = False


@attrs.frozen
class Interrupt(Input):
    """The application stops the agent (``session.interrupt()``).

    Attributes:
        played_ms: The sink's ``played_ms()``.
    """

    played_ms: float


@attrs.frozen(kw_only=True)
class Commit(Input):
    """The application ends the user's turn and asks for an answer.

    If the agent holds the turn it is interrupted first, as by :class:`Interrupt`.

    Attributes:
        audio: True to commit the input audio buffer first (``session.commit()``,
            push-to-talk); False when the turn is already in the conversation (a text
            message), so only ``response.create`` is sent.
        played_ms: The sink's ``played_ms()``, if read.
    """

    audio: bool = True
    played_ms: float | None = None


@attrs.frozen(kw_only=True)
class UserText(Input):
    """The application sends a user message and asks for an answer (``send_text``).

    If the agent holds the turn it is interrupted first, as by :class:`Interrupt`.

    Attributes:
        text: The message.
        played_ms: The sink's ``played_ms()``, if read.
    """

    text: str
    played_ms: float | None = None


@attrs.frozen(kw_only=True)
class Say(Input):
    """The application makes the agent speak a text as is (``say()``, the greeting).

    If the agent holds the turn it is interrupted first, as by :class:`Interrupt`.

    Attributes:
        text: What the agent says.
        played_ms: The sink's ``played_ms()``, if read.
    """

    text: str
    played_ms: float | None = None


@attrs.frozen(kw_only=True)
class InputEnded(Input):
    """The audio source ended and the server has processed everything it sent.

    A turn still open then ends: the user was speaking (server VAD), or, with manual
    turns, audio was sent since the last commit. The machine commits it and asks for an
    answer, as for :class:`Commit`.

    Attributes:
        uncommitted_audio: Whether audio was sent since the last commit.
        played_ms: The sink's ``played_ms()``, if read.
    """

    uncommitted_audio: bool
    played_ms: float | None = None


@attrs.frozen
class ConnectionLost(Input):
    """The connection to the service is gone (dropped, or being replaced): nothing the
    old connection would have sent will come.

    The response in flight fails: its audio stops (the sink is cleared) and its items are
    cut at what the user heard; calls whose arguments were incomplete are forgotten (they
    were never whole: the model calls again on the next connection), calls complete but
    held are started, running calls go on (their outputs go to the next connection). What
    the server knew of the user's turn (speech, commits) is forgotten: the user's audio is
    sent again to the next connection.

    Attributes:
        played_ms: The sink's ``played_ms()``.
    """

    played_ms: float


@attrs.frozen
class Resumed(Input):
    """A new connection carries the conversation on (after :class:`ConnectionLost`).

    Anything requested while disconnected was not sent: the machine forgets it, and asks
    for an answer if one is owed, or if the drop cut an answer short (and no tool runs).

    Attributes:
        answer_owed: Whether the conversation ends with something the agent must answer
            (a user message, or tool outputs) and no tool is still running.
    """

    answer_owed: bool


@attrs.frozen
class Tick(Input):
    """:attr:`TurnMachine.next_deadline` was reached.

    Attributes:
        played_ms: The sink's ``played_ms()``, if read.
    """

    played_ms: float | None = None


@attrs.frozen
class ResponseRequested(Input):
    """The session sent ``response.create`` itself (a greeting, ``session.say()``).

    The machine then expects the response, as it does for the ones it asks for, so that an
    interruption before it is created still stops it.
    """


@attrs.frozen
class CommitFailed(Input):
    """The service answered a :class:`CommitInput` with an error (for example, an empty
    input buffer): no ``input_audio_buffer.committed`` will follow for it."""


@attrs.frozen
class CreateFailed(Input):
    """The service answered a :class:`CreateResponse` with an error: no
    ``response.created`` will follow for it."""


# -- actions ---------------------------------------------------------------------------------


@attrs.frozen
class Action:
    """Base class of everything :meth:`TurnMachine.handle` returns."""


@attrs.frozen(kw_only=True)
class PlayAudio(Action):
    """Write this audio to the sink.

    Attributes:
        response_id: The response it belongs to.
        item_id: The assistant item it belongs to.
        content_index: The item's audio content part.
        data: The audio.
        duration_ms: How long it plays.
    """

    response_id: str
    item_id: str
    content_index: int
    data: bytes = attrs.field(repr=lambda data: f"<{len(data)} bytes>")
    duration_ms: float


@attrs.frozen(kw_only=True)
class EndOfAudio(Action):
    """The item's audio is complete: flush what the sink's converter holds back (a
    resampler keeps a few ms until it knows the audio ended).

    Attributes:
        item_id: The assistant item.
    """

    item_id: str


@attrs.frozen
class ClearPlayback(Action):
    """Clear the sink now (``sink.clear()``) and drop any audio held back for it."""


@attrs.frozen
class PausePlayback(Action):
    """Pause the sink if it can pause (the confirmation window opened)."""


@attrs.frozen
class ResumePlayback(Action):
    """Resume the sink if it was paused (the speech was not a turn)."""


@attrs.frozen
class CancelResponse(Action):
    """Send ``response.cancel`` for this response.

    Attributes:
        response_id: The active response to cancel.
    """

    response_id: str


@attrs.frozen(kw_only=True)
class Truncate(Action):
    """Send ``conversation.item.truncate``: cut the item to what the user heard.

    Attributes:
        item_id: The assistant audio item.
        content_index: Its audio content part.
        audio_end_ms: How much of it was heard: at least 1, at most what was played and
            what was received.
    """

    item_id: str
    content_index: int
    audio_end_ms: int


@attrs.frozen(kw_only=True)
class StartTool(Action):
    """Run a tool, then feed :class:`ToolFinished` back.

    Attributes:
        item_id: The function call item (how the call is known).
        call_id: The call's id (its output names it).
        name: The function's name.
        arguments: The JSON arguments.
        response_id: The response that called it.
    """

    item_id: str
    call_id: str
    name: str
    arguments: str
    response_id: str


@attrs.frozen
class CancelTool(Action):
    """Cancel a running tool. Its output has been sent already; a later
    :class:`ToolFinished` for it is ignored.

    Attributes:
        item_id: The function call item.
    """

    item_id: str


@attrs.frozen(kw_only=True)
class SendToolOutput(Action):
    """Send the call's ``function_call_output`` item (each call gets exactly one).

    Attributes:
        call_id: The call's id.
        output: The output text.
        item_id: The function call item.
        name: The function's name (the call id when the name never arrived).
        arguments: The call's JSON arguments ("" when they never completed).
        error: True when ``output`` is an error text (the tool failed, or never ran).
    """

    call_id: str
    output: str
    item_id: str = ""
    name: str = ""
    arguments: str = ""
    error: bool = False


@attrs.frozen(kw_only=True)
class CreateResponse(Action):
    """Send ``response.create``.

    Attributes:
        message: A text the agent speaks as is (``pre_generated_assistant_message``), or
            None for an answer the model generates.
    """

    message: str | None = None


@attrs.frozen(kw_only=True)
class AddMessage(Action):
    """Add a message to the conversation (``conversation.item.create``).

    Attributes:
        role: ``"user"``, ``"assistant"`` or ``"system"``.
        text: Its text.
    """

    role: Literal["user", "assistant", "system"]
    text: str


@attrs.frozen
class CommitInput(Action):
    """Send ``input_audio_buffer.commit``."""


@attrs.frozen(kw_only=True)
class AgentTranscriptFinal(Action):
    """The final text of one assistant message, once it was heard in full or interrupted.

    Attributes:
        item_id: The assistant item.
        response_id: The response it belongs to.
        text: The text. For an interrupted item with word timestamps, only the words the
            user heard; otherwise the whole text.
        interrupted: True when the user interrupted the item before hearing all of it.
    """

    item_id: str
    response_id: str
    text: str
    interrupted: bool


@attrs.frozen(kw_only=True)
class AgentInterrupted(Action):
    """The user interrupted the agent (emitted once per barge-in, after its other actions).

    Attributes:
        item_id: The assistant audio item that was playing (or, between items, the last
            one interrupted), if any audio was involved.
        heard_ms: How much of that item the user heard.
    """

    item_id: str | None
    heard_ms: float


@attrs.frozen(kw_only=True)
class AnswerStarted(Action):
    """The first audio (or, for a text answer, the first text) of the answer to the
    user's last turn: the turn's latency is known.

    Attributes:
        response_id: The answering response.
        latency_s: Seconds from the end of the user's turn (speech stopped, commit or
            message) to this moment.
    """

    response_id: str
    latency_s: float


@attrs.frozen(kw_only=True)
class TurnChanged(Action):
    """The turn state changed (the last action of the input that changed it).

    Attributes:
        old: The previous state.
        new: The new state.
    """

    old: TurnState
    new: TurnState
