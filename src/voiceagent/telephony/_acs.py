"""``AcsBridge``: Azure Communication Services calls answered by an agent, over
bidirectional media streaming.

Three routes, under a prefix (``/acs`` by default):

- ``POST {prefix}/events`` — the Event Grid webhook for ``Microsoft.Communication.
  IncomingCall``. Answers the subscription validation handshake (Event Grid schema:
  ``validationResponse``; CloudEvents: the ``OPTIONS`` abuse-protection handshake), then
  answers each incoming call with ``azure-communication-callautomation``, asking for
  bidirectional PCM media streaming to the media route.
- ``POST {prefix}/callbacks`` — Call Automation's mid-call events (logged).
- ``WS {prefix}/media`` — the media stream. ``AudioMetadata`` gives the format (PCM16 mono,
  16 or 24 kHz); ``AudioData`` feeds the session; the agent's audio goes back through an
  :class:`AcsSink`, paced in real time (ACS acknowledges nothing, so the played position
  is kept on our side) with ``StopAudio`` on barge-in; ``DtmfData`` becomes a
  :class:`~voiceagent.telephony.Dtmf` event.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
from typing import TYPE_CHECKING, Any, Final

import anyio

from ..errors import AudioError, ConfigurationError, MissingExtraError
from ..serve import CLOSE_GOING_AWAY, Conversation
from ._acs_sink import ACS_RATES, AcsSink
from ._acs_wire import AcsAudio, AcsDtmf, AcsMetadata, parse_acs
from ._bridge import Deliver, LineBridge
from ._call import CallEnding, PhoneCall
from ._events import CarrierError, Dtmf
from ._line_sink import check_frame_ms
from ._line_source import LineSource

try:
    from starlette.responses import JSONResponse, Response
    from starlette.routing import BaseRoute, Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
except ImportError as exc:  # pragma: no cover - the telephony extra is missing
    raise MissingExtraError(
        'voiceagent.telephony needs the telephony extra: pip install "voiceagent[telephony]"'
    ) from exc

if TYPE_CHECKING:
    from collections.abc import Mapping

    from starlette.requests import Request

__all__ = ["AcsBridge"]

log = logging.getLogger("voiceagent.telephony")

FAR_END_MARGIN_S: Final = 0.3
"""How long after the sink's clock has played the agent's last words a hang-up or transfer
waits, for the caller to hear them: ACS never reports its position, and the caller is
behind the clock by the network's delay and ACS's jitter buffer."""

_POLICY_VIOLATION = 1008
_VALIDATION = "Microsoft.EventGrid.SubscriptionValidationEvent"
_INCOMING_CALL = "Microsoft.Communication.IncomingCall"


def _automation() -> Any:
    try:
        from azure.communication import callautomation
    except ImportError as exc:  # pragma: no cover - the telephony extra is missing
        raise MissingExtraError(
            'answering ACS calls needs the telephony extra: pip install "voiceagent[telephony]"'
        ) from exc
    return callautomation


class AcsBridge(LineBridge):
    """Answer Azure Communication Services calls with an agent.

    Pass :attr:`routes` to :func:`voiceagent.serve.create_app` (which admits each call's
    stream as one conversation of its agent), subscribe ``https://<host>{prefix}/events``
    to the ACS resource's ``IncomingCall`` events in Event Grid, and give the bridge the
    resource's connection string (or endpoint and credential)::

        bridge = AcsBridge(
            connection_string=os.environ["ACS_CONNECTION_STRING"],
            public_url="https://agent.example.com",
        )
        app = create_app(Receptionist, routes=bridge.routes)

    Args:
        prefix: Where the routes live.
        connection_string: The ACS resource's connection string (default:
            ``ACS_CONNECTION_STRING``), or give ``acs_endpoint`` and ``acs_credential``.
        acs_endpoint: The ACS resource's endpoint, ``https://<name>.communication.azure.com``.
        acs_credential: An ``AzureKeyCredential`` or async token credential for it.
        public_url: The app's public base URL, for the media stream's ``wss://`` URL and the
            callback URL (default: taken from each request, ``X-Forwarded-*`` honoured).
        sample_rate: The media format to ask for: 24000 (``pcm24KMono``) or 16000.
        frame_ms: Outbound frame length, 20 to 40 ms (:class:`AcsSink`).
        lead_ms: How far ahead of the play clock audio is sent (:class:`AcsSink`).
        events_secret: When set, the Event Grid webhook only accepts requests whose URL
            carries ``?code=<events_secret>`` (put it in the subscription's endpoint URL).
        media_token: When set, the media URL given to ACS carries ``?token=<media_token>``
            and the media route refuses sockets without it.
        metadata_timeout_s: How long the stream may take to send ``AudioMetadata``.
        **options: Passed to :class:`~voiceagent.telephony.LineBridge`:
            ``session_options``, ``drain_timeout_s``, ``source_buffer_ms``,
            ``max_pending_dtmf``.

    Raises:
        ConfigurationError: An option out of range.
    """

    carrier = "acs"

    def __init__(
        self,
        *,
        prefix: str = "/acs",
        connection_string: str | None = None,
        acs_endpoint: str | None = None,
        acs_credential: Any = None,
        public_url: str | None = None,
        sample_rate: int = 24000,
        frame_ms: float = 20,
        lead_ms: float = 100,
        events_secret: str | None = None,
        media_token: str | None = None,
        metadata_timeout_s: float = 10.0,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise ConfigurationError(f"prefix must start with '/' and not end with it: {prefix!r}")
        if sample_rate not in ACS_RATES:
            raise ConfigurationError(f"sample_rate must be 16000 or 24000, got {sample_rate!r}")
        check_frame_ms(frame_ms)
        if not lead_ms >= frame_ms:
            raise ConfigurationError(f"lead_ms must be at least frame_ms, got {lead_ms!r}")
        self.prefix = prefix
        if connection_string is None and acs_endpoint is None:
            connection_string = os.environ.get("ACS_CONNECTION_STRING")
        if acs_endpoint is not None and acs_credential is None:
            raise ConfigurationError("acs_endpoint needs acs_credential")
        self._connection_string = connection_string
        self._acs_endpoint = acs_endpoint
        self._acs_credential = acs_credential
        self._public_url = public_url.rstrip("/") if public_url else None
        self._sample_rate = sample_rate
        self._frame_ms = frame_ms
        self._lead_ms = lead_ms
        self._events_secret = events_secret
        self._media_token = media_token
        self._metadata_timeout = metadata_timeout_s
        self.answered: list[str] = []
        """Call connection ids answered by this bridge (the last 100)."""
        self.callback_events: list[dict[str, Any]] = []
        """Call Automation callback events received (the last 100)."""

    def __repr__(self) -> str:
        return f"<AcsBridge {self.prefix} active={self.active_calls}>"

    @property
    def can_control_calls(self) -> bool:
        """Whether Call Automation is configured (answering, hanging up, transferring)."""
        return self._connection_string is not None or self._acs_endpoint is not None

    @property
    def routes(self) -> list[BaseRoute]:
        """The Event Grid, callback and media routes, for ``Starlette(routes=...)``."""
        return [
            Route(
                f"{self.prefix}/events",
                self.events,
                methods=["POST", "OPTIONS"],
                name="acs_events",
            ),
            Route(
                f"{self.prefix}/callbacks", self.callbacks, methods=["POST"], name="acs_callbacks"
            ),
            WebSocketRoute(f"{self.prefix}/media", self.media, name="acs"),
        ]

    def client(self) -> Any:
        """A new async ``CallAutomationClient`` for the configured resource.

        Raises:
            ConfigurationError: No connection string, endpoint or credential is configured.
        """
        callautomation = _automation()
        from azure.communication.callautomation.aio import CallAutomationClient

        del callautomation
        if self._acs_endpoint is not None:
            return CallAutomationClient(self._acs_endpoint, self._acs_credential)
        if self._connection_string is not None:
            return CallAutomationClient.from_connection_string(self._connection_string)
        raise ConfigurationError(
            "Call Automation is not configured: give AcsBridge connection_string= (or set "
            "ACS_CONNECTION_STRING), or acs_endpoint= and acs_credential="
        )

    # -- URLs --------------------------------------------------------------------------------

    def _base(self, request: Request | WebSocket) -> str:
        if self._public_url is not None:
            return self._public_url
        headers = request.headers
        proto = headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip()
        host = headers.get("x-forwarded-host", request.url.netloc).split(",")[0].strip()
        return f"{proto}://{host}"

    def media_url(self, base: str) -> str:
        """The media route's WebSocket URL given the app's base URL."""
        ws = "wss" + base[5:] if base.startswith("https") else "ws" + base[4:]
        url = f"{ws}{self.prefix}/media"
        return f"{url}?token={self._media_token}" if self._media_token else url

    # -- Event Grid ------------------------------------------------------------------------

    async def events(self, request: Request) -> Response:
        """The Event Grid webhook: subscription validation and incoming calls."""
        if self._events_secret is not None and not hmac.compare_digest(
            request.query_params.get("code", "").encode(), self._events_secret.encode()
        ):
            return Response("forbidden", status_code=403)
        if request.method == "OPTIONS":  # CloudEvents abuse protection
            origin = request.headers.get("webhook-request-origin", "*")
            return Response(status_code=200, headers={"WebHook-Allowed-Origin": origin})
        try:
            body = json.loads(await request.body())
        except ValueError:
            return Response("the body is not JSON", status_code=400)
        events = body if isinstance(body, list) else [body]
        for event in events:
            if not isinstance(event, dict):
                continue
            kind = event.get("eventType") or event.get("type")
            raw = event.get("data")
            data: dict[str, Any] = raw if isinstance(raw, dict) else {}
            if kind == _VALIDATION:
                return JSONResponse({"validationResponse": data.get("validationCode", "")})
            if kind == _INCOMING_CALL:
                try:
                    await self._answer(request, data)
                except Exception as exc:
                    log.warning("answering an incoming ACS call failed: %r", exc)
                    return Response("answer failed", status_code=500)
        return Response(status_code=200)

    async def _answer(self, request: Request, data: Mapping[str, Any]) -> None:
        context = data.get("incomingCallContext")
        if not isinstance(context, str) or not context:
            raise CarrierError("IncomingCall event without incomingCallContext")
        callautomation = _automation()
        base = self._base(request)
        fmt = (
            callautomation.AudioFormat.PCM24_K_MONO
            if self._sample_rate == 24000
            else callautomation.AudioFormat.PCM16_K_MONO
        )
        streaming = callautomation.MediaStreamingOptions(
            transport_url=self.media_url(base),
            transport_type=callautomation.StreamingTransportType.WEBSOCKET,
            content_type=callautomation.MediaStreamingContentType.AUDIO,
            audio_channel_type=callautomation.MediaStreamingAudioChannelType.MIXED,
            start_media_streaming=True,
            enable_bidirectional=True,
            audio_format=fmt,
            enable_dtmf_tones=True,
        )
        async with self.client() as client:
            result = await client.answer_call(
                context, f"{base}{self.prefix}/callbacks", media_streaming=streaming
            )
        self.answered = [*self.answered[-99:], str(result.call_connection_id)]
        log.info("answered ACS call %s", result.call_connection_id)

    async def callbacks(self, request: Request) -> Response:
        """Call Automation's mid-call events: kept in :attr:`callback_events` and logged."""
        try:
            body = json.loads(await request.body())
        except ValueError:
            return Response("the body is not JSON", status_code=400)
        for event in body if isinstance(body, list) else [body]:
            if isinstance(event, dict):
                self.callback_events = [*self.callback_events[-99:], event]
                log.debug("ACS callback %s", event.get("type") or event.get("eventType"))
        return Response(status_code=200)

    # -- the media stream ------------------------------------------------------------------

    async def media(self, websocket: WebSocket) -> None:
        """The media WebSocket: one call's conversation."""
        conversation = Conversation.of(websocket)
        if self._media_token is not None and not hmac.compare_digest(
            websocket.query_params.get("token", "").encode(), self._media_token.encode()
        ):
            log.warning("rejecting an ACS media stream without the media token")
            await websocket.close(code=_POLICY_VIOLATION)
            return
        await websocket.accept()
        call_id = websocket.headers.get("x-ms-call-connection-id", "")
        correlation = websocket.headers.get("x-ms-call-correlation-id", "")
        try:
            metadata, first = await self._read_metadata(websocket)
        except (CarrierError, TimeoutError, WebSocketDisconnect) as exc:
            log.warning("closing an ACS stream that did not start properly: %s", exc)
            await _close(websocket, _POLICY_VIOLATION)
            return
        call = PhoneCall(
            carrier="acs",
            call_id=call_id,
            stream_id=metadata.subscription_id if metadata else "",
            parameters={"correlation_id": correlation} if correlation else {},
            can_transfer=self.can_control_calls,
        )
        rate = metadata.sample_rate if metadata else self._sample_rate
        sink = AcsSink(rate, frame_ms=self._frame_ms, lead_ms=self._lead_ms)
        source = LineSource(sink.format, max_buffer_ms=self.source_buffer_ms)
        if first is not None:
            source.feed(first.data)

        async def pump(deliver: Deliver) -> None:
            await self._pump(websocket, call, source, deliver)

        try:
            await self.converse(
                conversation, call, source, sink, send=websocket.send_text, pump=pump
            )
            if call.ending is not None and not call.caller_hung_up:
                # The sink's clock says the goodbye has played, but the caller hears it
                # the network's delay (and ACS's jitter buffer) later: hanging up or
                # transferring at once would cut its last words.
                await anyio.sleep(FAR_END_MARGIN_S)
                await self._end_call(call)
        finally:
            shutdown = conversation.stop_reason == "shutdown"
            await _close(websocket, CLOSE_GOING_AWAY if shutdown else 1000)

    async def _read_metadata(
        self, websocket: WebSocket
    ) -> tuple[AcsMetadata | None, AcsAudio | None]:
        with anyio.fail_after(self._metadata_timeout):
            while True:
                message = parse_acs(await websocket.receive_text())
                if isinstance(message, AcsMetadata):
                    break
                if isinstance(message, AcsAudio):
                    return None, message  # no metadata: the negotiated format
        if message.encoding.upper() != "PCM" or message.channels != 1:
            raise CarrierError(
                f"unsupported ACS media format {message.encoding} {message.channels} channel(s)"
            )
        if message.sample_rate not in ACS_RATES:
            raise CarrierError(f"unsupported ACS sample rate {message.sample_rate}")
        return message, None

    async def _pump(
        self, websocket: WebSocket, call: PhoneCall, source: LineSource, deliver: Deliver
    ) -> None:
        while True:
            try:
                text = await websocket.receive_text()
            except (WebSocketDisconnect, RuntimeError):
                return
            try:
                message = parse_acs(text)
            except CarrierError as exc:
                log.warning("call %s: ignoring a bad message from ACS: %s", call.call_id, exc)
                continue
            if isinstance(message, AcsAudio):
                try:
                    source.feed(message.data)
                except AudioError as exc:  # one bad frame must not end the call
                    log.warning("call %s: dropping audio from ACS: %s", call.call_id, exc)
            elif isinstance(message, AcsDtmf):
                deliver(Dtmf(digit=message.digit, call_id=call.call_id, carrier="acs"))

    async def _end_call(self, call: PhoneCall) -> None:
        """Hang up or transfer through Call Automation, as the conversation asked."""
        if not self.can_control_calls or not call.call_id:
            log.warning(
                "call %s: cannot %s without Call Automation configured; closing the stream",
                call.call_id,
                call.ending.value if call.ending else "end",
            )
            return
        callautomation = _automation()
        try:
            async with self.client() as client:
                connection = client.get_call_connection(call.call_id)
                if call.ending is CallEnding.TRANSFER and call.transfer_target:
                    target = call.transfer_target
                    identifier = (
                        callautomation.PhoneNumberIdentifier(target)
                        if target.startswith("+")
                        else _identifier(target)
                    )
                    await connection.transfer_call_to_participant(identifier)
                else:
                    await connection.hang_up(is_for_everyone=True)
        except Exception as exc:
            log.warning("call %s: Call Automation failed to end the call: %r", call.call_id, exc)


async def _close(websocket: WebSocket, code: int) -> None:
    if websocket.application_state is not WebSocketState.DISCONNECTED:
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
            await websocket.close(code=code)


def _identifier(raw_id: str) -> Any:
    from azure.communication.callautomation._shared.models import identifier_from_raw_id

    return identifier_from_raw_id(raw_id)
