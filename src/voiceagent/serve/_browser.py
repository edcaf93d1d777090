"""The browser endpoint: the bundled page, its static files, and the WebSocket that runs
one conversation per connection over the browser protocol (:mod:`._protocol`)."""

from __future__ import annotations

import contextlib
import importlib.resources
import logging
from typing import TYPE_CHECKING, Any

import anyio
import attrs
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from ..audio import AudioFormat
from ..errors import ConfigurationError, VoiceAgentError
from ..events import (
    AgentTranscript,
    AgentTranscriptDelta,
    Event,
    Interrupted,
    SessionStarted,
    ToolCallFinished,
    ToolCallStarted,
    TurnChanged,
    TurnMetrics,
    UserTranscript,
    UserTranscriptDelta,
)
from ._browser_audio import BrowserSink, BrowserSource, Outbox
from ._host import CLOSE_GOING_AWAY, STOP_SHUTDOWN, Conversation
from ._protocol import (
    CLOSE_NORMAL,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_SESSION_FAILED,
    MAX_TEXT_CHARS,
    PROTOCOL_VERSION,
    End,
    Interrupt,
    Played,
    ProtocolError,
    Text,
    dumps,
    parse_client_message,
)

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.routing import BaseRoute
    from starlette.websockets import WebSocket

    from .._session import AgentSession

__all__ = ["BrowserEndpoint", "BrowserOptions"]

log = logging.getLogger("voiceagent.serve")

_RATES = (8000, 16000, 24000)


