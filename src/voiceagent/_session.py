"""``AgentSession``: one live conversation, and the owner of its loops.

The session owns one connection, one task group and the loops in it; everything else is
done by the parts it wires together, each in its own module:

- :func:`~voiceagent._resolve.resolve` derived the configuration once (the plan);
- the **receive loop** reads wire events; :class:`~voiceagent._translate.Translator` turns
  each into turn-machine inputs and voiceagent events (pure);
- :class:`~voiceagent._turns.TurnMachine` turns inputs into actions (sans-IO);
- :class:`~voiceagent._executor.Executor` carries the actions out, synchronously: client
  events to the :class:`~voiceagent._wire.Wire` (whose **writer** sends them in order),
  audio to the :class:`~voiceagent._player.Player` (whose **playback loop** writes the
  sink), tools to the :class:`~voiceagent._executor.ToolRunner` (a task per call), events
  to the history and the :class:`~voiceagent._fanout.EventBus` (whose **dispatch loop**
  runs the handlers);
- the **send loop** appends the source's audio; the **clock loop** tells the machine how
  far playback got and when its deadlines pass.

Only the wire's calls can fail as a lost connection; a sink or a source that fails is an
:class:`~voiceagent.errors.AudioError`. Nothing a consumer does can hold up the receive
loop.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import time
from typing import TYPE_CHECKING, Any, Final, Literal, overload

import anyio
import attrs

from . import _turns as t
from ._aio import event_factory, loop_clock
from ._connect import ConnectionSettings, open_connection
from ._executor import Executor, ToolRunner, message_item
from ._fanout import DEFAULT_BUFFER, EventBus, EventStream, check_buffer
from ._history import History, HistoryEntry, Message, SessionResult
from ._mcp_session import MCP_WIRE_TYPES, McpRuntime
from ._player import Player
from ._reconnect import ReconnectPolicy, answer_owed, replay_events
from ._recorder import Recorder
from ._router import EventRouter
from ._tools import register_injectable
from ._translate import NEEDS_POSITION, Translator
from ._wire import RECEIVE_LIMIT, Uplink, Wire, check_echo
from .audio import AudioSink, FrameStream, InputRecordingSink, NullSink
from .errors import (
    AudioError,
    AuthenticationError,
    ConfigurationError,
    ConnectError,
    ConnectionLostError,
    HandlerError,
    ServiceError,
    SessionClosedError,
    SessionStateError,
    VoiceAgentError,
)
from .events import (
    EndReason,
    Event,
    Reconnected,
    Reconnecting,
    ServiceErrorReported,
    SessionEnded,
    SessionStarted,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from types import TracebackType

    from anyio.abc import TaskGroup
    from azure.core.credentials import AzureKeyCredential
    from azure.core.credentials_async import AsyncTokenCredential

    from ._agent import Agent
    from ._resolve import SessionPlan
    from ._router import Registrar
    from ._translate import Raw
    from .audio import AudioFormat, AudioSource

__all__ = ["SINK_STALL_S", "AgentSession", "SessionStatus"]

log = logging.getLogger("voiceagent.session")

_CLOCK_S: Final = 0.02
"""The shortest sleep of the clock loop while audio is queued."""
_REPORT_WAIT_S: Final = 0.5
"""The longest the clock waits for a position-reporting sink's next report."""
_ANSWERING_WAIT_S: Final = 0.5
"""The longest the clock sleeps while an answer's audio is still coming and playback can
change nothing (``TurnMachine.playback_wait_ms`` is None): it still looks at the sink now
and then, to notice one that is stuck."""
_CONFIGURE_TIMEOUT_S: Final = 15.0
_CLOSE_TIMEOUT_S: Final = 5.0
_DEFAULT_PREFIX_PADDING_MS: Final = 420
"""The longest prefix padding of the service's VADs by default (azure_semantic_vad's)."""
_DEFAULT_SPEECH_MS: Final = 200
"""The service VADs' default shortest speech that starts a turn."""
_ONSET_MARGIN_MS: Final = 1000
"""Time for the service's ``speech_started`` to reach the session after a turn's speech
began (detection and the way back), on top of the padding and the shortest speech."""
_HARMLESS_ERRORS: Final = frozenset({"response_cancel_not_active"})
_PLAYED_EPSILON_MS: Final = 0.5
"""Queued audio shorter than this counts as played (float sums)."""
_AUDIO_ENDS: Final = frozenset(
    {"response.audio.done", "response.audio_transcript.done", "response.done"}
)
"""Events after which the clock looks at playback again (it waits while nothing is queued,
and while an answer's audio comes in): the ends of an answer's audio and of its text, which
together make a message final once heard."""
_QUIET_POLL_S: Final = 0.05
"""How often a session about to change connections looks for a quiet moment."""
SINK_STALL_S: Final = 10.0
"""A sink whose played position has not moved for this long while audio is queued for it
(and it is not paused) is stuck: the session ends with an
:class:`~voiceagent.errors.AudioError` instead of waiting for it forever."""


class SessionStatus(enum.Enum):
    """Where a session is in its life."""

    NEW = "new"
    """Created by ``agent.session()``, not entered yet."""
    CONNECTING = "connecting"
    """``async with`` is opening the connection and configuring the service."""
    ACTIVE = "active"
    """The conversation is running."""
    CLOSING = "closing"
    """The ``async with`` block is being left: loops stop, audio drains, things close."""
    CLOSED = "closed"
    """Over: nothing can be sent any more (:meth:`AgentSession.result` stays readable)."""


