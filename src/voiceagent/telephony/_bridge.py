"""What both carrier bridges do once a call's media stream is open: run the agent's
session on the line, deliver DTMF to it, and end cleanly whichever side hangs up."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import anyio

from .._agent import Agent
from ..errors import ConfigurationError
from ._call import PhoneCall, attach
from ._events import DTMF_DIGITS, Dtmf

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream

    from .._session import AgentSession
    from ._line_sink import LineSink
    from ._line_source import LineSource

__all__ = ["AgentFactory", "LineBridge"]

log = logging.getLogger("voiceagent.telephony")

AgentFactory = Callable[[PhoneCall], Agent]
"""Makes the agent for a call (to pick instructions by the number called, say)."""

Deliver = Callable[[Dtmf], None]
Pump = Callable[[Deliver], Awaitable[None]]


class LineBridge:
    """The carrier-independent part of a bridge.

    Args:
        agent: The agent answering calls, or a function making one per call.
        endpoint: The Voice Live endpoint (default: the environment, as for
            ``agent.session``).
        credential: The Voice Live credential.
        api_key: A Voice Live API key.
        session_options: Session option overrides for every call.
        drain_timeout_s: When the session ends with the caller still on the line, how long
            the agent's last words may take to play before the call is ended or
            transferred.
        source_buffer_ms: Caller audio kept waiting for a session that falls behind
            (:class:`LineSource`).
        max_pending_dtmf: Key presses waiting for the handlers; beyond it they are dropped
            and logged.
    """

    carrier = "line"

    def __init__(
        self,
        agent: Agent | AgentFactory,
        *,
        endpoint: str | None = None,
        credential: Any = None,
        api_key: str | None = None,
        session_options: Mapping[str, Any] | None = None,
        drain_timeout_s: float = 10.0,
        source_buffer_ms: float = 5000,
        max_pending_dtmf: int = 64,
    ) -> None:
        if not (isinstance(agent, Agent) or callable(agent)):
            raise ConfigurationError(
                f"a bridge needs an Agent or a function making one, got {agent!r}"
            )
        if not drain_timeout_s >= 0:
            raise ConfigurationError(f"drain_timeout_s must be >= 0, got {drain_timeout_s!r}")
        if max_pending_dtmf < 1:
            raise ConfigurationError(f"max_pending_dtmf must be >= 1, got {max_pending_dtmf!r}")
        self._agent = agent
        self._connect: dict[str, Any] = {
            "endpoint": endpoint,
            "credential": credential,
            "api_key": api_key,
        }
        self._options = dict(session_options or {})
        self._drain_timeout = drain_timeout_s
        self.source_buffer_ms = source_buffer_ms
        self._max_dtmf = max_pending_dtmf
        self.active_calls = 0
        """Calls whose media stream is open now."""
        self.calls_handled = 0
        """Calls whose media stream has closed."""

    def agent_for(self, call: PhoneCall) -> Agent:
        """The agent that answers ``call``."""
        agent = self._agent if isinstance(self._agent, Agent) else self._agent(call)
        if not isinstance(agent, Agent):
            raise ConfigurationError(f"the agent factory returned {agent!r}, not an Agent")
        return agent

    def open_session(
        self, call: PhoneCall, source: LineSource, sink: LineSink
    ) -> contextlib.AbstractAsyncContextManager[AgentSession]:
        """The session for ``call`` (overridden to run it on a session host)."""
        return self.agent_for(call).session(
            source=source, sink=sink, **self._connect, **self._options
        )

    async def converse(
        self,
        call: PhoneCall,
        source: LineSource,
        sink: LineSink,
        *,
        send: Callable[[str], Awaitable[None]],
        pump: Pump,
    ) -> None:
        """Run the call: the session on the line while ``pump`` reads the carrier's socket.

        Returns when the session has ended and, if the caller is still on the line, the
        agent's last words have played (up to ``drain_timeout_s``).

        Args:
            call: The call.
            source: The caller's audio (``pump`` feeds it).
            sink: The agent's audio (its sender sends with ``send``).
            send: Sends one text frame on the carrier's socket.
            pump: Reads the carrier's socket until the caller hangs up, feeding ``source``,
                ``sink`` and DTMF (through the callable it is given); returns on hang-up.
        """
        dtmf_send, dtmf_recv = anyio.create_memory_object_stream[Dtmf](self._max_dtmf)
        session_scope = anyio.CancelScope()

        def deliver(event: Dtmf) -> None:
            if event.digit not in DTMF_DIGITS:
                log.warning("ignoring an unknown DTMF key %r on call %s", event.digit, call.call_id)
                return
            try:
                dtmf_send.send_nowait(event)
            except anyio.WouldBlock:
                log.warning("dropping DTMF on call %s: the handlers are behind", call.call_id)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                pass

        async def read_line() -> None:
            try:
                await pump(deliver)
            except Exception as exc:
                log.warning("call %s: the carrier's socket failed: %r", call.call_id, exc)
            call.caller_hung_up = True
            source.end()
            session_scope.cancel()

        async def send_line() -> None:
            try:
                await sink.run(send)
            except Exception as exc:  # the socket is gone: the call is over
                log.debug("call %s: sending failed: %r", call.call_id, exc)
                call.caller_hung_up = True
                session_scope.cancel()

        self.active_calls += 1
        try:
            async with anyio.create_task_group() as tg, dtmf_send:
                tg.start_soon(send_line)
                tg.start_soon(read_line)
                with session_scope:
                    async with self.open_session(call, source, sink) as session:
                        attach(session, call)
                        tg.start_soon(_deliver_dtmf, session, dtmf_recv)
                        await session.wait()
                if not call.caller_hung_up:
                    with anyio.move_on_after(self._drain_timeout):
                        await sink.drain()
                await sink.aclose()
                tg.cancel_scope.cancel()
        finally:
            self.active_calls -= 1
            self.calls_handled += 1
            source.end()


async def _deliver_dtmf(session: AgentSession, events: MemoryObjectReceiveStream[Dtmf]) -> None:
    async with events:
        async for event in events:
            await publish(session, event)


async def publish(session: AgentSession, event: object) -> None:
    """Hand an event of the bridge's to the session's handlers and subscribers.

    The session has no public way yet to publish an application's own events; its internal
    ``_publish`` queues the event behind the service's events, for the same handlers
    (``@agent.on``) and ``session.events()`` subscribers.
    """
    await session._publish(event)
