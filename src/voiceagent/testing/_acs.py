"""``AcsCallSimulator`` and ``CallAutomationFake``: Azure Communication Services' side of a
phone call, for tests and examples.

:class:`CallAutomationFake` is a local HTTP server that the real
``azure-communication-callautomation`` client talks to (give the client its
:attr:`~CallAutomationFake.endpoint` and :attr:`~CallAutomationFake.credential`): it checks
the client's HMAC-SHA256 request signature as the service does and answers
``callConnections:answer``, ``:terminate`` (hang up for everyone), ``DELETE`` (hang up)
and ``:transferToParticipant``, recording each request.

:class:`AcsCallSimulator` rings an app as Event Grid does (``IncomingCall`` to the
webhook), waits for the app to answer through the fake, then opens the media WebSocket
the answer asked for, with the ``x-ms-call-connection-id`` and ``x-ms-call-correlation-id``
headers, and speaks ACS's bidirectional media streaming protocol: ``AudioMetadata``, then
the caller's audio as 20 ms ``AudioData`` in real time and ``DtmfData``; it plays the
app's ``AudioData`` at real time into a "heard" recording and drops what it has queued
on ``StopAudio``. ACS sends no playback acknowledgement, and neither does the simulator.

The messages follow the ACS audio streaming docs, written here independently of
:mod:`voiceagent.telephony`.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import secrets
import uuid
from typing import TYPE_CHECKING, Any, Self

import aiohttp
import anyio
import anyio.lowlevel
import attrs
from aiohttp import web
from azure.core.credentials import AzureKeyCredential

from ..audio import AudioFormat
from ..errors import EmulatorError
from ._carriers import Playout, load_caller_audio, write_wav

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable
    from types import TracebackType

__all__ = ["AcsCall", "AcsCallSimulator", "CallAutomationFake"]


@attrs.define
class AcsCall:
    """The record of one simulated ACS call. Times are :func:`anyio.current_time` values."""

    call_connection_id: str
    correlation_id: str
    format: AudioFormat
    playout: Playout
    media_url: str = ""
    answer: dict[str, Any] | None = None
    """The ``AnswerCallRequest`` the app sent to Call Automation (None: dialled directly)."""
    sent: bytearray = attrs.field(factory=bytearray)
    started_at: float | None = None
    stop_audio: list[float] = attrs.field(factory=list)
    """When each ``StopAudio`` arrived."""
    audio_received: int = 0
    """``AudioData`` messages from the app."""
    unknown: list[Any] = attrs.field(factory=list)
    dtmf_sent: list[tuple[float, str]] = attrs.field(factory=list)
    hung_up_by: str | None = None
    """``"caller"``, ``"app"`` (the app closed the stream), or ``"automation"`` (hung up
    or transferred through Call Automation)."""
    ended_at: float | None = None

    @property
    def heard(self) -> bytes:
        """The agent's audio the caller heard (PCM16 mono at the stream's rate)."""
        return bytes(self.playout.heard)

    @property
    def heard_ms(self) -> float:
        """Milliseconds of agent audio heard."""
        return self.playout.heard_ms

    def save_heard(self, path: str | os.PathLike[str]) -> None:
        """Write what the caller heard to a WAV file (PCM16, G.711 decoded)."""
        write_wav(path, self.heard, self.playout.format)

    def sent_time_of(self, offset_ms: float) -> float:
        """When the caller audio at ``offset_ms`` into the stream was sent (its 20 ms
        packet's time)."""
        assert self.started_at is not None
        return self.started_at + (offset_ms // 20) * 20 / 1000


def _rfc1123(now: datetime.datetime) -> str:
    return now.strftime("%a, %d %b %Y %H:%M:%S GMT")


class CallAutomationFake:
    """ACS Call Automation's REST endpoints on loopback, for the real client library.

    Args:
        host: Interface to bind.
        port: Port to bind; 0 picks a free one.
        access_key: The resource's access key (base64), random by default.
    """

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, access_key: str | None = None
    ) -> None:
        self._host = host
        self._port = port
        self.access_key = access_key or base64.b64encode(secrets.token_bytes(32)).decode()
        self.requests: list[tuple[str, str, dict[str, Any] | None]] = []
        """Every accepted request as (method, path, JSON body)."""
        self.rejected: list[tuple[int, str]] = []
        """Refused requests as (status, path)."""
        self.answers: dict[str, dict[str, Any]] = {}
        """Answer requests by the call connection id they created."""
        self.hang_ups: list[str] = []
        """Call connection ids hung up (``DELETE`` or ``:terminate``)."""
        self.transfers: list[tuple[str, dict[str, Any]]] = []
        """(call connection id, target identifier) of each transfer."""
        self._contexts: dict[str, str] = {}
        self._ended: dict[str, anyio.Event] = {}
        self._changed = anyio.Event()
        self._runner: web.AppRunner | None = None
        self._bound: int | None = None

    def __repr__(self) -> str:
        where = self.endpoint if self._bound is not None else "not started"
        return f"<CallAutomationFake {where} answers={len(self.answers)}>"

    @property
    def endpoint(self) -> str:
        """The endpoint to give ``CallAutomationClient``: ``http://127.0.0.1:<port>``."""
        if self._bound is None:
            raise EmulatorError("the Call Automation fake is not running")
        return f"http://{self._host}:{self._bound}"

    @property
    def credential(self) -> AzureKeyCredential:
        """The resource's key, for ``CallAutomationClient(endpoint, credential)``."""
        return AzureKeyCredential(self.access_key)

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self._bound = int(sockets[0].getsockname()[1])
        self._runner = runner
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self._bound = None

    def new_incoming_call(self) -> str:
        """A fresh ``incomingCallContext`` that :meth:`wait_for_answer` can match."""
        context = base64.b64encode(secrets.token_bytes(48)).decode()
        return context

    async def wait_for_answer(
        self,
        context: str,
        *,
        timeout: float = 10,  # noqa: ASYNC109 - a test helper, like Emulator.wait_for
    ) -> tuple[str, dict[str, Any]]:
        """Wait until the app answers the call ``context``; returns (call connection id,
        the answer request)."""
        with anyio.fail_after(timeout):
            while context not in self._contexts:
                changed = self._changed
                await changed.wait()
        call_id = self._contexts[context]
        return call_id, self.answers[call_id]

    def ended(self, call_connection_id: str) -> anyio.Event:
        """Set once the call is hung up or transferred through Call Automation."""
        return self._ended.setdefault(call_connection_id, anyio.Event())

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def _authorized(self, request: web.Request, body: bytes) -> bool:
        auth = request.headers.get("Authorization", "")
        date = request.headers.get("x-ms-date", "")
        content_hash = base64.b64encode(hashlib.sha256(body).digest()).decode()
        if request.headers.get("x-ms-content-sha256") != content_hash:
            return False
        to_sign = f"{request.method}\n{request.path_qs}\n{date};{request.host};{content_hash}"
        digest = hmac.new(base64.b64decode(self.access_key), to_sign.encode(), hashlib.sha256)
        expected = (
            "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature="
            + base64.b64encode(digest.digest()).decode()
        )
        return hmac.compare_digest(auth.encode(), expected.encode())

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if not self._authorized(request, body):
            self.rejected.append((401, request.path))
            return web.json_response(
                {"error": {"code": "Unauthorized", "message": "Denied by the HMAC signature."}},
                status=401,
            )
        payload = json.loads(body) if body else None
        path = request.path
        self.requests.append((request.method, path, payload))
        if request.method == "POST" and path == "/calling/callConnections:answer":
            return self._answer(payload or {})
        prefix = "/calling/callConnections/"
        if path.startswith(prefix):
            rest = path[len(prefix) :]
            if request.method == "DELETE" and ":" not in rest:
                return self._end(rest, hang_up=True)
            call_id, _, action = rest.partition(":")
            if request.method == "POST" and action == "terminate":
                return self._end(call_id, hang_up=True)
            if request.method == "POST" and action == "transferToParticipant":
                self.transfers.append((call_id, (payload or {}).get("targetParticipant", {})))
                self._end(call_id, hang_up=False)
                return web.json_response(
                    {"operationContext": (payload or {}).get("operationContext")}, status=202
                )
        self.rejected.append((404, path))
        return web.json_response({"error": {"code": "NotFound", "message": path}}, status=404)

    def _answer(self, payload: dict[str, Any]) -> web.StreamResponse:
        context = payload.get("incomingCallContext")
        if not context:
            return web.json_response(
                {"error": {"code": "BadRequest", "message": "incomingCallContext is required"}},
                status=400,
            )
        call_id = str(uuid.uuid4())
        self.answers[call_id] = payload
        self._contexts[str(context)] = call_id
        self._notify()
        streaming = payload.get("mediaStreamingOptions") or {}
        return web.json_response(
            {
                "callConnectionId": call_id,
                "serverCallId": base64.b64encode(secrets.token_bytes(24)).decode(),
                "callbackUri": payload.get("callbackUri"),
                "callConnectionState": "connecting",
                "correlationId": str(uuid.uuid4()),
                "mediaStreamingSubscription": {
                    "id": str(uuid.uuid4()),
                    "state": "inactive",
                    "subscribedContentTypes": [streaming.get("contentType", "audio")],
                },
            }
        )

    def _end(self, call_id: str, *, hang_up: bool) -> web.StreamResponse:
        if hang_up:
            self.hang_ups.append(call_id)
        self.ended(call_id).set()
        self._notify()
        return web.Response(status=204)


class AcsCallSimulator:
    """Places a simulated ACS call into an app and records what the caller hears.

    Args:
        caller: The caller's audio: PCM16 mono bytes at ``sample_rate``, or a WAV file in
            any format (converted).
        sample_rate: The stream's rate when dialling the media route directly (16000 or
            24000); a call rung through :meth:`ring` uses the rate the answer asked for.
        hang_up_after_ms: Hang up this long after the media stream starts; None waits for
            the app (or Call Automation) to end the call, up to ``max_call_s``.
        dtmf: Keys to press, as ``(ms after the stream starts, digit)``.
        caller_id: The caller's raw id (``participantRawID``), a phone number by default.
        realtime: Send the caller's audio at real time.
        max_call_s: A safety limit on the call's length.
    """

    def __init__(
        self,
        caller: bytes | str | os.PathLike[str],
        *,
        sample_rate: int = 24000,
        hang_up_after_ms: float | None = None,
        dtmf: Iterable[tuple[float, str]] = (),
        caller_id: str = "4:+15550100001",
        realtime: bool = True,
        max_call_s: float = 120,
    ) -> None:
        self._caller = caller
        self._rate = sample_rate
        self._hang_up_after_ms = hang_up_after_ms
        self._dtmf = sorted(dtmf)
        self._caller_id = caller_id
        self._realtime = realtime
        self._max_call_s = max_call_s

    def __repr__(self) -> str:
        return f"<AcsCallSimulator from={self._caller_id}>"

    async def ring(
        self, events_url: str, automation: CallAutomationFake, *, to: str = "4:+15550100002"
    ) -> AcsCall:
        """Ring the app: POST an ``IncomingCall`` event to its Event Grid webhook, wait for
        the answer at ``automation``, then run the media stream the answer asked for.

        Args:
            events_url: The app's Event Grid webhook.
            automation: The Call Automation fake the app's client talks to.
            to: The raw id of the number called.

        Returns:
            The call's record.
        """
        context = automation.new_incoming_call()
        correlation = str(uuid.uuid4())
        event = {
            "id": str(uuid.uuid4()),
            "topic": "/subscriptions/0/resourceGroups/rg/providers/"
            "Microsoft.Communication/CommunicationServices/acs",
            "subject": f"/caller/{self._caller_id}/recipient/{to}",
            "eventType": "Microsoft.Communication.IncomingCall",
            "eventTime": datetime.datetime.now(datetime.UTC).isoformat(),
            "dataVersion": "1.0",
            "data": {
                "to": {"kind": "phoneNumber", "rawId": to},
                "from": {"kind": "phoneNumber", "rawId": self._caller_id},
                "serverCallId": base64.b64encode(secrets.token_bytes(24)).decode(),
                "callerDisplayName": "",
                "incomingCallContext": context,
                "correlationId": correlation,
            },
        }
        async with aiohttp.ClientSession() as http:
            async with http.post(
                events_url, json=[event], headers={"aeg-event-type": "Notification"}
            ) as response:
                text = await response.text()
                assert response.status == 200, f"the webhook answered {response.status}: {text}"
            call_id, answer = await automation.wait_for_answer(context)
            streaming = answer.get("mediaStreamingOptions") or {}
            assert streaming.get("enableBidirectional"), f"no bidirectional streaming: {answer}"
            rate = 24000 if streaming.get("audioFormat") == "pcm24KMono" else 16000
            call = self._new_call(call_id, correlation, rate)
            call.answer = answer
            call.media_url = streaming["transportUrl"]
            await self._stream(http, call, automation.ended(call_id))
        return call

    async def connect(self, media_url: str, *, call_connection_id: str | None = None) -> AcsCall:
        """Open the media stream straight away (no Event Grid, no answer).

        Args:
            media_url: The app's media WebSocket URL.
            call_connection_id: The id to present (random by default).

        Returns:
            The call's record.
        """
        call = self._new_call(
            call_connection_id or str(uuid.uuid4()), str(uuid.uuid4()), self._rate
        )
        call.media_url = media_url
        async with aiohttp.ClientSession() as http:
            await self._stream(http, call, anyio.Event())
        return call

    def _new_call(self, call_id: str, correlation: str, rate: int) -> AcsCall:
        fmt = AudioFormat(sample_rate=rate)
        return AcsCall(
            call_connection_id=call_id, correlation_id=correlation, format=fmt, playout=Playout(fmt)
        )

    async def _stream(self, http: aiohttp.ClientSession, call: AcsCall, ended: anyio.Event) -> None:
        fmt = call.format
        audio = await load_caller_audio(self._caller, fmt)
        ws = await http.ws_connect(
            call.media_url,
            headers={
                "x-ms-call-connection-id": call.call_connection_id,
                "x-ms-call-correlation-id": call.correlation_id,
            },
        )
        wake = anyio.Event()
        lock = anyio.Lock()
        frame = fmt.bytes_for_ms(20)

        async def send(message: dict[str, Any]) -> None:
            async with lock:
                if not ws.closed:
                    await ws.send_str(json.dumps(message))

        async def receive() -> None:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                message = json.loads(msg.data)
                kind = message.get("kind") or message.get("Kind")
                now = anyio.current_time()
                if kind == "AudioData":
                    section = message.get("audioData") or message.get("AudioData") or {}
                    data = section.get("data") or section.get("Data") or ""
                    call.audio_received += 1
                    call.playout.add(base64.b64decode(data), now)
                elif kind == "StopAudio":
                    call.stop_audio.append(now)
                    call.playout.clear(now)
                else:
                    call.unknown.append(message)
                wake.set()
            if call.hung_up_by is None:
                call.hung_up_by = "app"
            tg.cancel_scope.cancel()

        async def watch_automation() -> None:
            await ended.wait()
            if call.hung_up_by is None:
                call.hung_up_by = "automation"
            await ws.close()
            tg.cancel_scope.cancel()

        async def talk() -> None:
            silence = bytes(frame)
            dtmf = list(self._dtmf)
            start = anyio.current_time()
            call.started_at = start
            chunk = 0
            limit = self._hang_up_after_ms
            while True:
                offset = chunk * frame
                at_ms = fmt.ms_for_bytes(offset)
                if (limit is not None and at_ms >= limit) or at_ms >= self._max_call_s * 1000:
                    break
                while dtmf and dtmf[0][0] <= at_ms:
                    _, digit = dtmf.pop(0)
                    call.dtmf_sent.append((anyio.current_time(), digit))
                    await send(
                        {
                            "kind": "DtmfData",
                            "dtmfData": {
                                "data": digit,
                                "participantRawID": self._caller_id,
                                "timestamp": datetime.datetime.now(datetime.UTC).isoformat(),
                            },
                        }
                    )
                data = audio[offset : offset + frame] or silence
                chunk += 1
                call.sent += data
                await send(
                    {
                        "kind": "AudioData",
                        "audioData": {
                            "timestamp": datetime.datetime.now(datetime.UTC).isoformat(),
                            "participantRawID": self._caller_id,
                            "data": base64.b64encode(data).decode(),
                            "silent": not any(data),
                        },
                    }
                )
                if self._realtime:
                    await anyio.sleep_until(start + fmt.ms_for_bytes(offset + len(data)) / 1000)
                else:
                    await anyio.lowlevel.checkpoint()
            call.hung_up_by = "caller"
            await ws.close()
            tg.cancel_scope.cancel()

        try:
            await send(
                {
                    "kind": "AudioMetadata",
                    "audioMetadata": {
                        "subscriptionId": str(uuid.uuid4()),
                        "encoding": "PCM",
                        "sampleRate": fmt.sample_rate,
                        "channels": 1,
                        "length": frame,
                    },
                }
            )
            async with anyio.create_task_group() as tg:
                tg.start_soon(receive)
                tg.start_soon(talk)
                tg.start_soon(watch_automation)
        finally:
            call.playout.advance(anyio.current_time())
            call.ended_at = anyio.current_time()
            with anyio.CancelScope(shield=True):
                await ws.close()
