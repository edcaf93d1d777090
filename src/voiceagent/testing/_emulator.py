"""The Voice Live emulator: an aiohttp WebSocket server on loopback that speaks the
Azure AI Voice Live realtime protocol closely enough for the real SDK to run against it."""

from __future__ import annotations

import hmac
import secrets
import time
from typing import TYPE_CHECKING, Any, Self

import anyio
from aiohttp import web
from azure.core.credentials import AccessToken, AzureKeyCredential

from ..errors import EmulatorError
from ._connection import EmulatorConnection
from ._faults import Faults
from ._foundry import AGENT_MODEL, agent_refusal

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from ._script import Script

__all__ = ["Emulator", "EmulatorTokenCredential"]

_PATH_SUFFIX = "/voice-live/realtime"
_UNAUTHORIZED = {
    "error": {
        "code": "401",
        "message": "Access denied due to invalid subscription key or wrong API endpoint. Make "
        "sure to provide a valid key for an active subscription and use a correct regional API "
        "endpoint for your resource.",
    }
}
_MAX_MESSAGE = 64 * 1024 * 1024
# Bodies of refused upgrades (Faults.refuse_connections), in Azure's error shape.
_REFUSALS: dict[int, tuple[str, dict[str, str]]] = {
    429: (
        "Requests to the Voice Live realtime API have exceeded the rate limit of your current "
        "pricing tier. Please retry after 1 second.",
        {"Retry-After": "1"},
    ),
    503: ("The service is temporarily unavailable. Please retry later.", {}),
}


def _http_reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


