"""``AgentSession``: one live conversation.

One Voice Live connection, one audio source and sink, one turn machine, the tools in
flight, all in one anyio task group:

- the **send loop** reads the source, converts frames to the wire format and appends them;
- the **receive loop** turns each server event into turn-machine inputs and
  voiceagent events (:mod:`._translate`), executes the machine's actions and queues
  events for the dispatcher;
- the **playback loop** writes the agent's audio to the sink, converted to its format;
- the **clock loop** reports playback progress and deadlines to the machine while audio
  is queued;
- the **dispatch loop** calls the application's handlers, so a slow handler never delays
  audio;
- one task per running tool.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import logging
import math
from typing import TYPE_CHECKING, Any, Literal

import anyio
from azure.ai.voicelive.aio import ConnectionClosed
from azure.ai.voicelive.aio import ConnectionError as SdkConnectionError
from azure.ai.voicelive.models import (
    AssistantMessageItem,
    FunctionCallOutputItem,
    InputTextContentPart,
    OutputTextContentPart,
    ResponseCreateParams,
    SystemMessageItem,
    UserMessageItem,
)

from . import _turns as t
from ._connect import ConnectionSettings, map_errors, open_connection
from ._history import History, HistoryEntry, Message, SessionResult, ToolCallRecord
from ._options import to_request_session
from ._router import EventStream
from ._setup import (
    input_wire,
    output_wire,
    turn_config,
    with_confirmation_window,
    with_echo_cancellation,
)
from ._tools import ToolContext, register_injectable
from ._translate import Translator
from .audio import AudioFormat, Converter, converted
from .errors import (
    ConfigurationError,
    ConnectError,
    ConnectionLostError,
    HandlerError,
    ServiceError,
    VoiceAgentError,
)
from .events import (
    EndReason,
    Interrupted,
    SessionEnded,
    SessionStarted,
    ToolCallFinished,
    ToolCallStarted,
    TurnChanged,
    TurnMetrics,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from types import TracebackType

    from anyio.abc import TaskStatus
    from anyio.streams.memory import MemoryObjectSendStream
    from azure.ai.voicelive.aio import VoiceLiveConnection
    from azure.core.credentials import AzureKeyCredential
    from azure.core.credentials_async import AsyncTokenCredential

    from ._agent import Agent
    from ._options import SessionOptions
    from .audio import AudioSink, AudioSource

__all__ = ["AgentSession"]

log = logging.getLogger("voiceagent.session")

_EVENT_BUFFER = 1024
"""Events queued for handlers before the receive loop waits for them (backpressure)."""
_CLOCK_S = 0.02
"""How often the clock loop reports playback progress while audio is queued."""
_CONFIGURE_TIMEOUT_S = 15.0
_CLOSE_TIMEOUT_S = 5.0
_HARMLESS_ERRORS = frozenset({"response_cancel_not_active"})


class AgentSession:
    """One live conversation with an :class:`~voiceagent.Agent`.

    Create it with ``agent.session(...)`` and enter it with ``async with``; leaving the
    block ends the conversation and closes the connection. ``agent.run(...)`` does both
    and waits for the end.
    """

    def __init__(
        self,
        agent: Agent,
        *,
        options: SessionOptions,
        source: AudioSource | None,
        sink: AudioSink | None,
        endpoint: str | None,
        credential: AzureKeyCredential | AsyncTokenCredential | None,
        api_key: str | None,
        scope: str,
        history: tuple[Message, ...] = (),
    ) -> None:
        self.agent = agent
        self.options = options
        self.source = source
        self.sink = sink
        self._connect_args: dict[str, Any] = {
            "endpoint": endpoint,
            "credential": credential,
            "api_key": api_key,
            "scope": scope,
        }
        self._initial_history = history
        self._tools = agent.tools
        self._router = agent.router
        self._fatal_handlers = agent.handler_errors_fatal
        audio_out = "audio" in options.effective_modalities
        self.input_format: AudioFormat | None = (
            input_wire(source.format, options) if source is not None else None
        )
        """The wire format of the user's audio (the source is converted to it)."""
        self.output_format: AudioFormat | None = (
            output_wire(sink.format, options) if sink is not None and audio_out else None
        )
        """The wire format of the agent's audio (converted to the sink's format)."""
        options = with_echo_cancellation(options, source, sink)
        options = with_confirmation_window(options, agent.interruption_window_ms)
        self.options = options
        self._machine = t.TurnMachine(
            turn_config(options, agent.interruption_window_ms, agent.shortest_turn_ms)
        )
        self._history = History()
        self._translator = Translator(
            self.output_format or AudioFormat(), self._history, self._cancel_on_interrupt
        )
        self._settings: ConnectionSettings | None = None
        self._conn: VoiceLiveConnection | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._events_send, self._events_recv = anyio.create_memory_object_stream[object](
            _EVENT_BUFFER
        )
        self._subscribers: list[MemoryObjectSendStream[object]] = []
        self._playback: collections.deque[bytes | None] = collections.deque()
        """Agent audio (wire format) waiting for the sink; None marks an item's end."""
        self._playback_ready = anyio.Event()
        self._out_converter: Converter | None = None
        self._clock_wake = anyio.Event()
        self._tool_scopes: dict[str, anyio.CancelScope] = {}
        self._ended = anyio.Event()
        self._ending = False
        self._source_done = False
        self._reason: EndReason | None = None
        self._error: BaseException | None = None
        self._session_id: str | None = None
        self._turn_started_at: float | None = None
        self._barrier_pending = False
        self._uncommitted_ms = 0.0
        """Input audio appended since the last commit (ours or the server's)."""
        self._requests: dict[str, str] = {}
        """Event ids of our own commits and response requests, until answered or failed."""
        self._request_count = 0

    # -- public API ----------------------------------------------------------------

    @property
    def state(self) -> t.TurnState:
        """The current turn state."""
        return self._machine.state

    @property
    def history(self) -> tuple[HistoryEntry, ...]:
        """The conversation so far: messages and tool calls, in conversation order."""
        return self._history.entries()

    @property
    def session_id(self) -> str | None:
        """The service's session id, once connected."""
        return self._session_id

    async def send_text(self, text: str) -> None:
        """Send a user message and ask the agent to answer it.

        Args:
            text: What the user says.
        """
        conn = self._require_open()
        await self._interrupt_if_speaking()
        await conn.conversation.item.create(
            item=UserMessageItem(content=[InputTextContentPart(text=text)])
        )
        self._history.set(None, Message(role="user", text=text))
        self._turn_started_at = self._now()
        await self._execute(
            self._machine.handle(t.Commit(audio=False, played_ms=self._played()), self._now())
        )

    async def add_message(self, role: Literal["user", "assistant", "system"], text: str) -> None:
        """Add a message to the conversation without asking for an answer (history injection).

        Args:
            role: ``"user"``, ``"assistant"`` or ``"system"``.
            text: The message's text.

        Raises:
            ConfigurationError: An unknown role.
        """
        conn = self._require_open()
        item: UserMessageItem | AssistantMessageItem | SystemMessageItem
        if role == "user":
            item = UserMessageItem(content=[InputTextContentPart(text=text)])
        elif role == "assistant":
            item = AssistantMessageItem(content=[OutputTextContentPart(text=text)])
        elif role == "system":
            item = SystemMessageItem(content=[InputTextContentPart(text=text)])
        else:
            raise ConfigurationError(
                f"add_message role must be 'user', 'assistant' or 'system', not {role!r}"
            )
        await conn.conversation.item.create(item=item)
        self._history.set(None, Message(role=role, text=text))

    async def say(self, text: str) -> None:
        """Make the agent speak ``text`` as is, now (interrupting itself if it is speaking).

        Args:
            text: What the agent says.
        """
        conn = self._require_open()
        await self._interrupt_if_speaking()
        message = AssistantMessageItem(content=[OutputTextContentPart(text=text)])
        await conn.response.create(
            response=ResponseCreateParams(pre_generated_assistant_message=message),
            event_id=self._track("create"),
        )
        await self._execute(self._machine.handle(t.ResponseRequested(), self._now()))

    async def interrupt(self) -> None:
        """Stop the agent now: clear its queued audio, cancel its answer, and truncate the
        conversation to what the user heard."""
        self._require_open()
        played = self._played()
        await self._execute(self._machine.handle(t.Interrupt(played_ms=played), self._now()))

    async def commit(self) -> None:
        """End the user's turn (manual or push-to-talk turns) and ask for an answer."""
        self._require_open()
        self._turn_started_at = self._now()
        await self._execute(
            self._machine.handle(t.Commit(audio=True, played_ms=self._played()), self._now())
        )

    def end(self) -> None:
        """End the conversation once the agent has finished its current answer.

        Safe to call from tools and handlers; the session ends as soon as no response is
        active, no tool is running and the agent's audio has been played.
        """
        if not self._ending:
            self._ending = True
            self._maybe_finish()

    async def wait(self) -> SessionResult:
        """Wait until the conversation ends and return its result.

        When the session ends on its own, the body of its ``async with`` block is
        cancelled like the body of a task group; ``wait()`` still returns the result (the
        next await in the block is cancelled).
        """
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
            history=self.history, reason=self._reason or EndReason.ENDED, error=self._error
        )

    def events(self) -> EventStream:
        """Subscribe to the session's events (voiceagent events and SDK server events).

        The subscription starts at this call, so ``stream = session.events()`` before
        ``await session.send_text(...)`` misses nothing. Iterate with ``async for``; the
        stream ends with the session (after ``SessionEnded``). Up to 1024 events wait for
        a slow reader; beyond that the session waits for it (nothing is dropped).
        """
        send, recv = anyio.create_memory_object_stream[object](_EVENT_BUFFER)
        if self._reason is not None and self._ended.is_set():
            send.close()
        else:
            self._subscribers.append(send)
        return EventStream(recv)

    # -- lifecycle -----------------------------------------------------------------

    async def __aenter__(self) -> AgentSession:
        stack = contextlib.AsyncExitStack()
        await stack.__aenter__()
        tg: anyio.abc.TaskGroup | None = None
        try:
            settings = ConnectionSettings.resolve(model=self.options.model, **self._connect_args)
            self._settings = settings
            stack.push_async_callback(settings.aclose)
            self._conn = await stack.enter_async_context(
                open_connection(settings, query=self.options.connect_query)
            )
            await self._configure()
            for message in self._initial_history:
                await self.add_message(message.role, message.text)
            # The task group is entered last and exited first, on its own (not through
            # the stack), so that its cancel scope nests inside the caller's block.
            tg = anyio.create_task_group()
            await tg.__aenter__()
            self._tg = tg
            await tg.start(self._guard, self._dispatch_loop)
            await tg.start(self._guard, self._receive_loop)
            await tg.start(self._guard, self._clock_loop)
            if self.sink is not None:
                await tg.start(self._guard, self._playback_loop)
            if self.source is not None:
                await tg.start(self._guard, self._send_loop)
            if self.agent.greeting_text:
                await self.say(self.agent.greeting_text)
        except BaseException as exc:
            if tg is not None:
                tg.cancel_scope.cancel()
                with contextlib.suppress(BaseException):
                    await tg.__aexit__(type(exc), exc, exc.__traceback__)
            self._tg = None
            with anyio.CancelScope(shield=True):
                await stack.__aexit__(None, None, None)
            self._close_streams()
            raise
        self._stack = stack
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
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
            if self.sink is not None and self._reason is EndReason.INPUT_FINISHED:
                with anyio.CancelScope(shield=True), anyio.move_on_after(_CLOSE_TIMEOUT_S):
                    await self.sink.drain()
            if tg is not None:
                tg.cancel_scope.cancel()
                suppressed = bool(await tg.__aexit__(exc_type, exc, tb))
        finally:
            with anyio.CancelScope(shield=True):
                if stack is not None:
                    await stack.__aexit__(None, None, None)
                self._ended.set()
                await self._drain_events()
        if (
            self._reason is EndReason.ERROR
            and self._error is not None
            and (exc is None or suppressed)
        ):
            raise self._error
        return suppressed

    def _close_streams(self) -> None:
        for send in self._subscribers:
            send.close()
        self._events_send.close()
        self._events_recv.close()

    async def _drain_events(self) -> None:
        """Deliver what is still queued, then ``SessionEnded``, and end ``events()``."""
        pending: list[object] = []
        while True:
            try:
                pending.append(self._events_recv.receive_nowait())
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                break
        pending.append(SessionEnded(reason=self._reason or EndReason.ENDED, error=self._error))
        for event in pending:
            try:
                await self._router.dispatch(event, fatal=False)
            except Exception:  # pragma: no cover - dispatch logs handler errors itself
                log.exception("dispatching %s failed", type(event).__name__)
            for send in self._subscribers:
                with contextlib.suppress(
                    anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError
                ):
                    send.send_nowait(event)
        self._close_streams()

    # -- configuration -------------------------------------------------------------

    async def _configure(self) -> None:
        conn = self._connection()
        request = to_request_session(
            self.options,
            tools=[spec.to_sdk() for spec in self._tools],
            input_audio_format=self.input_format,
            output_audio_format=self.output_format,
        )
        settings = self._settings
        assert settings is not None
        with map_errors(settings, opening=True):
            await conn.session.update(session=request)
            with anyio.fail_after(_CONFIGURE_TIMEOUT_S):
                while True:
                    event: Any = await conn.recv()
                    kind = event.type
                    if kind == "session.created":
                        self._session_id = event.session.id
                    elif kind == "session.updated":
                        self._session_id = event.session.id or self._session_id
                        await self._publish(
                            SessionStarted(
                                session_id=self._session_id or "",
                                model=self.options.model,
                                session=event.session,
                            )
                        )
                        return
                    elif kind == "error":
                        error = event.error
                        raise ConfigurationError(
                            f"Voice Live rejected the session configuration: {error.message}"
                            + (f" (param {error.param})" if error.param else "")
                        )

    # -- loops ---------------------------------------------------------------------

    async def _guard(
        self,
        loop: Callable[..., Awaitable[None]],
        *,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run one loop; its failure ends the session with that error (not a group)."""
        settings = self._settings
        assert settings is not None
        try:
            with map_errors(settings, opening=False):
                await loop(task_status=task_status)
        except ConnectionLostError as exc:
            self._fail(EndReason.CONNECTION_LOST, exc)
        except VoiceAgentError as exc:
            self._fail(EndReason.ERROR, exc)
        except Exception as exc:
            log.exception("voiceagent session loop %s failed", loop.__name__)
            self._fail(EndReason.ERROR, exc)

    async def _send_loop(
        self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        conn = self._connection()
        source = self.source
        assert source is not None
        assert self.input_format is not None
        task_status.started()
        record = (
            getattr(self.sink, "record_input", None)
            if getattr(self.sink, "records_input", False)
            else None
        )
        bytes_per_ms = self.input_format.bytes_per_ms
        async for frame in converted(source, self.input_format):
            # A plain dict: the SDK's append() builds a model per frame and serializes it
            # (about 3x the cost), 50 times a second per session.
            await conn.send(
                {"type": "input_audio_buffer.append", "audio": base64.b64encode(frame).decode()}
            )
            self._uncommitted_ms += len(frame) / bytes_per_ms
            if record is not None:
                record(frame, self.input_format)
        await self._on_source_end()

    async def _on_source_end(self) -> None:
        conn = self._connection()
        # A round trip through the server: everything appended before it has been
        # processed (VAD included) once its answer arrives.
        await conn.session.update(session={})
        self._barrier_pending = True

    async def _receive_loop(
        self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        conn = self._connection()
        settings = self._settings
        assert settings is not None
        task_status.started()
        while True:
            try:
                event = await conn.recv()
            except ConnectionClosed as exc:
                if not self._ending:
                    self._fail(
                        EndReason.CONNECTION_LOST,
                        ConnectionLostError(
                            f"the connection to {settings.endpoint} closed (code {exc.code})"
                        ),
                    )
                return
            except SdkConnectionError as exc:
                log.warning("ignoring an unreadable message from the service: %s", exc)
                continue
            await self._on_server_event(event)

    async def _on_server_event(self, event: Any) -> None:
        # SDK models decode a field on every attribute read: read raw fields, once.
        kind = event.get("type")
        if kind == "session.updated" and self._barrier_pending:
            self._barrier_pending = False
            self._source_done = True
            manual = not self._machine.config.server_detects_turns
            if self._machine.state is t.TurnState.USER_SPEAKING or (
                manual and self._uncommitted_ms > 0
            ):
                # The source ended mid-turn: that is the end of the user's turn.
                self._turn_started_at = self._now()
                await self._execute(
                    self._machine.handle(
                        t.Commit(audio=True, played_ms=self._played()), self._now()
                    )
                )
            self._maybe_finish()
            return
        if kind == "error":
            await self._on_error(event)
        elif kind == "input_audio_buffer.speech_stopped":
            self._turn_started_at = self._now()
        elif kind == "response.text.delta" and self._turn_started_at is not None:
            await self._publish_latency(event["response_id"])
        elif kind == "input_audio_buffer.committed":
            self._uncommitted_ms = 0.0
        elif kind == "response.audio.done" and self.sink is not None:
            self._playback.append(None)
            self._playback_ready.set()
        now = self._now()
        played = self._played()
        inputs, events = self._translator.translate(event, played_ms=played, kind=kind)
        for item in inputs:
            await self._execute(self._machine.handle(item, now))
        for app_event in events:
            self._record_history(app_event)
            await self._publish(app_event)
        await self._publish(event)
        self._maybe_finish()

    def _track(self, kind: str) -> str:
        """An event id for a request whose failure the turn machine must hear about."""
        self._request_count += 1
        event_id = f"evt_va_{kind}_{self._request_count}"
        self._requests[event_id] = kind
        if len(self._requests) > 64:  # answered requests are never reported: forget old ones
            del self._requests[next(iter(self._requests))]
        return event_id

    async def _on_error(self, event: Any) -> None:
        error = event.error
        code = getattr(error, "code", None)
        failed = self._requests.pop(getattr(error, "event_id", None) or "", None)
        if failed is not None:
            failure = t.CommitFailed() if failed == "commit" else t.CreateFailed()
            await self._execute(self._machine.handle(failure, self._now()))
        if code in _HARMLESS_ERRORS or _already_truncated(error):
            log.debug("ignoring harmless service error %s", code)
            return
        log.warning("Voice Live error %s: %s", code, getattr(error, "message", ""))
        if code in ("session_expired", "server_error") and getattr(error, "type", "") == "fatal":
            self._fail(EndReason.ERROR, ServiceError(str(error.message), code=code))

    async def _playback_loop(
        self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        sink = self.sink
        assert sink is not None
        wire = self.output_format or AudioFormat()
        task_status.started()
        while True:
            while not self._playback:
                self._playback_ready = anyio.Event()
                await self._playback_ready.wait()
            data = self._playback.popleft()
            if self._out_converter is None:
                self._out_converter = Converter(wire, sink.format)
            if data is None:
                # End of an item's audio: the resampler's last few ms come out now.
                frame = self._out_converter.flush()
            else:
                frame = self._out_converter.convert(data)
            if frame:
                await sink.write(frame)
            self._clock_wake.set()

    async def _clock_loop(
        self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started()
        while True:
            deadline = self._machine.next_deadline
            if self._machine.state is t.TurnState.AGENT_SPEAKING or deadline is not None:
                # Wake when the queued audio should have played out (or at the deadline),
                # not every frame: progress matters at the end of playback, and barge-in
                # reads the sink's position itself.
                now = self._now()
                played = self._played()
                delay = self._machine.playback.pending_ms(played) / 1000
                if deadline is not None:
                    delay = min(delay, deadline - now)
                await anyio.sleep(max(_CLOCK_S, delay))
                now = self._now()
                played = self._played()
                actions = self._machine.handle(t.PlaybackProgress(played_ms=played), now)
                deadline = self._machine.next_deadline
                if deadline is not None and now >= deadline:
                    actions = [*actions, *self._machine.handle(t.Tick(played_ms=played), now)]
                await self._execute(actions)
                self._maybe_finish()
            else:
                self._clock_wake = anyio.Event()
                await self._clock_wake.wait()

    async def _dispatch_loop(
        self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started()
        async for event in self._events_recv:
            try:
                await self._router.dispatch(event, fatal=self._fatal_handlers)
            except HandlerError as exc:
                self._fail(EndReason.ERROR, exc)
            for send in self._subscribers:
                with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                    await send.send(event)

    # -- actions -------------------------------------------------------------------

    async def _execute(self, actions: list[t.Action]) -> None:
        conn = self._connection()
        for action in actions:
            if isinstance(action, t.PlayAudio):
                if self.sink is not None:
                    self._playback.append(action.data)
                    self._playback_ready.set()
                    self._clock_wake.set()
                if self._turn_started_at is not None:
                    await self._publish_latency(action.response_id)
            elif isinstance(action, t.ClearPlayback):
                self._playback.clear()
                self._out_converter = None
                if self.sink is not None:
                    self.sink.clear()
            elif isinstance(action, t.CancelResponse):
                await conn.response.cancel(response_id=action.response_id)
            elif isinstance(action, t.Truncate):
                await conn.conversation.item.truncate(
                    item_id=action.item_id,
                    content_index=action.content_index,
                    audio_end_ms=action.audio_end_ms,
                )
            elif isinstance(action, t.StartTool):
                tg = self._tg
                assert tg is not None
                tg.start_soon(self._run_tool, action)
            elif isinstance(action, t.CancelTool):
                scope = self._tool_scopes.pop(action.call_id, None)
                if scope is not None:
                    scope.cancel()
            elif isinstance(action, t.SendToolOutput):
                await conn.conversation.item.create(
                    item=FunctionCallOutputItem(call_id=action.call_id, output=action.output)
                )
            elif isinstance(action, t.CreateResponse):
                await conn.response.create(event_id=self._track("create"))
            elif isinstance(action, t.CommitInput):
                await conn.input_audio_buffer.commit(event_id=self._track("commit"))
                self._uncommitted_ms = 0.0
            elif isinstance(action, t.AgentTranscriptFinal):
                event = self._translator.agent_transcript(action)
                self._record_history(event)
                await self._publish(event)
            elif isinstance(action, t.TurnChanged):
                await self._publish(TurnChanged(old=action.old, new=action.new))
                self._clock_wake.set()
            elif isinstance(action, t.AgentInterrupted):
                await self._publish(Interrupted(item_id=action.item_id, heard_ms=action.heard_ms))
            elif isinstance(action, t.PausePlayback | t.ResumePlayback):
                method = "pause" if isinstance(action, t.PausePlayback) else "resume"
                hook: Callable[[], None] | None = getattr(self.sink, method, None)
                if hook is not None:
                    hook()
            else:  # pragma: no cover - every action type is handled above
                raise AssertionError(f"unhandled turn action {action!r}")

    async def _publish_latency(self, response_id: str) -> None:
        """The turn's latency, at the first audio (or text) of the response answering it."""
        started, self._turn_started_at = self._turn_started_at, None
        if started is not None:
            await self._publish(
                TurnMetrics(response_id=response_id, latency_s=self._now() - started)
            )

    async def _run_tool(self, call: t.StartTool) -> None:
        context = ToolContext(
            session=self, call_id=call.call_id, name=call.name, arguments=call.arguments
        )
        await self._publish(
            ToolCallStarted(call_id=call.call_id, name=call.name, arguments=call.arguments)
        )
        started = self._now()
        with anyio.CancelScope() as scope:
            self._tool_scopes[call.call_id] = scope
            outcome = await self._tools.invoke(call.name, call.arguments, context)
        self._tool_scopes.pop(call.call_id, None)
        if scope.cancelled_caught:
            return
        finished = ToolCallFinished(
            call_id=call.call_id,
            name=call.name,
            arguments=call.arguments,
            result=outcome.result,
            output=outcome.output,
            error=outcome.error,
            duration_s=self._now() - started,
        )
        self._history.set(
            f"call:{call.call_id}",
            ToolCallRecord(
                call_id=call.call_id,
                name=call.name,
                arguments=call.arguments,
                output=outcome.output,
                error=outcome.error,
            ),
        )
        await self._execute(
            self._machine.handle(
                t.ToolFinished(call_id=call.call_id, output=outcome.output), self._now()
            )
        )
        await self._publish(finished)
        self._maybe_finish()

    # -- helpers -------------------------------------------------------------------

    async def _publish(self, event: object) -> None:
        """Queue ``event`` for the handlers and subscribers (skipped when nobody listens)."""
        if not (self._subscribers or self._router.handlers_for(event)):
            return
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
            await self._events_send.send(event)

    def _record_history(self, event: object) -> None:
        self._translator.record(event)

    def _cancel_on_interrupt(self, name: str) -> bool:
        spec = self._tools.get(name)
        return spec.cancel_on_interrupt if spec is not None else True

    async def _interrupt_if_speaking(self) -> None:
        if self._machine.state in (t.TurnState.AGENT_SPEAKING, t.TurnState.THINKING):
            await self.interrupt()

    def _maybe_finish(self) -> None:
        if self._reason is not None or self._tg is None:
            return
        if not (self._ending or self._source_done):
            return
        if self._machine.state is not t.TurnState.IDLE or self._tool_scopes:
            return
        self._finish(EndReason.ENDED if self._ending else EndReason.INPUT_FINISHED)

    def _finish(self, reason: EndReason) -> None:
        if self._reason is None:
            self._reason = reason
        self._ending = True
        self._ended.set()
        if self._tg is not None:
            self._tg.cancel_scope.cancel()

    def _fail(self, reason: EndReason, error: Exception) -> None:
        if self._reason is None:
            self._error = error
        self._finish(reason)

    def _connection(self) -> VoiceLiveConnection:
        if self._conn is None:
            raise ConnectError("the session is not connected: use `async with agent.session()`")
        return self._conn

    def _require_open(self) -> VoiceLiveConnection:
        if self._reason is not None:
            raise ConnectError(f"the session has ended ({self._reason.value})")
        return self._connection()

    def _played(self) -> float:
        """The sink's played position; without a sink, everything counts as played."""
        return self.sink.played_ms() if self.sink is not None else math.inf

    @staticmethod
    def _now() -> float:
        return anyio.current_time()

    def __repr__(self) -> str:
        return (
            f"<AgentSession {type(self.agent).__qualname__} id={self._session_id} "
            f"state={self._machine.state.value}>"
        )


def _already_truncated(error: Any) -> bool:
    """The service's answer to truncating an item at or past its (already cut) end: the
    conversation already holds what we wanted, so it is harmless."""
    message = str(getattr(error, "message", "") or "")
    return getattr(error, "param", None) == "audio_end_ms" and "already shorter" in message


register_injectable(AgentSession, lambda context: context.session)
