"""Serving an agent as a web service: one WebSocket connection, one conversation.

```python
from voiceagent.serve import create_app

app = create_app(WeatherAgent, max_sessions=50, drain_timeout=120)
# voiceagent serve agents.py:WeatherAgent --port 8000    (or any ASGI server)
```

The app (Starlette) serves a browser page at ``/``, the browser protocol at ``/ws``,
``/healthz``, ``/readyz`` (503 at capacity or while draining) and ``/metrics``
(Prometheus). It owns nothing global but counters: replicas of it scale out behind a load
balancer. Needs the ``serve`` extra: ``pip install "voiceagent[serve]"``.

## The session host: the contract for conversation endpoints

Every WebSocket connection of the app, on any route (the browser's, or carrier bridges
passed as ``create_app(..., routes=[...])``), is admitted by the app's
:class:`SessionHost` before its endpoint runs. At capacity or while draining the
connection is accepted and closed at once (1013 "server at capacity", 1001 "server is
shutting down"), and the endpoint never runs. An admitted connection is one
:class:`Conversation`, counted in ``voiceagent_active_sessions`` until the endpoint
returns. An endpoint runs its conversation like this::

    from starlette.routing import WebSocketRoute
    from voiceagent.serve import Conversation, create_app

    async def media(websocket):                      # a carrier's media stream
        conversation = Conversation.of(websocket)    # admitted: id, kind, agent
        await websocket.accept()
        source, sink = MyCarrierSource(websocket), MyCarrierSink(websocket)
        session = await conversation.new_session(source=source, sink=sink)
        result = await conversation.run(session, on_event=my_forwarder)
        ...                                          # say goodbye, close the socket

    app = create_app(MyAgent, routes=[WebSocketRoute("/carrier/media", media, name="carrier")])

- ``conversation.kind`` is the route's name (``"carrier"``): the ``kind`` label of its
  metrics. ``conversation.id`` is in every log line of the conversation (library logs
  too: :class:`ConversationLogFilter` puts it in ``%(conversation_id)s``).
- :meth:`Conversation.new_session` makes the session from the app's agent factory and
  connection settings; :meth:`Conversation.run` enters it and runs it to its end. Its
  events drive the metrics (turns, latency, interruptions, tool durations, errors);
  ``on_event`` sees each of its voiceagent events (:mod:`voiceagent.events`) too, in
  order.
- On shutdown (SIGTERM to ``voiceagent serve``) the host drains
  (:meth:`SessionHost.drain`): new connections are refused, ``/readyz`` answers 503, live
  conversations get ``drain_timeout`` seconds to end; the rest are stopped
  (:meth:`Conversation.stop`): ``run`` returns with ``conversation.stop_reason ==
  "shutdown"``, and the endpoint has ``stop_timeout`` seconds to say goodbye and close
  (1001) before its handler is cancelled.
- A connection outside the app (another framework) uses the same host with
  ``async with host.conversation(kind=...) as conversation:``, which raises
  :class:`ConversationRefused` (with the close code and reason) when it cannot admit.
"""

try:
    import prometheus_client as _prometheus_client
    import starlette as _starlette
    import uvicorn as _uvicorn
except ImportError as _exc:  # pragma: no cover - exercised without the extra installed
    from ..errors import MissingExtraError

    raise MissingExtraError(
        "voiceagent.serve needs starlette, uvicorn and prometheus-client: "
        'pip install "voiceagent[serve]"'
    ) from _exc

from ._app import AdmissionMiddleware as AdmissionMiddleware
from ._app import create_app as create_app
from ._browser import BrowserEndpoint as BrowserEndpoint
from ._browser import BrowserOptions as BrowserOptions
from ._browser_audio import BrowserSink as BrowserSink
from ._browser_audio import BrowserSource as BrowserSource
from ._browser_audio import MessageSender as MessageSender
from ._browser_audio import Outbox as Outbox
from ._client import BrowserClient as BrowserClient
from ._host import CLOSE_AT_CAPACITY as CLOSE_AT_CAPACITY
from ._host import CLOSE_GOING_AWAY as CLOSE_GOING_AWAY
from ._host import AgentFactory as AgentFactory
from ._host import Conversation as Conversation
from ._host import ConversationLogFilter as ConversationLogFilter
from ._host import ConversationRefused as ConversationRefused
from ._host import SessionHost as SessionHost
from ._host import current_conversation_id as current_conversation_id
from ._metrics import ServeMetrics as ServeMetrics
from ._protocol import PROTOCOL_VERSION as PROTOCOL_VERSION
from ._protocol import ProtocolError as ProtocolError
from ._server import DrainingServer as DrainingServer
from ._server import running as running
from ._server import serve as serve

del _prometheus_client, _starlette, _uvicorn

__all__ = [
    "CLOSE_AT_CAPACITY",
    "CLOSE_GOING_AWAY",
    "PROTOCOL_VERSION",
    "AdmissionMiddleware",
    "AgentFactory",
    "BrowserClient",
    "BrowserEndpoint",
    "BrowserOptions",
    "BrowserSink",
    "BrowserSource",
    "Conversation",
    "ConversationLogFilter",
    "ConversationRefused",
    "DrainingServer",
    "MessageSender",
    "Outbox",
    "ProtocolError",
    "ServeMetrics",
    "SessionHost",
    "create_app",
    "current_conversation_id",
    "running",
    "serve",
]
