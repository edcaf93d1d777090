"""The event fan-out (``voiceagent._fanout``): publishing never waits for a consumer."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio

from voiceagent._fanout import EventBus
from voiceagent._router import EventRouter
from voiceagent.events import EndReason, EventsDropped, SessionEnded, UserTranscript

if TYPE_CHECKING:
    import pytest

    from voiceagent.errors import HandlerError


def transcript(n: int) -> UserTranscript:
    return UserTranscript(item_id=f"u{n}", text=str(n))


def make_bus(
    router: EventRouter | None = None, *, buffer: int = 4, fatal: bool = False
) -> tuple[EventBus, list[HandlerError]]:
    errors: list[HandlerError] = []
    return EventBus(
        [router or EventRouter()], buffer=buffer, fatal=fatal, on_fatal=errors.append
    ), errors


async def test_a_full_subscription_discards_its_oldest_and_says_how_many(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus, _ = make_bus()
    stream = bus.subscribe((), 3)
    for n in range(10):
        bus.publish(transcript(n))  # never waits
    assert "events behind" in caplog.text
    await bus.close(SessionEnded(reason=EndReason.ENDED))
    got = [event async for event in stream]
    # 7 fell out while publishing, and one more to make room for SessionEnded.
    assert got == [EventsDropped(count=8), transcript(8), transcript(9), got[-1]]
    assert isinstance(got[-1], SessionEnded)


async def test_filters_pick_classes_and_wire_types() -> None:
    bus, _ = make_bus()
    only = bus.subscribe((UserTranscript,), 10)
    other = bus.subscribe(("response.done",), 10)
    bus.publish(transcript(1))
    await bus.close(SessionEnded(reason=EndReason.ENDED))
    assert [type(e).__name__ async for e in only] == ["UserTranscript", "SessionEnded"]
    assert [type(e).__name__ async for e in other] == ["SessionEnded"]


async def test_slow_handlers_lose_the_oldest_events_not_the_publisher_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = EventRouter()
    seen: list[str] = []
    gate = anyio.Event()

    async def slow(event: UserTranscript) -> None:
        await gate.wait()
        seen.append(event.text)

    router.add(UserTranscript, slow)
    bus, _ = make_bus(router, buffer=3)
    async with anyio.create_task_group() as tg:
        await tg.start(bus.run)
        bus.publish(transcript(0))
        await anyio.sleep(0.01)  # the handler is now waiting on the gate with event 0
        for n in range(1, 10):
            bus.publish(transcript(n))
        gate.set()
        await anyio.sleep(0.05)
        tg.cancel_scope.cancel()
    assert "handlers are 3 events behind" in caplog.text
    assert seen[0] == "0"  # the one in progress
    assert seen[-3:] == ["7", "8", "9"]
    assert len(seen) == 4


async def test_handlers_can_take_the_session_and_fatal_errors_are_reported() -> None:
    router = EventRouter()
    got: list[tuple[str, object]] = []
    router.add(UserTranscript, lambda event, session: got.append((event.text, session)))
    router.add(UserTranscript, lambda event: 1 / 0)
    bus, errors = make_bus(router, fatal=True)
    marker = object()
    bus.session = marker  # type: ignore[assignment]
    async with anyio.create_task_group() as tg:
        await tg.start(bus.run)
        bus.publish(transcript(1))
        await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    assert got == [("1", marker)]
    assert len(errors) == 1
    assert "ZeroDivisionError" in str(errors[0])


async def test_handlers_that_hang_at_the_end_are_given_up_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    router = EventRouter()

    async def hang(event: SessionEnded) -> None:
        await anyio.sleep_forever()

    router.add(SessionEnded, hang)
    bus, _ = make_bus(router)
    with anyio.fail_after(2):
        await bus.close(SessionEnded(reason=EndReason.ENDED), grace_s=0.05)
    assert "did not finish" in caplog.text


async def test_a_subscription_after_the_end_is_empty() -> None:
    bus, _ = make_bus()
    await bus.close(SessionEnded(reason=EndReason.ENDED))
    assert [e async for e in bus.subscribe((), 5)] == []