_TRANSITIONS: Final[dict[SessionStatus, frozenset[SessionStatus]]] = {
    SessionStatus.NEW: frozenset({SessionStatus.CONNECTING}),
    SessionStatus.CONNECTING: frozenset({SessionStatus.ACTIVE, SessionStatus.CLOSED}),
    SessionStatus.ACTIVE: frozenset({SessionStatus.CLOSING}),
    SessionStatus.CLOSING: frozenset({SessionStatus.CLOSED}),
    SessionStatus.CLOSED: frozenset(),
}


def _idle_hold_bytes(plan: SessionPlan, fmt: AudioFormat) -> int | None:
    """How much of the user's audio a connected session keeps while no turn has begun:
    with the service's VAD, the turn's prefix padding and shortest speech (the service's
    defaults when not set) and :data:`_ONSET_MARGIN_MS` for the ``speech_started`` to come
    back; None (the whole buffer) for manual turns."""
    detection = plan.options.effective_turn_detection()
    if detection is None:
        return None
    padding = getattr(detection, "prefix_padding_ms", None)
    speech = getattr(detection, "speech_duration_ms", None)
    hold_ms = (
        (_DEFAULT_PREFIX_PADDING_MS if padding is None else padding)
        + (_DEFAULT_SPEECH_MS if speech is None else speech)
        + _ONSET_MARGIN_MS
    )
    return fmt.bytes_for_ms(hold_ms)


