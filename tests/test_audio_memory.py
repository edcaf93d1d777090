"""In-memory sources and sinks, and the real-time device simulation of MemorySink.

Real-time assertions compare the sink with the clock it runs on (anyio.current_time)
through bounds that hold however slow the machine is: a sleep lasts at least as long as
asked, so a sink can have played at least that much, and never more than the time that
really passed.
"""

from __future__ import annotations

import anyio
import pytest

from voiceagent.audio import (
    AudioFormat,
    Encoding,
    MemorySink,
    MemorySource,
    NullSink,
    SilenceSource,
)
from voiceagent.errors import AudioError, ConfigurationError

FMT = AudioFormat()  # 48 bytes a millisecond
ULAW = AudioFormat(encoding=Encoding.G711_ULAW, sample_rate=8000)
SLACK_MS = 1000 / 24000  # one sample


def ramp(ms: int) -> bytes:
    return bytes(i % 251 for i in range(48 * ms))


async def test_memory_source_frames_and_restarts() -> None:
    data = ramp(50)
    source = MemorySource(data, FMT, frame_ms=20)
    assert source.duration_ms == 50
    frames = [f async for f in source]
    assert [len(f) for f in frames] == [960, 960, 480]
    assert b"".join(frames) == data
    assert b"".join([f async for f in source]) == data


async def test_memory_source_realtime_paces() -> None:
    start = anyio.current_time()
    seen = 0.0
    async for frame in MemorySource(ramp(100), FMT, realtime=True):
        seen += len(frame) / 48
        assert anyio.current_time() - start >= seen / 1000 - 1e-4
    assert seen == 100


async def test_memory_source_checks_its_data_and_closes() -> None:
    with pytest.raises(AudioError, match="MemorySource data is 3 bytes, not a whole number"):
        MemorySource(b"abc", FMT)
    with pytest.raises(ConfigurationError, match="frame_ms must be a positive number, got -5"):
        MemorySource(b"", FMT, frame_ms=-5)
    source = MemorySource(ramp(100), FMT)
    async with source:
        pass
    with pytest.raises(anyio.ClosedResourceError, match="MemorySource is closed"):
        async for _ in source:
            pass


@pytest.mark.parametrize(
    ("fmt", "byte"),
    [(FMT, 0), (ULAW, 0xFF), (ULAW.__class__(encoding=Encoding.G711_ALAW, sample_rate=8000), 0xD5)],
)
async def test_silence_source(fmt: AudioFormat, byte: int) -> None:
    frames = [f async for f in SilenceSource(90, fmt)]
    assert b"".join(frames) == bytes([byte]) * fmt.bytes_for_ms(90)
    assert len(frames) == 5


async def test_endless_silence_and_bad_duration() -> None:
    count = 0
    async for frame in SilenceSource(None, frame_ms=10):
        assert frame == bytes(480)
        count += 1
        if count == 300:
            break
    with pytest.raises(ConfigurationError, match="duration_ms must be >= 0 or None, got -1"):
        SilenceSource(-1)


# --- MemorySink, not real time -------------------------------------------------------------


async def test_sink_consumes_at_once_and_records_writes() -> None:
    sink = MemorySink(FMT)
    before = anyio.current_time()
    await sink.write(ramp(20))
    await sink.write(ramp(10))
    sink.clear()
    await sink.drain()
    assert sink.data == sink.written == ramp(20) + ramp(10)
    assert sink.played_ms() == 30
    assert sink.queued_ms() == 0
    assert [(w.offset_ms, len(w.data)) for w in sink.writes] == [(0, 960), (20, 480)]
    assert all(before <= w.at <= anyio.current_time() for w in sink.writes)
    assert len(sink.clears) == 1
    assert "<960 bytes>" in repr(sink.writes[0])


# --- MemorySink, real time -----------------------------------------------------------------