class EmulatorTokenCredential:
    """An async token credential that hands out the emulator's bearer token.

    Use it where a program expects an ``AsyncTokenCredential`` (Entra ID auth), to test
    that path against the emulator. It records the scopes it was asked for.
    """

    def __init__(self, token: str) -> None:
        self._token = token
        self.scopes_requested: list[tuple[str, ...]] = []
        self.closed = False

    def __repr__(self) -> str:
        return "EmulatorTokenCredential(token=***)"

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        """Return the emulator's token, valid for an hour."""
        self.scopes_requested.append(scopes)
        return AccessToken(self._token, int(time.time()) + 3600)

    async def close(self) -> None:
        """Mark the credential closed."""
        self.closed = True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class Emulator:
    """Azure AI Voice Live, emulated on a loopback WebSocket server.

    Any program written against ``azure-ai-voicelive`` runs against it unchanged: point
    its endpoint at :attr:`endpoint` and give it :attr:`credential` (or the key)::

        async with Emulator(script=Script(Turn(hears="Hi", says="Hello!"))) as emu:
            async with connect(endpoint=emu.endpoint, credential=emu.credential,
                               model="gpt-realtime") as conn:
                ...

    Args:
        script: What the emulator hears and how the model answers; each connection plays
            it from the start. None uses the default brain (echo text, acknowledge audio).
        api_key: The key clients must send (``api-key`` header). A random one by default.
        host: Interface to bind; loopback by default.
        port: Port to bind; 0 picks a free one.
        speed: Pacing of response audio: 1.0 is real time, 10.0 ten times faster, None
            sends audio as fast as possible.
        audio_chunk_ms: Audio duration carried by each ``response.audio.delta``.
        keep_audio: Keep the raw input audio (``connection.input_audio``) and serve it back
            in ``conversation.item.retrieved``; by default only byte counts are kept.
        record: Record every client and server event (``connection.received``/``sent``,
            needed by :meth:`wait_for`). Turn it off for long or heavily loaded runs
            (benchmarks, soak tests), where the growing record costs memory and GC time.
        record_limit: Keep only the last ``record_limit`` events of each direction in each
            connection's record (None: all of them).
        keep_closed: Keep only the last ``keep_closed`` closed connections in
            :attr:`connections`, and the last ``keep_closed`` refused requests in
            :attr:`rejected` (None: all of them). Open connections are always listed.
            A long-running emulator (``voiceagent emulator``) bounds both so that its memory
            does not grow with every client it ever served.
        faults: Fault injection settings, shared by all connections and read live.
    """

    def __init__(
        self,
        *,
        script: Script | None = None,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float | None = 1.0,
        audio_chunk_ms: int = 100,
        keep_audio: bool = False,
        record: bool = True,
        record_limit: int | None = None,
        keep_closed: int | None = None,
        faults: Faults | None = None,
    ) -> None:
        if speed is not None and not speed > 0:
            raise EmulatorError(f"speed must be a positive number or None, got {speed!r}")
        if not 10 <= audio_chunk_ms <= 5000:
            raise EmulatorError(
                f"audio_chunk_ms must be between 10 and 5000, got {audio_chunk_ms!r}"
            )
        for name, value in (("record_limit", record_limit), ("keep_closed", keep_closed)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise EmulatorError(f"{name} must be a non-negative integer or None, got {value!r}")
        self.script = script
        self._api_key = api_key or secrets.token_urlsafe(24)
        self._token = secrets.token_urlsafe(32)
        self._host = host
        self._port = port
        self.speed = speed
        self.audio_chunk_ms = audio_chunk_ms
        self.keep_audio = keep_audio
        self.record = record
        self.record_limit = record_limit
        self.keep_closed = keep_closed
        self.faults = faults or Faults()
        self.connections: list[EmulatorConnection] = []
        """Every connection accepted so far, in order (each with its own session, record
        and close code); with ``keep_closed``, only the last closed ones are kept."""
        self.rejected: list[tuple[int, str]] = []
        """Every refused HTTP request as (status, path); with ``keep_closed``, the last ones."""
        self.accepted = 0
        """How many connections were accepted in all (kept in :attr:`connections` or not)."""
        self._closed_kept = 0
        self._site: web.TCPSite | None = None
        self._offline = False
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None
        self._changed = anyio.Event()
        self._waiters = 0
        self._token_credential = EmulatorTokenCredential(self._token)

    def __repr__(self) -> str:
        where = self.endpoint if self._bound_port is not None else "not started"
        return f"<Emulator {where} connections={len(self.connections)}>"

    # ----------------------------------------------------------------- addresses and auth

    @property
    def endpoint(self) -> str:
        """The endpoint to give the SDK, e.g. ``http://127.0.0.1:50123``.

        Raises:
            EmulatorError: The emulator is not running.
        """
        if self._bound_port is None:
            raise EmulatorError("the emulator is not running: use 'async with Emulator() as emu'")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._bound_port}"

    @property
    def port(self) -> int:
        """The bound port."""
        if self._bound_port is None:
            raise EmulatorError("the emulator is not running")
        return self._bound_port

    @property
    def api_key(self) -> str:
        """The API key clients must present."""
        return self._api_key

    @property
    def credential(self) -> AzureKeyCredential:
        """An ``AzureKeyCredential`` holding :attr:`api_key`."""
        return AzureKeyCredential(self._api_key)

    @property
    def token(self) -> str:
        """The bearer token the emulator accepts in ``Authorization: Bearer``."""
        return self._token

    @property
    def token_credential(self) -> EmulatorTokenCredential:
        """An async token credential that yields :attr:`token` (for Entra ID code paths)."""
        return self._token_credential

    def _authorized(self, request: web.Request) -> bool:
        key = request.headers.get("api-key") or request.query.get("api-key")
        if key is not None:
            return hmac.compare_digest(key.encode(), self._api_key.encode())
        auth = request.headers.get("Authorization") or request.query.get("Authorization")
        if auth is not None and auth.startswith("Bearer "):
            return hmac.compare_digest(auth[7:].encode(), self._token.encode())
        return False

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Bind and start serving. Prefer ``async with``."""
        if self._runner is not None:
            raise EmulatorError("the emulator is already running")
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        if not 0 <= self._port <= 65535:
            raise EmulatorError(f"cannot listen on port {self._port}: ports are 0 to 65535")
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = await self._listen(runner, self._port)
        except OSError as exc:
            await runner.cleanup()
            raise EmulatorError(
                f"cannot listen on {self._host}:{self._port}: {exc.strerror or exc}"
            ) from exc
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self._bound_port = int(sockets[0].getsockname()[1])
        self._runner = runner
        self._offline = False

    async def _listen(self, runner: web.AppRunner, port: int) -> web.TCPSite:
        site = web.TCPSite(runner, self._host, port)
        await site.start()
        self._site = site
        return site

    async def go_offline(self, *, drop_connections: bool = True) -> None:
        """Make the emulator unreachable, as when the network or the service is down:
        stop listening (new connection attempts are refused at the TCP level) and, by
        default, drop every open connection abruptly (no close frame, code 1006).

        :meth:`go_online` listens on the same port again.
        """
        if self._runner is None:
            raise EmulatorError("the emulator is not running")
        if self._offline:
            return
        self._offline = True
        site, self._site = self._site, None
        if site is not None:
            # Stops listening only; open connections live on unless dropped below.
            await site.stop()
        if drop_connections:
            for conn in list(self.connections):
                if not conn.closed:
                    await conn.close(1006)

    async def go_online(self) -> None:
        """Listen again on the same port after :meth:`go_offline`."""
        if self._runner is None:
            raise EmulatorError("the emulator is not running")
        if not self._offline:
            return
        try:
            await self._listen(self._runner, self.port)
        except OSError as exc:
            raise EmulatorError(
                f"cannot listen on {self._host}:{self.port} again: {exc.strerror or exc}"
            ) from exc
        self._offline = False

    @property
    def online(self) -> bool:
        """Whether the emulator accepts connections (running and not :meth:`go_offline`)."""
        return self._runner is not None and not self._offline

    async def close(self) -> None:
        """Close every connection (code 1001) and stop listening."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        for conn in self.connections:
            if not conn.closed:
                await conn.close(1001, "emulator: shutting down")
        await runner.cleanup()
        self._bound_port = None
        self._site = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ----------------------------------------------------------------- HTTP

    def _reject(self, status: int, path: str) -> None:
        self.rejected.append((status, path))
        if self.keep_closed is not None and len(self.rejected) > self.keep_closed:
            del self.rejected[: len(self.rejected) - self.keep_closed]

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        self._reject(404, request.path)
        return web.json_response(
            {"error": {"code": "404", "message": "Resource not found"}}, status=404
        )

    def _refusal(self, request: web.Request) -> web.StreamResponse | None:
        faults = self.faults
        if faults.refuse_connections <= 0:
            return None
        faults.refuse_connections -= 1
        status = faults.refuse_status
        self._reject(status, request.path)
        message, headers = _REFUSALS.get(status, (None, {}))
        body = {"error": {"code": str(status), "message": message or _http_reason(status)}}
        return web.json_response(body, status=status, headers=headers)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if not request.path.rstrip("/").endswith(_PATH_SUFFIX):
            return await self._not_found(request)
        refused = self._refusal(request)
        if refused is not None:
            return refused
        if not self._authorized(request):
            self._reject(401, request.path)
            return web.json_response(_UNAUTHORIZED, status=401)
        bearer = "api-key" not in request.headers and "api-key" not in request.query
        refusal = agent_refusal(request.query, bearer=bearer)
        if refusal is not None:
            status, message = refusal
            self._reject(status, request.path)
            return web.json_response(
                {"error": {"code": str(status), "message": message}}, status=status
            )
        ws = web.WebSocketResponse(heartbeat=None, max_msg_size=_MAX_MESSAGE, autoping=True)
        if not ws.can_prepare(request).ok:
            self._reject(400, request.path)
            return web.json_response(
                {
                    "error": {
                        "code": "400",
                        "message": "This endpoint only accepts WebSocket connections.",
                    }
                },
                status=400,
            )
        await ws.prepare(request)
        conn = EmulatorConnection(
            ws,
            model=request.query.get("model")
            or (AGENT_MODEL if "agent-name" in request.query else "gpt-realtime"),
            api_version=request.query.get("api-version", ""),
            query=dict(request.query),
            script=self.script,
            faults=self.faults,
            speed=self.speed,
            audio_chunk_ms=self.audio_chunk_ms,
            keep_audio=self.keep_audio,
            record=self.record,
            record_limit=self.record_limit,
            on_event=self._on_event,
        )
        self.connections.append(conn)
        self.accepted += 1
        self._notify()
        try:
            await conn.serve()
        finally:
            conn.closed = True
            self._closed_kept += 1
            if self.keep_closed is not None and self._closed_kept > self.keep_closed:
                self._forget_closed()
            self._notify()
            if not ws.closed:
                await ws.close()
        return ws

    def _forget_closed(self) -> None:
        assert self.keep_closed is not None
        excess = self._closed_kept - self.keep_closed
        kept: list[EmulatorConnection] = []
        for conn in self.connections:
            if excess > 0 and conn.closed:
                excess -= 1
                self._closed_kept -= 1
            else:
                kept.append(conn)
        self.connections = kept

    # ----------------------------------------------------------------- waiting

    def _notify(self) -> None:
        # Waking waiters costs an Event per call; with nobody waiting (the common case
        # under load) there is nothing to wake.
        if self._waiters:
            self._changed.set()
            self._changed = anyio.Event()

    def _on_event(self, conn: EmulatorConnection, event: dict[str, Any]) -> None:
        self._notify()

    async def _wait(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        with anyio.move_on_after(timeout):
            while True:
                found = check()
                if found is not None:
                    return found
                self._waiters += 1
                try:
                    await self._changed.wait()
                finally:
                    self._waiters -= 1
        raise TimeoutError(f"timed out after {timeout} s waiting for {what}")

    # A timeout argument reads better in tests than a cancel scope around every wait.
    async def wait_for_connection(
        self, count: int = 1, *, timeout: float = 5.0
    ) -> EmulatorConnection:
        """Wait until ``count`` connections were accepted and return the ``count``-th.

        Raises:
            TimeoutError: Not enough connections within ``timeout`` seconds.
            EmulatorError: That connection was closed and forgotten (``keep_closed``).
        """

        def check() -> EmulatorConnection | None:
            if self.accepted < count:
                return None
            index = count - 1 - (self.accepted - len(self.connections))
            if index < 0:
                raise EmulatorError(
                    f"connection #{count} was closed and forgotten (keep_closed={self.keep_closed})"
                )
            return self.connections[index]

        return await self._wait(check, timeout, f"connection #{count}")  # type: ignore[no-any-return]

    async def wait_for(
        self,
        event_type: str,
        *,
        timeout: float = 5.0,
        count: int = 1,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        connection: EmulatorConnection | None = None,
    ) -> dict[str, Any]:
        """Wait until a client event of ``event_type`` was received and return it.

        Events already received count, so calling this after the fact returns at once.

        Args:
            event_type: The client event type, e.g. ``"response.cancel"``.
            timeout: Seconds to wait.
            count: Return the ``count``-th matching event (1 = the first).
            predicate: Only events for which this returns True match.
            connection: Only look at this connection (default: all of them).

        Raises:
            TimeoutError: Fewer than ``count`` matching events within ``timeout``.
            EmulatorError: The emulator was created with ``record=False``.
        """
        if not self.record:
            raise EmulatorError("wait_for needs the event record: create Emulator(record=True)")

        def check() -> dict[str, Any] | None:
            seen = 0
            conns = [connection] if connection is not None else list(self.connections)
            for conn in conns:
                for event in conn.received:
                    if event.get("type") == event_type and (predicate is None or predicate(event)):
                        seen += 1
                        if seen == count:
                            return event
            return None

        return await self._wait(check, timeout, f"client event {event_type!r} (#{count})")  # type: ignore[no-any-return]
