"""The turn machine: who holds the conversation's turn, and what barge-in must do.

:class:`TurnMachine` is sans-IO, in the manner of h11: the session feeds it *inputs* built
from the service's events, from the audio sink and from the application, and executes the
*actions* it returns, in order::

    machine = TurnMachine(TurnConfig(server_cancels_on_speech=True))
    for action in machine.handle(SpeechStarted(item_id=..., audio_start_ms=..., played_ms=...),
                                 now=anyio.current_time()):
        ...  # ClearPlayback, CancelResponse, Truncate, CancelTool, SendToolOutput, TurnChanged

It never awaits, never touches a socket and never reads a clock: time comes in as ``now``
(seconds, monotonic) and the sink's position as ``played_ms``. When it needs to be woken up
(the confirmation window), :attr:`TurnMachine.next_deadline` says when to feed :class:`Tick`.

Every state change goes through one transition table (:data:`TRANSITIONS`, data, from which
:func:`mermaid_diagram` draws the guide's diagram) and yields a :class:`TurnChanged` action.
The guarantees that make barge-in safe (docs/turns.md) are enforced here, in one place:
the sink is cleared at once and no audio of an interrupted response is written again; a
response is cancelled only while active and only once, and never when the server cancels
it itself; an item is truncated only if it is assistant audio the user heard part of, to at
most what was heard, and only once; every function call gets exactly one output; tools of
an interrupted response that have not started never run; no response is requested after an
interruption.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from ._playback import PlaybackTracker
from ._turn_events import (
    OUTPUT_CANCELLED,
    OUTPUT_INCOMPLETE,
    OUTPUT_NOT_RUN,
    Action,
    AddMessage,
    AgentInterrupted,
    AgentTranscriptFinal,
    AnswerStarted,
    AudioDelta,
    AudioDone,
    CancelResponse,
    CancelTool,
    ClearPlayback,
    Commit,
    CommitFailed,
    CommitInput,
    ConnectionLost,
    CreateFailed,
    CreateResponse,
    EndOfAudio,
    FunctionCallDone,
    Input,
    InputCommitted,
    InputEnded,
    Interrupt,
    OutputItemAdded,
    PausePlayback,
    PlayAudio,
    PlaybackProgress,
    ResponseCreated,
    ResponseDone,
    ResponseRequested,
    Resumed,
    ResumePlayback,
    Say,
    SendToolOutput,
    SpeechStarted,
    SpeechStopped,
    StartTool,
    Tick,
    ToolFinished,
    TranscriptDelta,
    TranscriptDone,
    Truncate,
    TurnChanged,
    TurnConfig,
    TurnState,
    UserText,
    WordTimestamp,
)

__all__ = [
    "OUTPUT_CANCELLED",
    "OUTPUT_INCOMPLETE",
    "OUTPUT_NOT_RUN",
    "TRANSITIONS",
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
    "Trigger",
    "Truncate",
    "TurnChanged",
    "TurnConfig",
    "TurnMachine",
    "TurnState",
    "UserText",
    "WordTimestamp",
    "mermaid_diagram",
]

#: Written audio within this many ms of the played position counts as played (float sums).
_EPSILON_MS: Final = 0.5
#: How many finished responses (and dismissed user items) are remembered, so that a late or
#: repeated event about one is recognised and ignored instead of starting something again.
_MEMORY: Final = 256


class Trigger(enum.Enum):
    """What moved the machine: the label of a transition in the table and the diagram."""

    SPEECH_STARTED = "speech started"
    SPEECH_STOPPED = "speech stopped"
    INPUT_COMMITTED = "input committed"
    RESPONSE_CREATED = "response created"
    OUTPUT_ITEM = "output item"
    AUDIO = "audio"
    AUDIO_DONE = "audio done"
    TRANSCRIPT = "transcript"
    FUNCTION_CALL = "function call"
    RESPONSE_DONE = "response done"
    TOOL_FINISHED = "tool finished"
    PLAYBACK = "played out"
    INTERRUPT = "interrupt"
    COMMIT = "commit"
    TICK = "window over"
    REQUESTED = "response requested"
    SAY = "say"
    INPUT_ENDED = "input ended"
    LOST = "connection lost"
    RESUMED = "resumed"
    REQUEST_FAILED = "request failed"


_I, _U, _C = TurnState.IDLE, TurnState.USER_SPEAKING, TurnState.CONFIRMING
_TH, _TR, _A = TurnState.THINKING, TurnState.TOOL_RUNNING, TurnState.AGENT_SPEAKING
_T = Trigger

#: The transition table: for each state, the states each trigger may lead to. Staying put
#: is always allowed; any other change not listed here raises ``RuntimeError``.
TRANSITIONS: Final[Mapping[TurnState, Mapping[Trigger, frozenset[TurnState]]]] = {
    _I: {
        _T.SPEECH_STARTED: frozenset({_U}),
        _T.INPUT_COMMITTED: frozenset({_TH}),
        _T.RESPONSE_CREATED: frozenset({_TH}),
        _T.OUTPUT_ITEM: frozenset({_TH}),
        _T.AUDIO: frozenset({_A}),
        _T.FUNCTION_CALL: frozenset({_TR}),
        _T.COMMIT: frozenset({_TH}),
        _T.REQUESTED: frozenset({_TH}),
        _T.SAY: frozenset({_TH}),
        _T.INPUT_ENDED: frozenset({_TH}),
        _T.RESUMED: frozenset({_TH}),
    },
    _U: {
        _T.SPEECH_STARTED: frozenset({_C}),
        _T.SPEECH_STOPPED: frozenset({_TH, _TR, _A}),
        _T.COMMIT: frozenset({_TH}),
        _T.INPUT_ENDED: frozenset({_TH}),
        _T.LOST: frozenset({_I, _TR}),
    },
    _C: {
        _T.SPEECH_STOPPED: frozenset({_I, _TH, _TR, _A}),
        _T.TICK: frozenset({_U}),
        _T.INTERRUPT: frozenset({_U}),
        _T.COMMIT: frozenset({_TH}),
        _T.SAY: frozenset({_U}),
        _T.LOST: frozenset({_I, _TR}),
    },
    _TH: {
        _T.SPEECH_STARTED: frozenset({_U, _C}),
        _T.AUDIO: frozenset({_A}),
        _T.FUNCTION_CALL: frozenset({_TR}),
        _T.RESPONSE_DONE: frozenset({_I}),
        _T.INTERRUPT: frozenset({_I}),
        _T.REQUEST_FAILED: frozenset({_I}),
        _T.LOST: frozenset({_I, _TR}),
    },
    _TR: {
        _T.SPEECH_STARTED: frozenset({_U, _C}),
        _T.AUDIO: frozenset({_A}),
        _T.TOOL_FINISHED: frozenset({_I, _TH}),
        _T.INTERRUPT: frozenset({_I, _TH}),
        _T.COMMIT: frozenset({_TH}),
        _T.SAY: frozenset({_TH}),
        _T.INPUT_ENDED: frozenset({_TH}),
        _T.LOST: frozenset({_I}),
        _T.RESUMED: frozenset({_TH}),
    },
    _A: {
        _T.SPEECH_STARTED: frozenset({_U, _C}),
        _T.RESPONSE_DONE: frozenset({_I, _TH, _TR}),
        # inputs that carry the sink's position can show it played everything
        _T.PLAYBACK: frozenset({_I, _TH, _TR}),
        _T.SPEECH_STOPPED: frozenset({_I, _TH, _TR}),
        _T.TICK: frozenset({_I, _TH, _TR}),
        _T.INTERRUPT: frozenset({_I, _TH}),
        _T.COMMIT: frozenset({_TH}),
        _T.SAY: frozenset({_TH}),
        _T.INPUT_ENDED: frozenset({_I, _TH, _TR}),
        _T.LOST: frozenset({_I, _TR}),
    },
}


# -- bookkeeping records ----------------------------------------------------------------


class _Due(enum.Enum):
    """A response the server will create, as the machine sees it."""

    LIVE = "live"  # wanted: its answer plays
    STALE = "stale"  # due before a barge-in, so unwanted: ours to cancel once created
    SUPERSEDED = "superseded"  # stale, and a response.create of ours followed it: the
    # service cancels it itself when it gets to ours (cancel_previous), so we must not


class _CallState(enum.Enum):
    SEEN = "seen"  # announced, arguments not complete
    HELD = "held"  # complete, start withheld by the confirmation window
    RUNNING = "running"
    ANSWERED = "answered"  # its one output has been sent


@attrs.define
class _Response:
    id: str
    active: bool = True  # created and not done
    status: str | None = None
    interrupted: bool = False
    cancelling: bool = False  # response.cancel sent, or the server cancels it itself
    audio_written: bool = False
    follow_up: bool = False  # the one response.create after its tools was issued
    items: list[str] = attrs.Factory(list)
    calls: list[str] = attrs.Factory(list)


@attrs.define
class _Item:
    id: str
    response_id: str
    kind: str
    content_index: int = 0
    received_ms: float = 0.0
    audio_done: bool = False
    audio_ended: bool = False  # EndOfAudio was emitted (or is held by the window)
    parts: list[str] = attrs.Factory(list)
    text: str | None = None  # final text, once known
    words: list[tuple[float, float, str]] = attrs.Factory(list)  # (start, duration, text)
    interrupted: bool = False
    heard_ms: float = 0.0
    finalized: bool = False


@attrs.define
class _Call:
    call_id: str
    item_id: str
    response_id: str
    state: _CallState = _CallState.SEEN
    cancel_on_interrupt: bool = False
    name: str | None = None
    arguments: str = ""


@attrs.define
class _Window:
    deadline: float
    audio_start_ms: int
    held: list[Action] = attrs.Factory(list)


class TurnMachine:
    """The sans-IO turn machine: feed inputs to :meth:`handle`, execute the actions.

    Args:
        config: How the server behaves and which barge-in policy to apply; the default is
            immediate barge-in under the service's default server VAD.

    Attributes:
        config: The configuration the machine was built with.
    """

    def __init__(self, config: TurnConfig | None = None) -> None:
        self.config = TurnConfig() if config is None else config
        self._state = TurnState.IDLE
        self._tracker = PlaybackTracker()
        self._responses: dict[str, _Response] = {}
        self._items: dict[str, _Item] = {}
        self._calls: dict[str, _Call] = {}  # by function call item id
        self._finished: dict[str, None] = {}  # an ordered, bounded set
        # One entry per response the server will create (asked for by us or the session, or
        # due from server VAD for a committed turn), oldest first.
        self._expected: deque[_Due] = deque()
        self._own_commits = 0
        self._user_speaking = False
        self._uncommitted = 0  # VAD turns that stopped and whose commit has not arrived
        self._dismissed: deque[str] = deque(maxlen=_MEMORY)
        self._window: _Window | None = None
        self._played = 0.0
        self._now = 0.0
        self._turn_ended_at: float | None = None  # the user's last turn, until answered
        self._cut_by_drop = False  # a lost connection cut an answer short

    @property
    def state(self) -> TurnState:
        """The current turn state."""
        return self._state

    @property
    def next_deadline(self) -> float | None:
        """When the session must call ``handle(Tick(), now)`` (same clock as ``now``), or None."""
        return None if self._window is None else self._window.deadline

    def playback_wait_ms(self, played_ms: float) -> float | None:
        """How far playback can go from ``played_ms`` before a :class:`PlaybackProgress`
        can change anything: the session's clock sleeps that long.

        That is the end of the first complete message not yet heard (its final transcript
        waits for it), else the end of everything written. While an answer with audio is
        still in progress (its ``response.done`` has not come) and no complete message
        waits, None: the state cannot leave the agent's turn by playback alone, and only
        the next event can change that (the session wakes its clock on the ends of audio).
        With a sink that plays in real time and audio that arrives in real time, that is
        the difference between one clock wake-up per 20 ms audio delta and none.

        Args:
            played_ms: The sink's position.

        Returns:
            Milliseconds (0 when something is due now), or None.
        """
        pending = self._tracker.pending_ms(played_ms)
        ends = [
            end - played_ms
            for item in self._items.values()
            if item.kind == "message"
            and item.audio_done
            and item.text is not None
            and not item.finalized
            and not item.interrupted
            and (end := self._tracker.end_of(item.id)) is not None
        ]
        if ends:
            return max(0.0, min(min(ends), pending))
        if any(
            r.active and r.audio_written and not r.interrupted for r in self._responses.values()
        ):
            return None
        return pending

    def running_calls(self) -> list[StartTool]:
        """The calls running now (started, not answered), as their start actions."""
        return [
            StartTool(
                item_id=call.item_id,
                call_id=call.call_id,
                name=call.name or call.call_id,
                arguments=call.arguments,
                response_id=call.response_id,
            )
            for call in self._calls.values()
            if call.state is _CallState.RUNNING
        ]

    @property
    def playback(self) -> PlaybackTracker:
        """The playback tracker the machine keeps (read it; do not feed it directly)."""
        return self._tracker

    def handle(self, event: Input, now: float) -> list[Action]:
        """Process one input and return the actions to execute, in order.

        Args:
            event: What happened.
            now: The current time in seconds, on a monotonic clock (``anyio.current_time()``).

        Returns:
            The actions, possibly none. A :class:`TurnChanged` comes last when the state
            changed.

        Raises:
            TypeError: ``event`` is not one of the machine's inputs.
            ValueError: ``now``, or a time or position in ``event``, is not a valid number.
            RuntimeError: The transition table forbids the resulting state change (a bug:
                the machine must not be used afterwards).
        """
        handler = _HANDLERS.get(type(event))
        if handler is None:
            allowed = ", ".join(sorted(cls.__name__ for cls in _HANDLERS))
            raise TypeError(
                f"TurnMachine cannot handle {type(event).__name__!r}; inputs are: {allowed}"
            )
        if isinstance(now, bool) or not isinstance(now, int | float) or not math.isfinite(now):
            raise ValueError(f"now must be a finite number of seconds, not {now!r}")
        out: list[Action] = []
        self._now = float(now)
        trigger = handler(self, event, float(now), out)
        self._settle(trigger, out)
        return out

    # -- inputs ------------------------------------------------------------------------

    def _on_speech_started(self, ev: SpeechStarted, now: float, out: list[Action]) -> Trigger:
        self._observe(ev.played_ms)
        if self._window is not None:
            return _T.SPEECH_STARTED
        self._user_speaking = True
        if self._holds_turn():
            window = self.config.confirm_window_ms
            if window is None:
                self._barge_in(out, by_speech=True)
            else:
                self._window = _Window(now + window / 1000, ev.audio_start_ms)
                out.append(PausePlayback())
        return _T.SPEECH_STARTED

    def _on_speech_stopped(self, ev: SpeechStopped, now: float, out: list[Action]) -> Trigger:
        self._observe(ev.played_ms)
        window = self._window
        if window is None:
            if self._user_speaking:
                self._user_speaking = False
                self._uncommitted += 1  # server VAD commits the turn next
                self._turn_ended_at = now
            return _T.SPEECH_STOPPED
        self._user_speaking = False
        spoken = ev.audio_end_ms - window.audio_start_ms - self.config.vad_padding_ms
        if spoken < self.config.min_turn_ms:
            self._window = None
            self._dismissed.append(ev.item_id)
            out.append(ResumePlayback())
            for action in window.held:
                self._release(action, out)
        else:
            self._barge_in(out, by_speech=True)
            self._uncommitted += 1
            self._turn_ended_at = now
        return _T.SPEECH_STOPPED

    def _on_input_committed(self, ev: InputCommitted, now: float, out: list[Action]) -> Trigger:
        if self._own_commits:
            self._own_commits -= 1  # Commit asked for its response already
            return _T.INPUT_COMMITTED
        if ev.item_id in self._dismissed:
            self._dismissed.remove(ev.item_id)
            return _T.INPUT_COMMITTED
        self._uncommitted = max(0, self._uncommitted - 1)
        if self.config.server_creates_response:
            self._expected.append(_Due.LIVE)
        else:
            self._request(out)
        return _T.INPUT_COMMITTED

    def _on_requested(self, ev: ResponseRequested, now: float, out: list[Action]) -> Trigger:
        self._supersede()
        self._expected.append(_Due.LIVE)
        return _T.REQUESTED

    def _on_response_created(self, ev: ResponseCreated, now: float, out: list[Action]) -> Trigger:
        if ev.response_id in self._responses or ev.response_id in self._finished:
            return _T.RESPONSE_CREATED
        due = self._expected.popleft() if self._expected else _Due.LIVE
        if due is _Due.LIVE:
            self._cut_by_drop = False  # the answer a drop cut short is on its way
        response = self._responses[ev.response_id] = _Response(ev.response_id)
        if due is not _Due.LIVE:
            response.interrupted = response.cancelling = True
        if due is _Due.STALE:
            # Due before an interruption, created after it: the server does not cancel it
            # for speech it heard before it existed, so it is ours to cancel.
            out.append(CancelResponse(response_id=ev.response_id))
        return _T.RESPONSE_CREATED

    def _on_output_item_added(self, ev: OutputItemAdded, now: float, out: list[Action]) -> Trigger:
        response = self._response(ev.response_id)
        if response is not None:
            if ev.kind == "function_call":
                if ev.call_id is None:
                    raise ValueError(f"function_call item {ev.item_id!r} has no call_id")
                self._call(response, ev.item_id, ev.call_id, ev.name)
            else:
                self._item(response, ev.item_id, ev.kind)
        return _T.OUTPUT_ITEM

    def _on_audio_delta(self, ev: AudioDelta, now: float, out: list[Action]) -> Trigger:
        if not 0 <= ev.duration_ms < math.inf:
            raise ValueError(
                f"duration_ms must be a finite number of milliseconds >= 0, not {ev.duration_ms!r}"
            )
        response = self._response(ev.response_id)
        if response is None:
            return _T.AUDIO
        item = self._item(response, ev.item_id, "message")
        item.content_index = ev.content_index
        item.received_ms += ev.duration_ms
        if response.interrupted or item.interrupted:
            return _T.AUDIO
        play = PlayAudio(
            response_id=ev.response_id,
            item_id=ev.item_id,
            content_index=ev.content_index,
            data=ev.data,
            duration_ms=ev.duration_ms,
        )
        if self._window is not None:
            self._window.held.append(play)
        else:
            self._write(play, out)
        return _T.AUDIO

    def _on_audio_done(self, ev: AudioDone, now: float, out: list[Action]) -> Trigger:
        item = self._known_item(ev.response_id, ev.item_id)
        if item is not None:
            item.audio_done = True
            self._end_audio(item, out)
        return _T.AUDIO_DONE

    def _on_transcript_delta(self, ev: TranscriptDelta, now: float, out: list[Action]) -> Trigger:
        item = self._known_item(ev.response_id, ev.item_id)
        if item is not None and item.text is None:
            item.parts.append(ev.text)
            response = self._responses.get(item.response_id)
            if ev.text_only and response is not None and not response.interrupted:
                self._answer_started(item.response_id, out)
        return _T.TRANSCRIPT

    def _on_transcript_done(self, ev: TranscriptDone, now: float, out: list[Action]) -> Trigger:
        item = self._known_item(ev.response_id, ev.item_id)
        if item is not None:
            item.text = ev.text
        return _T.TRANSCRIPT

    def _on_word(self, ev: WordTimestamp, now: float, out: list[Action]) -> Trigger:
        item = self._known_item(ev.response_id, ev.item_id)
        if item is not None:
            item.words.append((ev.start_ms, ev.duration_ms, ev.text))
        return _T.TRANSCRIPT

    def _on_function_call(self, ev: FunctionCallDone, now: float, out: list[Action]) -> Trigger:
        response = self._response(ev.response_id)
        if response is None:
            return _T.FUNCTION_CALL
        call = self._call(response, ev.item_id, ev.call_id, ev.name)
        if call.state is not _CallState.SEEN:
            return _T.FUNCTION_CALL
        call.cancel_on_interrupt = ev.cancel_on_interrupt
        call.arguments = ev.arguments
        if response.interrupted:
            self._refuse(call, OUTPUT_NOT_RUN, out)
            return _T.FUNCTION_CALL
        start = StartTool(
            item_id=ev.item_id,
            call_id=call.call_id,
            name=ev.name,
            arguments=ev.arguments,
            response_id=ev.response_id,
        )
        if self._window is not None:
            call.state = _CallState.HELD
            self._window.held.append(start)
        else:
            call.state = _CallState.RUNNING
            out.append(start)
        return _T.FUNCTION_CALL

    def _on_response_done(self, ev: ResponseDone, now: float, out: list[Action]) -> Trigger:
        response = self._responses.get(ev.response_id)
        if response is None or not response.active:
            return _T.RESPONSE_DONE
        response.active = False
        response.status = ev.status
        for item_id in response.items:
            item = self._items[item_id]
            item.audio_done = True
            self._end_audio(item, out)
            if item.text is None:
                item.text = "".join(item.parts)
        for call_id in response.calls:
            call = self._calls[call_id]
            if call.state is _CallState.SEEN:
                self._refuse(
                    call, OUTPUT_NOT_RUN if response.interrupted else OUTPUT_INCOMPLETE, out
                )
        self._follow_up(response, out)
        return _T.RESPONSE_DONE

    def _on_tool_finished(self, ev: ToolFinished, now: float, out: list[Action]) -> Trigger:
        call = self._calls.get(ev.item_id)
        if call is not None and call.state is _CallState.RUNNING:
            self._answer(call, ev.output, out, error=ev.error)
            self._follow_up(self._responses[call.response_id], out)
        return _T.TOOL_FINISHED

    def _on_playback(self, ev: PlaybackProgress, now: float, out: list[Action]) -> Trigger:
        self._observe(ev.played_ms)
        if ev.drained:
            self._tracker.on_clear(self._played)
        return _T.PLAYBACK

    def _on_interrupt(self, ev: Interrupt, now: float, out: list[Action]) -> Trigger:
        self._observe(ev.played_ms)
        if self._window is not None or self._holds_turn():
            self._barge_in(out, by_speech=False)
        return _T.INTERRUPT

    def _on_commit(self, ev: Commit, now: float, out: list[Action]) -> Trigger:
        self._observe(ev.played_ms)
        self._commit(out, audio=ev.audio)
        return _T.COMMIT

    def _on_user_text(self, ev: UserText, now: float, out: list[Action]) -> Trigger:
        self._observe(ev.played_ms)
        self._commit(out, audio=False, text=ev.text)
        return _T.COMMIT

    def _on_input_ended(self, ev: InputEnded, now: float, out: list[Action]) -> Trigger:
        self._observe(ev.played_ms)
        manual = not self.config.server_detects_turns
        if self._window is None and (self._user_speaking or (manual and ev.uncommitted_audio)):
            self._commit(out, audio=True)
        return _T.INPUT_ENDED

    def _on_connection_lost(self, ev: ConnectionLost, now: float, out: list[Action]) -> Trigger:
        self._observe(ev.played_ms)
        played = self._played
        if self._tracker.pending_ms(played) > _EPSILON_MS or any(
            r.active for r in self._responses.values()
        ):
            out.append(ClearPlayback())
        # The server's view of the user's turn is gone with it; the audio is sent again.
        self._window = None
        self._user_speaking = False
        self._uncommitted = self._own_commits = 0
        self._expected.clear()
        self._turn_ended_at = None
        for response in self._responses.values():
            if not response.active:
                continue
            response.active = False
            response.status = "lost"
            for item_id in response.items:
                item = self._items[item_id]
                heard = self._tracker.heard_ms(item_id, played)
                if item.kind == "message" and not (
                    item.audio_done and heard >= item.received_ms - _EPSILON_MS
                ):
                    item.interrupted = True
                    item.heard_ms = heard
                    self._cut_by_drop = True
                item.audio_done = True
                if item.text is None:
                    item.text = "".join(item.parts)
            for call_key in list(response.calls):
                call = self._calls[call_key]
                if call.state is _CallState.SEEN:
                    # Cut off before its arguments were whole: it was never really made.
                    # The replayed conversation does not hold it, so the model calls again.
                    response.calls.remove(call_key)
                    del self._calls[call_key]
                elif call.state is _CallState.HELD:
                    call.state = _CallState.RUNNING
                    out.append(
                        StartTool(
                            item_id=call.item_id,
                            call_id=call.call_id,
                            name=call.name or call.call_id,
                            arguments=call.arguments,
                            response_id=response.id,
                        )
                    )
        self._tracker.on_clear(played)
        return _T.LOST

    def _on_resumed(self, ev: Resumed, now: float, out: list[Action]) -> Trigger:
        # Whatever was requested while disconnected went nowhere.
        self._expected.clear()
        self._own_commits = 0
        running = any(c.state is _CallState.RUNNING for c in self._calls.values())
        # An answer a drop cut short was not given: ask for it again (the replayed
        # conversation holds what was heard of it), until a response for it is created.
        if ev.answer_owed or (self._cut_by_drop and not running):
            self._turn_ended_at = now  # its latency counts from the resumption
            self._request(out)
        return _T.RESUMED

    def _on_say(self, ev: Say, now: float, out: list[Action]) -> Trigger:
        self._observe(ev.played_ms)
        if self._window is not None or self._holds_turn():
            self._barge_in(out, by_speech=False)
        self._request(out, ev.text)
        return _T.SAY

    def _commit(self, out: list[Action], *, audio: bool, text: str | None = None) -> None:
        """End the user's turn (its audio, or a text message) and ask for an answer,
        interrupting the agent first if it holds the turn."""
        if self._window is not None or self._holds_turn():
            self._barge_in(out, by_speech=False)
        self._user_speaking = False
        if audio:
            self._own_commits += 1
            out.append(CommitInput())
        if text is not None:
            out.append(AddMessage(role="user", text=text))
        self._turn_ended_at = self._now
        self._request(out)

    def _on_tick(self, ev: Tick, now: float, out: list[Action]) -> Trigger:
        self._observe(ev.played_ms)
        if self._window is not None and now >= self._window.deadline:
            self._barge_in(out, by_speech=True)
        return _T.TICK

    def _on_commit_failed(self, ev: CommitFailed, now: float, out: list[Action]) -> Trigger:
        self._own_commits = max(0, self._own_commits - 1)
        return _T.REQUEST_FAILED

    def _on_create_failed(self, ev: CreateFailed, now: float, out: list[Action]) -> Trigger:
        if self._expected:
            self._expected.popleft()
        return _T.REQUEST_FAILED

    # -- barge-in ------------------------------------------------------------------------

    def _holds_turn(self) -> bool:
        """Whether the agent has something the user can interrupt."""
        return (
            any(not r.interrupted for r in self._responses.values())
            or self._tracker.pending_ms(self._played) > _EPSILON_MS
            or _Due.LIVE in self._expected
        )

    def _barge_in(self, out: list[Action], *, by_speech: bool) -> None:
        """Stop the agent: clear, cancel, truncate, settle its tools; nothing plays after."""
        played = self._played
        out.append(ClearPlayback())
        self._window = None  # held audio is dropped; held tools are answered below
        server_cancels = by_speech and self.config.server_cancels_on_speech
        server_truncates = by_speech and self.config.server_truncates
        playing = self._tracker.item_at(played)
        reported: tuple[str | None, float] = (None, 0.0)
        tail: list[Action] = []
        for response in self._responses.values():
            if response.interrupted:
                continue
            response.interrupted = True
            if response.active and not response.cancelling:
                response.cancelling = True
                if not server_cancels:
                    out.append(CancelResponse(response_id=response.id))
            for item_id in response.items:
                item = self._items[item_id]
                if item.kind != "message" or item.finalized:
                    continue
                written = self._tracker.written_for(item_id)
                heard = self._tracker.heard_ms(item_id, played)
                if item.audio_done and heard >= item.received_ms - _EPSILON_MS:
                    continue  # heard in full (or complete without audio): not interrupted
                item.interrupted = True
                item.heard_ms = heard
                if written > 0:
                    if reported[0] is None or item_id == playing:
                        reported = (item_id, heard)
                    audio_end_ms = math.floor(heard)  # never beyond played or received
                    if not server_truncates and audio_end_ms >= 1:
                        out.append(
                            Truncate(
                                item_id=item_id,
                                content_index=item.content_index,
                                audio_end_ms=audio_end_ms,
                            )
                        )
            for call_key in response.calls:
                call = self._calls[call_key]
                if call.state is _CallState.HELD:
                    self._refuse(call, OUTPUT_NOT_RUN, tail)
                elif call.state is _CallState.RUNNING and call.cancel_on_interrupt:
                    tail.append(CancelTool(call.item_id))
                    self._refuse(call, OUTPUT_CANCELLED, tail)
        self._tracker.on_clear(played)
        self._expected = deque(_stale(d) for d in self._expected)
        out.extend(tail)
        out.append(AgentInterrupted(item_id=reported[0], heard_ms=reported[1]))

    # -- helpers -------------------------------------------------------------------------

    def _observe(self, played_ms: float | None) -> None:
        if played_ms is not None:
            self._tracker.observe(played_ms)
            self._played = self._tracker.played_ms

    def _response(self, response_id: str) -> _Response | None:
        """The response's record; one the session never reported created is taken as
        created now, one that already finished is None (its late events are ignored)."""
        response = self._responses.get(response_id)
        if response is None and response_id not in self._finished:
            response = self._responses[response_id] = _Response(response_id)
        return response

    def _item(self, response: _Response, item_id: str, kind: str) -> _Item:
        item = self._items.get(item_id)
        if item is None:
            item = self._items[item_id] = _Item(item_id, response.id, kind)
            item.interrupted = response.interrupted  # nothing of it will be heard
            response.items.append(item_id)
        return item

    def _known_item(self, response_id: str | None, item_id: str) -> _Item | None:
        item = self._items.get(item_id)
        if item is None and response_id is not None and response_id in self._responses:
            item = self._item(self._responses[response_id], item_id, "message")
        return item

    def _call(self, response: _Response, item_id: str, call_id: str, name: str | None) -> _Call:
        # Keyed by item: the model may reuse a call_id (a second call while the first
        # runs), and each call must still run and get its own output.
        call = self._calls.get(item_id)
        if call is None:
            call = self._calls[item_id] = _Call(call_id, item_id, response.id)
            response.calls.append(item_id)
            self._item(response, item_id, "function_call")
        call.name = name or call.name
        return call

    def _answer(self, call: _Call, output: str, out: list[Action], *, error: bool) -> None:
        call.state = _CallState.ANSWERED
        out.append(
            SendToolOutput(
                call_id=call.call_id,
                output=output,
                item_id=call.item_id,
                name=call.name or call.call_id,
                arguments=call.arguments,
                error=error,
            )
        )

    def _refuse(self, call: _Call, template: str, out: list[Action]) -> None:
        """Answer a call that will not run (or was stopped) with a short explanation."""
        self._answer(call, template.format(name=call.name or call.call_id), out, error=True)

    def _end_audio(self, item: _Item, out: list[Action]) -> None:
        """The item's audio is complete: the sink's converter may flush (once, in order
        with the item's audio, so held back with it by the confirmation window)."""
        if item.audio_ended or item.interrupted or item.received_ms <= 0:
            return
        item.audio_ended = True
        end = EndOfAudio(item_id=item.id)
        if self._window is not None:
            self._window.held.append(end)
        else:
            out.append(end)

    def _answer_started(self, response_id: str, out: list[Action]) -> None:
        started, self._turn_ended_at = self._turn_ended_at, None
        if started is not None:
            out.append(AnswerStarted(response_id=response_id, latency_s=self._now - started))

    def _request(self, out: list[Action], message: str | None = None) -> None:
        """Send ``response.create``: the service cancels what was due before it."""
        self._supersede()
        self._expected.append(_Due.LIVE)
        out.append(CreateResponse(message=message))

    def _supersede(self) -> None:
        self._expected = deque(_Due.SUPERSEDED if d is _Due.STALE else d for d in self._expected)

    def _follow_up(self, response: _Response, out: list[Action]) -> None:
        """Ask for the one response that speaks the tools' results, once all are in."""
        if (
            response.follow_up
            or response.interrupted
            or response.active
            or response.status not in ("completed", "lost")
            or not response.calls
            or any(self._calls[c].state is not _CallState.ANSWERED for c in response.calls)
        ):
            return
        response.follow_up = True
        if self._window is not None:
            self._window.held.append(CreateResponse())
        else:
            self._request(out)

    def _write(self, play: PlayAudio, out: list[Action]) -> None:
        self._tracker.on_write(play.item_id, play.content_index, play.duration_ms)
        self._responses[play.response_id].audio_written = True
        out.append(play)
        self._answer_started(play.response_id, out)

    def _release(self, action: Action, out: list[Action]) -> None:
        """Carry out an action the confirmation window held back."""
        if isinstance(action, PlayAudio):
            if action.response_id in self._responses:
                self._write(action, out)
        elif isinstance(action, EndOfAudio):
            if action.item_id in self._items and not self._items[action.item_id].interrupted:
                out.append(action)
        elif isinstance(action, StartTool):
            call = self._calls.get(action.item_id)
            if call is not None and call.state is _CallState.HELD:
                call.state = _CallState.RUNNING
                out.append(action)
        elif isinstance(action, CreateResponse):
            self._request(out)

    # -- after every input -----------------------------------------------------------------

    def _settle(self, trigger: Trigger, out: list[Action]) -> None:
        if self._window is None:
            self._finalize(out)
            self._collect()
        new = self._derive()
        old = self._state
        if new is not old:
            if new not in TRANSITIONS[old].get(trigger, ()):
                raise RuntimeError(
                    f"illegal turn transition from {old.value} to {new.value} on {trigger.value!r}"
                )
            self._state = new
            out.append(TurnChanged(old=old, new=new))

    def _derive(self) -> TurnState:
        """The state the machine's data says it is in."""
        if self._window is not None:
            return TurnState.CONFIRMING
        if self._user_speaking:
            return TurnState.USER_SPEAKING
        live = [r for r in self._responses.values() if not r.interrupted]
        if self._tracker.pending_ms(self._played) > _EPSILON_MS or any(
            r.active and r.audio_written for r in live
        ):
            return TurnState.AGENT_SPEAKING
        if any(self._calls[c].state is _CallState.RUNNING for r in live for c in r.calls):
            return TurnState.TOOL_RUNNING
        if self._uncommitted or _Due.LIVE in self._expected or any(r.active for r in live):
            return TurnState.THINKING
        return TurnState.IDLE

    def _finalize(self, out: list[Action]) -> None:
        """Report each assistant message's final text once it is complete and was heard
        (played out) or interrupted."""
        for item in self._items.values():
            if item.finalized or item.kind != "message" or item.text is None:
                continue
            if not item.audio_done:
                continue
            if not item.interrupted:
                end = self._tracker.end_of(item.id)
                if end is not None and end > self._played + _EPSILON_MS:
                    continue
            item.finalized = True
            self._tracker.forget(item.id)
            out.append(
                AgentTranscriptFinal(
                    item_id=item.id,
                    response_id=item.response_id,
                    text=_heard_text(item) if item.interrupted else item.text,
                    interrupted=item.interrupted,
                )
            )

    def _collect(self) -> None:
        """Forget responses that are over: done, every call answered, every item reported."""
        for response in [r for r in self._responses.values() if not r.active]:
            if any(self._calls[c].state is not _CallState.ANSWERED for c in response.calls):
                continue
            if any(
                not self._items[i].finalized and self._items[i].kind == "message"
                for i in response.items
            ):
                continue
            del self._responses[response.id]
            for item_id in response.items:
                del self._items[item_id]
            for call_key in response.calls:
                del self._calls[call_key]
            self._finished[response.id] = None
            if len(self._finished) > _MEMORY:
                del self._finished[next(iter(self._finished))]


def _stale(due: _Due) -> _Due:
    return _Due.STALE if due is _Due.LIVE else due


def _heard_text(item: _Item) -> str:
    """The part of an interrupted item's text the user heard.

    With word timestamps, a word counts as heard once playback passed its middle; the text
    is cut after the last such word (with its punctuation). Without them it is estimated:
    the words whose end falls within the heard share of the audio (speech is close to
    even), cut at a word boundary, never more than was heard.
    """
    text = item.text or ""
    if not item.words:
        if item.received_ms <= 0 or item.heard_ms >= item.received_ms:
            return text
        share = max(0.0, item.heard_ms) / item.received_ms
        cut = int(len(text) * share)
        while cut > 0 and not text[cut - 1].isspace():
            cut -= 1
        return text[:cut].rstrip()
    words = sorted(item.words)
    heard = [w for w in words if w[0] + w[1] / 2 <= item.heard_ms]
    if not heard:
        return ""
    cursor = cut = 0
    for position, (_, _, word) in enumerate(words[: len(heard)]):
        found = text.find(word, cursor)
        if not word or found < 0:
            return " ".join(w[2] for w in heard)  # the words do not match the text
        cursor = found + len(word)
        if position == len(heard) - 1:
            cut = cursor
    while cut < len(text) and not text[cut].isspace() and not text[cut].isalnum():
        cut += 1
    return text[:cut]


_Handler = Callable[[TurnMachine, Any, float, list[Action]], Trigger]
_HANDLERS: Final[dict[type[Input], _Handler]] = {
    SpeechStarted: TurnMachine._on_speech_started,
    SpeechStopped: TurnMachine._on_speech_stopped,
    InputCommitted: TurnMachine._on_input_committed,
    ResponseCreated: TurnMachine._on_response_created,
    OutputItemAdded: TurnMachine._on_output_item_added,
    AudioDelta: TurnMachine._on_audio_delta,
    AudioDone: TurnMachine._on_audio_done,
    TranscriptDelta: TurnMachine._on_transcript_delta,
    TranscriptDone: TurnMachine._on_transcript_done,
    WordTimestamp: TurnMachine._on_word,
    FunctionCallDone: TurnMachine._on_function_call,
    ResponseDone: TurnMachine._on_response_done,
    ToolFinished: TurnMachine._on_tool_finished,
    PlaybackProgress: TurnMachine._on_playback,
    Interrupt: TurnMachine._on_interrupt,
    Commit: TurnMachine._on_commit,
    Tick: TurnMachine._on_tick,
    CommitFailed: TurnMachine._on_commit_failed,
    CreateFailed: TurnMachine._on_create_failed,
    ResponseRequested: TurnMachine._on_requested,
    UserText: TurnMachine._on_user_text,
    Say: TurnMachine._on_say,
    InputEnded: TurnMachine._on_input_ended,
    ConnectionLost: TurnMachine._on_connection_lost,
    Resumed: TurnMachine._on_resumed,
}


# -- the diagram ---------------------------------------------------------------------------


def mermaid_diagram() -> str:
    """The state diagram, drawn from :data:`TRANSITIONS`, as Mermaid source.

    Returns:
        A ``stateDiagram-v2`` (without the Markdown fence), one edge per pair of states,
        labelled with every trigger that takes that edge, ending with a newline.
    """
    edges: dict[tuple[TurnState, TurnState], list[str]] = {}
    for old, row in TRANSITIONS.items():
        for trigger, targets in row.items():
            for new in sorted(targets, key=list(TurnState).index):
                edges.setdefault((old, new), []).append(trigger.value)
    lines = ["stateDiagram-v2", f"    [*] --> {TurnState.IDLE.value}"]
    lines += [
        f"    {old.value} --> {new.value}: {' / '.join(labels)}"
        for (old, new), labels in edges.items()
    ]
    return "\n".join(lines) + "\n"