async def test_realtime_sink_plays_at_real_time() -> None:
    sink = MemorySink(FMT, realtime=True)
    await sink.write(ramp(1000))
    start = sink.writes[0].at
    await anyio.sleep(0.1)
    played = sink.played_ms()
    elapsed_ms = (anyio.current_time() - start) * 1000
    assert 100 - SLACK_MS <= played <= elapsed_ms + SLACK_MS
    data = sink.data  # reading advances the simulated device: read once
    assert data == ramp(1000)[: len(data)]
    # Two readings, two instants: the device may play on between them.
    assert sink.played_ms() + sink.queued_ms() == pytest.approx(1000, abs=50)


async def test_realtime_clear_drops_the_unplayed_rest() -> None:
    sink = MemorySink(FMT, realtime=True)
    await sink.write(ramp(1000))
    await anyio.sleep(0.05)
    sink.clear()
    played = sink.played_ms()
    assert played >= 50 - SLACK_MS
    assert played + sink.cleared_ms == pytest.approx(1000)
    assert sink.queued_ms() == 0
    await anyio.sleep(0.05)
    assert sink.played_ms() == played  # nothing plays after clear
    await sink.drain()
    data = sink.data
    assert data == ramp(1000)[: len(data)]
    assert sink.written == ramp(1000)


async def test_realtime_drain_waits_for_playback() -> None:
    sink = MemorySink(FMT, realtime=True)
    await sink.write(ramp(60))
    await sink.write(ramp(40))
    await sink.drain()
    assert anyio.current_time() - sink.writes[0].at >= 0.1 - 1e-6
    assert sink.played_ms() == 100
    assert sink.data == ramp(60) + ramp(40)


async def test_realtime_underrun_pauses_the_play_clock() -> None:
    sink = MemorySink(FMT, realtime=True)
    await sink.write(ramp(30))
    await anyio.sleep(0.08)  # the queue ran dry after 30 ms
    assert sink.played_ms() == 30
    await sink.write(ramp(30))
    second = sink.writes[1].at
    # The second frame starts playing when written, not where the first one ended.
    assert sink.played_ms() <= 30 + (anyio.current_time() - second) * 1000 + SLACK_MS
    await sink.drain()
    assert anyio.current_time() - second >= 0.03 - 1e-6
    assert sink.played_ms() == 60


async def test_realtime_backpressure_bounds_the_queue() -> None:
    sink = MemorySink(FMT, realtime=True, max_buffer_ms=100)
    for _ in range(15):
        await sink.write(ramp(20))
        assert sink.queued_ms() <= 100
    assert anyio.current_time() - sink.writes[0].at >= 0.18 - 1e-6  # 300 - 100 - 20 ms
    with pytest.raises(ConfigurationError, match="max_buffer_ms must be > 0 or None"):
        MemorySink(max_buffer_ms=0)


async def test_realtime_close_drops_the_queue_and_freezes() -> None:
    sink = MemorySink(FMT, realtime=True)
    async with sink:
        await sink.write(ramp(500))
        await anyio.sleep(0.02)
        await sink.aclose()
        played = sink.played_ms()
        await anyio.sleep(0.03)
        assert sink.played_ms() == played
    assert len(sink.data) == 48 * played
    with pytest.raises(anyio.ClosedResourceError):
        await sink.write(ramp(20))


async def test_async_with_drains_on_success_only() -> None:
    async with MemorySink(FMT, realtime=True) as sink:
        await sink.write(ramp(50))
    assert sink.data == ramp(50)
    failing = MemorySink(FMT, realtime=True)

    async def fail() -> None:
        async with failing:
            await failing.write(ramp(500))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail()
    assert failing.closed
    assert len(failing.data) < len(ramp(500))


def test_data_reads_outside_an_event_loop() -> None:
    async def play() -> MemorySink:
        sink = MemorySink(FMT, realtime=True)
        await sink.write(ramp(40))
        await anyio.sleep(0.01)
        return sink  # left open

    sink = anyio.run(play)
    data = sink.data
    assert data == ramp(40)[: len(data)]
    assert sink.data == data  # outside the loop the state is as of the last call


async def test_null_sink_counts() -> None:
    sink = NullSink(ULAW)
    await sink.write(bytes(160))
    await sink.write(bytes(80))
    sink.clear()
    await sink.drain()
    assert (sink.frames, sink.written_bytes, sink.played_ms()) == (2, 240, 30)
