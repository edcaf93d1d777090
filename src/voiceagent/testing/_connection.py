"""One emulated Voice Live session: a WebSocket connection and everything it holds
(configuration, input audio buffer and VAD, conversation, the active response)."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import anyio

from ._config import apply_session_update, default_session, input_format, output_format
from ._config import response_config as make_response_config
from ._conversation import Conversation, StoredItem, message_text, validate_client_item
from ._faults import Disconnect, ServerWarning, Warn
from ._foundry import agent_config
from ._mcp import listed_tools, run_call, without_secrets
from ._protocol import ProtocolError, describe, error_event, new_id, unknown_event_type
from ._responses import Response
from ._script import Fail, Mcp, Output, ResponseFailure, ScriptRunner
from ._vad import EnergyVad, SpeechStarted, VadConfig

if TYPE_CHECKING:
    from aiohttp import web

    from ._faults import Faults
    from ._script import Script

__all__ = ["EmulatorConnection"]

log = logging.getLogger("voiceagent.emulator")

_MIN_COMMIT_MS = 100.0
_SESSION_TTL_S = 30 * 60


class _Ids:
    """Fast unique event ids: a random prefix per connection and a counter."""

    def __init__(self) -> None:
        self._prefix = new_id("event", 12)
        self._count = 0

    def next(self) -> str:
        self._count += 1
        return f"{self._prefix}{self._count:010d}"


Handler = Callable[[dict[str, Any]], Awaitable[None]]


class EmulatorConnection:
    """The server side of one client connection.

    Tests reach it through :attr:`Emulator.connections` to inspect what the client
    sent (:attr:`received`), what the emulator sent (:attr:`sent`), the conversation
    (:attr:`items`), or to inject faults (:meth:`drop`, :meth:`send_error`,
    :meth:`send_raw`).
    """

    def __init__(
        self,
        ws: web.WebSocketResponse,
        *,
        model: str,
        api_version: str,
        query: Mapping[str, str],
        script: Script | None,
        faults: Faults,
        speed: float | None,
        audio_chunk_ms: int,
        keep_audio: bool,
        record: bool = True,
        record_limit: int | None = None,
        on_event: Callable[[EmulatorConnection, dict[str, Any]], None],
    ) -> None:
        self._ws = ws
        self.model = model
        self.api_version = api_version
        self.query: dict[str, str] = dict(query)
        self.faults = faults
        self._speed = speed
        self._audio_chunk_ms = audio_chunk_ms
        self._keep_audio = keep_audio
        self._on_event = on_event
        self._ids = _Ids()
        self.opened_at = time.monotonic()
        """When the connection was accepted (``time.monotonic()``)."""
        max_s = faults.session_max_s
        self.expires_in: float | None = None
        """Wall seconds from :attr:`opened_at` until the session expires (None: never)."""
        if max_s is not None:
            self.expires_in = max_s / speed if speed is not None else max_s
            # Whole seconds, rounded down: the session never ends before what it
            # announced (rounding up told clients it ended up to 0.5 s later than it did).
            expires_at = int(time.time() + self.expires_in)
        else:
            expires_at = int(time.time()) + _SESSION_TTL_S
        self.session: dict[str, Any] = default_session(
            model=model, session_id=new_id("sess"), expires_at=expires_at
        )
        agent = agent_config(query)
        if agent is not None:
            self.session["agent"] = agent
        self.conversation = Conversation()
        self.conversation_id = new_id("conv")
        self.received: list[dict[str, Any]] = []
        """Every client event received, in order, as parsed JSON. Audio payloads are
        replaced by their decoded byte count."""
        self.sent: list[dict[str, Any]] = []
        """Every server event sent, in order. Audio deltas are replaced by their byte count."""
        self.received_at: list[float] = []
        """When each event of :attr:`received` arrived (``time.monotonic()``), by index."""
        self.sent_at: list[float] = []
        """When each event of :attr:`sent` went out (``time.monotonic()``), by index."""
        self.events_received = 0
        """How many client events arrived (counted even when ``record`` is off)."""
        self.events_sent = 0
        """How many server events were sent (counted even when ``record`` is off)."""
        self.close_code: int | None = None
        """The WebSocket close code once closed: the code of the close frame (whoever sent
        it first), or 1006 when the connection ended without one."""
        self.closed_by: str | None = None
        """Who ended the connection: ``"client"`` or ``"server"`` (a fault, an expiry, a
        test's :meth:`drop`, or the emulator closing)."""
        self._record_events = record
        self._record_limit = record_limit
        self._ended = anyio.Event()
        self._fault_counts: dict[int, int] = {}
        self.audio_received_bytes = 0
        self.input_audio = bytearray() if keep_audio else None
        self.closed = False
        self._runner = ScriptRunner(script)
        self._tg: anyio.abc.TaskGroup | None = None
        self.response: Response | None = None
        self._deferred_response = False
        self._voice_used = False
        self._audio_ms = 0.0
        self._buffer_start_ms = 0.0
        self._vad: EnergyVad | None = None
        self._speech_item: str | None = None
        self._speech_start_ms = 0.0
        self._playing: tuple[StoredItem, float] | None = None
        self._turns: dict[str, float] = {}
        self._mcp_listed: dict[str, dict[str, Any]] = {}
        self._approvals: dict[str, Mcp] = {}
        self._handlers: dict[str, Handler] = {
            "session.update": self._session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": self._commit_event,
            "input_audio_buffer.clear": self._clear,
            "input_audio.clear": self._clear,
            "input_audio.turn.start": self._turn_start,
            "input_audio.turn.append": self._turn_append,
            "input_audio.turn.end": self._turn_end,
            "input_audio.turn.cancel": self._turn_cancel,
            "conversation.item.create": self._item_create,
            "conversation.item.retrieve": self._item_retrieve,
            "conversation.item.truncate": self._item_truncate,
            "conversation.item.delete": self._item_delete,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
            "output_audio_buffer.clear": self._output_clear,
            "session.avatar.connect": self._avatar_connect,
            "input_text.delta": self._input_text_delta,
            "input_text.done": self._input_text_done,
            "mcp_approval_response": self._mcp_approval_response,
        }
        self._input_fmt = input_format(self.session)
        self._reconfigure_vad()

    # ----------------------------------------------------------------- public API

    @property
    def id(self) -> str:
        """The session id (``sess_...``)."""
        return str(self.session["id"])

    @property
    def items(self) -> list[dict[str, Any]]:
        """The conversation's items as ``conversation.item.retrieve`` would show them."""
        return [stored.retrieved() for stored in self.conversation]

    @property
    def speed(self) -> float | None:
        """Playback speed factor; None streams audio without pacing."""
        return self._speed

    @property
    def audio_chunk_ms(self) -> int:
        """Duration of audio in one ``response.audio.delta``."""
        return self._audio_chunk_ms

    @property
    def response_delay(self) -> float:
        """Seconds each response waits before its first output."""
        return self.faults.response_delay

    @property
    def audio_received_ms(self) -> float:
        """Total input audio received, in ms of audio time."""
        return self._audio_ms

    def stall(self, audio_offset_ms: float) -> float:
        """Seconds to stall before sending audio at this offset (fault injection)."""
        at = self.faults.stall_audio_at_ms
        if at is None or self.faults.stall_seconds <= 0:
            return 0.0
        chunk = self._audio_chunk_ms
        return self.faults.stall_seconds if at <= audio_offset_ms < at + chunk else 0.0

    def audio_started(self, stored: StoredItem, at: float) -> None:
        """Note when an assistant item's audio started, for ``auto_truncate``."""
        self._playing = (stored, at)
        self._voice_used = True

    def output_emitted(self, output: Output) -> None:
        """Note that a response emitted a planned output whole (the script moves on)."""
        self._runner.emitted(output)

    def approval_requested(self, request_id: str, mcp: Mcp) -> None:
        """Remember an MCP approval request, to act on the client's answer."""
        self._approvals[request_id] = mcp

    async def emit(self, event: dict[str, Any]) -> None:
        """Send one server event, stamping it with a fresh ``event_id``."""
        if self.closed:
            return
        wire = {"type": event["type"], "event_id": self._ids.next()}
        wire.update(event)
        text = json.dumps(wire, separators=(",", ":"))
        try:
            # No lock: aiohttp writes each uncompressed frame whole, so concurrent
            # senders (responses, the receive loop) never interleave bytes.
            await self._ws.send_str(text)
        except (ConnectionError, RuntimeError) as exc:
            log.debug("%s: send failed, closing: %s", self.id, exc)
            self._close_now()
            return
        self.events_sent += 1
        logging_on = log.isEnabledFor(logging.INFO)
        if self._record_events or logging_on:
            if wire["type"] == "response.audio.delta":
                wire["delta"] = _b64_size(wire["delta"])
            if self._record_events:
                self.sent.append(wire)
                self.sent_at.append(time.monotonic())
                if self._record_limit is not None:
                    _trim(self.sent, self.sent_at, self._record_limit)
            if logging_on:
                log.info("%s -> %s", self.id, describe(wire))
        faults = self.faults
        if faults.disconnects or faults.warnings:
            await self._at_event(wire["type"])

    async def _at_event(self, kind: str) -> None:
        """Fire the event-triggered faults (:class:`Warn`, :class:`Disconnect`) due at an
        event of type ``kind``."""
        faults = self.faults
        for action in (*faults.warnings, *faults.disconnects):
            if action.at != kind or action.exhausted():
                continue
            seen = self._fault_counts.get(id(action), 0) + 1
            self._fault_counts[id(action)] = seen
            if seen != action.count:
                continue
            action.fired += 1
            if isinstance(action, Warn):
                await self.emit(action.warning.event())
            elif isinstance(action, Disconnect):
                await self.close(action.code, action.reason)
            if self.closed:
                return

    async def send_warning(
        self, message: str, *, code: str | None = "warning", param: str | None = None
    ) -> None:
        """Send a ``warning`` event (informational: the session goes on)."""
        await self.emit(ServerWarning(message=message, code=code, param=param).event())

    async def send_error(
        self, message: str, *, code: str | None = "server_error", type: str = "server_error"
    ) -> None:
        """Send a service ``error`` event, as the service does on an internal failure."""
        await self.emit(error_event(message, code=code, type=type))

    async def send_raw(self, text: str) -> None:
        """Send a text frame verbatim (for example, something that is not JSON)."""
        await self._ws.send_str(text)

    async def drop(self, *, graceful: bool = False, code: int = 1011) -> None:
        """Drop the connection: abruptly (no close frame) or with a close frame."""
        await self.close(code if graceful else 1006, "emulator: connection dropped")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection from the server's side with a WebSocket close ``code``.

        1006 cuts the TCP connection without a close frame (an abrupt network drop);
        any other code is sent in a close frame with ``reason``.
        """
        if self.closed:
            return
        self.closed_by = "server"
        self.close_code = code
        try:
            if code != 1006:
                self.closed = True
                # Not shielded: a cancelled emulator (Ctrl-C) must not wait for a client
                # that will never answer the close frame.
                await self._ws.close(code=code, message=reason.encode())
        finally:
            self._close_now()

    async def expire(self) -> None:
        """End the session as the service does at ``expires_at``: an ``error`` event
        (``session_expired``), then a close frame with 1001 (going away)."""
        max_s = self.faults.session_max_s
        if max_s is not None and max_s % 60 == 0:
            minutes = int(max_s // 60)
            duration = f"{minutes} minute{'s' if minutes != 1 else ''}"
        else:
            duration = f"{max_s if max_s is not None else _SESSION_TTL_S:g} seconds"
        message = f"Your session hit the maximum duration of {duration}."
        await self.emit(error_event(message, code="session_expired"))
        await self.close(1001, message)

    # ----------------------------------------------------------------- serving

    async def serve(self) -> None:
        """Run the session until the client or a fault closes the socket."""
        try:
            await self._serve()
        finally:
            self.closed = True
            self._ended.set()

    # A test helper, like Emulator.wait_for: a timeout argument reads better in a test.
    async def wait_closed(self, *, timeout: float = 5.0) -> int:  # noqa: ASYNC109
        """Wait until the connection has ended and return its :attr:`close_code`.

        Raises:
            TimeoutError: Still open after ``timeout`` seconds.
        """
        with anyio.move_on_after(timeout):
            await self._ended.wait()
        if not self._ended.is_set():
            raise TimeoutError(f"connection {self.id} still open after {timeout} s")
        return self.close_code or 1006

    async def _serve(self) -> None:
        from aiohttp import WSMsgType

        async with anyio.create_task_group() as tg:
            self._tg = tg
            if self.expires_in is not None:
                tg.start_soon(self._expire_later, self.expires_in)
            await self.emit({"type": "session.created", "session": without_secrets(self.session)})
            async for msg in self._ws:
                if msg.type == WSMsgType.TEXT:
                    await self._receive(msg.data)
                elif msg.type == WSMsgType.BINARY:
                    await self._receive(msg.data.decode("utf-8", errors="replace"))
                else:
                    break
                if self.closed:
                    break
            if not self.closed:
                self.closed_by = "client"
            self.closed = True
            tg.cancel_scope.cancel()
        if self.close_code is None:
            self.close_code = self._ws.close_code or 1006

    async def _expire_later(self, delay: float) -> None:
        await anyio.sleep(max(0.0, self.opened_at + delay - time.monotonic()))
        await self.expire()

    def _close_now(self) -> None:
        if not self.closed:
            self.closed_by = self.closed_by or "server"
        self.closed = True
        transport = self._ws._req.transport if self._ws._req is not None else None
        if transport is not None:
            transport.abort()
        if self._tg is not None:
            self._tg.cancel_scope.cancel()

    async def _receive(self, text: str) -> None:
        try:
            event = json.loads(text)
        except ValueError as exc:
            self._record({"type": None, "raw": text[:200]})
            await self.emit(
                error_event(
                    f"We could not parse the JSON body of your request: {exc}.",
                    code="invalid_json",
                )
            )
            return
        if not isinstance(event, dict):
            self._record({"type": None, "raw": text[:200]})
            await self.emit(
                error_event(
                    "Invalid event: expected a JSON object.", code="invalid_type", param=None
                )
            )
            return
        self._record(event)
        client_event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        kind = event.get("type")
        faults = self.faults
        if faults.drop_on_event is not None and kind == faults.drop_on_event:
            self.close_code = 1006
            self._close_now()
            return
        if (faults.disconnects or faults.warnings) and isinstance(kind, str):
            await self._at_event(kind)
            if self.closed:
                return
        try:
            handler = self._handlers.get(kind) if isinstance(kind, str) else None
            if handler is None:
                raise unknown_event_type(kind)
            await handler(event)
        except ProtocolError as exc:
            await self.emit(exc.to_event(client_event_id))
        after = self.faults.drop_after_events
        if after is not None and self.events_received >= after:
            self.close_code = 1006
            self._close_now()

    def _record(self, event: dict[str, Any]) -> None:
        self.events_received += 1
        logging_on = log.isEnabledFor(logging.INFO)
        if not (self._record_events or logging_on):
            return
        recorded = event
        audio = event.get("audio")
        if isinstance(audio, str) and event.get("type") in (
            "input_audio_buffer.append",
            "input_audio.turn.append",
        ):
            recorded = dict(event)
            recorded["audio"] = _b64_size(audio)
        if self._record_events:
            self.received.append(recorded)
            self.received_at.append(time.monotonic())
            if self._record_limit is not None:
                _trim(self.received, self.received_at, self._record_limit)
        if logging_on:
            log.info("%s <- %s", self.id, describe(recorded))
        self._on_event(self, recorded)

    # ----------------------------------------------------------------- session

    @property
    def _turn_detection(self) -> dict[str, Any] | None:
        td = self.session.get("turn_detection")
        return td if isinstance(td, dict) else None

    def _reconfigure_vad(self) -> None:
        td = self._turn_detection
        if td is None:
            self._vad = None
            return
        fmt = self._input_fmt
        self._vad = EnergyVad(
            VadConfig.from_turn_detection(td),
            encoding=fmt.encoding,
            sample_rate=fmt.sample_rate,
            start_ms=self._audio_ms,
        )

    async def _session_update(self, event: dict[str, Any]) -> None:
        before = (self.session.get("turn_detection"), self._input_fmt)
        session = apply_session_update(
            self.session,
            event.get("session"),
            audio_sent=self.audio_received_bytes > 0,
            voice_used=self._voice_used,
        )
        self.session = session
        self._input_fmt = input_format(session)
        if (session.get("turn_detection"), self._input_fmt) != before:
            self._reconfigure_vad()
        await self.emit({"type": "session.updated", "session": without_secrets(self.session)})
        await self._list_mcp_tools()

    # ----------------------------------------------------------------- MCP

    def _mcp_tools(self) -> dict[str, dict[str, Any]]:
        """The session's ``mcp`` tools by ``server_label``."""
        return {
            tool["server_label"]: tool
            for tool in self.session.get("tools") or ()
            if tool.get("type") == "mcp"
        }

    async def _list_mcp_tools(self) -> None:
        """List the tools of each MCP server the session declares anew (§4.11)."""
        for label, tool in self._mcp_tools().items():
            if self._mcp_listed.get(label) == tool:
                continue
            self._mcp_listed[label] = tool
            declared = self._runner.script.mcp_server(label)
            failed = declared is not None and declared.list_error is not None
            item = {
                "id": new_id("item"),
                "object": "realtime.item",
                "type": "mcp_list_tools",
                "server_label": label,
                "tools": [] if failed else listed_tools(declared, tool),
            }
            previous = self.conversation.insert(StoredItem(item))
            await self.emit(
                {"type": "conversation.item.created", "previous_item_id": previous, "item": item}
            )
            ids = {"item_id": item["id"]}
            await self.emit({"type": "mcp_list_tools.in_progress", **ids})
            outcome = "failed" if failed else "completed"
            await self.emit({"type": f"mcp_list_tools.{outcome}", **ids})

    async def _run_mcp_calls(self, response: Response) -> None:
        """Run the MCP calls of a finished response, as the service does after it."""
        tools = self._mcp_tools()
        for output_index, item, stored, mcp in response.mcp_calls:
            if self.closed:
                return
            ids = {"item_id": item["id"], "output_index": output_index}
            await self.emit({"type": "response.mcp_call.in_progress", **ids})
            declared = self._runner.script.mcp_server(mcp.call.server)
            output, error = run_call(mcp.call, declared, tools.get(mcp.call.server))
            if error is not None:
                done = {**item, "error": {"type": "tool_execution_error", "message": error}}
            else:
                done = {**item, "output": output}
            if stored is not None:
                stored.item.update(done)
            outcome = "failed" if error is not None else "completed"
            await self.emit({"type": f"response.mcp_call.{outcome}", **ids})
            await self.emit(
                {
                    "type": "response.output_item.done",
                    "response_id": response.id,
                    "output_index": output_index,
                    "item": done,
                }
            )
            self._runner.emitted(mcp)

    async def _answer_approval(self, item: Mapping[str, Any]) -> None:
        """Act on the client's ``mcp_approval_response``: run the approved call in a new
        response, or answer without it."""
        mcp = self._approvals.pop(item["approval_request_id"], None)
        if mcp is None:
            return
        plan: list[Output] | None = None
        if item["approve"]:
            request_id = str(item["approval_request_id"])
            plan = [Mcp(mcp.call, needs_approval=False, approval_request_id=request_id)]
        assert self._tg is not None
        # Not awaited here: the receive loop must go on while an active response ends.
        self._tg.start_soon(self._start_when_idle, plan)

    async def _start_when_idle(self, plan: list[Output] | None) -> None:
        while self.response is not None and self.response.active:
            await self.response.ended.wait()
        await self._start_response(None, plan=plan)

    # ----------------------------------------------------------------- input audio

    def _decode_audio(self, event: Mapping[str, Any], param: str = "audio") -> bytes:
        audio = event.get("audio")
        if audio is None:
            raise ProtocolError(
                f"Missing required parameter: '{param}'.",
                code="missing_required_parameter",
                param=param,
            )
        if not isinstance(audio, str):
            raise ProtocolError(
                f"Invalid type for '{param}': expected a base64 string.",
                code="invalid_type",
                param=param,
            )
        try:
            data = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError(
                f"Invalid value for '{param}': the audio is not valid base64.",
                code="invalid_value",
                param=param,
            ) from None
        fmt = self._input_fmt
        if fmt.encoding == "pcm16" and len(data) % 2:
            raise ProtocolError(
                f"Invalid value for '{param}': pcm16 audio must have an even number of bytes, "
                f"got {len(data)}.",
                code="invalid_value",
                param=param,
            )
        return data

    async def _append(self, event: dict[str, Any]) -> None:
        await self._take_audio(self._decode_audio(event))

    async def _take_audio(self, data: bytes) -> None:
        fmt = self._input_fmt
        self.audio_received_bytes += len(data)
        if self.input_audio is not None:
            self.input_audio += data
        self._audio_ms += fmt.duration_ms(len(data))
        if self._vad is None:
            return
        for vad_event in self._vad.feed(data):
            if isinstance(vad_event, SpeechStarted):
                await self._speech_started(vad_event.audio_start_ms)
            else:
                await self._speech_stopped(vad_event.audio_end_ms)

    async def _speech_started(self, audio_start_ms: int) -> None:
        td = self._turn_detection or {}
        self._speech_item = new_id("item")
        self._speech_start_ms = float(audio_start_ms)
        await self.emit(
            {
                "type": "input_audio_buffer.speech_started",
                "audio_start_ms": audio_start_ms,
                "item_id": self._speech_item,
            }
        )
        if not td.get("interrupt_response", True):
            return
        interrupted = self.response is not None and self.response.active
        if self.response is not None and interrupted:
            await self.response.cancel("turn_detected")
        if td.get("auto_truncate", False):
            await self._auto_truncate(interrupted=interrupted)

    async def _auto_truncate(self, *, interrupted: bool) -> None:
        """Truncate the last assistant audio to what real-time playback has reached.

        Args:
            interrupted: Whether the speech cancelled a response still generating: its item
                is truncated even when playback has caught up with the audio sent (capped
                at that audio, as the protocol reference says); after the response, only
                while real-time playback of it would still be running.
        """
        playing, self._playing = self._playing, None
        if playing is None or self._speed is None:
            return
        stored, started = playing
        played = (anyio.current_time() - started) * self._speed * 1000
        if stored.id not in self.conversation or (played >= stored.audio_ms and not interrupted):
            return
        end = max(0, int(min(played, stored.audio_ms)))
        self.conversation.truncate(stored.id, 0, end)
        await self.emit(
            {
                "type": "conversation.item.truncated",
                "item_id": stored.id,
                "content_index": 0,
                "audio_end_ms": end,
            }
        )

    async def _speech_stopped(self, audio_end_ms: int) -> None:
        item_id = self._speech_item or new_id("item")
        self._speech_item = None
        await self.emit(
            {
                "type": "input_audio_buffer.speech_stopped",
                "audio_end_ms": audio_end_ms,
                "item_id": item_id,
            }
        )
        await self._commit(item_id, audio_end_ms - self._speech_start_ms)
        td = self._turn_detection or {}
        if td.get("create_response", True):
            if self.response is not None and self.response.active:
                self._deferred_response = True
            else:
                await self._start_response(None)

    async def _commit_event(self, event: dict[str, Any]) -> None:
        buffered = self._audio_ms - self._buffer_start_ms
        if buffered < _MIN_COMMIT_MS:
            raise ProtocolError(
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{_MIN_COMMIT_MS:.0f}ms of audio, but buffer only has {buffered:.2f}ms of audio.",
                code="input_audio_buffer_commit_empty",
            )
        item_id = self._speech_item or new_id("item")
        self._speech_item = None
        if self._vad is not None:
            self._vad.reset()
        await self._commit(item_id, buffered)

    async def _commit(self, item_id: str, audio_ms: float) -> None:
        """Commit the input buffer as a user audio item (committed, then item.created)."""
        self._buffer_start_ms = self._audio_ms
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        audio = None
        if self.input_audio is not None:
            fmt = self._input_fmt
            audio = bytes(self.input_audio[-fmt.bytes_for_ms(audio_ms) :]) if audio_ms > 0 else b""
        stored = StoredItem(item, audio_ms=audio_ms, audio=audio)
        previous = self.conversation.insert(stored)
        await self.emit(
            {
                "type": "input_audio_buffer.committed",
                "previous_item_id": previous,
                "item_id": item_id,
            }
        )
        await self.emit(
            {"type": "conversation.item.created", "previous_item_id": previous, "item": dict(item)}
        )
        user_turn = self._runner.on_user_item(item_id, text=None, audio_ms=audio_ms)
        turn = user_turn.turn
        if turn is not None and turn.warning is not None:
            await self.emit(turn.warning.event())
        if self.session.get("input_audio_transcription") is not None:
            ids = {"item_id": item_id, "content_index": 0}
            failure = self.faults.transcription_failure or (
                turn.transcription_fails if turn is not None else None
            )
            if failure is not None:
                await self.emit(
                    {
                        "type": "conversation.item.input_audio_transcription.failed",
                        **ids,
                        "error": failure.error(),
                    }
                )
                return
            transcript = user_turn.transcript
            stored.item["content"] = [{"type": "input_audio", "transcript": transcript}]
            await self.emit(
                {
                    "type": "conversation.item.input_audio_transcription.delta",
                    **ids,
                    "delta": transcript,
                }
            )
            await self.emit(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    **ids,
                    "transcript": transcript,
                }
            )

    async def _clear(self, event: dict[str, Any]) -> None:
        self._buffer_start_ms = self._audio_ms
        self._speech_item = None
        if self._vad is not None:
            self._vad.reset()
        await self.emit({"type": "input_audio_buffer.cleared"})

    def _turn_id(self, event: Mapping[str, Any]) -> str:
        turn_id = event.get("turn_id")
        if not isinstance(turn_id, str) or not turn_id:
            raise ProtocolError(
                "Missing required parameter: 'turn_id'.",
                code="missing_required_parameter",
                param="turn_id",
            )
        return turn_id

    def _open_turn(self, event: Mapping[str, Any]) -> str:
        turn_id = self._turn_id(event)
        if turn_id not in self._turns:
            raise ProtocolError(
                f"No input audio turn with id '{turn_id}' is in progress.",
                code="invalid_value",
                param="turn_id",
            )
        return turn_id

    async def _turn_start(self, event: dict[str, Any]) -> None:
        turn_id = self._turn_id(event)
        if turn_id in self._turns:
            raise ProtocolError(
                f"Input audio turn '{turn_id}' is already in progress.",
                code="invalid_value",
                param="turn_id",
            )
        self._turns[turn_id] = self._audio_ms
        self._buffer_start_ms = self._audio_ms

    async def _turn_append(self, event: dict[str, Any]) -> None:
        self._open_turn(event)
        await self._take_audio(self._decode_audio(event))

    async def _turn_end(self, event: dict[str, Any]) -> None:
        turn_id = self._open_turn(event)
        started = self._turns.pop(turn_id)
        await self._commit(new_id("item"), self._audio_ms - started)
        td = self._turn_detection
        if td is None or td.get("create_response", True):
            await self._start_response(None)

    async def _turn_cancel(self, event: dict[str, Any]) -> None:
        self._turns.pop(self._open_turn(event))
        self._buffer_start_ms = self._audio_ms

    # ----------------------------------------------------------------- conversation

    async def _insert_item(self, item: dict[str, Any], previous_item_id: Any) -> None:
        if item["type"] == "mcp_approval_response":
            request_id = item["approval_request_id"]
            request = self.conversation.get(
                request_id, param="item.approval_request_id", action="approving"
            )
            if request.item.get("type") != "mcp_approval_request":
                raise ProtocolError(
                    f"Item '{request_id}' is not an MCP approval request.",
                    code="invalid_value",
                    param="item.approval_request_id",
                )
        if item["type"] == "function_call_output":
            call_id = item["call_id"]
            if not any(
                s.item.get("type") == "function_call" and s.item.get("call_id") == call_id
                for s in self.conversation
            ):
                raise ProtocolError(
                    f"No tool call found for function call output with call_id {call_id}.",
                    code="invalid_value",
                    param="item.call_id",
                )
        previous = self.conversation.insert(StoredItem(item), previous_item_id)
        await self.emit(
            {"type": "conversation.item.created", "previous_item_id": previous, "item": item}
        )
        if item["type"] == "mcp_approval_response":
            await self._answer_approval(item)
        if item["type"] == "message" and item.get("role") == "user":
            user_turn = self._runner.on_user_item(item["id"], text=message_text(item), audio_ms=0.0)
            if user_turn.turn is not None and user_turn.turn.warning is not None:
                await self.emit(user_turn.turn.warning.event())

    async def _item_create(self, event: dict[str, Any]) -> None:
        item = validate_client_item(event.get("item"))
        previous_item_id = event.get("previous_item_id", ...)
        if previous_item_id not in (..., None) and not isinstance(previous_item_id, str):
            raise ProtocolError(
                "Invalid type for 'previous_item_id': expected a string.",
                code="invalid_type",
                param="previous_item_id",
            )
        await self._insert_item(item, previous_item_id)

    async def _mcp_approval_response(self, event: dict[str, Any]) -> None:
        item = validate_client_item(
            {
                "type": "mcp_approval_response",
                "approval_request_id": event.get("approval_request_id"),
                "approve": event.get("approve"),
            }
        )
        await self._insert_item(item, ...)

    async def _item_retrieve(self, event: dict[str, Any]) -> None:
        stored = self.conversation.get(event.get("item_id"))
        await self.emit({"type": "conversation.item.retrieved", "item": stored.retrieved()})

    async def _item_delete(self, event: dict[str, Any]) -> None:
        stored = self.conversation.delete(event.get("item_id"))
        await self.emit({"type": "conversation.item.deleted", "item_id": stored.id})

    async def _item_truncate(self, event: dict[str, Any]) -> None:
        content_index = event.get("content_index", 0)
        stored = self.conversation.truncate(
            event.get("item_id"), content_index, event.get("audio_end_ms")
        )
        if self._playing is not None and self._playing[0] is stored:
            self._playing = None
        await self.emit(
            {
                "type": "conversation.item.truncated",
                "item_id": stored.id,
                "content_index": content_index,
                "audio_end_ms": event["audio_end_ms"],
            }
        )

    def _text_item(self, event: Mapping[str, Any]) -> tuple[StoredItem, int]:
        item_id = event.get("id")
        stored = self.conversation.get(item_id, param="id", action="updating")
        index = event.get("content_index", 0) or 0
        content = stored.item.get("content")
        if (
            not isinstance(index, int)
            or not isinstance(content, list)
            or not 0 <= index < len(content)
            or content[index].get("type") not in ("input_text", "text")
        ):
            raise ProtocolError(
                f"Item '{stored.id}' has no text content part at index {index!r}.",
                code="invalid_value",
                param="content_index",
            )
        return stored, index

    async def _input_text_delta(self, event: dict[str, Any]) -> None:
        stored, index = self._text_item(event)
        delta = event.get("delta")
        if not isinstance(delta, str):
            raise ProtocolError(
                "Missing or invalid 'delta': expected a string.",
                code="invalid_value",
                param="delta",
            )
        part = stored.item["content"][index]
        stored.item["content"][index] = {**part, "text": str(part.get("text", "")) + delta}

    async def _input_text_done(self, event: dict[str, Any]) -> None:
        self._text_item(event)

    # ----------------------------------------------------------------- responses

    async def _response_create(self, event: dict[str, Any]) -> None:
        additional = event.get("additional_instructions")
        if additional is not None and not isinstance(additional, str):
            raise ProtocolError(
                "Invalid type for 'additional_instructions': expected a string.",
                code="invalid_type",
                param="additional_instructions",
            )
        await self._start_response(event.get("response"), additional)

    async def _start_response(
        self, params: Any, additional: str | None = None, *, plan: list[Output] | None = None
    ) -> None:
        config = make_response_config(self.session, params, additional_instructions=additional)
        if self.response is not None and self.response.active:
            if not config.get("cancel_previous", True):
                raise ProtocolError(
                    "Conversation already has an active response in progress: "
                    f"{self.response.id}. Wait until the response is finished before creating "
                    "a new one.",
                    code="conversation_already_has_active_response",
                )
            await self.response.cancel("client_cancelled")
        self._deferred_response = False
        context = self._response_context(config)
        if plan is None:
            plan = self._plan(context, config)
        session = self.session
        animation = session.get("animation")
        outputs = (animation or {}).get("outputs") or ["blendshapes"]
        response = Response(
            host=self,
            config=config,
            plan=plan,
            output_format=output_format(config),
            timestamps="word" in (session.get("output_audio_timestamp_types") or ()),
            visemes=animation is not None and "viseme_id" in outputs,
            blendshapes=animation is not None and "blendshapes" in outputs,
            avatar=session.get("avatar") is not None,
            input_tokens=_input_tokens(context, config),
        )
        self.response = response
        assert self._tg is not None
        self._tg.start_soon(self._run_response, response)

    def _response_context(self, config: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The items a response sees: ``input_items`` replace the conversation for this
        response; ``append_input_items`` are added after it."""
        replaced = config.get("input_items")
        base = [stored.item for stored in self.conversation] if replaced is None else []
        extra = [*(replaced or ()), *(config.get("append_input_items") or ())]
        resolved: list[dict[str, Any]] = []
        for item in extra:
            if item.get("type") == "item_reference":
                resolved.append(self.conversation.get(item.get("id"), param="id").item)
            else:
                resolved.append(dict(item))
        return [*base, *resolved]

    def _plan(self, context: list[dict[str, Any]], config: Mapping[str, Any]) -> list[Output]:
        pre = config.get("pre_generated_assistant_message")
        pre_text = message_text(pre) if isinstance(pre, Mapping) else None
        try:
            return self._runner.plan(
                context,
                instructions=str(config.get("instructions") or ""),
                pre_generated=pre_text,
                new_id=new_id,
                mcp_tools=self._mcp_tools(),
            )
        except Exception as exc:  # a test's reply callable failed: fail the response
            log.exception("emulator script failed")
            return [Fail(ResponseFailure(f"Script error: {exc!r}", code="script_error"))]

    async def _run_response(self, response: Response) -> None:
        try:
            await response.run()
            if response.status == "completed" and response.mcp_calls:
                await self._run_mcp_calls(response)
        finally:
            self._runner.discard(response.plan)
        if self._deferred_response and self.response is response and not self.closed:
            await self._start_response(None)

    async def _response_cancel(self, event: dict[str, Any]) -> None:
        response_id = event.get("response_id")
        active = self.response if self.response is not None and self.response.active else None
        if active is None or (response_id is not None and response_id != active.id):
            which = f" with id '{response_id}'" if response_id is not None else ""
            raise ProtocolError(
                f"Cancellation failed: no active response{which} found",
                code="response_cancel_not_active",
            )
        await active.cancel("client_cancelled")

    async def _output_clear(self, event: dict[str, Any]) -> None:
        self._playing = None
        await self.emit({"type": "output_audio_buffer.cleared"})

    async def _avatar_connect(self, event: dict[str, Any]) -> None:
        if self.session.get("avatar") is None:
            raise ProtocolError(
                "Avatar is not configured for this session: set 'avatar' with session.update "
                "before sending session.avatar.connect.",
                code="invalid_value",
                param="session.avatar",
            )
        sdp = event.get("client_sdp")
        if not isinstance(sdp, str) or not sdp:
            raise ProtocolError(
                "Missing required parameter: 'client_sdp'.",
                code="missing_required_parameter",
                param="client_sdp",
            )
        answer = json.dumps({"type": "answer", "sdp": "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\n"})
        await self.emit(
            {
                "type": "session.avatar.connecting",
                "server_sdp": base64.b64encode(answer.encode()).decode("ascii"),
            }
        )


def _input_tokens(context: list[dict[str, Any]], config: Mapping[str, Any]) -> int:
    chars = len(str(config.get("instructions") or ""))
    chars += sum(len(message_text(item)) for item in context if item.get("type") == "message")
    return math.ceil(chars / 4)


def _trim(events: list[dict[str, Any]], times: list[float], limit: int) -> None:
    """Keep the last ``limit`` events of a bounded record (trimmed in batches, when it has
    grown to twice the limit, so that recording stays O(1) per event on average)."""
    if len(events) >= 2 * limit + 64:
        del events[: len(events) - limit]
        del times[: len(times) - limit]


def _b64_size(text: str) -> int:
    """Decoded size of a base64 string, without decoding it."""
    return (len(text) * 3) // 4 - text[-2:].count("=")