def _check_rate(_: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if value not in _RATES:
        raise ConfigurationError(f"{attribute.name} must be one of {_RATES}, got {value!r}")


def _check_positive(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigurationError(f"{attribute.name} must be a positive number, got {value!r}")


def _check_path(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value.startswith("/"):
        raise ConfigurationError(f"{attribute.name} must start with '/', got {value!r}")


@attrs.frozen(kw_only=True)
class BrowserOptions:
    """How the browser endpoint talks to the page.

    Attributes:
        path: The WebSocket's path.
        page: Serve the bundled page at ``/`` (its scripts are always served under
            ``/voiceagent/``, for pages of your own).
        input_rate: The sample rate the page sends the microphone at (the page resamples
            to it): 24000 (what Voice Live takes natively), 16000 or 8000.
        output_rate: The sample rate of the agent's audio sent to the page; other than
            24000 needs the ``audio`` extra (resampling on the server).
        report_ms: How often the page reports its played position while it plays: the
            truncation point on barge-in is at most this old.
        prebuffer_ms: Audio the page holds before it starts playing (its jitter buffer).
        max_ahead_ms: Agent audio sent to the page and not yet played before the server
            waits; bounds what a clear has to throw away on the page.
        input_buffer_ms: Microphone audio queued on the server before the oldest is
            dropped (only when the voice session falls behind).
        max_messages: JSON messages queued for a slow page before event forwarding waits.
        max_text_chars: The longest typed message a page may send (longer ones are a
            protocol error).
    """

    path: str = attrs.field(default="/ws", validator=_check_path)
    page: bool = True
    input_rate: int = attrs.field(default=24000, validator=_check_rate)
    output_rate: int = attrs.field(default=24000, validator=_check_rate)
    report_ms: int = attrs.field(default=20, validator=_check_positive)
    prebuffer_ms: int = attrs.field(default=60, validator=_check_positive)
    max_ahead_ms: float = attrs.field(default=2000, validator=_check_positive)
    input_buffer_ms: float = attrs.field(default=2000, validator=_check_positive)
    max_messages: int = attrs.field(default=256, validator=_check_positive)
    max_text_chars: int = attrs.field(default=MAX_TEXT_CHARS, validator=_check_positive)

    @property
    def input_format(self) -> AudioFormat:
        """The microphone's format on the wire."""
        return AudioFormat(sample_rate=self.input_rate)

    @property
    def output_format(self) -> AudioFormat:
        """The agent audio's format on the wire."""
        return AudioFormat(sample_rate=self.output_rate)

    def welcome(self, conversation_id: str) -> dict[str, Any]:
        """The ``welcome`` message."""

        def fmt(rate: int) -> dict[str, Any]:
            return {"encoding": "pcm16", "sample_rate": rate, "channels": 1}

        return {
            "type": "welcome",
            "protocol": PROTOCOL_VERSION,
            "conversation": conversation_id,
            "input": fmt(self.input_rate),
            "output": fmt(self.output_rate),
            "report_ms": self.report_ms,
            "prebuffer_ms": self.prebuffer_ms,
        }


def _static_dir() -> str:
    return str(importlib.resources.files("voiceagent.serve") / "static")


def _event_message(event: object) -> dict[str, Any] | None:
    """What the page hears of one session event (None: nothing)."""
    if isinstance(event, UserTranscriptDelta):
        return {
            "type": "transcript",
            "role": "user",
            "item_id": event.item_id,
            "delta": event.delta,
        }
    if isinstance(event, UserTranscript):
        return {
            "type": "transcript",
            "role": "user",
            "item_id": event.item_id,
            "text": event.text,
            "final": True,
            "interrupted": False,
        }
    if isinstance(event, AgentTranscriptDelta):
        return {
            "type": "transcript",
            "role": "agent",
            "item_id": event.item_id,
            "delta": event.delta,
        }
    if isinstance(event, AgentTranscript):
        return {
            "type": "transcript",
            "role": "agent",
            "item_id": event.item_id,
            "text": event.text,
            "final": True,
            "interrupted": event.interrupted,
        }
    if isinstance(event, TurnChanged):
        return {"type": "state", "state": event.new.value}
    if isinstance(event, Interrupted):
        return {"type": "interrupted", "item_id": event.item_id, "heard_ms": event.heard_ms}
    if isinstance(event, ToolCallStarted):
        return {"type": "tool", "name": event.name, "status": "started"}
    if isinstance(event, ToolCallFinished):
        return {"type": "tool", "name": event.name, "status": "finished", "ok": event.error is None}
    if isinstance(event, TurnMetrics):
        return {"type": "turn", "latency_ms": round(event.latency_s * 1000)}
    return None


@attrs.define
class _Call:
    """One browser connection's moving parts."""

    conversation: Conversation
    websocket: WebSocket
    outbox: Outbox
    source: BrowserSource
    sink: BrowserSink
    session: AgentSession | None = None
    ready: bool = False
    protocol_error: str | None = None
    max_text_chars: int = MAX_TEXT_CHARS

    async def on_event(self, event: Event) -> None:
        if isinstance(event, SessionStarted):
            self.ready = True
            await self.outbox.put(dumps({"type": "ready", "session_id": event.session_id}))
            return
        message = _event_message(event)
        if message is not None:
            await self.outbox.put(dumps(message))

    async def read(self) -> None:
        """Read the client until it leaves (or breaks the protocol)."""
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                data = message.get("bytes")
                if data is not None:
                    self.source.feed(data)
                    continue
                text = message.get("text")
                if text is not None:
                    await self._on_message(text)
        except ProtocolError as exc:
            self.protocol_error = str(exc)
            log.warning("conversation %s: protocol error: %s", self.conversation.id, exc)
            self.outbox.put_urgent(dumps({"type": "error", "message": str(exc)}))
            self.conversation.stop("protocol_error")
            return
        except Exception as exc:  # the socket failed under us: the client is gone
            log.debug("conversation %s: reading failed: %r", self.conversation.id, exc)
        self.source.finish()
        self.sink.client_left()
        self.conversation.stop("client_left")

    async def _on_message(self, text: str) -> None:
        message = parse_client_message(text, max_text_chars=self.max_text_chars)
        if isinstance(message, Played):
            self.sink.report(message.samples, message.epoch, playing=message.playing)
        elif isinstance(message, End):
            self.source.finish()
        elif self.session is None or not self.ready:
            await self.outbox.put(
                dumps({"type": "error", "message": "the voice session has not started yet"})
            )
        elif isinstance(message, Text):
            await self.session.send_text(message.text)
        elif isinstance(message, Interrupt):
            await self.session.interrupt()


class BrowserEndpoint:
    """The browser's WebSocket endpoint and the page's routes.

    Args:
        options: How to talk to the page.
    """

    def __init__(self, options: BrowserOptions) -> None:
        self.options = options

    def routes(self) -> list[BaseRoute]:
        """The WebSocket route (named ``browser``), the page and its scripts."""
        routes: list[BaseRoute] = [
            WebSocketRoute(self.options.path, self.handle, name="browser"),
            Mount("/voiceagent", StaticFiles(directory=_static_dir()), name="voiceagent-static"),
        ]
        if self.options.page:
            routes.append(Route("/", self.page, name="browser-page"))
        return routes

    async def page(self, request: Request) -> HTMLResponse:
        """The bundled page."""
        html = (importlib.resources.files("voiceagent.serve") / "static" / "index.html").read_text(
            encoding="utf-8"
        )
        return HTMLResponse(html.replace("{{WS_PATH}}", self.options.path))

    async def handle(self, websocket: WebSocket) -> None:
        """Run one conversation over ``websocket``."""
        conversation = Conversation.of(websocket)
        options = self.options
        await websocket.accept()
        outbox = Outbox(max_messages=options.max_messages)
        call = _Call(
            conversation=conversation,
            websocket=websocket,
            outbox=outbox,
            source=BrowserSource(options.input_format, max_buffer_ms=options.input_buffer_ms),
            sink=BrowserSink(
                outbox,
                options.output_format,
                max_ahead_ms=options.max_ahead_ms,
                extrapolate_ms=options.report_ms * 1.5,
            ),
            max_text_chars=options.max_text_chars,
        )
        outbox.put_nowait(dumps(options.welcome(conversation.id)))
        code, reason = CLOSE_NORMAL, "conversation ended"
        async with anyio.create_task_group() as tg:
            tg.start_soon(outbox.run, websocket)
            tg.start_soon(call.read)
            try:
                call.session = await conversation.new_session(source=call.source, sink=call.sink)
                result = await conversation.run(call.session, on_event=call.on_event)
            except VoiceAgentError as exc:
                log.warning("conversation %s could not start: %s", conversation.id, exc)
                outbox.put_nowait(
                    dumps({"type": "ended", "reason": "error", "error": "session_failed"})
                )
                code, reason = CLOSE_SESSION_FAILED, "the voice session could not start"
            else:
                stop = conversation.stop_reason
                end = stop or result.reason.value
                outbox.put_nowait(dumps({"type": "ended", "reason": end}))
                if call.protocol_error is not None:
                    code, reason = CLOSE_PROTOCOL_ERROR, call.protocol_error[:120]
                elif stop == STOP_SHUTDOWN:
                    code, reason = CLOSE_GOING_AWAY, "server shutting down"
            with anyio.move_on_after(conversation.host.stop_timeout):
                await outbox.flushed()
            outbox.close()
            with contextlib.suppress(Exception):  # the client may be gone already
                await websocket.close(code, reason)
            tg.cancel_scope.cancel()
        await call.sink.aclose()
        await call.source.aclose()
