"""``TwilioBridge``: Twilio phone calls answered by an agent, over Media Streams.

Three routes, under a prefix (``/twilio`` by default):

- ``POST {prefix}/voice`` — the number's voice webhook. Answers TwiML that connects the
  call to the media route: ``<Connect action="{prefix}/after"><Stream url="wss://…/media">``
  (a bidirectional stream), passing ``From`` and ``To`` as stream parameters.
- ``WS {prefix}/media`` — the stream. Twilio's μ-law 8 kHz audio goes to the session as
  is (``g711_ulaw`` on the wire to Voice Live, no resampling) and the agent's audio comes
  back the same way through a :class:`TwilioSink`, which takes its played position from
  Twilio's mark echoes and sends ``clear`` on barge-in. ``dtmf`` becomes a
  :class:`~voiceagent.telephony.Dtmf` event; ``stop`` (or the socket closing) ends the
  session.
- ``POST {prefix}/after`` — the ``<Connect>`` action: once the stream closes, Twilio asks
  for the call's next TwiML. A tool that called :meth:`PhoneCall.transfer` gets
  ``<Dial>``; anything else ``<Hangup/>``.

With ``auth_token`` set, each request must carry a valid ``X-Twilio-Signature``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import urllib.parse
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

import anyio

from ..errors import ConfigurationError, MissingExtraError
from ..serve import CLOSE_GOING_AWAY, Conversation
from ._bridge import Deliver, LineBridge
from ._call import CallEnding, PhoneCall
from ._events import CarrierError, Dtmf
from ._line_sink import check_frame_ms
from ._line_source import LineSource
from ._twilio_sink import ULAW_8K, TwilioSink
from ._twilio_wire import (
    ULAW_ENCODING,
    TwilioDtmf,
    TwilioMark,
    TwilioMedia,
    TwilioStart,
    TwilioStop,
    parse_twilio,
)

try:
    from starlette.responses import Response
    from starlette.routing import BaseRoute, Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
except ImportError as exc:  # pragma: no cover - the telephony extra is missing
    raise MissingExtraError(
        'voiceagent.telephony needs the telephony extra: pip install "voiceagent[telephony]"'
    ) from exc

if TYPE_CHECKING:
    from collections.abc import Mapping

    from starlette.requests import Request

__all__ = ["TwilioBridge"]

log = logging.getLogger("voiceagent.telephony")

_POLICY_VIOLATION = 1008
_ENDING_TTL_S = 600.0


def _twiml(body: str) -> Response:
    return Response(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>',
        media_type="application/xml",
    )


class TwilioBridge(LineBridge):
    """Answer Twilio calls with an agent.

    Pass :attr:`routes` to :func:`voiceagent.serve.create_app` (which admits each call's
    stream as one conversation of its agent) and set the Twilio number's voice webhook to
    ``https://<host>{prefix}/voice`` (HTTP POST)::

        bridge = TwilioBridge(auth_token=os.environ["TWILIO_AUTH_TOKEN"])
        app = create_app(Receptionist, routes=bridge.routes)

    Args:
        prefix: Where the routes live.
        auth_token: The Twilio account's auth token, to check ``X-Twilio-Signature`` on
            every request (default: ``TWILIO_AUTH_TOKEN`` from the environment; None with
            no such variable: requests are not checked, for local testing only).
        public_url: The app's public base URL (``https://agent.example.com``), used for the
            stream URL in the TwiML and for checking signatures behind a proxy. Default:
            taken from each request (``X-Forwarded-Proto``/``X-Forwarded-Host`` honoured).
        frame_ms: Outbound frame length, 20 to 40 ms (:class:`TwilioSink`).
        max_unplayed_ms: How far ahead of the caller audio may be sent (None: no limit).
        start_timeout_s: How long the stream may take to send ``start``.
        **options: Passed to :class:`~voiceagent.telephony.LineBridge`:
            ``session_options``, ``drain_timeout_s``, ``source_buffer_ms``,
            ``max_pending_dtmf``.

    Raises:
        ConfigurationError: An option out of range.
    """

    carrier = "twilio"

    def __init__(
        self,
        *,
        prefix: str = "/twilio",
        auth_token: str | None = None,
        public_url: str | None = None,
        frame_ms: float = 20,
        max_unplayed_ms: float | None = None,
        start_timeout_s: float = 10.0,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise ConfigurationError(f"prefix must start with '/' and not end with it: {prefix!r}")
        check_frame_ms(frame_ms)
        if max_unplayed_ms is not None and not max_unplayed_ms >= frame_ms:
            raise ConfigurationError(
                f"max_unplayed_ms must be None or at least frame_ms, got {max_unplayed_ms!r}"
            )
        self.prefix = prefix
        self._auth_token = (
            auth_token if auth_token is not None else os.environ.get("TWILIO_AUTH_TOKEN")
        )
        self._public_url = public_url.rstrip("/") if public_url else None
        self._frame_ms = frame_ms
        self._max_unplayed_ms = max_unplayed_ms
        self._start_timeout = start_timeout_s
        self._endings: dict[str, tuple[CallEnding, str | None, float]] = {}
        self._validator: Any = None
        if self._auth_token:
            try:
                from twilio.request_validator import RequestValidator
            except ImportError as exc:  # pragma: no cover - the telephony extra is missing
                raise MissingExtraError(
                    "checking Twilio signatures needs the telephony extra: pip install "
                    '"voiceagent[telephony]"'
                ) from exc
            self._validator = RequestValidator(self._auth_token)

    def __repr__(self) -> str:
        signed = "signed" if self._validator is not None else "UNSIGNED"
        return f"<TwilioBridge {self.prefix} {signed} active={self.active_calls}>"

    @property
    def routes(self) -> list[BaseRoute]:
        """The webhook, media and action routes, for ``Starlette(routes=...)``."""
        return [
            Route(f"{self.prefix}/voice", self.voice, methods=["POST"], name="twilio_voice"),
            WebSocketRoute(f"{self.prefix}/media", self.media, name="twilio"),
            Route(f"{self.prefix}/after", self.after, methods=["POST"], name="twilio_after"),
        ]

    # -- URLs and signatures ---------------------------------------------------------------

    def _base(self, headers: Mapping[str, str], scheme: str, netloc: str) -> str:
        if self._public_url is not None:
            return self._public_url
        proto = headers.get("x-forwarded-proto", scheme).split(",")[0].strip()
        host = headers.get("x-forwarded-host", netloc).split(",")[0].strip()
        return f"{proto}://{host}"

    def _request_url(self, request: Request | WebSocket) -> str:
        base = self._base(request.headers, request.url.scheme, request.url.netloc)
        url = base + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        return url

    def _signed(self, request: Request | WebSocket, params: Mapping[str, str]) -> bool:
        if self._validator is None:
            return True
        signature = request.headers.get("x-twilio-signature", "")
        url = self._request_url(request)
        if isinstance(request, WebSocket):
            # Twilio signs the stream's wss:// URL; behind a proxy ours may read ws or http.
            candidates = {url, url.replace("ws://", "wss://", 1), url.replace("http", "ws", 1)}
        else:
            candidates = {url}
        return any(self._validator.validate(u, dict(params), signature) for u in candidates)

    # -- routes ----------------------------------------------------------------------------

    async def voice(self, request: Request) -> Response:
        """The voice webhook: TwiML connecting the call to the media stream."""
        params = await _form(request)
        if not self._signed(request, params):
            log.warning("rejecting a voice webhook request with a bad X-Twilio-Signature")
            return Response("invalid signature", status_code=403)
        base = self._base(request.headers, request.url.scheme, request.url.netloc)
        ws_base = "wss" + base[5:] if base.startswith("https") else "ws" + base[4:]
        stream_url = f"{ws_base}{self.prefix}/media"
        parameters = "".join(
            f"<Parameter name={quoteattr(name)} value={quoteattr(params[name])}/>"
            for name in ("From", "To")
            if params.get(name)
        )
        action = f"{self.prefix}/after"
        return _twiml(
            f"<Connect action={quoteattr(action)}>"
            f"<Stream url={quoteattr(stream_url)}>{parameters}</Stream></Connect>"
        )

    async def after(self, request: Request) -> Response:
        """The ``<Connect>`` action: what the call does once the stream has closed."""
        params = await _form(request)
        if not self._signed(request, params):
            log.warning("rejecting a <Connect> action request with a bad X-Twilio-Signature")
            return Response("invalid signature", status_code=403)
        ending = self._endings.pop(params.get("CallSid", ""), None)
        if ending is not None and ending[0] is CallEnding.TRANSFER and ending[1]:
            target = ending[1]
            noun = (
                f"<Sip>{escape(target)}</Sip>"
                if target.startswith("sip:")
                else f"<Number>{escape(target)}</Number>"
            )
            return _twiml(f"<Dial>{noun}</Dial>")
        return _twiml("<Hangup/>")

    async def media(self, websocket: WebSocket) -> None:
        """The Media Streams WebSocket: one call's conversation."""
        conversation = Conversation.of(websocket)
        if not self._signed(websocket, {}):
            log.warning("rejecting a media stream with a bad X-Twilio-Signature")
            await websocket.close(code=_POLICY_VIOLATION)
            return
        await websocket.accept()
        try:
            start = await self._read_start(websocket)
        except (CarrierError, TimeoutError, WebSocketDisconnect) as exc:
            log.warning("closing a Twilio stream that did not start properly: %s", exc)
            await _close(websocket, _POLICY_VIOLATION)
            return
        call = PhoneCall(
            carrier="twilio",
            call_id=start.call_sid,
            stream_id=start.stream_sid,
            caller=start.custom_parameters.get("From"),
            callee=start.custom_parameters.get("To"),
            parameters=dict(start.custom_parameters),
        )
        source = LineSource(ULAW_8K, max_buffer_ms=self.source_buffer_ms)
        sink = TwilioSink(
            start.stream_sid, frame_ms=self._frame_ms, max_unplayed_ms=self._max_unplayed_ms
        )

        async def pump(deliver: Deliver) -> None:
            await self._pump(websocket, call, source, sink, deliver)

        try:
            await self.converse(
                conversation, call, source, sink, send=websocket.send_text, pump=pump
            )
        finally:
            if call.ending is not None and not call.caller_hung_up:
                self._remember(call)
            shutdown = conversation.stop_reason == "shutdown"
            await _close(websocket, CLOSE_GOING_AWAY if shutdown else 1000)

    # -- the stream ------------------------------------------------------------------------

    async def _read_start(self, websocket: WebSocket) -> TwilioStart:
        with anyio.fail_after(self._start_timeout):
            while True:
                message = parse_twilio(await websocket.receive_text())
                if isinstance(message, TwilioStart):
                    break
                if isinstance(message, TwilioStop):
                    raise CarrierError("the stream stopped before it started")
        if (message.encoding, message.sample_rate, message.channels) != (ULAW_ENCODING, 8000, 1):
            raise CarrierError(
                f"unsupported Twilio media format {message.encoding} {message.sample_rate} Hz "
                f"{message.channels} channel(s); expected {ULAW_ENCODING} 8000 Hz mono"
            )
        return message

    async def _pump(
        self,
        websocket: WebSocket,
        call: PhoneCall,
        source: LineSource,
        sink: TwilioSink,
        deliver: Deliver,
    ) -> None:
        while True:
            try:
                text = await websocket.receive_text()
            except (WebSocketDisconnect, RuntimeError):
                return
            try:
                message = parse_twilio(text)
            except CarrierError as exc:
                log.warning("call %s: ignoring a bad message from Twilio: %s", call.call_id, exc)
                continue
            if isinstance(message, TwilioMedia):
                if message.track in ("inbound", "inbound_track"):
                    source.feed(message.payload)  # μ-law: any byte count is whole samples
            elif isinstance(message, TwilioMark):
                sink.mark_played(message.name)
            elif isinstance(message, TwilioDtmf):
                deliver(Dtmf(digit=message.digit, call_id=call.call_id, carrier="twilio"))
            elif isinstance(message, TwilioStop):
                return

    def _remember(self, call: PhoneCall) -> None:
        """Keep the call's ending for the ``<Connect>`` action request that follows."""
        now = time.monotonic()
        for sid in [s for s, (_, _, at) in self._endings.items() if now - at > _ENDING_TTL_S]:
            del self._endings[sid]
        assert call.ending is not None
        self._endings[call.call_id] = (call.ending, call.transfer_target, now)


async def _form(request: Request) -> dict[str, str]:
    """Twilio's POST parameters (``application/x-www-form-urlencoded``)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return dict(urllib.parse.parse_qsl(body, keep_blank_values=True))


async def _close(websocket: WebSocket, code: int) -> None:
    if websocket.application_state is not WebSocketState.DISCONNECTED:
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
            await websocket.close(code=code)
