"""The typed event router: handlers registered per event class or wire type string.

``router.on(UserTranscript)`` types the handler's parameter as ``UserTranscript``; a
handler registered for a base class (``Event``, the SDK's ``ServerEvent``) sees every
subclass. Handlers run in registration order; a handler's exception is logged and,
unless the agent makes handler errors fatal, does not end the session.
"""

from __future__ import annotations

import inspect
import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, overload

import anyio
import attrs

from .errors import HandlerError

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream

__all__ = ["EventRouter", "EventStream", "Handler", "on"]

log = logging.getLogger("voiceagent.router")

E = TypeVar("E")
S = TypeVar("S")
R = TypeVar("R", bound="Awaitable[None] | None")
Handler = Callable[[E], "Awaitable[None] | None"]
"""A sync or async callable taking one event."""

_MARK = "__voiceagent_handlers__"
_order = itertools.count()


@attrs.frozen
class _Entry:
    key: type | str
    handler: Callable[[Any], Any]
    order: int


@overload
def on(event: type[E]) -> Callable[[Callable[[S, E], R]], Callable[[S, E], R]]: ...
@overload
def on(event: str) -> Callable[[Callable[[S, Any], R]], Callable[[S, Any], R]]: ...
def on(event: type[Any] | str) -> Callable[[Callable[[S, Any], R]], Callable[[S, Any], R]]:
    """Mark a method of an ``Agent`` subclass as a handler for ``event``.

    Args:
        event: A voiceagent event class, an SDK server event class, or a wire event type
            string such as ``"response.audio.delta"``.

    Returns:
        A decorator that marks the method and returns it unchanged.
    """
    _check_key(event)

    def mark(method: Callable[[S, Any], R]) -> Callable[[S, Any], R]:
        keys: list[type | str] = list(getattr(method, _MARK, ()))
        keys.append(event)
        setattr(method, _MARK, tuple(keys))
        return method

    return mark


def marked_handlers(cls: type) -> list[tuple[str, type | str]]:
    """The ``@on`` methods of ``cls`` (inherited ones included; overrides replace them),
    as (attribute name, event key) pairs in definition order, base classes first."""
    found: dict[str, tuple[type | str, ...]] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            keys = getattr(value, _MARK, None)
            if keys is not None:
                found.pop(name, None)
                found[name] = keys
            elif name in found:
                del found[name]  # overridden by an unmarked attribute
    return [(name, key) for name, keys in found.items() for key in keys]


def _check_key(event: object) -> None:
    if isinstance(event, str):
        if not event:
            raise TypeError("an event type string must not be empty")
        return
    if not isinstance(event, type):
        raise TypeError(
            f"handlers are registered for an event class or an event type string, not {event!r}"
        )


class EventRouter:
    """Handlers per event class and per wire event type string."""

    def __init__(self) -> None:
        self._entries: list[_Entry] = []
        self._cache: dict[tuple[type, str | None], tuple[Callable[[Any], Any], ...]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @overload
    def on(self, event: type[E]) -> Callable[[Callable[[E], R]], Callable[[E], R]]: ...
    @overload
    def on(self, event: str) -> Callable[[Callable[[Any], R]], Callable[[Any], R]]: ...
    def on(self, event: type[Any] | str) -> Callable[[Callable[[Any], R]], Callable[[Any], R]]:
        """Register the decorated function as a handler for ``event``.

        Args:
            event: An event class (its subclasses match too) or a wire type string.

        Returns:
            A decorator that registers the function and returns it unchanged.
        """
        _check_key(event)

        def register(handler: Callable[[Any], R]) -> Callable[[Any], R]:
            self.add(event, handler)
            return handler

        return register

    def add(self, event: type | str, handler: Callable[[Any], Any]) -> None:
        """Register ``handler`` for ``event`` (see :meth:`on`)."""
        _check_key(event)
        if not callable(handler):
            raise TypeError(f"handler {handler!r} for {event!r} is not callable")
        self._entries.append(_Entry(event, handler, next(_order)))
        self._cache.clear()

    def merged(self, other: EventRouter) -> EventRouter:
        """A router holding this router's handlers, then ``other``'s."""
        router = EventRouter()
        router._entries = [*self._entries, *other._entries]
        return router

    def handlers_for(self, event: object) -> tuple[Callable[[Any], Any], ...]:
        """The handlers for ``event``, in registration order."""
        cls = type(event)
        # SDK events are mappings: their raw "type" costs a tenth of the attribute.
        wire = event.get("type") if isinstance(event, Mapping) else getattr(event, "type", None)
        wire_key = wire if isinstance(wire, str) else None
        key = (cls, wire_key)
        cached = self._cache.get(key)
        if cached is None:
            matching = [
                entry
                for entry in self._entries
                if (isinstance(entry.key, type) and issubclass(cls, entry.key))
                or (wire_key is not None and entry.key == wire_key)
            ]
            matching.sort(key=lambda entry: entry.order)
            cached = self._cache[key] = tuple(entry.handler for entry in matching)
        return cached

    async def dispatch(self, event: object, *, fatal: bool = False) -> None:
        """Call every handler for ``event`` in order.

        Args:
            event: The event.
            fatal: Re-raise a handler's exception (as :class:`HandlerError`) instead of
                logging it and going on.

        Raises:
            HandlerError: A handler raised and ``fatal`` is set.
        """
        for handler in self.handlers_for(event):
            try:
                result = handler(event)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                name = getattr(handler, "__qualname__", repr(handler))
                if fatal:
                    raise HandlerError(
                        f"handler {name} failed on {type(event).__name__}: {exc!r}"
                    ) from exc
                log.exception("handler %s failed on %s", name, type(event).__name__)


class EventStream:
    """An async iterator over one subscription to a session's events."""

    def __init__(self, receive: MemoryObjectReceiveStream[object]) -> None:
        self._receive = receive

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> object:
        try:
            return await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        """Stop the subscription."""
        await self._receive.aclose()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # A reader that stops early (break) simply drops the stream: nothing to warn about.
        self._receive.close()
