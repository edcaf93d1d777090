"""``create_app``: the ASGI application, its probes and the admission of every WebSocket."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route

from ._browser import BrowserEndpoint, BrowserOptions
from ._host import (
    _SCOPE_KEY,
    CLOSE_GOING_AWAY,
    ConversationRefused,
    SessionHost,
    _conversation_id,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from azure.core.credentials import AzureKeyCredential
    from azure.core.credentials_async import AsyncTokenCredential
    from starlette.requests import Request
    from starlette.types import ASGIApp, Lifespan, Message, Receive, Scope, Send

    from ._host import AgentFactory

__all__ = ["AdmissionMiddleware", "create_app"]

log = logging.getLogger("voiceagent.serve")


def _kind(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The name of the route a WebSocket connection goes to (its path if unnamed)."""
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            name = getattr(route, "name", None)
            return str(name or getattr(route, "path", None) or "websocket")
    return "websocket"


class AdmissionMiddleware:
    """ASGI middleware that admits every WebSocket connection through a :class:`SessionHost`.

    A refused connection is accepted and closed at once with the host's close code and
    reason (a code and reason only reach the client after the handshake), before any
    endpoint runs. An admitted one counts as a conversation until its endpoint returns;
    the endpoint finds it with :meth:`Conversation.of(websocket) <Conversation.of>`. When
    the drain cancels an endpoint that did not close its socket, the socket is closed
    with code 1001.

    Args:
        app: The application.
        host: The host that admits.
        routes: The app's routes, to name each connection's ``kind`` after its route.
    """

    def __init__(self, app: ASGIApp, *, host: SessionHost, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.host = host
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        try:
            conversation = self.host.admit(kind=_kind(self.routes, scope), scope=scope)
        except ConversationRefused as refused:
            log.info("refused a connection to %s: %s", scope.get("path"), refused.reason)
            await _refuse(receive, send, refused.code, refused.reason)
            return
        state = {"accepted": False, "closed": False}

        async def tracked_send(message: Message) -> None:
            if message["type"] == "websocket.accept":
                state["accepted"] = True
            elif message["type"] in ("websocket.close", "websocket.http.response.start"):
                state["closed"] = True
            await send(message)

        scope[_SCOPE_KEY] = conversation
        token = _conversation_id.set(conversation.id)
        try:
            with anyio.CancelScope() as cancel:
                conversation._handler_scope = cancel
                await self.app(scope, receive, tracked_send)
            if cancel.cancelled_caught and state["accepted"] and not state["closed"]:
                with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                    await send(
                        {
                            "type": "websocket.close",
                            "code": CLOSE_GOING_AWAY,
                            "reason": "server shutting down",
                        }
                    )
        finally:
            conversation._handler_scope = None
            _conversation_id.reset(token)
            self.host.release(conversation)


async def _refuse(receive: Receive, send: Send, code: int, reason: str) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": code, "reason": reason})


async def _healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _readyz(request: Request) -> Response:
    host = SessionHost.of(request.app)
    return JSONResponse(host.status(), status_code=200 if host.ready else 503)


async def _metrics(request: Request) -> Response:
    host = SessionHost.of(request.app)
    return Response(host.metrics.render(), media_type=CONTENT_TYPE_LATEST)


def create_app(
    agent: AgentFactory,
    *,
    max_sessions: int = 50,
    drain_timeout: float = 60.0,
    stop_timeout: float = 5.0,
    routes: Sequence[BaseRoute] = (),
    browser: BrowserOptions | None = None,
    endpoint: str | None = None,
    credential: AzureKeyCredential | AsyncTokenCredential | None = None,
    api_key: str | None = None,
    session_options: Mapping[str, Any] | None = None,
    lifespan: Lifespan[Starlette] | None = None,
) -> Starlette:
    """The ASGI application serving ``agent``: one WebSocket connection, one conversation.

    Routes: ``/`` (the browser page), ``/voiceagent/*`` (its scripts), ``/ws`` (the
    browser protocol), ``/healthz`` (200 while the process runs), ``/readyz`` (200 when a
    new conversation would be admitted, 503 at capacity or while draining), ``/metrics``
    (Prometheus). ``routes`` come first, so they may replace any of these.

    Every WebSocket connection of the app, on any route, ``routes`` included, is admitted
    by the app's :class:`SessionHost` (``SessionHost.of(app)``): it counts against
    ``max_sessions``, is refused while draining, and its endpoint gets a
    :class:`Conversation` (``Conversation.of(websocket)``) to run its session with.

    Args:
        agent: An :class:`~voiceagent.Agent`, an ``Agent`` subclass or a factory function
            (see :data:`AgentFactory`).
        max_sessions: Conversations this process runs at once; the next connection is
            closed with code 1013 and ``/readyz`` answers 503.
        drain_timeout: On shutdown, seconds live conversations get to end on their own.
        stop_timeout: Then, seconds stopped conversations get to close.
        routes: More routes (carrier bridges, your own page).
        browser: How the browser endpoint talks to the page (default
            :class:`BrowserOptions`).
        endpoint: The Voice Live endpoint (default: from the environment).
        credential: The credential for every session (one shared
            ``DefaultAzureCredential`` serves every conversation; the app does not close
            it). Default: from the environment.
        api_key: An API key, when ``credential`` is None.
        session_options: Session option overrides for every conversation.
        lifespan: Starlette's lifespan context (start and stop what your tools need).
            It shuts down after the drain.

    Raises:
        ConfigurationError: A bad agent or limit.
    """
    settings: dict[str, Any] = {
        key: value
        for key, value in (("endpoint", endpoint), ("credential", credential), ("api_key", api_key))
        if value is not None
    }
    settings.update(session_options or {})
    host = SessionHost(
        agent,
        max_sessions=max_sessions,
        drain_timeout=drain_timeout,
        stop_timeout=stop_timeout,
        session_settings=settings,
    )
    browser_endpoint = BrowserEndpoint(browser or BrowserOptions())
    all_routes: list[BaseRoute] = [
        *routes,
        Route("/healthz", _healthz, name="healthz"),
        Route("/readyz", _readyz, name="readyz"),
        Route("/metrics", _metrics, name="metrics"),
        *browser_endpoint.routes(),
    ]
    app = Starlette(
        routes=all_routes,
        middleware=[Middleware(AdmissionMiddleware, host=host, routes=all_routes)],
        lifespan=lifespan,
    )
    app.state.voiceagent = host
    return app