class AgentSession:
    """One live conversation with an :class:`~voiceagent.Agent`.

    Create it with ``agent.session(...)`` and enter it with ``async with``; leaving the
    block ends the conversation and closes the connection. ``agent.run(...)`` does both
    and waits for the end. The session owns the audio source and sink it was given: it
    closes both when it ends.
    """

    def __init__(
        self,
        agent: Agent,
        *,
        plan: SessionPlan,
        source: AudioSource | None,
        sink: AudioSink | None,
        endpoint: str | None,
        credential: AzureKeyCredential | AsyncTokenCredential | None,
        api_key: str | None,
        scope: str,
        history: tuple[Message, ...] = (),
    ) -> None:
        self.agent = agent
        self.plan = plan
        self.source = source
        self.sink: AudioSink = NullSink(plan.output_format) if sink is None else sink
        """The sink the agent's audio goes to (a :class:`~voiceagent.audio.NullSink`
        when the session was given none)."""
        self._connect_args: dict[str, Any] = {
            "endpoint": endpoint,
            "credential": credential,
            "api_key": api_key,
            "scope": scope,
        }
        self._initial_history = history
        self._status = SessionStatus.NEW
        self._machine = t.TurnMachine(plan.turns)
        self._history = History()
        self._router = EventRouter()
        self._bus = EventBus(
            [agent.router, self._router],
            buffer=agent.event_buffer,
            fatal=agent.fatal_handler_errors,
            on_fatal=self._on_handler_error,
        )
        self._bus.session = self
        self._translator = Translator(
            bytes_per_ms=plan.output_format.bytes_per_ms,
            cancel_on_interrupt=plan.cancel_on_interrupt,
        )
        self._player = Player(self.sink, plan.output_format, self._wake_clock)
        self._now: Callable[[], float] = anyio.current_time
        """The event loop's clock (found once in the loop: :func:`loop_clock`)."""
        self._new_event: Callable[[], anyio.Event] = anyio.Event
        self._tools = ToolRunner(
            agent.tools,
            self,
            max_output_chars=agent.max_tool_output_chars,
            finished=self._feed,
            publish=self._publish,
        )
        self._policy: ReconnectPolicy = plan.reconnect
        fmt = plan.input_format
        self._uplink = Uplink(
            0 if fmt is None else fmt.bytes_for_ms(self._policy.buffer_ms),
            None if fmt is None else _idle_hold_bytes(plan, fmt),
        )
        # MCP servers: the service calls their tools; this runs the approvals (_mcp.py).
        self._mcp: McpRuntime | None = None
        if plan.options.mcp_servers:
            self._mcp = McpRuntime(
                plan.options.mcp_servers,
                agent.approvers,
                default=agent.mcp_default_approval,
                session=self,
                publish=self._publish,
                post=self._uplink.post,
                expect_response=self._expect_response,
                request_response=self._request_response,
            )
        self._settings: ConnectionSettings | None = None
        self._link: _Link | None = None
        self._executor: Executor | None = None
        self._tg: TaskGroup | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._clock_wake: anyio.Event | None = None
        self._ended: anyio.Event | None = None
        self._ending = False
        self._source_done = False
        self._barrier_pending = False
        self._reason: EndReason | None = None
        self._error: BaseException | None = None
        self._session_id: str | None = None
        self._uncommitted_ms = 0.0
        """Input audio appended since the last commit (ours or the server's)."""
        self._requests: dict[str, str] = {}
        """Event ids of our own commits and response requests, until answered or failed."""
        self._request_count = 0
        # Telemetry hook: the recorder (traces, metrics, the report) sees every event as it
        # is published; None when the session's telemetry is all off.
        self._recorder = Recorder.create(
            plan.telemetry, agent=type(agent).__qualname__, model=plan.options.model
        )
        self._bus.observer = self._recorder

    # -- public API --------------------------------------------------------------------

    @property
    def status(self) -> SessionStatus:
        """Where the session is in its life."""
        return self._status

    @property
    def state(self) -> t.TurnState:
        """The current turn state (who holds the conversation's turn)."""
        return self._machine.state

    @property
    def options(self) -> Any:
        """The session options in force (:class:`~voiceagent.options.SessionOptions`)."""
        return self.plan.options

    @property
    def input_format(self) -> AudioFormat | None:
        """The wire format of the user's audio (the source is converted to it)."""
        return self.plan.input_format

    @property
    def output_format(self) -> AudioFormat:
        """The wire format of the agent's audio (converted to the sink's format)."""
        return self.plan.output_format

    @property
    def history(self) -> tuple[HistoryEntry, ...]:
        """The conversation so far: messages and tool calls, in conversation order."""
        return self._history.entries()

    @property
    def session_id(self) -> str | None:
        """The service's session id, once connected."""
        return self._session_id

    async def send_text(self, text: str) -> None:
        """Send a user message and ask the agent to answer it (interrupting it if it is
        speaking).

        Args:
            text: What the user says.

        Raises:
            ConfigurationError: ``text`` is not a non-empty str, or too large to send.
            SessionClosedError: The session has ended.
        """
        _check_text(text, "send_text")
        check_echo(message_item("user", text), "send_text()'s message")
        self._feed(t.UserText(text=text, played_ms=self._played_for_api()))
        await self._flush()

    async def add_message(self, role: Literal["user", "assistant", "system"], text: str) -> None:
        """Add a message to the conversation without asking for an answer (history
        injection).

        Args:
            role: ``"user"``, ``"assistant"`` or ``"system"``.
            text: The message's text.

        Raises:
            ConfigurationError: An unknown role, or a text that is not a non-empty str or
                is too large to send.
            SessionClosedError: The session has ended.
        """
        if role not in ("user", "assistant", "system"):
            raise ConfigurationError(
                f"add_message role must be 'user', 'assistant' or 'system', not {role!r}"
            )
        _check_text(text, "add_message")
        check_echo(message_item(role, text), "add_message()'s message")
        self._require_active()
        self._execute([t.AddMessage(role=role, text=text)])
        await self._flush()

    async def say(self, text: str) -> None:
        """Make the agent speak ``text`` as is, now (interrupting itself if it is speaking).

        Args:
            text: What the agent says.

        Raises:
            ConfigurationError: ``text`` is not a non-empty str, or too large to send.
            SessionClosedError: The session has ended.
        """
        _check_text(text, "say")
        check_echo(message_item("assistant", text), "say()'s text")
        self._feed(t.Say(text=text, played_ms=self._played_for_api()))
        await self._flush()

    async def interrupt(self) -> None:
        """Stop the agent now: clear its queued audio, cancel its answer, and truncate the
        conversation to what the user heard.

        Raises:
            SessionClosedError: The session has ended.
        """
        self._feed(t.Interrupt(played_ms=self._played_for_api()))
        await self._flush()

    async def commit(self) -> None:
        """End the user's turn (manual or push-to-talk turns) and ask for an answer.

        Raises:
            SessionClosedError: The session has ended.
        """
        self._feed(t.Commit(audio=True, played_ms=self._played_for_api()))
        await self._flush()

    def end(self) -> None:
        """End the conversation once the agent has finished its current answer.

        Safe to call from tools and handlers, and more than once; the session ends as soon
        as no response is active, no tool is running and the agent's audio has been played.
        """
        if not self._ending:
            self._ending = True
            self._maybe_finish()

    async def wait(self) -> SessionResult:
        """Wait until the conversation ends and return its result.

        When the session ends on its own, the body of its ``async with`` block is
        cancelled like the body of a task group; ``wait()`` still returns the result (the
        next await in the block is cancelled).

        Raises:
            SessionStateError: The session was never entered.
        """
        if self._ended is None:
            raise SessionStateError(
                "the session has not started: use `async with agent.session(...) as session:`"
            )
        try:
            await self._ended.wait()
        except anyio.get_cancelled_exc_class():
            # Our own ending cancels the block; an outer cancellation is delivered again
            # at the caller's next checkpoint, so returning here loses nothing.
            if self._reason is None or self._reason is EndReason.CANCELLED:
                raise
        return self.result()

    def result(self) -> SessionResult:
        """The result so far (the reason is ``ENDED`` while the session still runs)."""
        return SessionResult(
            history=self.history,
            reason=self._reason or EndReason.ENDED,
            error=self._error,
            recording=None if self._recorder is None else self._recorder.recording(),
        )

    def events(self, *types: type | str, buffer: int = DEFAULT_BUFFER) -> EventStream:
        """Subscribe to the session's events (voiceagent events and SDK server events).

        The subscription starts at this call, so ``stream = session.events()`` before
        ``await session.send_text(...)`` misses nothing. Iterate with ``async for``; the
        stream ends with the session (after :class:`~voiceagent.events.SessionEnded`).

        A subscription never holds the session up: it buffers at most ``buffer`` events,
        and a reader that falls that far behind loses the oldest (the log warns, and the
        reader next gets an :class:`~voiceagent.events.EventsDropped` with the count).
        Ask only for what you read: ``session.events(UserTranscript, AgentTranscript)``.

        Args:
            *types: Event classes (subclasses match too) or wire type strings; none for
                every event.
            buffer: The most events held for a slow reader.

        Returns:
            The subscription.

        Raises:
            ConfigurationError: A type that is not a class or a string, or a bad buffer.
        """
        for key in types:
            if not isinstance(key, type | str) or key == "":
                raise ConfigurationError(
                    f"events() takes event classes or wire type strings, not {key!r}"
                )
        return self._bus.subscribe(types, check_buffer(buffer, "events() buffer"))

    def publish(self, event: Event) -> None:
        """Hand an event of the application's own (a subclass of
        :class:`~voiceagent.events.Event`: a phone line's DTMF digit, a UI action) to this
        session's handlers and ``events()`` subscribers, after the events already queued.
        Never blocks.

        Args:
            event: The event.

        Raises:
            ConfigurationError: ``event`` is not a voiceagent ``Event``.
        """
        if not isinstance(event, Event):
            raise ConfigurationError(
                f"publish() takes a voiceagent.events.Event subclass instance, not {event!r}"
            )
        self._publish(event)

    @overload
    def on(self, event: type[Any]) -> Registrar[Any]: ...
    @overload
    def on(self, event: str) -> Registrar[Any]: ...
    def on(self, event: type[Any] | str) -> Registrar[Any]:
        """Register a handler for this session only (after the agent's own handlers):
        ``@session.on(UserTranscript)``. See :meth:`voiceagent.Agent.on`.

        Returns:
            A decorator that registers the handler and returns it unchanged.
        """
        return self._router.on(event)

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> AgentSession:
        if self._recorder is None:
            return await self._enter()
        # Telemetry hook: the conversation's span is current while the session connects and
        # starts its loops, so the SDK's spans and the loops' tasks nest under it.
        with self._recorder.conversation():
            return await self._enter()

    async def _enter(self) -> AgentSession:
        self._move(SessionStatus.CONNECTING)
        self._now, self._new_event = loop_clock(), event_factory()
        self._ended = anyio.Event()
        stack = contextlib.AsyncExitStack()
        tg: TaskGroup | None = None
        try:
            settings = ConnectionSettings.resolve(
                model=self.plan.options.connect_model,
                entra_id_only=self.plan.options.foundry_agent is not None,
                **self._connect_args,
            )
            self._settings = settings
            stack.push_async_callback(settings.aclose)
            self._executor = Executor(
                uplink=self._uplink,
                player=self._player,
                tools=self._tools,
                bus=self._bus,
                history=self._history,
                track=self._track,
                committed=self._on_committed,
                wake=self._wake_clock,
            )
            link = await self._connect(first=True)
            stack.push_async_callback(self._close_current_link)
            self._link = link
            self._uplink.attach(link.wire)
            # No await from here on: nothing can interrupt the start half-way.
            tg = anyio.create_task_group()
            await tg.__aenter__()
            self._tg = self._tools.task_group = tg
            if self._mcp is not None:
                self._mcp.task_group = tg
            for loop in (
                self._bus.run,
                self._link_loop,
                self._clock_loop,
                self._player.run,
                self._recycle_loop,
            ):
                tg.start_soon(self._guard, loop)
            if self.source is not None:
                tg.start_soon(self._guard, self._send_loop)
            self._player.start()
            for message in self._initial_history:
                self._execute([t.AddMessage(role=message.role, text=message.text)])
            if self.agent.greeting:
                self._feed(t.Say(text=self.agent.greeting, played_ms=self._player.played_ms()))
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                if tg is not None:
                    tg.cancel_scope.cancel()
                    with contextlib.suppress(BaseException):
                        await tg.__aexit__(type(exc), exc, exc.__traceback__)
                self._tg = None
                await stack.aclose()
                await self._close_audio()
                self._reason = self._reason or EndReason.ERROR
                await self._bus.close(SessionEnded(reason=self._reason, error=exc))
            self._move(SessionStatus.CLOSED)
            self._ended.set()
            raise
        self._stack = stack
        self._move(SessionStatus.ACTIVE)
        self._maybe_finish()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        self._move(SessionStatus.CLOSING)
        if self._reason is None:
            if exc is not None and not isinstance(exc, Exception):
                self._reason = EndReason.CANCELLED
            elif exc is not None:
                self._reason, self._error = EndReason.ERROR, exc
            else:
                self._reason = EndReason.ENDED
        stack, self._stack = self._stack, None
        tg, self._tg = self._tg, None
        suppressed = False
        try:
            if self._reason is EndReason.INPUT_FINISHED:
                with anyio.CancelScope(shield=True), anyio.move_on_after(_CLOSE_TIMEOUT_S):
                    await self._drain_sink()
            if tg is not None:
                tg.cancel_scope.cancel()
                try:
                    suppressed = bool(await tg.__aexit__(exc_type, exc, tb))
                except BaseExceptionGroup as group:
                    # The block's own exception, wrapped by the task group: let it go on
                    # as itself (the loops never raise; they end the session instead).
                    if exc is None or group.exceptions != (exc,):
                        raise
        finally:
            with anyio.CancelScope(shield=True):
                self._player.stop()
                if stack is not None:
                    await stack.aclose()
                await self._close_audio()
                assert self._ended is not None
                self._ended.set()
                await self._bus.close(SessionEnded(reason=self._reason, error=self._error))
            self._move(SessionStatus.CLOSED)
        if (
            self._reason is EndReason.ERROR
            and self._error is not None
            and (exc is None or suppressed)
        ):
            raise self._error
        return suppressed

    async def _drain_sink(self) -> None:
        try:
            await self.sink.drain()
        except Exception as exc:
            log.warning("draining %s failed: %r", type(self.sink).__name__, exc)

    async def _close_audio(self) -> None:
        """Close the source and the sink: the session owns both."""
        for obj in (self.source, self.sink):
            aclose: Callable[[], Awaitable[None]] | None = getattr(obj, "aclose", None)
            if aclose is None:
                continue
            try:
                with anyio.move_on_after(_CLOSE_TIMEOUT_S):
                    await aclose()
            except Exception as exc:
                log.warning("closing %s failed: %r", type(obj).__name__, exc)
                if self._error is None and self._reason in (None, EndReason.INPUT_FINISHED):
                    self._error = AudioError(f"closing {type(obj).__name__} failed: {exc!r}")

    def _move(self, status: SessionStatus) -> None:
        if status not in _TRANSITIONS[self._status]:
            if self._status is SessionStatus.NEW:
                raise SessionStateError(
                    "the session has not started: use `async with agent.session(...) as session:`"
                )
            raise SessionStateError(
                f"a session cannot go from {self._status.value} to {status.value}: each "
                "session is entered once; start a new one with agent.session()"
            )
        self._status = status

    # -- configuration -------------------------------------------------------------------

    async def _configure(self, wire: Wire, *, first: bool) -> None:
        await wire.send({"type": "session.update", "session": self.plan.request.as_dict()})
        with anyio.fail_after(_CONFIGURE_TIMEOUT_S):
            while True:
                raw = await wire.recv()
                kind = raw["type"]
                if kind in ("session.created", "session.updated"):
                    self._session_id = _session_field(raw, "id") or self._session_id
                    expires = _session_expiry(raw)
                    wire.expires_at = expires if expires is not None else wire.expires_at
                if kind == "session.updated":
                    if first:
                        self._publish(
                            SessionStarted(
                                session_id=self._session_id or "",
                                model=self.plan.options.model,
                                session=_sdk_session(raw),
                            )
                        )
                    return
                if kind == "error":
                    error = raw.get("error")
                    details = error if isinstance(error, dict) else {}
                    param = details.get("param")
                    raise ConfigurationError(
                        "Voice Live rejected the session configuration: "
                        f"{details.get('message', '')}" + (f" (param {param})" if param else "")
                    )

    # -- connections -----------------------------------------------------------------------

    async def _open_link(self, *, first: bool) -> _Link:
        """Open and configure one connection (closed again if configuring fails)."""
        settings = self._settings
        assert settings is not None
        stack = contextlib.AsyncExitStack()
        try:
            connection = await stack.enter_async_context(
                open_connection(
                    settings,
                    query=dict(self.plan.query),
                    connection_options={"max_msg_size": RECEIVE_LIMIT},
                )
            )
            wire = Wire(connection, settings)
            await self._configure(wire, first=first)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await stack.aclose()
            raise
        return _Link(wire=wire, stack=stack)

    async def _connect(self, *, first: bool, reason: str = "", tried: int = 0) -> _Link:
        """Open a connection, trying again as the policy says.

        A refused credential or a rejected configuration is final at once; refused or
        failed connections are tried up to ``attempts`` times (``tried`` of them already
        spent on this outage) with backoff.

        Raises:
            AuthenticationError: The credential was refused.
            ConfigurationError: The service rejected the configuration.
            ConnectError: The first connection could not be opened (policy exhausted).
            ConnectionLostError: A reconnection failed as often as the policy allows.
        """
        policy = self._policy
        attempts = max(1, policy.attempts)
        last: VoiceAgentError | None = None
        for attempt in range(tried + 1, attempts + 1):
            if not first:
                self._publish(Reconnecting(attempt=attempt, reason=reason))
            await anyio.sleep(policy.backoff_s(attempt))
            try:
                link = await self._open_link(first=first)
            except (AuthenticationError, ConfigurationError):
                raise
            except (ConnectError, ConnectionLostError, TimeoutError) as exc:
                last = (
                    exc
                    if isinstance(exc, VoiceAgentError)
                    else ConnectError("the service did not confirm the session configuration")
                )
                log.info("connection attempt %d of %d failed: %s", attempt, attempts, last)
                continue
            link.attempt = 0 if first else attempt
            return link
        if first:
            assert last is not None
            raise last
        raise ConnectionLostError(
            f"could not reconnect after {attempts} attempt(s): {last or reason}"
        )

    async def _link_loop(self) -> None:
        """Run the current connection; when it fails, reconnect as the policy says."""
        while True:
            link = self._link
            assert link is not None
            failure = await self._run_link(link)
            if link is not self._link:
                # Retired by a planned move to the next connection, already attached.
                await _close_link(link)
                continue
            if failure is None or self._reason is not None:
                return
            if not self._policy.enabled:
                raise failure
            await self._recover(failure)

    async def _run_link(self, link: _Link) -> ConnectionLostError | None:
        """Run one connection's writer and receiver until it fails (its error) or is
        retired (None).

        Raises:
            Exception: Whatever else ended one of them (a sink that failed while the
                receiver handed it audio), as itself, not in an exception group.
        """
        failure: ConnectionLostError | None = None
        error: Exception | None = None
        async with anyio.create_task_group() as tg:
            link.scope = tg.cancel_scope

            async def run(loop: Callable[[], Awaitable[None]]) -> None:
                nonlocal failure, error
                try:
                    await loop()
                except ConnectionLostError as exc:
                    failure = failure or exc
                    tg.cancel_scope.cancel()
                except Exception as exc:
                    error = error or exc
                    tg.cancel_scope.cancel()

            tg.start_soon(run, link.wire.run)
            tg.start_soon(run, lambda: self._receive_loop(link.wire))
        if error is not None:
            raise error
        return failure

    async def _recover(self, failure: ConnectionLostError) -> None:
        """The connection dropped: fail what was in flight, reconnect, carry on."""
        started = anyio.current_time()
        log.warning("%s; reconnecting", failure)
        self._uplink.detach()
        self._execute(
            self._machine.handle(
                t.ConnectionLost(played_ms=self._player.played_ms()), anyio.current_time()
            )
        )
        old = self._link
        # A connection that did not last counts as one more attempt of the same outage.
        lived = old is not None and anyio.current_time() - old.opened >= self._policy.stable_s
        tried = 0 if old is None or lived else old.attempt
        link = await self._connect(first=False, reason=str(failure), tried=tried)
        if old is not None:
            await _close_link(old)
        self._move_to(link, started)

    def _move_to(self, link: _Link, started: float) -> None:
        """Carry the conversation over to ``link`` (synchronous: nothing interleaves)."""
        history = self._history.entries()
        running = self._machine.running_calls()
        events = replay_events(history, running)
        for event in events:
            link.wire.post(event)
        for event in self._uplink.resend_events():
            link.wire.post(event)
        if self._barrier_pending:
            link.wire.post({"type": "session.update", "session": {}})
        self._requests.clear()
        if self._mcp is not None:
            self._mcp.reset()
        self._link = link
        self._uplink.attach(link.wire)
        self._execute(
            self._machine.handle(
                t.Resumed(answer_owed=answer_owed(history, tools_running=bool(running))),
                anyio.current_time(),
            )
        )
        self._publish(
            Reconnected(gap_ms=(anyio.current_time() - started) * 1000, replayed_items=len(events))
        )
        self._maybe_finish()

    async def _recycle_loop(self) -> None:
        """Move to a new connection before the service ends this one's session: at a
        quiet moment, or at the last safe one."""
        policy = self._policy
        if not policy.enabled:
            return
        while True:
            link = self._link
            assert link is not None
            expires = link.wire.expires_at
            if expires is None:
                return
            await anyio.sleep(max(0.0, expires - policy.recycle_s - time.time()))
            if link is not self._link:
                continue  # it was replaced already (a drop came first)
            started = anyio.current_time()
            following: _Link | None = None
            with anyio.move_on_after(max(0.0, expires - policy.last_safe_s - time.time())):
                try:
                    following = await self._connect(
                        first=False, reason="the service's session ends soon (expires_at)"
                    )
                except VoiceAgentError as exc:
                    log.warning("could not open the next connection in advance: %s", exc)
            if following is None:
                # Not in time (or refused): the service ends this session at expires_at,
                # and that drop is recovered like any other.
                log.info("no connection ready before expires_at; reconnecting after it")
                await link.retired.wait()
                continue
            if link is not self._link:
                await _close_link(following)
                continue
            deadline = expires - policy.last_safe_s
            while not self._quiet() and time.time() < deadline:  # noqa: ASYNC110 - two clocks
                await anyio.sleep(_QUIET_POLL_S)
            if link is not self._link:
                await _close_link(following)
                continue
            if not self._quiet():
                self._execute(
                    self._machine.handle(
                        t.ConnectionLost(played_ms=self._player.played_ms()),
                        anyio.current_time(),
                    )
                )
            self._move_to(following, started)
            if link.scope is not None:
                link.scope.cancel()  # the link loop closes it and runs the new one

    def _quiet(self) -> bool:
        """Nobody speaks and nothing runs: a good moment to change connections."""
        mcp_busy = self._mcp is not None and self._mcp.busy  # a call runs at the service
        return self._machine.state is t.TurnState.IDLE and not self._tools.running and not mcp_busy

    async def _close_current_link(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            await _close_link(link)

    # -- loops ---------------------------------------------------------------------------

    async def _guard(self, loop: Callable[..., Awaitable[None]]) -> None:
        """Run one loop; its failure ends the session with that error (not a group)."""
        try:
            await loop()
        except ConnectionLostError as exc:
            self._fail(EndReason.CONNECTION_LOST, exc)
        except VoiceAgentError as exc:
            self._fail(EndReason.ERROR, exc)
        except Exception as exc:
            log.exception("voiceagent session loop %s failed", getattr(loop, "__name__", loop))
            self._fail(EndReason.ERROR, exc)

    async def _send_loop(self) -> None:
        source = self.source
        fmt = self.plan.input_format
        assert source is not None
        assert fmt is not None
        sink = self.sink
        record = (
            sink.record_input
            if isinstance(sink, InputRecordingSink) and sink.records_input
            else None
        )
        bytes_per_ms = fmt.bytes_per_ms
        # The source is read here, not through converted(): one async generator less for
        # each of the 50 frames a second (a source in the wire format passes through).
        stream = FrameStream(source.format, fmt)
        chunks = source.__aiter__()
        send = self._uplink.send_audio
        ended = False
        while not ended:
            try:
                chunk = await chunks.__anext__()
                frames = stream.push(chunk)
            except StopAsyncIteration:
                frames = stream.end()
                ended = True
            except VoiceAgentError:
                raise
            except Exception as exc:
                raise AudioError(
                    f"the audio source {type(source).__name__} failed: {exc!r}"
                ) from exc
            for frame in frames:
                sending = send(frame)
                if sending is not None:
                    try:  # noqa: SIM105 - not a suppress context: 50 times a second
                        await sending
                    except ConnectionLostError:
                        pass  # the link's own loops notice it
                self._uncommitted_ms += len(frame) / bytes_per_ms
                if record is not None:
                    record(frame, fmt)
        # A round trip through the server: everything appended before it has been
        # processed (VAD included) once its answer arrives.
        self._barrier_pending = True
        self._uplink.post({"type": "session.update", "session": {}})

    async def _receive_loop(self, wire: Wire) -> None:
        while True:
            raw = await wire.recv()
            if wire is not self._uplink.wire:
                return  # this connection was replaced: what it says no longer counts
            self._on_wire(raw)

    def _on_wire(self, raw: Raw) -> None:
        kind = str(raw["type"])
        if kind == "session.updated" and self._barrier_pending:
            self._barrier_pending = False
            self._source_done = True
            self._feed(
                t.InputEnded(
                    uncommitted_audio=self._uncommitted_ms > 0,
                    played_ms=self._player.played_ms(),
                )
            )
            return
        if kind == "input_audio_buffer.committed":
            self._uncommitted_ms = 0.0
            self._uplink.committed()
        elif kind == "input_audio_buffer.speech_started":
            self._uplink.speech_started()
        played = self._player.played_ms() if kind in NEEDS_POSITION else None
        translation = self._translator.translate(raw, played)
        executor = self._executor
        assert executor is not None
        if translation.item is not None:
            executor.remember(translation.item)
        now = self._now()
        for item in translation.inputs:
            executor.execute(self._machine.handle(item, now))
        for event in translation.events:
            if isinstance(event, ServiceErrorReported):
                self._on_error(event)
            executor.publish(event)
        if self._mcp is not None and kind in MCP_WIRE_TYPES:
            self._mcp.on_wire(raw, now)
        self._bus.publish_wire(raw, kind)
        if kind in _AUDIO_ENDS:
            self._wake_clock()
        self._maybe_finish()

    def _on_error(self, error: ServiceErrorReported) -> None:
        failed = self._requests.pop(error.event_id or "", None)
        if failed is not None:
            self._feed(t.CommitFailed() if failed == "commit" else t.CreateFailed())
        if error.code in _HARMLESS_ERRORS or _already_truncated(error):
            log.debug("ignoring harmless service error %s", error.code)
            return
        if error.code == "session_expired":
            # The service closes the connection next; the session reconnects.
            log.info("Voice Live: %s", error.message)
            return
        log.warning("Voice Live error %s: %s", error.code, error.message)
        if error.code == "server_error" and error.error_type == "fatal":
            self._fail(EndReason.ERROR, ServiceError(error.message, code=error.code))

    async def _clock_loop(self) -> None:
        machine = self._machine
        player = self._player
        last_played, last_move = -1.0, self._now()
        while True:
            deadline = machine.next_deadline
            if machine.state is not t.TurnState.AGENT_SPEAKING and deadline is None:
                last_played = -1.0
                await self._clock_wait(None)
                continue
            now = self._now()
            played = player.played_ms()
            pending = machine.playback.pending_ms(played)
            delay: float | None
            if player.reports_position:
                delay = _REPORT_WAIT_S
            elif pending > _PLAYED_EPSILON_MS:
                # Wake when playback reaches the next point where it matters (the end of a
                # message, the end of what is queued), not every frame: barge-in reads the
                # sink's position itself, and while an answer's audio still comes in, only
                # its end can change the turn (the receive loop wakes the clock then).
                wait = machine.playback_wait_ms(played)
                delay = _ANSWERING_WAIT_S if wait is None else max(_CLOCK_S, wait / 1000)
            else:
                # Nothing queued: nothing can move until the answer's audio ends (the
                # receive loop wakes the clock) or the turn changes.
                delay = None
            if deadline is not None:
                until = max(0.0, deadline - now)
                delay = until if delay is None else min(delay, until)
            await self._clock_wait(delay)
            now = self._now()
            played = player.played_ms()
            if played != last_played:
                last_played, last_move = played, now
            elif (
                now - last_move > SINK_STALL_S
                and not player.paused
                and machine.playback.pending_ms(played) > 0
            ):
                raise AudioError(
                    f"the audio sink {type(self.sink).__name__} is stuck: its played_ms() "
                    f"has stayed at {played:.0f} ms for {now - last_move:.0f} s while "
                    f"{machine.playback.pending_ms(played):.0f} ms of audio waited to be "
                    f"played (a sink must advance played_ms() as it plays)"
                )
            actions = machine.handle(t.PlaybackProgress(played_ms=played), now)
            deadline = machine.next_deadline
            if deadline is not None and now >= deadline:
                actions = [*actions, *machine.handle(t.Tick(played_ms=played), now)]
            self._execute(actions)
            self._maybe_finish()

    async def _clock_wait(self, seconds: float | None) -> None:
        """Sleep ``seconds`` (None: until woken); a turn change or a position report
        (``_wake_clock``) ends it early."""
        self._clock_wake = self._new_event()
        if seconds is None:
            await self._clock_wake.wait()
            return
        with anyio.move_on_after(seconds):
            await self._clock_wake.wait()

    def _wake_clock(self) -> None:
        if self._clock_wake is not None:
            self._clock_wake.set()

    # -- feeding the machine ---------------------------------------------------------------

    def _feed(self, event: t.Input) -> None:
        """Hand one input to the machine and carry out its actions (no await between)."""
        self._require_active()
        self._execute(self._machine.handle(event, anyio.current_time()))
        self._maybe_finish()

    def _execute(self, actions: list[t.Action]) -> None:
        executor = self._executor
        assert executor is not None
        try:
            executor.execute(actions)
        except VoiceAgentError as exc:
            self._fail(
                EndReason.CONNECTION_LOST
                if isinstance(exc, ConnectionLostError)
                else EndReason.ERROR,
                exc,
            )
            raise

    def _publish(self, event: Any) -> None:
        if self._executor is not None:
            self._executor.publish(event)
        else:
            self._bus.publish(event)

    async def _flush(self) -> None:
        wire = self._uplink.wire
        if wire is not None:
            with contextlib.suppress(ConnectionLostError):  # the link's loops handle it
                await wire.flush()

    def _track(self, kind: str) -> str:
        """An event id for a request whose failure the turn machine must hear about."""
        self._request_count += 1
        event_id = f"evt_va_{kind}_{self._request_count}"
        self._requests[event_id] = kind
        if len(self._requests) > 64:  # answered requests are never reported: forget old ones
            del self._requests[next(iter(self._requests))]
        return event_id

    def _expect_response(self) -> None:
        """The service starts a response by itself (it answers an MCP approval)."""
        if self._reason is None:
            self._execute(self._machine.handle(t.ResponseRequested(), anyio.current_time()))

    def _request_response(self) -> None:
        """Ask for an answer the machine did not ask for (after the MCP calls' results)."""
        if self._reason is None:
            now = anyio.current_time()
            self._execute([*self._machine.handle(t.ResponseRequested(), now), t.CreateResponse()])

    def _on_committed(self) -> None:
        self._uncommitted_ms = 0.0
        self._uplink.committed()

    def _on_handler_error(self, error: HandlerError) -> None:
        self._fail(EndReason.ERROR, error)

    # -- ending ----------------------------------------------------------------------------

    def _maybe_finish(self) -> None:
        if self._reason is not None or self._tg is None:
            return
        if not (self._ending or self._source_done):
            return
        if self._machine.state is not t.TurnState.IDLE or self._tools.running:
            return
        if self._mcp is not None and self._mcp.busy:
            return
        if self._uplink.wire is None:
            return  # reconnecting: an answer may still be owed
        self._finish(EndReason.ENDED if self._ending else EndReason.INPUT_FINISHED)

    def _finish(self, reason: EndReason) -> None:
        if self._reason is None:
            self._reason = reason
        self._ending = True
        if self._ended is not None:
            self._ended.set()
        if self._tg is not None:
            self._tg.cancel_scope.cancel()

    def _fail(self, reason: EndReason, error: BaseException) -> None:
        if self._reason is None:
            self._error = error
        self._finish(reason)

    def _require_active(self) -> None:
        if self._status is SessionStatus.NEW:
            raise SessionStateError(
                "the session has not started: use `async with agent.session(...) as session:`"
            )
        if self._reason is not None or self._status in (
            SessionStatus.CLOSING,
            SessionStatus.CLOSED,
        ):
            reason = (self._reason or EndReason.ENDED).value
            raise SessionClosedError(
                f"the session has ended ({reason}); start a new one with agent.session()",
                reason=reason,
            )

    def _played_for_api(self) -> float:
        self._require_active()
        return self._player.played_ms()

    def __repr__(self) -> str:
        return (
            f"<AgentSession {type(self.agent).__qualname__} id={self._session_id} "
            f"status={self._status.value} state={self._machine.state.value}>"
        )


@attrs.define
class _Link:
    """One connection of the session: its wire and what closes it."""

    wire: Wire
    stack: contextlib.AsyncExitStack
    scope: anyio.CancelScope | None = None
    attempt: int = 0
    """Which attempt of its outage opened it (0: the session's first connection)."""
    opened: float = attrs.Factory(anyio.current_time)
    retired: anyio.Event = attrs.Factory(anyio.Event)
    """Set when the connection is closed (replaced, lost or at the session's end)."""


async def _close_link(link: _Link) -> None:
    link.retired.set()
    with anyio.CancelScope(shield=True), anyio.move_on_after(_CLOSE_TIMEOUT_S):
        await link.stack.aclose()


def _session_expiry(raw: Raw) -> float | None:
    session = raw.get("session")
    value = session.get("expires_at") if isinstance(session, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def _check_text(text: object, what: str) -> None:
    if not isinstance(text, str) or not text:
        raise ConfigurationError(f"{what}() needs a non-empty str, not {text!r}")


def _session_field(raw: Raw, key: str) -> str | None:
    session = raw.get("session")
    value = session.get(key) if isinstance(session, dict) else None
    return value if isinstance(value, str) else None


def _sdk_session(raw: Raw) -> Any:
    from ._fanout import sdk_event_class

    cls = sdk_event_class("session.updated")
    event: Any = cls._deserialize(dict(raw), [])  # type: ignore[attr-defined]
    return event.session


def _already_truncated(error: ServiceErrorReported) -> bool:
    """The service's answer to truncating an item at or past its (already cut) end: the
    conversation already holds what we wanted, so it is harmless."""
    return error.param == "audio_end_ms" and "already shorter" in error.message


register_injectable(AgentSession, lambda context: context.session)
