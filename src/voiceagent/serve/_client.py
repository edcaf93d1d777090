"""A Python client of the browser protocol: what the page does, without a browser.

For load tests and smoke tests of a deployment, and for the tests of this package. It
sends microphone audio (paced at real time, or as fast as it goes) and "plays" the
agent's audio on a simulated device at real time, reporting the played position exactly
as the page's playback worklet does (clear, pause, resume, running dry).
"""

from __future__ import annotations

import collections
import json
import time
from typing import TYPE_CHECKING, Any, Self

import aiohttp
import anyio
import anyio.lowlevel

from ._protocol import PROTOCOL_VERSION

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

__all__ = ["BrowserClient"]


class BrowserClient:
    """One conversation over the browser protocol, as a page would hold it.

    ``async with BrowserClient(url) as client:`` connects and waits for ``welcome``.

    Args:
        url: The WebSocket URL (``ws://host:port/ws``; ``http://`` works too).
        realtime: Play the agent's audio at real time (True) or count it played as soon
            as it arrives (False: fast tests).
        report_ms: How often to report while playing (default: the server's
            ``report_ms``).
        keep_messages: Keep every JSON message received (:attr:`messages`); turn it off
            for long load runs.
        on_audio: Called with ``(arrival time, frame)`` for each audio frame received
            (``time.perf_counter``).
    """

    def __init__(
        self,
        url: str,
        *,
        realtime: bool = True,
        report_ms: float | None = None,
        keep_messages: bool = True,
        on_audio: Callable[[float, bytes], None] | None = None,
    ) -> None:
        self.url = url
        self.realtime = realtime
        self._report_ms = report_ms
        self._keep = keep_messages
        self._on_audio = on_audio
        self.welcome: dict[str, Any] = {}
        self.messages: list[dict[str, Any]] = []
        """JSON messages received, in order (with ``keep_messages``)."""
        self.close_code: int | None = None
        """The close code, once the socket closed."""
        self.close_reason = ""
        self.received = 0
        """Agent audio samples received."""
        self.played = 0
        """Agent audio samples played (what the client reports)."""
        self.epoch = 0
        self.clears: list[tuple[int, int]] = []
        """``(epoch, played samples)`` when each clear took effect."""
        self.sent = 0
        """Microphone samples sent."""
        self.ended: dict[str, Any] | None = None
        """The ``ended`` message, once received."""
        self._queue: collections.deque[int] = collections.deque()
        self._queued = 0
        self._paused = False
        self._playing = False
        self._clock = 0.0
        self._carry = 0.0
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._changed = anyio.Event()
        self._closed = anyio.Event()

    # -- connection ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._http = aiohttp.ClientSession()
        try:
            self._ws = await self._http.ws_connect(self.url, max_msg_size=0, autoping=True)
            message = await self._ws.receive(timeout=30)
            if message.type is not aiohttp.WSMsgType.TEXT:
                await self._ws.close()
                self.close_code = self._ws.close_code
                self.close_reason = str(message.extra or "")
                raise ConnectionRefusedError(
                    f"the server closed the socket ({self.close_code}: {self.close_reason})"
                )
            self.welcome = json.loads(message.data)
            if self.welcome.get("protocol") != PROTOCOL_VERSION:
                raise ConnectionError(f"unexpected first message: {self.welcome!r}")
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._http.close()
            raise
        self._rate = int(self.welcome["output"]["sample_rate"])
        self._input_rate = int(self.welcome["input"]["sample_rate"])
        report = self._report_ms or float(self.welcome["report_ms"])
        self._report_every = max(1, round(self._rate * report / 1000))
        self._since_report = 0
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        tg.start_soon(self._read)
        if self.realtime:
            tg.start_soon(self._play, report / 1000)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Hang up (if still connected) and release the connection."""
        try:
            if self._ws is not None and not self._ws.closed:
                with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                    await self._ws.close()
            if self._tg is not None:
                tg, self._tg = self._tg, None
                tg.cancel_scope.cancel()
                await tg.__aexit__(None, None, None)
        finally:
            with anyio.CancelScope(shield=True):
                if self._ws is not None:
                    if not self._ws.closed:
                        with anyio.move_on_after(5):
                            await self._ws.close()
                    self.close_code = self._ws.close_code
                    self._closed.set()
                if self._http is not None:
                    await self._http.close()
                    self._http = None
                    # The transports close their sockets on the loop's next turn (aiohttp's
                    # advice for a clean shutdown): give them that turn.
                    await anyio.lowlevel.checkpoint()

    # -- sending ----------------------------------------------------------------------------

    async def _send_json(self, message: dict[str, Any]) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.send_str(json.dumps(message))

    async def send_audio(self, frame: bytes) -> None:
        """Send one frame of microphone audio (pcm16 at the input rate)."""
        if self._ws is not None and not self._ws.closed:
            await self._ws.send_bytes(frame)
            self.sent += len(frame) // 2

    async def stream(self, audio: bytes, *, frame_ms: int = 20, realtime: bool = True) -> None:
        """Send ``audio`` (pcm16 at the input rate) in ``frame_ms`` frames, paced at real
        time by default (as a microphone)."""
        step = self._input_rate * frame_ms // 1000 * 2
        start = time.monotonic()
        for index, at in enumerate(range(0, len(audio), step)):
            if realtime:
                await anyio.sleep(max(0.0, start + index * frame_ms / 1000 - time.monotonic()))
            await self.send_audio(audio[at : at + step])

    async def send_text(self, text: str) -> None:
        """Send a typed user message."""
        await self._send_json({"type": "text", "text": text})

    async def interrupt(self) -> None:
        """Ask the server to stop the agent now."""
        await self._send_json({"type": "interrupt"})

    async def end(self) -> None:
        """Say the user is done (the conversation ends once the agent has answered)."""
        await self._send_json({"type": "end"})

    # -- waiting ----------------------------------------------------------------------------

    async def wait_for(
        self,
        kind: str,
        *,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - a test helper, as Emulator.wait_for
    ) -> dict[str, Any]:
        """The first message of type ``kind`` (matching ``predicate``), received or to come.

        Needs ``keep_messages``.

        Raises:
            TimeoutError: None within ``timeout`` seconds (or the socket closed first).
        """
        with anyio.move_on_after(timeout):
            while True:
                for message in self.messages:
                    if message.get("type") == kind and (predicate is None or predicate(message)):
                        return message
                if self._closed.is_set():
                    break
                await self._changed.wait()
        raise TimeoutError(f"no {kind!r} message within {timeout} s (close: {self.close_code})")

    async def wait_closed(self, timeout: float = 30.0) -> int | None:  # noqa: ASYNC109
        """Wait until the socket closes; return the close code.

        Raises:
            TimeoutError: Still open after ``timeout`` seconds.
        """
        with anyio.fail_after(timeout):
            await self._closed.wait()
        return self.close_code

    def transcript(self) -> list[tuple[str, str]]:
        """The final transcripts so far, as ``(role, text)``."""
        return [
            (m["role"], m["text"])
            for m in self.messages
            if m.get("type") == "transcript" and m.get("final")
        ]

    # -- the socket and the simulated device ------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def _read(self) -> None:
        ws = self._ws
        assert ws is not None
        try:
            while True:
                message = await ws.receive()
                if message.type is aiohttp.WSMsgType.BINARY:
                    self._on_audio_frame(message.data)
                    if not self.realtime:
                        await self._play_at_once()
                elif message.type is aiohttp.WSMsgType.TEXT:
                    await self._on_message(json.loads(message.data))
                else:
                    if message.type is aiohttp.WSMsgType.CLOSE:
                        self.close_reason = str(message.extra or "")
                    break
        finally:
            self.close_code = ws.close_code
            self._closed.set()
            self._notify()

    def _on_audio_frame(self, frame: bytes) -> None:
        if self._on_audio is not None:
            self._on_audio(time.perf_counter(), frame)
        samples = len(frame) // 2
        self.received += samples
        if not self._queued:  # the device starts playing now
            self._clock = time.monotonic()
            self._carry = 0.0
        self._queue.append(samples)
        self._queued += samples

    async def _on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "clear":
            self._advance()
            self._queue.clear()
            self._queued = 0
            self._playing = False
            self.epoch = int(message["epoch"])
            self.clears.append((self.epoch, self.played))
            await self._report()
        elif kind == "pause":
            self._advance()
            self._paused = True
            await self._report()
        elif kind == "resume":
            self._paused = False
            self._clock = time.monotonic()
            if not self.realtime:
                await self._play_at_once()
        elif kind == "ended":
            self.ended = message
        if self._keep:
            self.messages.append(message)
            self._notify()

    async def _play_at_once(self) -> None:
        """Without real time: what arrives counts as played at once."""
        if self._queued and not self._paused:
            self.played += self._queued
            self._queue.clear()
            self._queued = 0
            await self._report()

    def _advance(self) -> None:
        """Play what real time says has played since the last call."""
        now = time.monotonic()
        if self._paused or not self._queued:
            self._clock = now
            self._carry = 0.0
            return
        due = (now - self._clock) * self._rate + self._carry
        self._clock = now
        n = min(int(due), self._queued)
        self._carry = due - int(due) if n == int(due) else 0.0
        self.played += n
        self._queued -= n
        self._since_report += n
        while n and self._queue:
            head = self._queue[0]
            if head <= n:
                n -= head
                self._queue.popleft()
            else:
                self._queue[0] = head - n
                n = 0

    async def _report(self) -> None:
        self._since_report = 0
        await self._send_json(
            {
                "type": "played",
                "samples": self.played,
                "epoch": self.epoch,
                "playing": bool(self._queued) and not self._paused,
            }
        )

    async def _play(self, tick: float) -> None:
        while True:
            await anyio.sleep(tick)
            before = self.played
            self._advance()
            playing = bool(self._queued) and not self._paused
            if not playing and self.played != before:
                await self._report()  # ran dry
            elif playing and self._since_report >= self._report_every:
                await self._report()
