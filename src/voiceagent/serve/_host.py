"""The session host: what every conversation endpoint of a served app shares.

A :class:`SessionHost` holds only counters: the conversations open now, the capacity, the
drain state, the metrics. Each WebSocket connection that the host admits is one
:class:`Conversation`: an id for the logs, the agent (from the app's factory), and
:meth:`Conversation.run`, which runs one :class:`~voiceagent.AgentSession` to its end while
its events drive the metrics and the drain can end it.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import anyio

from .._agent import Agent
from ..errors import ConfigurationError, VoiceAgentError
from ..events import EndReason, Event, SessionStarted
from ._metrics import ServeMetrics

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    from starlette.types import Scope

    from .._history import SessionResult
    from .._session import AgentSession
    from ..audio import AudioSink, AudioSource

__all__ = [
    "CLOSE_AT_CAPACITY",
    "CLOSE_GOING_AWAY",
    "AgentFactory",
    "Conversation",
    "ConversationLogFilter",
    "ConversationRefused",
    "SessionHost",
    "current_conversation_id",
]

log = logging.getLogger("voiceagent.serve")

CLOSE_AT_CAPACITY: Final = 1013
"""WebSocket close code for a connection refused at capacity (RFC 6455: try again later)."""
CLOSE_GOING_AWAY: Final = 1001
"""WebSocket close code for a connection refused or ended because the server is shutting
down (RFC 6455: going away)."""

STOP_SHUTDOWN: Final = "shutdown"
"""Why a conversation was stopped: the drain timed out while the server shuts down."""

_conversation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "voiceagent_conversation_id", default=None
)


def current_conversation_id() -> str | None:
    """The id of the conversation the calling code runs in (None outside one).

    Set for everything an admitted connection's endpoint runs, tasks it starts included,
    so library logs (``voiceagent.session``) carry it too.
    """
    return _conversation_id.get()


class ConversationLogFilter(logging.Filter):
    """A logging filter that adds ``conversation_id`` (``"-"`` outside a conversation) to
    every record, for formats such as ``"%(conversation_id)s %(message)s"``.

    Install it on a handler: ``handler.addFilter(ConversationLogFilter())``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Add the attribute; never drops a record."""
        record.conversation_id = _conversation_id.get() or "-"
        return True


class ConversationRefused(VoiceAgentError):
    """The host refused a new conversation: it is at capacity or draining.

    Attributes:
        code: The WebSocket close code to send (:data:`CLOSE_AT_CAPACITY` or
            :data:`CLOSE_GOING_AWAY`).
        reason: The close reason, for the client.
        cause: ``"capacity"`` or ``"draining"``.
    """

    def __init__(self, reason: str, *, code: int, cause: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.cause = cause


def _factory(agent_or_factory: AgentFactory) -> Callable[[Conversation], Awaitable[Agent]]:
    """One shape for every kind of agent argument: ``async (conversation) -> Agent``."""
    if isinstance(agent_or_factory, Agent):
        agent = agent_or_factory

        async def shared(conversation: Conversation) -> Agent:
            return agent

        return shared
    if not callable(agent_or_factory):
        raise ConfigurationError(
            f"create_app() takes an Agent, an Agent subclass or a function returning an "
            f"Agent, not {type(agent_or_factory).__qualname__}"
        )
    takes_conversation = True
    if inspect.isclass(agent_or_factory):
        if not issubclass(agent_or_factory, Agent):
            raise ConfigurationError(
                f"create_app() got the class {agent_or_factory.__qualname__}, which is not "
                "an Agent subclass"
            )
        takes_conversation = False
    else:
        try:
            inspect.signature(agent_or_factory).bind(None)
        except TypeError:
            takes_conversation = False
        except ValueError:  # no signature to read: call it as documented
            pass
    name = getattr(agent_or_factory, "__qualname__", repr(agent_or_factory))
    function: Callable[..., Any] = agent_or_factory

    async def make(conversation: Conversation) -> Agent:
        made = function(conversation) if takes_conversation else function()
        if inspect.isawaitable(made):
            made = await made
        if not isinstance(made, Agent):
            raise ConfigurationError(f"{name}() returned {made!r}, not an Agent")
        return made

    return make


class Conversation:
    """One admitted connection: one conversation with the agent.

    Endpoints get theirs with :meth:`of` (the app admits every WebSocket connection before
    its endpoint runs) or from :meth:`SessionHost.conversation`. A conversation runs at
    most one session.

    Attributes:
        id: A short random id, in every log line of the conversation
            (:class:`ConversationLogFilter`) and in its messages to the client.
        kind: What kind of endpoint it came through (the route's name: ``"browser"``,
            ``"twilio"``...), a label of its metrics.
        host: The host that admitted it.
        scope: The connection's ASGI scope (path, query string, headers), or None.
        started_at: When it was admitted (``time.monotonic()``).
    """

    def __init__(self, host: SessionHost, *, kind: str, scope: Scope | None = None) -> None:
        self.id = "c" + secrets.token_hex(6)
        self.kind = kind
        self.host = host
        self.scope = scope
        self.started_at = time.monotonic()
        self.session: AgentSession | None = None
        """The session :meth:`run` runs (None before)."""
        self.result: SessionResult | None = None
        """How the session ended (None until :meth:`run` returns)."""
        self.stop_reason: str | None = None
        """Why the server stopped the conversation (:meth:`stop`), or None."""
        self.end = "no_session"
        """How it ended, the ``end`` label of ``voiceagent_sessions_total``: a
        :class:`~voiceagent.events.EndReason` value, the :meth:`stop` reason, or
        ``"no_session"`` (the endpoint never ran a session)."""
        self._agent: Agent | None = None
        self._on_event: Callable[[Event], Awaitable[None]] | None = None
        self._run_scope: anyio.CancelScope | None = None
        self._handler_scope: anyio.CancelScope | None = None

    @classmethod
    def of(cls, connection: Any) -> Conversation:
        """The conversation the app admitted for this connection.

        Args:
            connection: A ``starlette.websockets.WebSocket`` (or anything with an ASGI
                ``scope``), or the scope itself.

        Raises:
            RuntimeError: The connection did not come through an app made by
                :func:`~voiceagent.serve.create_app`.
        """
        scope = getattr(connection, "scope", connection)
        conversation = scope.get(_SCOPE_KEY) if isinstance(scope, dict) else None
        if not isinstance(conversation, Conversation):
            raise RuntimeError(
                "this connection was not admitted by a voiceagent app: pass the route to "
                "voiceagent.serve.create_app(routes=[...]) or use host.conversation()"
            )
        return conversation

    async def agent(self) -> Agent:
        """The agent of this conversation, made by the app's factory on first use."""
        if self._agent is None:
            self._agent = await self.host.make_agent(self)
        return self._agent

    async def new_session(
        self,
        *,
        source: AudioSource | None,
        sink: AudioSink | None,
        **options: Any,
    ) -> AgentSession:
        """A session of :meth:`agent` with the app's connection settings (not entered yet:
        pass it to :meth:`run`).

        Args:
            source: The caller's audio.
            sink: Where the agent's audio goes.
            **options: Session option overrides for this conversation, on top of the app's.
        """
        agent = await self.agent()
        settings = {**self.host.session_settings, **options}
        return agent.session(source=source, sink=sink, **settings)

    async def run(
        self,
        session: AgentSession,
        *,
        on_event: Callable[[Event], Awaitable[None]] | None = None,
    ) -> SessionResult:
        """Run ``session`` (not entered yet) to its end.

        Its events count in the metrics; the drain can end it (:meth:`stop`); its log
        lines carry :attr:`id`. ``on_event``, if given, is awaited with each of the
        session's own events (:mod:`voiceagent.events`: transcripts, turn changes, tool
        calls, interruptions, metrics, ending with
        :class:`~voiceagent.events.SessionEnded`), in order, by the session's event
        dispatcher: while it waits, later events queue (up to 1024, then the session
        waits), so keep it quick. If it raises, the conversation ends and the error is
        logged.

        Returns:
            The session's result. Errors that end a started session are in it
            (``result.error``), not raised.

        Raises:
            VoiceAgentError: The session could not start (no connection, bad
                configuration): what ``async with session`` raised.
            RuntimeError: The conversation already ran a session.
        """
        if self.session is not None:
            raise RuntimeError(f"conversation {self.id} already ran a session")
        self.session = session
        self._on_event = on_event
        # A handler of this session for voiceagent's own events: they reach the endpoint
        # through the session's dispatcher, in order, and the SDK's raw events are not
        # queued for anybody.
        session.on(Event)(self._deliver)
        metrics = self.host.metrics
        started = False
        failure: BaseException | None = None
        token = _conversation_id.set(self.id)
        try:
            with anyio.CancelScope() as scope:
                self._run_scope = scope
                if self.stop_reason is not None:
                    scope.cancel()
                try:
                    async with session:
                        started = True
                        await session.wait()
                except Exception as exc:
                    if not started:
                        failure = exc
        finally:
            self._run_scope = None
            _conversation_id.reset(token)
        result = session.result()
        self.result = result
        if failure is not None:
            self.end = "connect_failed"
            metrics.errors.labels(self.kind, "connect").inc()
            log.warning("conversation %s: the session could not start: %s", self.id, failure)
            raise failure
        self.end = self.stop_reason or result.reason.value
        if result.reason is EndReason.ERROR:
            metrics.errors.labels(self.kind, "session").inc()
        elif result.reason is EndReason.CONNECTION_LOST:
            metrics.errors.labels(self.kind, "connection").inc()
        log.info("conversation %s ended: %s", self.id, self.end)
        return result

    async def _deliver(self, event: Event) -> None:
        """One event of this conversation's session: metrics, log, the endpoint."""
        self.host.metrics.observe(self.kind, event)
        if isinstance(event, SessionStarted):
            log.info("conversation %s: Voice Live session %s", self.id, event.session_id)
        on_event = self._on_event
        if on_event is None:
            return
        try:
            await on_event(event)
        except Exception:
            log.exception("conversation %s: the endpoint's on_event failed", self.id)
            self.host.metrics.errors.labels(self.kind, "endpoint").inc()
            self._on_event = None
            self.stop("endpoint_error")

    def stop(self, reason: str = STOP_SHUTDOWN) -> None:
        """End the conversation now: the session is cancelled and closed, :meth:`run`
        returns its result (reason ``cancelled``), and :attr:`stop_reason` says why.

        Safe to call at any time, more than once (the first reason stays), before
        :meth:`run` too (then the session ends as soon as it starts). An endpoint that
        never calls :meth:`run` has its handler cancelled instead.

        Args:
            reason: Why, for the logs and the ``end`` label of the metrics (for example
                ``"shutdown"``, ``"client_left"``).
        """
        if self.stop_reason is None:
            self.stop_reason = reason
        if self._run_scope is not None:
            self._run_scope.cancel()
        elif self.session is None and self._handler_scope is not None:
            self._handler_scope.cancel()

    def _kill(self) -> None:
        """Cancel the endpoint's handler itself (the last step of a drain)."""
        if self._handler_scope is not None:
            self._handler_scope.cancel()

    def __repr__(self) -> str:
        return f"<Conversation {self.id} kind={self.kind} end={self.end}>"


