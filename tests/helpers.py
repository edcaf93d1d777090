"""Helpers for tests that talk to the emulator through the real SDK."""

from __future__ import annotations

import contextlib
from enum import Enum
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from azure.ai.voicelive.aio import VoiceLiveConnection
    from azure.ai.voicelive.models import ServerEvent

    from voiceagent import AgentSession
    from voiceagent.events import AgentTranscript
    from voiceagent.testing import Emulator, EmulatorConnection


async def recv_until(
    conn: VoiceLiveConnection,
    stop: str | Callable[[ServerEvent], bool],
    *,
    timeout: float = 10.0,
) -> list[Any]:
    """Receive events until one of type ``stop`` (or matching ``stop``) arrives; return all.

    The events are the SDK's ``ServerEvent`` subclasses, typed ``Any`` so that tests read
    the fields of the concrete class (the conformance test asserts the classes).
    """
    events: list[Any] = []
    matches = (lambda e: type_of(e) == stop) if isinstance(stop, str) else stop
    with anyio.fail_after(timeout):
        while True:
            event = await conn.recv()
            events.append(event)
            if matches(event):
                return events


def type_of(event: ServerEvent) -> str:
    """An event's ``type`` as a plain string (the SDK may hold an enum member)."""
    kind = event.type
    return kind.value if isinstance(kind, Enum) else str(kind)


def types(events: list[ServerEvent]) -> list[str]:
    """The ``type`` of each event."""
    return [type_of(e) for e in events]


async def create_item(
    conn: VoiceLiveConnection,
    *,
    item: dict[str, Any],
    previous_item_id: str | None = None,
    event_id: str | None = None,
) -> None:
    """Send ``conversation.item.create`` with a plain-dict item through ``conn.send``.

    (The SDK's ``conversation.item.create(item=dict)`` only takes fields of the base
    item model; typed items like ``UserMessageItem`` go through it, dicts through here.)
    """
    event: dict[str, Any] = {"type": "conversation.item.create", "item": item}
    if previous_item_id is not None:
        event["previous_item_id"] = previous_item_id
    if event_id is not None:
        event["event_id"] = event_id
    await conn.send(event)


def is_a(obj: object, cls: type) -> Any:
    """Assert that ``obj`` is a ``cls`` and return it untyped, for reading SDK model fields
    (typed Optional throughout) without a ``None`` check on each."""
    assert isinstance(obj, cls), f"{type(obj).__name__} is not a {cls.__name__}"
    return obj


def connect_args(emu: Emulator) -> dict[str, Any]:
    """The endpoint and credential arguments that point a session at ``emu``."""
    return {"endpoint": emu.endpoint, "credential": emu.credential}


@contextlib.asynccontextmanager
async def agent_transcripts(
    session: AgentSession, count: int, *, timeout: float = 10.0
) -> AsyncIterator[list[AgentTranscript]]:
    """Collect the session's final agent transcripts; on exit, wait until ``count`` arrived.

    The subscription starts before the body runs, so nothing the body causes is missed.
    """
    from voiceagent.events import AgentTranscript

    collected: list[AgentTranscript] = []
    stream = session.events()
    yield collected
    with anyio.fail_after(timeout):
        async for event in stream:
            if isinstance(event, AgentTranscript):
                collected.append(event)
                if len(collected) >= count:
                    break
    await stream.aclose()


async def wait_closed(connection: EmulatorConnection, timeout: float = 5.0) -> None:
    """Wait until the emulator has seen ``connection`` close (the close is asynchronous)."""
    with anyio.fail_after(timeout):
        while not connection.closed:  # noqa: ASYNC110 - a flag of the emulator's, no event
            await anyio.sleep(0.005)


def secret_paths(root: object, secret: str) -> list[str]:
    """Where ``secret`` shows in the object graph reachable from an exception: its repr
    and str, its ``__cause__``, ``__context__``, args, attributes, grouped exceptions,
    recursively (containers and objects included). Empty when nothing holds it."""
    found: list[str] = []
    seen: set[int] = set()

    def walk(obj: object, path: str, depth: int) -> None:
        if id(obj) in seen or depth > 12:
            return
        seen.add(id(obj))
        if isinstance(obj, str | bytes):
            text = obj.decode(errors="replace") if isinstance(obj, bytes) else obj
            if secret in text:
                found.append(path)
            return
        try:
            shown = repr(obj) + (str(obj) if isinstance(obj, BaseException) else "")
        except Exception:  # a repr that fails shows nothing
            shown = ""
        if secret in shown:
            found.append(f"{path} (repr)")
        children: list[tuple[str, object]] = []
        if isinstance(obj, BaseException):
            children += [("__cause__", obj.__cause__), ("__context__", obj.__context__)]
            children += [(f"args[{i}]", a) for i, a in enumerate(obj.args)]
            children += [
                (f"exceptions[{i}]", e) for i, e in enumerate(getattr(obj, "exceptions", ()))
            ]
        if isinstance(obj, dict):
            children += [(f"[{k!r}]", v) for k, v in obj.items()]
            children += [(f"key {k!r}", k) for k in obj]
        elif isinstance(obj, list | tuple | set | frozenset):
            children += [(f"[{i}]", v) for i, v in enumerate(obj)]
        attributes = getattr(obj, "__dict__", None)
        if isinstance(attributes, dict):
            children += [(f".{k}", v) for k, v in attributes.items()]
        for slot in getattr(type(obj), "__slots__", ()):
            if isinstance(slot, str) and hasattr(obj, slot):
                children.append((f".{slot}", getattr(obj, slot)))
        for name, child in children:
            if child is not None:
                walk(child, path + name, depth + 1)

    walk(root, "error", 0)
    return found
