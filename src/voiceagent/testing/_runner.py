"""Running an agent through a scripted conversation against the emulator, for tests.

:func:`run_conversation` plays the user's side (typed or spoken turns, barge-ins at a
given point of the agent's answer), waits for the agent to settle after each turn, and
returns a :class:`ConversationResult`: every voiceagent event, grouped per user turn,
with a readable rendering that :mod:`voiceagent.testing._expect` puts in its failure
messages.
"""

from __future__ import annotations

import contextlib
import json
import math
from typing import TYPE_CHECKING, Any, Final

import anyio
import anyio.lowlevel
import attrs

from .._turns import TurnState
from ..audio import AudioFormat, AudioSourceBase, MemorySink
from ..errors import ConfigurationError
from ..events import (
    AgentTranscript,
    AgentTranscriptDelta,
    Event,
    EventsDropped,
    Interrupted,
    McpCallCompleted,
    McpCallFailed,
    ServiceErrorReported,
    SessionEnded,
    ToolCallFinished,
    ToolCallStarted,
    TurnChanged,
    TurnMetrics,
    UserTranscript,
)
from ._emulator import Emulator
from ._script import Script
from ._synth import synthesize

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from .._agent import Agent
    from .._history import SessionResult
    from .._session import AgentSession
    from ._connection import EmulatorConnection
    from ._expect import Expect

__all__ = ["ConversationResult", "TurnRecord", "UserSays", "run_conversation"]

DEFAULT_TURN_TIMEOUT_S: Final = 30.0
"""How long one user turn may take to be answered before the run fails."""
DEFAULT_EVENT_BUFFER: Final = 100_000
"""Events the run keeps for a conversation (a run that drops some fails its assertions)."""
_SILENCE_AFTER_MS: Final = 1200  # ends a spoken turn for any VAD's silence_duration_ms
_POLL_S: Final = 0.05


@attrs.frozen
class UserSays:
    """One user turn with options (a plain ``str`` is a turn without them).

    Attributes:
        text: What the user says (typed, or spoken with synthesized speech).
        interrupt_after_ms: Say it while the agent is answering the previous turn, once
            that much of its answer has played (a barge-in); None: after the answer.
    """

    text: str
    interrupt_after_ms: float | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.strip():
            raise ConfigurationError(f"UserSays.text must be a non-empty str, not {self.text!r}")
        ms = self.interrupt_after_ms
        if ms is not None and (
            isinstance(ms, bool) or not isinstance(ms, int | float) or not 0 <= ms < math.inf
        ):
            raise ConfigurationError(
                f"UserSays.interrupt_after_ms must be a number of ms >= 0 or None, not {ms!r}"
            )


@attrs.frozen(kw_only=True)
class TurnRecord:
    """What happened in one user turn: the user's turn and the agent's answer to it.

    Attributes:
        index: The turn's number, from 1.
        user: What the user said.
        events: The voiceagent events of the turn, in order.
        interrupt_after_ms: The barge-in point the turn was scripted with, if any.
    """

    index: int
    user: str
    events: tuple[Event, ...]
    interrupt_after_ms: float | None = None

    def of(self, cls: type[Any]) -> list[Any]:
        """The turn's events of ``cls``."""
        return [e for e in self.events if isinstance(e, cls)]

    @property
    def said(self) -> list[str]:
        """The agent's messages in this turn."""
        return [e.text for e in self.of(AgentTranscript)]

    @property
    def latency_s(self) -> float | None:
        """The turn's first answer latency (``TurnMetrics``), if measured."""
        metrics = self.of(TurnMetrics)
        return metrics[0].latency_s if metrics else None


