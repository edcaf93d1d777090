"""The carrier sinks against an in-process far end (the simulators' playout model):
the AudioSink contract (check_audio_sink), marks, clears and blocked writes."""

from __future__ import annotations

import base64
import json

import anyio
import pytest

from voiceagent.audio import AudioFormat, PositionReportingSink
from voiceagent.errors import ConfigurationError
from voiceagent.telephony import ULAW_8K, AcsSink, TwilioSink
from voiceagent.testing import check_audio_sink, check_audio_source
from voiceagent.testing._carriers import Playout


class TwilioFarEnd:
    """Twilio's buffer: plays media at real time, echoes marks once played, clears."""

    def __init__(self, sink: TwilioSink) -> None:
        self.sink = sink
        self.playout = Playout(ULAW_8K)
        self.messages: list[dict[str, object]] = []
        self._wake = anyio.Event()
        self.lateness = 0.0
        """How late (seconds) the clock played the last due change: on a loaded machine
        the echoes of marks come that much late, as a network delays them."""

    def _echo(self, names: list[str]) -> None:
        for name in names:
            self.sink.mark_played(name)

    async def send(self, text: str) -> None:
        message = json.loads(text)
        self.messages.append(message)
        now = anyio.current_time()
        assert message["streamSid"] == self.sink.stream_sid
        if message["event"] == "media":
            self._echo(self.playout.add(base64.b64decode(message["media"]["payload"]), now))
        elif message["event"] == "mark":
            self._echo(self.playout.add_mark(message["mark"]["name"], now))
        elif message["event"] == "clear":
            self._echo(self.playout.clear(now))
        self._wake.set()

    async def clock(self) -> None:
        while True:
            self._wake = anyio.Event()
            due = self.playout.next_change()
            if due is None:
                await self._wake.wait()
                continue
            with anyio.move_on_after(max(0.0, due - anyio.current_time())):
                await self._wake.wait()
            now = anyio.current_time()
            self.lateness = max(0.0, now - due)
            self._echo(self.playout.advance(now))


class AcsFarEnd:
    """ACS's buffer: plays AudioData at real time, drops it on StopAudio."""

    def __init__(self, fmt: AudioFormat) -> None:
        self.playout = Playout(fmt)
        self.kinds: list[str] = []

    async def send(self, text: str) -> None:
        message = json.loads(text)
        self.kinds.append(message["kind"])
        now = anyio.current_time()
        if message["kind"] == "AudioData":
            self.playout.add(base64.b64decode(message["audioData"]["data"]), now)
        elif message["kind"] == "StopAudio":
            self.playout.clear(now)


def tone(fmt: AudioFormat, ms: float) -> bytes:
    return bytes([0x55]) * fmt.bytes_for_ms(ms)


async def test_twilio_sink_keeps_the_sink_contract() -> None:
    async with anyio.create_task_group() as tg:

        def factory() -> TwilioSink:
            sink = TwilioSink("MZ0001")
            far = TwilioFarEnd(sink)
            tg.start_soon(sink.run, far.send)
            tg.start_soon(far.clock)
            return sink

        await check_audio_sink(factory)
        tg.cancel_scope.cancel()


@pytest.mark.parametrize("rate", [16000, 24000])
async def test_acs_sink_keeps_the_sink_contract(rate: int) -> None:
    async with anyio.create_task_group() as tg:

        def factory() -> AcsSink:
            sink = AcsSink(rate)
            tg.start_soon(sink.run, AcsFarEnd(sink.format).send)
            return sink

        await check_audio_sink(factory)
        tg.cancel_scope.cancel()


async def test_twilio_sink_frames_marks_and_position_from_echoes() -> None:
    sink = TwilioSink("MZ0001")
    assert isinstance(sink, PositionReportingSink)
    far = TwilioFarEnd(sink)
    heard: list[float] = []
    sink.set_played_listener(lambda: heard.append(sink.played_ms()))
    async with anyio.create_task_group() as tg:
        tg.start_soon(sink.run, far.send)
        tg.start_soon(far.clock)
        await sink.write(tone(ULAW_8K, 50))  # two 20 ms frames, 10 ms waits
        await sink.write(tone(ULAW_8K, 35))  # 45 ms: two more frames, 5 ms waits
        assert sink.played_ms() == 0  # nothing echoed yet: sent is not played
        await sink.drain()
        tg.cancel_scope.cancel()
    sizes = [
        len(base64.b64decode(m["media"]["payload"]))  # type: ignore[index]
        for m in far.messages
        if m["event"] == "media"
    ]
    assert sizes == [160, 160, 160, 160, 40]  # fixed 20 ms frames; the tail alone at the end
    assert [m["event"] for m in far.messages[:4]] == ["media", "mark", "media", "mark"]
    assert sink.played_ms() == 85
    assert heard == [20, 40, 60, 80, 85]  # the listener, on each echo
    assert bytes(far.playout.heard) == tone(ULAW_8K, 85)


