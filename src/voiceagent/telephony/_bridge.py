"""What both carrier bridges do once a call's media stream is open: run the agent's
session on the line as a conversation of the serve app, deliver DTMF to it, and end
cleanly whichever side hangs up."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import anyio

from ..errors import ConfigurationError, VoiceAgentError
from ._call import SCOPE_KEY, CallEnding, PhoneCall, attach
from ._events import DTMF_DIGITS, Dtmf

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream

    from .._session import AgentSession
    from ..serve import Conversation
    from ._line_sink import LineSink
    from ._line_source import LineSource

__all__ = ["STOP_CALLER_HUNG_UP", "LineBridge"]

log = logging.getLogger("voiceagent.telephony")

STOP_CALLER_HUNG_UP = "caller_hung_up"
"""The conversation's ``stop_reason`` (and ``end`` metric label) when the caller hangs up."""

Deliver = Callable[[Dtmf], None]
Pump = Callable[[Deliver], Awaitable[None]]


class LineBridge:
    """The carrier-independent part of a bridge: its media endpoint runs one
    conversation of a :func:`voiceagent.serve.create_app` app per call.

    The app admits the media WebSocket (capacity, drain) before the endpoint runs; the
    endpoint then makes the session with the app's agent and connection settings
    (:meth:`voiceagent.serve.Conversation.new_session`), ties the :class:`PhoneCall` to
    it, and runs it (:meth:`voiceagent.serve.Conversation.run`) while the carrier's
    socket is read. A caller hanging up stops the conversation at once
    (``stop_reason == "caller_hung_up"``); a conversation that ends on its side lets the
    agent's last words play, then the call is ended or transferred as asked.

    Args:
        session_options: Session option overrides for the calls of this bridge, on top of
            the app's.
        drain_timeout_s: When the session ends with the caller still on the line, how long
            the agent's last words may take to play before the call is ended or
            transferred.
        source_buffer_ms: Caller audio kept waiting for a session that falls behind
            (:class:`LineSource`).
        max_pending_dtmf: Key presses waiting for the handlers; beyond it they are dropped
            and logged.

    Raises:
        ConfigurationError: An option out of range.
    """

    carrier = "line"

    def __init__(
        self,
        *,
        session_options: Mapping[str, Any] | None = None,
        drain_timeout_s: float = 10.0,
        source_buffer_ms: float = 5000,
        max_pending_dtmf: int = 64,
    ) -> None:
        if not drain_timeout_s >= 0:
            raise ConfigurationError(f"drain_timeout_s must be >= 0, got {drain_timeout_s!r}")
        if not source_buffer_ms > 0:
            raise ConfigurationError(f"source_buffer_ms must be > 0, got {source_buffer_ms!r}")
        if max_pending_dtmf < 1:
            raise ConfigurationError(f"max_pending_dtmf must be >= 1, got {max_pending_dtmf!r}")
        self._options = dict(session_options or {})
        self._drain_timeout = drain_timeout_s
        self.source_buffer_ms = source_buffer_ms
        self._max_dtmf = max_pending_dtmf
        self.active_calls = 0
        """Calls whose media stream is open now."""
        self.calls_handled = 0
        """Calls whose media stream has closed."""
        self.last_call: PhoneCall | None = None
        """The most recent call (for tests and diagnostics)."""

    async def converse(
        self,
        conversation: Conversation,
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
            conversation: The app's conversation for this connection.
            call: The call.
            source: The caller's audio (``pump`` feeds it).
            sink: The agent's audio (its sender sends with ``send``).
            send: Sends one text frame on the carrier's socket.
            pump: Reads the carrier's socket until the caller hangs up, feeding ``source``,
                ``sink`` and DTMF (through the callable it is given); returns on hang-up.

        A session that cannot start (Voice Live unreachable, a bad configuration) is
        logged and the call is hung up.
        """
        dtmf_send, dtmf_recv = anyio.create_memory_object_stream[Dtmf](self._max_dtmf)
        self.last_call = call
        if isinstance(conversation.scope, dict):  # for agent factories: PhoneCall.of()
            conversation.scope[SCOPE_KEY] = call

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

        def hung_up() -> None:
            call.caller_hung_up = True
            source.end()
            conversation.stop(STOP_CALLER_HUNG_UP)

        async def read_line() -> None:
            try:
                await pump(deliver)
            except Exception as exc:
                log.warning("call %s: the carrier's socket failed: %r", call.call_id, exc)
            hung_up()

        async def send_line() -> None:
            try:
                await sink.run(send)
            except Exception as exc:  # the socket is gone: the call is over
                log.debug("call %s: sending failed: %r", call.call_id, exc)
                hung_up()

        self.active_calls += 1
        try:
            async with anyio.create_task_group() as tg, dtmf_send:
                tg.start_soon(send_line)
                tg.start_soon(read_line)
                try:
                    session = await conversation.new_session(
                        source=source, sink=sink, **self._options
                    )
                    attach(session, call)
                    tg.start_soon(_deliver_dtmf, session, dtmf_recv)
                    await conversation.run(session)
                except VoiceAgentError as exc:  # the session could not start
                    log.warning("call %s: no conversation: %s", call.call_id, exc)
                    call.ending = CallEnding.HANG_UP
                if not call.caller_hung_up and conversation.stop_reason is None:
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
            session.publish(event)
