"""The typed event router: handlers registered per event class or wire type string.

``router.on(UserTranscript)`` types the handler's parameter as ``UserTranscript``; a
handler registered for a base class (``Event``, the SDK's ``ServerEvent``) sees every
subclass. A handler takes the event, or the event and the
:class:`~voiceagent.AgentSession` it happened in (``def h(event, session)``), so that one
agent serving many conversations can tell them apart, speak (``session.say``) or end one.
Handlers run in registration order; a handler's exception is logged and, unless the
agent makes handler errors fatal, does not end the session.
"""

from __future__ import annotations

import inspect
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload

import attrs

from .errors import HandlerError

if TYPE_CHECKING:
    from ._session import AgentSession

__all__ = [
    "EventRouter",
    "Handler",
    "HandlerEntry",
    "MethodRegistrar",
    "Registrar",
    "call_handlers",
    "on",
    "takes_session",
]

log = logging.getLogger("voiceagent.router")

E = TypeVar("E")
S = TypeVar("S")
R = TypeVar("R", bound="Awaitable[None] | None")
Handler = Callable[[E], "Awaitable[None] | None"]
"""A sync or async callable taking one event (and, optionally, the session)."""

_MARK = "__voiceagent_handlers__"
_order = itertools.count()


class Registrar(Protocol[E]):
    """What ``agent.on(EventClass)`` returns: a decorator for a handler taking the event,
    or the event and the session."""

    @overload
    def __call__(self, handler: Callable[[E], R], /) -> Callable[[E], R]: ...
    @overload
    def __call__(
        self, handler: Callable[[E, AgentSession], R], /
    ) -> Callable[[E, AgentSession], R]: ...


class MethodRegistrar(Protocol[E]):
    """What ``@on(EventClass)`` returns: a decorator for an ``Agent`` method taking the
    event, or the event and the session."""

    @overload
    def __call__(self, method: Callable[[S, E], R], /) -> Callable[[S, E], R]: ...
    @overload
    def __call__(
        self, method: Callable[[S, E, AgentSession], R], /
    ) -> Callable[[S, E, AgentSession], R]: ...


@attrs.frozen
class HandlerEntry:
    """One registered handler.

    Attributes:
        key: The event class or wire type string it was registered for.
        handler: The callable.
        order: Registration order across every router.
        with_session: Whether it takes the session as its second argument.
    """

    key: type | str
    handler: Callable[..., Any]
    order: int
    with_session: bool

    async def call(self, event: object, session: AgentSession | None) -> None:
        """Call the handler (awaiting it if it is async)."""
        result = self.handler(event, session) if self.with_session else self.handler(event)
        if inspect.isawaitable(result):
            await result


def takes_session(handler: Callable[..., Any]) -> bool:
    """Whether ``handler`` takes two positional arguments (the event and the session).

    A callable whose signature cannot be read (a builtin such as ``print``) or that takes
    ``*args`` gets the event only.
    """
    try:
        parameters = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [
        p
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    return len(positional) >= 2


@overload
def on(event: type[E]) -> MethodRegistrar[E]: ...
@overload
def on(event: str) -> MethodRegistrar[Any]: ...
def on(event: type[Any] | str) -> MethodRegistrar[Any]:
    """Mark a method of an ``Agent`` subclass as a handler for ``event``.

    The method takes the event (``def heard(self, event)``), or the event and the session
    it happened in (``def heard(self, event, session)``).

    Args:
        event: A voiceagent event class, an SDK server event class, or a wire event type
            string such as ``"response.audio.delta"``.

    Returns:
        A decorator that marks the method and returns it unchanged.
    """
    _check_key(event)

    def mark(method: Callable[..., Any]) -> Callable[..., Any]:
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
        self._entries: list[HandlerEntry] = []
        self._cache: dict[tuple[type, str | None], tuple[HandlerEntry, ...]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @overload
    def on(self, event: type[E]) -> Registrar[E]: ...
    @overload
    def on(self, event: str) -> Registrar[Any]: ...
    def on(self, event: type[Any] | str) -> Registrar[Any]:
        """Register the decorated function as a handler for ``event``.

        Args:
            event: An event class (its subclasses match too) or a wire type string.

        Returns:
            A decorator that registers the function and returns it unchanged. The function
            takes the event, or the event and the session.
        """
        _check_key(event)

        def register(handler: Callable[..., Any]) -> Callable[..., Any]:
            self.add(event, handler)
            return handler

        return register

    def add(self, event: type | str, handler: Callable[..., Any]) -> None:
        """Register ``handler`` for ``event`` (see :meth:`on`)."""
        _check_key(event)
        if not callable(handler):
            raise TypeError(f"handler {handler!r} for {event!r} is not callable")
        self._entries.append(HandlerEntry(event, handler, next(_order), takes_session(handler)))
        self._cache.clear()

    def handlers_for(self, cls: type, wire: str | None) -> tuple[HandlerEntry, ...]:
        """The handlers for an event of class ``cls`` and wire type ``wire``, in
        registration order."""
        key = (cls, wire)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = tuple(
                entry
                for entry in self._entries
                if (isinstance(entry.key, type) and issubclass(cls, entry.key))
                or (wire is not None and entry.key == wire)
            )
        return cached

    async def dispatch(
        self, event: object, *, session: AgentSession | None = None, fatal: bool = False
    ) -> None:
        """Call every handler for ``event`` in order.

        Args:
            event: The event.
            session: The session it happened in (for handlers that take it).
            fatal: Re-raise a handler's exception (as :class:`HandlerError`) instead of
                logging it and going on.

        Raises:
            HandlerError: A handler raised and ``fatal`` is set.
        """
        wire = getattr(event, "type", None)
        entries = self.handlers_for(type(event), wire if isinstance(wire, str) else None)
        await call_handlers(entries, event, session=session, fatal=fatal)


async def call_handlers(
    entries: tuple[HandlerEntry, ...],
    event: object,
    *,
    session: AgentSession | None,
    fatal: bool,
) -> None:
    """Call ``entries`` on ``event`` in order (see :meth:`EventRouter.dispatch`)."""
    for entry in entries:
        try:
            await entry.call(event, session)
        except Exception as exc:
            name = getattr(entry.handler, "__qualname__", repr(entry.handler))
            if fatal:
                raise HandlerError(
                    f"handler {name} failed on {type(event).__name__}: {exc!r}"
                ) from exc
            log.exception("handler %s failed on %s", name, type(event).__name__)