@attrs.frozen(kw_only=True)
class ConversationResult:
    """A scripted conversation's record (from :func:`run_conversation`).

    Attributes:
        events: Every voiceagent event of the session, in order.
        turns: The events grouped per user turn: what happened from the user's turn to the
            next one's, except that an agent message (and its interruption) belongs to the
            turn it answered, even when a barge-in in the next turn cut it. Events before
            the first turn (a greeting) belong to no turn.
        result: The session's result (history, why it ended).
        connection: The emulator's side of the connection: every client event it received
            (``connection.received``) and server event it sent.
        dropped: How many events the run's buffer lost (then the assertions fail).
    """

    events: tuple[Event, ...]
    turns: tuple[TurnRecord, ...]
    result: SessionResult
    connection: EmulatorConnection | None = attrs.field(repr=False)
    dropped: int = 0

    @property
    def expect(self) -> Expect:
        """Assertions about the whole conversation (``result.expect.turn(2)`` for one
        turn)."""
        from ._expect import Expect

        return Expect(self, self.turns, scope="the conversation")

    def render(self) -> str:
        """The conversation, one line per message, tool call, interruption and error."""
        lines: list[str] = []
        owned = {id(e) for turn in self.turns for e in turn.events}
        before = [e for e in self.events if id(e) not in owned]
        if any(isinstance(e, AgentTranscript) for e in before):
            lines.append("before the first turn")
            lines += _render_events(before)
        for turn in self.turns:
            how = (
                f" (interrupting after {turn.interrupt_after_ms:g} ms)"
                if turn.interrupt_after_ms is not None
                else ""
            )
            lines.append(f"turn {turn.index}{how}")
            lines.append(f"  user   {turn.user}")
            lines += _render_events(turn.events)
        lines.append(f"ended: {self.result.reason.value}" + (
            f" ({self.result.error})" if self.result.error is not None else ""
        ))  # fmt: skip
        if self.dropped:
            lines.append(f"({self.dropped} events were dropped: raise event_buffer)")
        return "\n".join(lines)


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _render_events(events: Sequence[Event]) -> list[str]:
    lines: list[str] = []
    for event in events:
        if isinstance(event, UserTranscript):
            lines.append(f"  heard  {_short(event.text)}")
        elif isinstance(event, ToolCallStarted):
            if not any(
                isinstance(e, ToolCallFinished) and e.item_id == event.item_id for e in events
            ):
                lines.append(f"  tool   {event.name}({_short(event.arguments, 80)}) (no result)")
        elif isinstance(event, ToolCallFinished):
            outcome = f"error: {event.error}" if event.error else event.output
            lines.append(
                f"  tool   {event.name}({_short(event.arguments, 80)}) -> {_short(outcome, 80)}"
            )
        elif isinstance(event, McpCallCompleted | McpCallFailed):
            out = event.output if isinstance(event, McpCallCompleted) else f"error: {event.error}"
            lines.append(
                f"  mcp    {event.server_label}.{event.name}({_short(event.arguments, 60)}) "
                f"-> {_short(out, 60)}"
            )
        elif isinstance(event, AgentTranscript):
            cut = " [interrupted]" if event.interrupted else ""
            lines.append(f"  agent  {_short(event.text)}{cut}")
        elif isinstance(event, TurnMetrics):
            lines.append(f"         (latency {event.latency_s:.3f} s)")
        elif isinstance(event, Interrupted):
            lines.append(f"  ---    interrupted after {event.heard_ms:.0f} ms of the answer")
        elif isinstance(event, ServiceErrorReported):
            lines.append(f"  error  {event.code}: {_short(event.message)}")
    return lines


# -- the user's audio -------------------------------------------------------------------------


class _SpokenTurns(AudioSourceBase):
    """The user's side as audio: each turn pushed when the driver says, nothing between
    turns (a quiet line), the end when the driver closes it."""

    def __init__(self) -> None:
        self._format = AudioFormat()
        send, receive = anyio.create_memory_object_stream[bytes](math.inf)
        self._send: MemoryObjectSendStream[bytes] = send
        self._receive: MemoryObjectReceiveStream[bytes] = receive

    @property
    def format(self) -> AudioFormat:
        return self._format

    def say(self, text: str) -> None:
        audio = synthesize(text).audio + bytes(self._format.bytes_for_ms(_SILENCE_AFTER_MS))
        step = self._format.bytes_for_ms(20)
        for i in range(0, len(audio), step):
            self._send.send_nowait(audio[i : i + step])

    def finish(self) -> None:
        self._send.close()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self._check_open()
        async for frame in self._receive:
            yield frame

    async def aclose(self) -> None:
        self._send.close()
        self._receive.close()
        await super().aclose()


# -- running ---------------------------------------------------------------------------------


