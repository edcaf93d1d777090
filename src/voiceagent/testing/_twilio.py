"""``TwilioCallSimulator``: Twilio's side of a phone call, for tests and examples.

It does what Twilio does for an inbound call to a number whose voice webhook is the app:
POSTs the webhook (signed with ``X-Twilio-Signature`` when given the auth token), reads
the TwiML, opens the ``<Connect><Stream>`` WebSocket and speaks the Media Streams protocol
on it — ``connected``, ``start``, the caller's audio as 20 ms μ-law ``media`` in real time,
``dtmf``, ``stop`` — while it plays the app's ``media`` into a "heard" recording at real
time, echoes each ``mark`` only once the audio before it has played, and on ``clear``
drops its buffer and echoes every pending mark. When the app closes the stream, the
``<Connect>`` verb ends and, as Twilio does, the simulator requests its ``action`` URL for
the next TwiML (``<Dial>``: a transfer; ``<Hangup/>`` or nothing: the call ends).

The wire format follows Twilio's "Media Streams - WebSocket Messages" reference, written
here independently of :mod:`voiceagent.telephony` so that a misreading there shows up.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import urllib.parse
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

import aiohttp
import anyio
import anyio.lowlevel
import attrs

from ..audio import AudioFormat, Encoding
from ._carriers import Playout, load_caller_audio, write_wav

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Mapping

__all__ = ["TwilioCall", "TwilioCallSimulator", "twilio_signature"]

ULAW = AudioFormat(encoding=Encoding.G711_ULAW, sample_rate=8000)


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str] | None = None) -> str:
    """Twilio's request signature: base64 HMAC-SHA1 of the URL followed by each POST
    parameter's name and value, sorted by name, keyed with the account's auth token."""
    payload = url + "".join(f"{k}{v}" for k, v in sorted((params or {}).items()))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@attrs.define
class TwilioCall:
    """The record of one simulated call: what was sent, heard and echoed.

    Times are :func:`anyio.current_time` values.
    """

    call_sid: str
    stream_sid: str
    account_sid: str
    twiml: str = ""
    """The TwiML the voice webhook answered (empty when the stream was dialled directly)."""
    stream_url: str = ""
    action_url: str | None = None
    parameters: dict[str, str] = attrs.field(factory=dict)
    """The ``<Parameter>`` values of the ``<Stream>``, sent back in ``start``."""
    playout: Playout = attrs.field(factory=lambda: Playout(ULAW))
    """The agent's audio as the caller heard it."""
    sent: bytearray = attrs.field(factory=bytearray)
    """Every byte of caller audio sent (speech, then silence)."""
    started_at: float | None = None
    """When the first caller audio was sent."""
    marks_received: list[str] = attrs.field(factory=list)
    marks_echoed: list[tuple[float, str]] = attrs.field(factory=list)
    clears: list[float] = attrs.field(factory=list)
    media_received: int = 0
    """``media`` messages from the app."""
    payload_sizes: list[int] = attrs.field(factory=list)
    """Bytes of each ``media`` payload from the app, in order."""
    unknown: list[dict[str, Any]] = attrs.field(factory=list)
    """Messages from the app that Twilio would reject or ignore."""
    dtmf_sent: list[tuple[float, str]] = attrs.field(factory=list)
    hung_up_by: str | None = None
    """``"caller"`` (the simulator sent ``stop``) or ``"app"`` (the app closed the stream)."""
    next_twiml: str | None = None
    """What the ``<Connect>`` action URL answered once the stream ended."""
    transferred_to: str | None = None
    """The number or SIP URI of a ``<Dial>`` in :attr:`next_twiml`."""
    ended_at: float | None = None

    @property
    def heard(self) -> bytes:
        """The agent's audio the caller heard, in order (μ-law 8 kHz)."""
        return bytes(self.playout.heard)

    @property
    def heard_ms(self) -> float:
        """Milliseconds of agent audio heard."""
        return self.playout.heard_ms

    def save_heard(self, path: str | os.PathLike[str]) -> None:
        """Write what the caller heard to a WAV file (PCM16, G.711 decoded)."""
        write_wav(path, self.heard, self.playout.format)

    def sent_time_of(self, offset_ms: float) -> float:
        """When the caller audio at ``offset_ms`` into the stream was sent (the time its
        20 ms chunk went out)."""
        assert self.started_at is not None
        return self.started_at + (offset_ms // 20) * 20 / 1000


class TwilioCallSimulator:
    """Places a simulated Twilio call into an app and records what the caller hears.

    Args:
        caller: The caller's audio: μ-law 8 kHz bytes, or a WAV file in any format
            (converted).
        hang_up_after_ms: Hang up (send ``stop`` and close) this long after the stream
            starts; None waits for the app to end the stream (up to ``max_call_s``).
        dtmf: Keys to press, as ``(ms after the stream starts, digit)``.
        auth_token: Sign the webhook and WebSocket requests as Twilio does with this
            account auth token (``X-Twilio-Signature``).
        account_sid: The ``AccountSid`` to present.
        from_: The caller's number.
        to: The number called.
        realtime: Send the caller's audio at real time (off: as fast as possible).
        max_call_s: A safety limit on the call's length.
    """

    def __init__(
        self,
        caller: bytes | str | os.PathLike[str],
        *,
        hang_up_after_ms: float | None = None,
        dtmf: Iterable[tuple[float, str]] = (),
        auth_token: str | None = None,
        account_sid: str | None = None,
        from_: str = "+15550100001",
        to: str = "+15550100002",
        realtime: bool = True,
        max_call_s: float = 120,
    ) -> None:
        self._caller = caller
        self._hang_up_after_ms = hang_up_after_ms
        self._dtmf = sorted(dtmf)
        self._auth_token = auth_token
        self._account_sid = account_sid or _sid("AC")
        self._from = from_
        self._to = to
        self._realtime = realtime
        self._max_call_s = max_call_s

    def __repr__(self) -> str:
        return f"<TwilioCallSimulator from={self._from} to={self._to}>"

    def _headers(self, url: str, params: Mapping[str, str] | None = None) -> dict[str, str]:
        if self._auth_token is None:
            return {}
        return {"X-Twilio-Signature": twilio_signature(self._auth_token, url, params)}

    def _call_params(self, call: TwilioCall, status: str) -> dict[str, str]:
        return {
            "CallSid": call.call_sid,
            "AccountSid": call.account_sid,
            "From": self._from,
            "To": self._to,
            "CallStatus": status,
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }

    async def call(self, voice_url: str) -> TwilioCall:
        """Ring the app: POST its voice webhook, follow the TwiML, run the call to its end.

        Args:
            voice_url: The number's voice webhook, e.g. ``http://127.0.0.1:8000/twilio/voice``.

        Returns:
            The call's record.

        Raises:
            AssertionError: The webhook's answer is not TwiML with ``<Connect><Stream>``.
        """
        call = TwilioCall(call_sid=_sid("CA"), stream_sid=_sid("MZ"), account_sid=self._account_sid)
        params = self._call_params(call, "ringing")
        async with aiohttp.ClientSession() as http:
            async with http.post(
                voice_url, data=params, headers=self._headers(voice_url, params)
            ) as r:
                body = await r.text()
                assert r.status == 200, f"the voice webhook answered {r.status}: {body[:200]}"
            call.twiml = body
            root = ET.fromstring(body)
            connect = root.find("Connect")
            stream = connect.find("Stream") if connect is not None else None
            assert connect is not None, f"no <Connect> in {body}"
            assert stream is not None, f"no <Connect><Stream> in {body}"
            call.stream_url = urllib.parse.urljoin(voice_url, stream.get("url", ""))
            action = connect.get("action")
            call.action_url = urllib.parse.urljoin(voice_url, action) if action else None
            call.parameters = {
                p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")
            }
            await self._stream(http, call)
            if call.hung_up_by == "app" and call.action_url is not None:
                await self._follow_action(http, call)
        return call

    async def stream(
        self, stream_url: str, *, parameters: Mapping[str, str] | None = None
    ) -> TwilioCall:
        """Open the media stream straight away (no webhook) and run the call to its end.

        Args:
            stream_url: The app's Media Streams WebSocket URL.
            parameters: The ``customParameters`` to send in ``start``.

        Returns:
            The call's record.
        """
        call = TwilioCall(call_sid=_sid("CA"), stream_sid=_sid("MZ"), account_sid=self._account_sid)
        call.stream_url = stream_url
        call.parameters = dict(parameters or {})
        async with aiohttp.ClientSession() as http:
            await self._stream(http, call)
        return call

    async def _follow_action(self, http: aiohttp.ClientSession, call: TwilioCall) -> None:
        assert call.action_url is not None
        params = self._call_params(call, "in-progress")
        async with http.post(
            call.action_url, data=params, headers=self._headers(call.action_url, params)
        ) as r:
            call.next_twiml = await r.text()
        root = ET.fromstring(call.next_twiml)
        dial = root.find("Dial")
        if dial is not None:
            target = dial.find("Number")
            if target is None:  # an Element without children is falsy: no `or`
                target = dial.find("Sip")
            text = target.text if target is not None else dial.text
            call.transferred_to = (text or "").strip()

    async def _stream(self, http: aiohttp.ClientSession, call: TwilioCall) -> None:
        audio = await load_caller_audio(self._caller, ULAW)
        seq = 0

        def stamp(message: dict[str, Any]) -> str:
            nonlocal seq
            seq += 1
            return json.dumps({"sequenceNumber": str(seq), **message})

        ws = await http.ws_connect(call.stream_url, headers=self._headers(call.stream_url))
        wake = anyio.Event()
        lock = anyio.Lock()

        async def send(message: dict[str, Any]) -> None:
            async with lock:
                if not ws.closed:
                    await ws.send_str(stamp(message))

        async def echo(names: list[str]) -> None:
            for name in names:
                call.marks_echoed.append((anyio.current_time(), name))
                await send({"event": "mark", "streamSid": call.stream_sid, "mark": {"name": name}})

        async def receive() -> None:
            nonlocal wake
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                message = json.loads(msg.data)
                event = message.get("event")
                now = anyio.current_time()
                if message.get("streamSid") != call.stream_sid:
                    call.unknown.append(message)
                elif event == "media":
                    payload = base64.b64decode(message["media"]["payload"])
                    call.media_received += 1
                    call.payload_sizes.append(len(payload))
                    await echo(call.playout.add(payload, now))
                elif event == "mark":
                    name = message["mark"]["name"]
                    call.marks_received.append(name)
                    await echo(call.playout.add_mark(name, now))
                elif event == "clear":
                    call.clears.append(now)
                    await echo(call.playout.clear(now))
                else:
                    call.unknown.append(message)
                wake.set()
            if call.hung_up_by is None:
                call.hung_up_by = "app"
            tg.cancel_scope.cancel()

        async def play() -> None:
            nonlocal wake
            while True:
                wake = anyio.Event()
                due = call.playout.next_change()
                if due is None:
                    await wake.wait()
                    continue
                with anyio.move_on_after(max(0.0, due - anyio.current_time())):
                    await wake.wait()
                await echo(call.playout.advance(anyio.current_time()))

        async def talk() -> None:
            frame = ULAW.bytes_for_ms(20)
            silence = bytes([ULAW.silence_byte]) * frame
            dtmf = list(self._dtmf)
            start = anyio.current_time()
            call.started_at = start
            chunk = 0
            limit = self._hang_up_after_ms
            while True:
                offset = chunk * frame
                at_ms = ULAW.ms_for_bytes(offset)
                if limit is not None and at_ms >= limit:
                    break
                if at_ms >= self._max_call_s * 1000:
                    break
                while dtmf and dtmf[0][0] <= at_ms:
                    _, digit = dtmf.pop(0)
                    call.dtmf_sent.append((anyio.current_time(), digit))
                    await send(
                        {
                            "event": "dtmf",
                            "streamSid": call.stream_sid,
                            "dtmf": {"track": "inbound_track", "digit": digit},
                        }
                    )
                data = audio[offset : offset + frame] or silence
                chunk += 1
                call.sent += data
                await send(
                    {
                        "event": "media",
                        "streamSid": call.stream_sid,
                        "media": {
                            "track": "inbound",
                            "chunk": str(chunk),
                            "timestamp": str(round(at_ms)),
                            "payload": base64.b64encode(data).decode(),
                        },
                    }
                )
                if self._realtime:
                    await anyio.sleep_until(start + ULAW.ms_for_bytes(offset + len(data)) / 1000)
                else:
                    await anyio.lowlevel.checkpoint()
            call.hung_up_by = "caller"
            await send(
                {
                    "event": "stop",
                    "streamSid": call.stream_sid,
                    "stop": {"accountSid": call.account_sid, "callSid": call.call_sid},
                }
            )
            await ws.close()
            tg.cancel_scope.cancel()

        try:
            await ws.send_str(
                json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
            )
            await send(
                {
                    "event": "start",
                    "streamSid": call.stream_sid,
                    "start": {
                        "accountSid": call.account_sid,
                        "streamSid": call.stream_sid,
                        "callSid": call.call_sid,
                        "tracks": ["inbound"],
                        "mediaFormat": {
                            "encoding": "audio/x-mulaw",
                            "sampleRate": 8000,
                            "channels": 1,
                        },
                        "customParameters": dict(call.parameters),
                    },
                }
            )
            async with anyio.create_task_group() as tg:
                tg.start_soon(receive)
                tg.start_soon(play)
                tg.start_soon(talk)
        finally:
            call.playout.advance(anyio.current_time())
            call.ended_at = anyio.current_time()
            with anyio.CancelScope(shield=True):
                await ws.close()
