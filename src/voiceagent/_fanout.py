"""Delivering a session's events to its handlers and subscribers without ever waiting
for them.

The receive loop decides barge-in; nothing a consumer does may hold it up. So
:meth:`EventBus.publish` is synchronous and never blocks:

- **handlers** (``@agent.on``, ``session.on``) run one event at a time in the session's
  dispatch task, fed by a bounded queue; if they fall that far behind, the oldest queued
  events are discarded, with a warning;
- **subscriptions** (``session.events()``) each have their own bounded buffer: one that is
  not read loses its oldest events (and then reads an
  :class:`~voiceagent.events.EventsDropped` saying how many), never the others' and never
  the session's time.

Wire events reach consumers as the SDK's event objects, built only when somebody asked
for their class or type (building one costs more than everything else the session does
with the event).
"""

from __future__ import annotations

import collections
import logging
from typing import TYPE_CHECKING, Any

import anyio

from ._aio import event_factory
from ._router import HandlerEntry, call_handlers
from .errors import ConfigurationError, HandlerError
from .events import EventsDropped, SessionEnded

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ._recorder import Recorder as Observer
    from ._router import EventRouter
    from ._session import AgentSession
    from ._translate import Raw

__all__ = [
    "CLOSE_TIMEOUT_S",
    "DEFAULT_BUFFER",
    "EventBus",
    "EventStream",
    "check_buffer",
    "sdk_event_class",
]

log = logging.getLogger("voiceagent.session")

DEFAULT_BUFFER = 1024
"""Events a subscription, or the handlers' queue, holds before discarding its oldest."""
CLOSE_TIMEOUT_S = 5.0
"""How long handlers get, when a session ends, for the events still queued for them."""


def check_buffer(buffer: object, what: str) -> int:
    """``buffer`` if it is a whole number >= 1, else a :class:`ConfigurationError`."""
    if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 1:
        raise ConfigurationError(f"{what} must be a whole number of events >= 1, not {buffer!r}")
    return buffer


_SDK_CLASSES: dict[str, type] = {}


def sdk_event_class(wire: str) -> type:
    """The SDK's class for a server event type (the base ``ServerEvent`` if unknown)."""
    cls = _SDK_CLASSES.get(wire)
    if cls is None:
        from azure.ai.voicelive.models import ServerEvent

        mapping: dict[str, type] = getattr(ServerEvent, "__mapping__", {})
        cls = _SDK_CLASSES[wire] = mapping.get(wire, ServerEvent)
    return cls


def _sdk_event(raw: Raw) -> object:
    from azure.ai.voicelive.models import ServerEvent

    # Exactly what VoiceLiveConnection.recv() does with a frame.
    return ServerEvent._deserialize(dict(raw), [])  # type: ignore[no-untyped-call]