def _turns(user: Sequence[str | UserSays]) -> list[UserSays]:
    if isinstance(user, str):
        raise ConfigurationError("user= takes a list of turns: user=['Hello'], not a str")
    turns = [UserSays(t) if isinstance(t, str) else t for t in user]
    for turn in turns:
        if not isinstance(turn, UserSays):
            raise ConfigurationError(f"user= turns are str or UserSays(...), not {turn!r}")
    return turns


def _heard(script: Script | None, turns: list[UserSays]) -> Script | None:
    """``script`` with each turn's ``hears`` filled in from the user's text, where unset
    (the emulator cannot recognise the synthesized speech)."""
    if script is None:
        script = Script()
    scripted = list(script.turns)
    for i, turn in enumerate(turns):
        if i < len(scripted):
            if scripted[i].hears is None:
                scripted[i] = attrs.evolve(scripted[i], hears=turn.text)
        else:
            from ._script import Turn

            scripted.append(Turn(hears=turn.text))
    return Script(*scripted, greeting=script.greeting, mcp_servers=script.mcp_servers)


class _Recorder:
    """Collects the session's events and wakes the driver at each."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.dropped = 0
        self.changed = anyio.Event()
        self.speaking_from: float | None = None  # sink position when the agent started

    async def run(self, session: AgentSession, sink: MemorySink) -> None:
        async with session.events(Event, buffer=DEFAULT_EVENT_BUFFER) as stream:
            async for event in stream:
                if isinstance(event, EventsDropped):
                    self.dropped += event.count
                    continue
                assert isinstance(event, Event)
                self.events.append(event)
                if isinstance(event, TurnChanged) and event.new is TurnState.AGENT_SPEAKING:
                    self.speaking_from = sink.played_ms()
                self.changed.set()
                self.changed = anyio.Event()
                if isinstance(event, SessionEnded):
                    return


def _settled(session: AgentSession) -> bool:
    """Nobody speaks and nothing runs: the turn is over (tools and MCP calls included)."""
    mcp = session._mcp  # the MCP runtime knows of calls the turn machine does not
    return (
        session.state is TurnState.IDLE
        and not session._tools.running
        and not (mcp is not None and mcp.busy)
    )


async def run_conversation(
    agent: Agent,
    script: Script | None = None,
    *,
    user: Sequence[str | UserSays] = (),
    audio: bool = False,
    emulator: Emulator | None = None,
    speed: float | None = None,
    turn_timeout: float = DEFAULT_TURN_TIMEOUT_S,
    **session_args: Any,
) -> ConversationResult:
    """Hold a conversation with ``agent`` against the emulator and record it.

    Each user turn is typed (``session.send_text``) or, with ``audio=True``, spoken: its
    text is synthesized and streamed as the user's audio, and the emulator "hears" it (the
    script's ``hears`` is filled in from it where unset). The run waits for the agent to
    settle (answered, tools and MCP calls done) before the next turn, unless that turn
    interrupts (:class:`UserSays` with ``interrupt_after_ms``). A barge-in plays the
    agent's audio at real-time pace, so that "after 800 ms" means what a listener hears.

    Args:
        agent: The agent under test.
        script: What the emulated model does in each turn (default: the emulator's echo).
        user: The user's turns, in order: texts or :class:`UserSays`.
        audio: Speak the user's turns instead of typing them.
        emulator: A running emulator to use (its ``script`` is replaced by ``script`` when
            one is given); default: a new, unpaced one for this run.
        speed: The new emulator's pacing (None: unpaced).
        turn_timeout: Seconds each turn may take; then the run fails with the
            conversation so far.
        **session_args: More :meth:`~voiceagent.Agent.session` arguments (options,
            ``history``...); ``source``, ``sink``, ``endpoint`` and ``credential`` are the
            run's own.

    Returns:
        The record; assert on it with ``result.expect``.

    Raises:
        AssertionError: A turn did not finish within ``turn_timeout`` (the message shows
            the conversation so far).
        ConfigurationError: Bad arguments.
    """
    turns = _turns(user)
    for taken in ("source", "sink", "endpoint", "credential", "api_key"):
        if taken in session_args:
            raise ConfigurationError(f"run_conversation() sets {taken} itself")
    if audio:
        script = _heard(script, turns)
    barge_in = any(t.interrupt_after_ms is not None for t in turns)
    sink = MemorySink(realtime=barge_in)
    source = _SpokenTurns() if audio else None
    recorder = _Recorder()
    markers: list[int] = []
    async with contextlib.AsyncExitStack() as stack:
        if emulator is None:
            emulator = await stack.enter_async_context(Emulator(script=script, speed=speed))
        elif script is not None:
            emulator.script = script
        before = len(emulator.connections)
        session = agent.session(
            source=source,
            sink=sink,
            endpoint=emulator.endpoint,
            credential=emulator.credential,
            **session_args,
        )
        failure: str | None = None
        async with anyio.create_task_group() as tg, session:
            tg.start_soon(recorder.run, session, sink)
            await anyio.lowlevel.checkpoint()
            try:
                for i, turn in enumerate(turns):
                    following = turns[i + 1] if i + 1 < len(turns) else None
                    markers.append(len(recorder.events))
                    if source is not None:
                        source.say(turn.text)
                    else:
                        await session.send_text(turn.text)
                    with anyio.fail_after(turn_timeout):
                        await _await_turn(session, sink, recorder, following, audio=audio)
                if source is not None:
                    source.finish()  # the session ends once the last answer has played
                else:
                    session.end()
                with anyio.fail_after(turn_timeout):
                    await session.wait()
            except TimeoutError:
                failure = (
                    f"turn {len(markers)} was not answered within {turn_timeout:g} s "
                    "(turn_timeout); the conversation so far:"
                )
        result = _result(recorder, markers, turns, session, emulator, before)
    if failure is not None:
        raise AssertionError(f"{failure}\n{result.render()}")
    return result


async def _await_turn(
    session: AgentSession,
    sink: MemorySink,
    recorder: _Recorder,
    following: UserSays | None,
    *,
    audio: bool,
) -> None:
    """Wait until the turn is answered, or until the next turn's barge-in point."""
    start = len(recorder.events)
    moved = not audio  # a typed turn moves the machine at once; a spoken one when heard
    while True:
        if not moved:
            moved = any(
                isinstance(e, TurnChanged) and e.new is not TurnState.IDLE
                for e in recorder.events[start:]
            )
        if following is not None and following.interrupt_after_ms is not None:
            at = recorder.speaking_from
            if (
                moved
                and at is not None
                and session.state is TurnState.AGENT_SPEAKING
                and sink.played_ms() - at >= following.interrupt_after_ms
            ):
                return
        elif moved and _settled(session):
            return
        with anyio.move_on_after(_POLL_S):
            await recorder.changed.wait()


def _result(
    recorder: _Recorder,
    markers: list[int],
    turns: list[UserSays],
    session: AgentSession,
    emulator: Emulator,
    before: int,
) -> ConversationResult:
    events = tuple(recorder.events)
    owners = _owners(events, markers)
    records = [
        TurnRecord(
            index=n + 1,
            user=turns[n].text,
            events=tuple(e for e, owner in zip(events, owners, strict=True) if owner == n),
            interrupt_after_ms=turns[n].interrupt_after_ms,
        )
        for n in range(len(markers))
    ]
    connections = emulator.connections[before:]
    return ConversationResult(
        events=events,
        turns=tuple(records),
        result=session.result(),
        connection=connections[0] if connections else None,
        dropped=recorder.dropped,
    )


def _owners(events: tuple[Event, ...], markers: list[int]) -> list[int]:
    """The user turn (0-based; -1 before the first) each event belongs to: the turn during
    which it happened, except that an agent message and its interruption belong to the
    turn the message answered (a barge-in cuts the previous turn's answer)."""
    owners: list[int] = []
    turn = -1
    started: dict[str, int] = {}  # agent item -> the turn its first words came in
    for i, event in enumerate(events):
        while turn + 1 < len(markers) and markers[turn + 1] <= i:
            turn += 1
        owner = turn
        if isinstance(event, AgentTranscriptDelta):
            started.setdefault(event.item_id, turn)
        elif isinstance(event, AgentTranscript | Interrupted) and event.item_id is not None:
            owner = started.get(event.item_id, turn)
        owners.append(owner)
    return owners


def arguments_of(event: ToolCallFinished | McpCallCompleted | McpCallFailed) -> dict[str, Any]:
    """A call's arguments, parsed (an empty dict when they are not a JSON object)."""
    try:
        value = json.loads(event.arguments or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