_SCOPE_KEY: Final = "voiceagent.conversation"
"""Where the admitted :class:`Conversation` is kept in the connection's ASGI scope."""

AgentFactory: TypeAlias = (
    Agent
    | type[Agent]
    | Callable[[Conversation], Agent | Awaitable[Agent]]
    | Callable[[], Agent | Awaitable[Agent]]
)
"""What :func:`~voiceagent.serve.create_app` takes as its agent: an :class:`~voiceagent.Agent`
instance (shared by every conversation: an agent holds no per-call state), an ``Agent``
subclass (one instance per conversation), or a function (sync or async) that returns an
agent, called once per conversation with the :class:`Conversation` (or with nothing, if
it takes no argument)."""


class SessionHost:
    """What every conversation endpoint of one app shares: counters and the drain.

    :func:`~voiceagent.serve.create_app` makes one per app (``SessionHost.of(app)``);
    it admits every WebSocket connection of the app before its endpoint runs. Use
    :meth:`conversation` directly only for connections that do not come through the app.

    Args:
        agent: The agent or agent factory (see :data:`AgentFactory`).
        max_sessions: Conversations admitted at once; the next connection is refused
            (close code :data:`CLOSE_AT_CAPACITY`) and ``/readyz`` answers 503.
        drain_timeout: Seconds the drain waits for live conversations to end on their
            own before it stops them.
        stop_timeout: Seconds the drain then gives stopped conversations to close (their
            endpoint to say goodbye) before it cancels their handlers.
        session_settings: Keyword arguments for every ``agent.session(...)`` (endpoint,
            credential, option overrides).

    Raises:
        ConfigurationError: A limit that is not a positive number, a bad agent.
    """

    def __init__(
        self,
        agent: AgentFactory,
        *,
        max_sessions: int = 50,
        drain_timeout: float = 60.0,
        stop_timeout: float = 5.0,
        session_settings: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(max_sessions, bool) or not isinstance(max_sessions, int) or max_sessions < 1:
            raise ConfigurationError(f"max_sessions must be an integer >= 1, got {max_sessions!r}")
        for name, value in (("drain_timeout", drain_timeout), ("stop_timeout", stop_timeout)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ConfigurationError(f"{name} must be a number of seconds >= 0, got {value!r}")
        self._make_agent = _factory(agent)
        self.max_sessions = max_sessions
        self.drain_timeout = float(drain_timeout)
        self.stop_timeout = float(stop_timeout)
        self.session_settings: dict[str, Any] = dict(session_settings or {})
        self.metrics = ServeMetrics(max_sessions=max_sessions)
        self._live: dict[str, Conversation] = {}
        self._idle: anyio.Event | None = None
        self._draining = False
        self.admitted = 0
        """Conversations admitted since the host was made."""

    # -- state ---------------------------------------------------------------------------

    @property
    def active(self) -> int:
        """Conversations open now."""
        return len(self._live)

    @property
    def draining(self) -> bool:
        """Whether the host drains (refuses new conversations)."""
        return self._draining

    @property
    def ready(self) -> bool:
        """Whether a new conversation would be admitted now (what ``/readyz`` answers)."""
        return not self._draining and len(self._live) < self.max_sessions

    def conversations(self) -> list[Conversation]:
        """The conversations open now, oldest first."""
        return list(self._live.values())

    def status(self) -> dict[str, Any]:
        """The state as ``/readyz`` reports it."""
        state = "draining" if self._draining else "ready" if self.ready else "at_capacity"
        return {
            "status": state,
            "active_sessions": self.active,
            "max_sessions": self.max_sessions,
        }

    @classmethod
    def of(cls, app_or_connection: Any) -> SessionHost:
        """The host of an app made by :func:`~voiceagent.serve.create_app`.

        Args:
            app_or_connection: The app (wrapped in ASGI middleware or not: ``.app``
                attributes are followed), or a request or WebSocket of it.

        Raises:
            LookupError: No voiceagent app there.
        """
        seen = 0
        app = getattr(app_or_connection, "app", None)
        if isinstance(getattr(app_or_connection, "scope", None), dict):
            app = app_or_connection.scope.get("app", app)
        else:
            app = app_or_connection
        while app is not None and seen < 32:
            host = getattr(getattr(app, "state", None), "voiceagent", None)
            if isinstance(host, SessionHost):
                return host
            app = getattr(app, "app", None)
            seen += 1
        raise LookupError(f"{app_or_connection!r} is not an app made by create_app()")

    # -- admission -----------------------------------------------------------------------

    async def make_agent(self, conversation: Conversation) -> Agent:
        """The agent for ``conversation``, from the factory."""
        return await self._make_agent(conversation)

    def admit(self, *, kind: str, scope: Scope | None = None) -> Conversation:
        """Admit a new conversation now, or refuse it. Pair with :meth:`release`.

        Raises:
            ConversationRefused: The host drains or is at capacity.
        """
        if self._draining:
            self.metrics.refused.labels("draining").inc()
            raise ConversationRefused(
                "server is shutting down", code=CLOSE_GOING_AWAY, cause="draining"
            )
        if len(self._live) >= self.max_sessions:
            self.metrics.refused.labels("capacity").inc()
            raise ConversationRefused(
                f"server at capacity ({self.max_sessions} conversations): try again later",
                code=CLOSE_AT_CAPACITY,
                cause="capacity",
            )
        conversation = Conversation(self, kind=kind, scope=scope)
        self._live[conversation.id] = conversation
        self.admitted += 1
        self.metrics.active.labels(kind).inc()
        return conversation

    def release(self, conversation: Conversation) -> None:
        """Count ``conversation`` as ended. Idempotent."""
        if self._live.pop(conversation.id, None) is None:
            return
        if not self._live and self._idle is not None:
            self._idle.set()
            self._idle = None
        kind = conversation.kind
        self.metrics.active.labels(kind).dec()
        self.metrics.sessions.labels(kind, conversation.end).inc()
        self.metrics.duration.labels(kind).observe(time.monotonic() - conversation.started_at)

    @contextlib.asynccontextmanager
    async def conversation(
        self, *, kind: str, scope: Scope | None = None
    ) -> AsyncIterator[Conversation]:
        """Admit one conversation for the block; it counts until the block exits.

        Raises:
            ConversationRefused: On entry, when the host drains or is at capacity.
        """
        conversation = self.admit(kind=kind, scope=scope)
        token = _conversation_id.set(conversation.id)
        try:
            yield conversation
        finally:
            _conversation_id.reset(token)
            self.release(conversation)

    # -- drain ---------------------------------------------------------------------------

    async def drain(self, seconds: float | None = None) -> None:
        """Stop admitting, let live conversations end, then stop the rest.

        New connections are refused from now on (close code :data:`CLOSE_GOING_AWAY`) and
        ``/readyz`` answers 503. Live conversations have ``timeout`` seconds
        (:attr:`drain_timeout` by default) to end on their own; the ones left are stopped
        (:meth:`Conversation.stop`, reason ``"shutdown"``) and given
        :attr:`stop_timeout` seconds to close; a handler still running after that is
        cancelled.

        Args:
            seconds: How long to wait before stopping conversations.
        """
        timeout = self.drain_timeout if seconds is None else seconds
        self.begin_drain()
        log.info(
            "draining: %d conversation(s) open; waiting up to %g s for them to end",
            self.active,
            timeout,
        )
        with anyio.move_on_after(timeout):
            await self._wait_idle()
        if not self._live:
            log.info("drained: no conversation open")
            return
        log.warning(
            "drain timeout after %g s: stopping %d conversation(s)", timeout, len(self._live)
        )
        for conversation in self.conversations():
            conversation.stop(STOP_SHUTDOWN)
        with anyio.move_on_after(self.stop_timeout):
            await self._wait_idle()
        for conversation in self.conversations():
            log.warning("conversation %s did not close in time: cancelling it", conversation.id)
            conversation._kill()
        with anyio.move_on_after(self.stop_timeout):
            await self._wait_idle()

    def begin_drain(self) -> None:
        """Refuse new conversations from now on (``/readyz`` answers 503). Synchronous:
        safe in a signal handler. :meth:`drain` calls it first."""
        if not self._draining:
            self._draining = True
            self.metrics.draining.set(1)

    async def _wait_idle(self) -> None:
        while self._live:
            if self._idle is None:
                self._idle = anyio.Event()
            await self._idle.wait()

    def __repr__(self) -> str:
        return (
            f"<SessionHost active={self.active}/{self.max_sessions}"
            f"{' draining' if self._draining else ''}>"
        )