async def test_twilio_echoes_of_cleared_marks_do_not_count() -> None:
    sink = TwilioSink("MZ0001")
    far = TwilioFarEnd(sink)
    async with anyio.create_task_group() as tg:
        tg.start_soon(sink.run, far.send)
        tg.start_soon(far.clock)
        await sink.write(tone(ULAW_8K, 1000))
        await anyio.sleep(0.3)
        sink.clear()
        at_clear = sink.played_ms()
        # What the caller had heard at that instant; the sink's estimate runs from the
        # last echo, which came as late as the far end's clock ran.
        heard = far.playout.heard_ms_at(anyio.current_time())
        assert abs(heard - at_clear) <= 2 + far.lateness * 1000  # the frame in flight
        await anyio.sleep(0.1)
        assert sink.played_ms() == at_clear  # Twilio echoed every pending mark: ignored
        assert sink.ledger.ignored >= 30
        await sink.write(tone(ULAW_8K, 40))
        await sink.drain()
        tg.cancel_scope.cancel()
    assert sink.played_ms() == at_clear + 40
    assert [m["event"] for m in far.messages].count("clear") == 1
    [stop] = far.playout.stops
    assert stop.heard_ms >= at_clear  # the clear reached the far end after it was taken


async def test_without_interpolation_the_position_is_the_last_echoed_mark() -> None:
    sink = TwilioSink("MZ0001", interpolate=False)
    far = TwilioFarEnd(sink)
    async with anyio.create_task_group() as tg:
        tg.start_soon(sink.run, far.send)
        tg.start_soon(far.clock)
        await sink.write(tone(ULAW_8K, 1000))
        await anyio.sleep(0.31)
        position = sink.played_ms()
        assert position % 20 == 0  # a mark's position
        # Every mark that passed was echoed as it passed: the position is behind what the
        # far end has played by less than a frame.
        assert 0 <= far.playout.heard_ms - position < 20
        sink.clear()
        assert sink.played_ms() == position
        tg.cancel_scope.cancel()
    [stop] = far.playout.stops
    assert stop.heard_ms >= position


async def test_a_write_blocked_for_room_drops_its_frame_on_clear() -> None:
    sink = TwilioSink("MZ0001", max_unplayed_ms=40)
    far = TwilioFarEnd(sink)
    async with anyio.create_task_group() as tg:
        tg.start_soon(sink.run, far.send)
        tg.start_soon(far.clock)
        done = anyio.Event()

        async def writer() -> None:
            await sink.write(tone(ULAW_8K, 500))
            done.set()

        tg.start_soon(writer)
        await anyio.sleep(0.1)
        assert not done.is_set()  # blocked: only 40 ms may be unplayed
        sink.clear()
        with anyio.fail_after(1):
            await done.wait()
        await sink.drain()
        tg.cancel_scope.cancel()
    assert far.playout.heard_ms < 200  # the rest of the 500 ms was dropped, never sent
    sent = sum(1 for m in far.messages if m["event"] == "media")
    assert sent * 20 < 200


async def test_acs_sink_paces_output_and_stops_audio_on_clear() -> None:
    sink = AcsSink(16000, lead_ms=60)
    far = AcsFarEnd(sink.format)
    async with anyio.create_task_group() as tg:
        tg.start_soon(sink.run, far.send)
        started = anyio.current_time()
        done = anyio.Event()

        async def writer() -> None:
            await sink.write(tone(sink.format, 1000))
            done.set()

        tg.start_soon(writer)
        await anyio.sleep(0.4)
        assert not done.is_set()  # paced: at most lead_ms ahead of the clock
        assert far.playout.queued_ms <= 60 + 20
        played = sink.played_ms()
        assert abs(played - 1000 * (anyio.current_time() - started)) <= 25
        sink.clear()
        with anyio.fail_after(1):
            await done.wait()  # the blocked write dropped its frame
        await anyio.sleep(0.1)
        assert sink.played_ms() == pytest.approx(played, abs=5)
        tg.cancel_scope.cancel()
    assert far.kinds.count("StopAudio") == 1
    assert far.playout.stops[0].heard_ms == pytest.approx(played, abs=10)


def test_sink_options_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="frame_ms"):
        TwilioSink("MZ", frame_ms=10)
    with pytest.raises(ConfigurationError, match="max_unplayed_ms"):
        TwilioSink("MZ", max_unplayed_ms=5)
    with pytest.raises(ConfigurationError, match="16000 or 24000"):
        AcsSink(8000)
    with pytest.raises(ConfigurationError, match="lead_ms"):
        AcsSink(16000, lead_ms=10)


async def test_line_source_keeps_the_source_contract() -> None:
    from voiceagent.telephony import LineSource

    def factory() -> LineSource:
        source = LineSource(ULAW_8K)
        for _ in range(50):
            source.feed(b"\xff" * 160)
        source.end()
        return source

    await check_audio_source(factory)


async def test_line_source_passes_bytes_through_and_drops_the_oldest_when_behind() -> None:
    from voiceagent.telephony import LineSource

    source = LineSource(ULAW_8K, max_buffer_ms=100)
    chunks = [bytes([i]) * 160 for i in range(10)]
    for chunk in chunks:
        source.feed(chunk)
    source.end()
    got = [frame async for frame in source]
    assert got == chunks[-5:]  # 100 ms kept, byte for byte
    assert source.dropped_ms == 100
