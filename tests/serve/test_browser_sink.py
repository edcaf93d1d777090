"""``BrowserSink`` and ``BrowserSource`` over a real socket, with a client that plays at real
time and reports like the page: the sink contract (``check_audio_sink``), pause and
resume, the played listener, a clear while a write waits for room."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import anyio
import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from voiceagent.audio import AudioFormat, PausableSink, PositionReportingSink
from voiceagent.serve import (
    BrowserClient,
    BrowserOptions,
    BrowserSink,
    BrowserSource,
    Outbox,
    ProtocolError,
)
from voiceagent.serve._protocol import Played, parse_client_message
from voiceagent.testing import check_audio_sink, check_audio_source

from .conftest import served, until

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from anyio.streams.memory import MemoryObjectSendStream
    from starlette.websockets import WebSocket

PCM = AudioFormat()


@contextlib.asynccontextmanager
async def sinks(
    **sink_options: float,
) -> AsyncIterator[tuple[str, anyio.abc.ObjectReceiveStream[BrowserSink]]]:
    """An app whose ``/sink`` socket hands the test a BrowserSink talking to that client."""
    send, receive = anyio.create_memory_object_stream[BrowserSink](8)

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        outbox = Outbox()
        sink = BrowserSink(outbox, PCM, **sink_options)
        outbox.put_nowait(
            '{"type":"welcome","protocol":1,"conversation":"test",'
            '"input":{"encoding":"pcm16","sample_rate":24000,"channels":1},'
            '"output":{"encoding":"pcm16","sample_rate":24000,"channels":1},'
            '"report_ms":20,"prebuffer_ms":60}'
        )
        await hand(send, sink)
        async with anyio.create_task_group() as tg:
            tg.start_soon(outbox.run, websocket)
            tg.start_soon(hang_up_when_closed, sink, websocket)
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message.get("text"):
                    played = parse_client_message(message["text"])
                    assert isinstance(played, Played)
                    sink.report(played.samples, played.epoch, playing=played.playing)
            sink.client_left()
            tg.cancel_scope.cancel()

    app = Starlette(routes=[WebSocketRoute("/sink", endpoint)])
    async with served(app) as base, send, receive:
        yield base.replace("http", "ws") + "/sink", receive


async def hand(send: MemoryObjectSendStream[BrowserSink], sink: BrowserSink) -> None:
    await send.send(sink)


async def hang_up_when_closed(sink: BrowserSink, websocket: WebSocket) -> None:
    """Once the check closed the sink, the server ends the connection (as the app does)."""
    await until(lambda: sink.closed, timeout=120)
    await websocket.close()


async def test_browser_sink_passes_the_sink_contract() -> None:
    async with sinks(extrapolate_ms=30) as (url, made), contextlib.AsyncExitStack() as stack:

        async def factory() -> BrowserSink:
            await stack.enter_async_context(BrowserClient(url))
            return await made.receive()

        await check_audio_sink(factory, tolerance_ms=20)


async def test_browser_sink_without_extrapolation_passes_too() -> None:
    async with sinks() as (url, made), contextlib.AsyncExitStack() as stack:

        async def factory() -> BrowserSink:
            await stack.enter_async_context(BrowserClient(url))
            return await made.receive()

        await check_audio_sink(factory, tolerance_ms=25)


async def test_pause_holds_the_position_and_resume_plays_on() -> None:
    async with sinks(extrapolate_ms=30) as (url, made), BrowserClient(url) as client:
        sink = await made.receive()
        assert isinstance(sink, PausableSink)
        assert isinstance(sink, PositionReportingSink)
        changes: list[float] = []
        sink.set_played_listener(lambda: changes.append(sink.played_ms()))
        await sink.write(PCM.silence(400))
        await until(lambda: sink.played_ms() >= 100)
        sink.pause()
        await until(lambda: client._paused)
        await anyio.sleep(0.05)  # reports from before the pause may still come in
        held = sink.played_ms()
        await anyio.sleep(0.2)
        assert sink.played_ms() == pytest.approx(held, abs=1)
        assert client.played / 24 == pytest.approx(held, abs=25)
        sink.resume()
        with anyio.fail_after(5):
            await sink.drain()
        assert sink.played_ms() == pytest.approx(400, abs=1)
        assert client.played == 400 * 24
        assert changes == sorted(changes)
        assert len(changes) > 5  # the listener hears every report that moves the position
        sink.set_played_listener(None)


async def test_clear_drops_a_write_waiting_for_room() -> None:
    async with sinks(max_ahead_ms=100) as (url, made), BrowserClient(url) as client:
        sink = await made.receive()
        await sink.write(PCM.silence(100))
        async with anyio.create_task_group() as tg:
            done = anyio.Event()

            async def blocked() -> None:
                await sink.write(PCM.silence(100))
                done.set()

            tg.start_soon(blocked)
            await anyio.sleep(0.01)
            assert not done.is_set()  # 100 ms are out, none played yet: no room
            sink.clear()
            with anyio.fail_after(1):
                await done.wait()
        await until(lambda: client.epoch == 1)
        assert client.received == 100 * 24  # the blocked frame was never sent
        at_clear = sink.played_ms()
        await sink.write(PCM.silence(60))
        with anyio.fail_after(5):
            await sink.drain()
        assert sink.played_ms() == pytest.approx(at_clear + 60, abs=1)


async def test_reports_that_break_the_rules_are_protocol_errors() -> None:
    sink = BrowserSink(Outbox(), PCM)
    sink.report(100, 0)
    with pytest.raises(ProtocolError, match="went down"):
        sink.report(50, 0)
    with pytest.raises(ProtocolError, match="never sent"):
        sink.report(200, 1)
    await sink.aclose()


async def test_browser_source_passes_the_source_contract() -> None:
    def make() -> BrowserSource:
        source = BrowserSource(PCM)
        for _ in range(5):
            source.feed(PCM.silence(20))
        source.finish()
        return source

    await check_audio_source(make)


async def test_browser_source_drops_the_oldest_audio_when_the_session_lags() -> None:
    source = BrowserSource(PCM, max_buffer_ms=100)
    for _ in range(10):
        source.feed(PCM.silence(20))
    source.finish()
    frames = [frame async for frame in source]
    assert sum(len(f) for f in frames) == PCM.bytes_for_ms(100)
    assert source.dropped_ms == pytest.approx(100)
    assert source.received_ms == pytest.approx(200)
    with pytest.raises(ProtocolError, match="whole"):
        BrowserSource(PCM).feed(b"\x00")
    assert BrowserOptions().input_format == PCM