class EventStream:
    """An async iterator over one subscription to a session's events.

    Made by :meth:`AgentSession.events`. It holds at most ``buffer`` events: when the
    reader falls that far behind, the oldest are discarded (with a warning in the log) and
    the next item read is an :class:`~voiceagent.events.EventsDropped` saying how many, so
    a reader that stops never holds the session up. The stream ends after
    :class:`~voiceagent.events.SessionEnded`.
    """

    def __init__(self, keys: Sequence[type | str], buffer: int) -> None:
        self._classes = tuple(key for key in keys if isinstance(key, type))
        self._wires = frozenset(key for key in keys if isinstance(key, str))
        self._all = not keys
        self._buffer = buffer
        self._queue: collections.deque[object] = collections.deque()
        self._dropped = 0  # not yet reported to the reader
        self._dropped_total = 0  # in the current episode, for the log
        self._closed = False
        self._ready: anyio.Event | None = None

    def wants(self, cls: type, wire: str | None) -> bool:
        """Whether this subscription asked for events of class ``cls`` / type ``wire``."""
        return (
            self._all
            or issubclass(cls, self._classes)
            or (wire is not None and wire in self._wires)
        )

    def offer(self, event: object) -> None:
        """Queue ``event`` (never blocks; the oldest is discarded when full)."""
        if self._closed:
            return
        if len(self._queue) >= self._buffer:
            self._queue.popleft()
            self._dropped += 1
            if self._dropped_total == 0:
                log.warning(
                    "a session.events() subscriber is %d events behind: its oldest events "
                    "are being discarded (read it faster, ask only for the events it needs "
                    "with events(EventClass, ...), or give it a bigger buffer=)",
                    self._buffer,
                )
            self._dropped_total += 1
        self._queue.append(event)
        if self._ready is not None:
            self._ready.set()

    def close(self) -> None:
        """End the stream once what is queued has been read."""
        self._closed = True
        if self._ready is not None:
            self._ready.set()

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> object:
        while True:
            if self._dropped:
                count, self._dropped = self._dropped, 0
                return EventsDropped(count=count)
            if self._queue:
                event = self._queue.popleft()
                if not self._queue and self._dropped_total:
                    log.info(
                        "a session.events() subscriber caught up; %d events were discarded",
                        self._dropped_total,
                    )
                    self._dropped_total = 0
                return event
            if self._closed:
                raise StopAsyncIteration
            self._ready = anyio.Event()
            await self._ready.wait()

    async def aclose(self) -> None:
        """Stop the subscription (what is queued is discarded)."""
        self._closed = True
        self._queue.clear()
        self._dropped = 0
        if self._ready is not None:
            self._ready.set()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class EventBus:
    """One session's fan-out: handlers (agent's, then the session's own) and subscriptions.

    Args:
        routers: The routers whose handlers run, in order.
        buffer: How many events wait for the handlers before the oldest are discarded.
        fatal: Whether a handler's exception ends the session (``on_fatal`` is called).
        on_fatal: Called with the :class:`HandlerError` of a failing handler when ``fatal``.
    """

    def __init__(
        self,
        routers: Sequence[EventRouter],
        *,
        buffer: int,
        fatal: bool,
        on_fatal: Callable[[HandlerError], None],
    ) -> None:
        self._routers = tuple(routers)
        self._buffer = buffer
        self._fatal = fatal
        self._on_fatal = on_fatal
        self._pending: collections.deque[tuple[object, tuple[HandlerEntry, ...]]] = (
            collections.deque()
        )
        self._dropped = 0
        self._wake: anyio.Event | None = None
        self._subscriptions: list[EventStream] = []
        self._closed = False
        self.session: AgentSession | None = None
        """The session handlers get as their second argument."""
        self.observer: Observer | None = None
        """Sees every event as it is published, synchronously (the session's recorder:
        telemetry and the report). It must be quick and must not raise."""

    # -- subscribing -------------------------------------------------------------------

    def subscribe(self, keys: Sequence[type | str], buffer: int) -> EventStream:
        """A new subscription (ended at once if the bus is closed)."""
        stream = EventStream(keys, buffer)
        if self._closed:
            stream.close()
        else:
            self._subscriptions.append(stream)
        return stream

    # -- publishing --------------------------------------------------------------------

    def publish(self, event: object) -> None:
        """Hand a voiceagent event to whoever asked for it. Never blocks."""
        if self.observer is not None:
            self.observer.event(event)
        cls = type(event)
        handlers = self._handlers(cls, None)
        if handlers:
            self._queue(event, handlers)
        for stream in self._subscriptions:
            if stream.wants(cls, None):
                stream.offer(event)

    def publish_wire(self, raw: Raw, wire: str) -> None:
        """Hand a wire event, as the SDK's event object, to whoever asked for it."""
        if self.observer is not None:
            self.observer.wire(raw, wire)
        cls = sdk_event_class(wire)
        handlers = self._handlers(cls, wire)
        streams = [s for s in self._subscriptions if s.wants(cls, wire)]
        if not handlers and not streams:
            return
        event = _sdk_event(raw)
        if handlers:
            self._queue(event, handlers)
        for stream in streams:
            stream.offer(event)

    def listened(self, wire: str) -> bool:
        """Whether anyone asked for wire events of type ``wire``."""
        cls = sdk_event_class(wire)
        return bool(self._handlers(cls, wire)) or any(
            s.wants(cls, wire) for s in self._subscriptions
        )

    def _handlers(self, cls: type, wire: str | None) -> tuple[HandlerEntry, ...]:
        if len(self._routers) == 1:
            return self._routers[0].handlers_for(cls, wire)
        found: list[HandlerEntry] = []
        for router in self._routers:
            found.extend(router.handlers_for(cls, wire))
        return tuple(found)

    def _queue(self, event: object, handlers: tuple[HandlerEntry, ...]) -> None:
        if self._closed:
            return
        if len(self._pending) >= self._buffer:
            dropped, _ = self._pending.popleft()
            if self._dropped == 0:
                log.warning(
                    "event handlers are %d events behind: the oldest are being discarded "
                    "(first: %s); a handler that takes long should hand its work to a task",
                    self._buffer,
                    type(dropped).__name__,
                )
            self._dropped += 1
        self._pending.append((event, handlers))
        if self._wake is not None:
            self._wake.set()

    # -- running -----------------------------------------------------------------------

    async def run(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        """The dispatch loop: run the handlers, one event at a time, until cancelled."""
        new_event = event_factory()
        task_status.started()
        while True:
            while not self._pending:
                if self._dropped:
                    log.info("event handlers caught up; %d events were discarded", self._dropped)
                    self._dropped = 0
                self._wake = new_event()
                await self._wake.wait()
            event, handlers = self._pending.popleft()
            try:
                await call_handlers(handlers, event, session=self.session, fatal=self._fatal)
            except HandlerError as exc:
                self._on_fatal(exc)

    async def close(self, ended: SessionEnded, *, grace_s: float = CLOSE_TIMEOUT_S) -> None:
        """Deliver what is still queued and ``ended`` to the handlers (errors logged, not
        fatal; ``grace_s`` seconds at most, then the rest is dropped with a warning), then
        ``ended`` to every subscription, and end them."""
        if self.observer is not None and not self._closed:
            self.observer.event(ended)
        self._closed = True
        for stream in self._subscriptions:
            stream.offer(ended)
            stream.close()
        self._subscriptions.clear()
        pending = list(self._pending)
        self._pending.clear()
        pending.append((ended, self._handlers(SessionEnded, None)))
        with anyio.move_on_after(grace_s) as scope:
            for event, handlers in pending:
                await call_handlers(handlers, event, session=self.session, fatal=False)
        if scope.cancelled_caught:
            log.warning(
                "event handlers did not finish within %g s of the session's end; the events "
                "left were dropped",
                grace_s,
            )
