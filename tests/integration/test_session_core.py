"""The session core's regressions (issue #10), each end to end through the real SDK
against the emulator: no sink, drops while starting, huge tool outputs, consumers that
never read, reused call ids, sink failures, bounded sinks at barge-in, pausing, stuck
sinks, and the session's lifecycle."""

from __future__ import annotations

import errno
import wave
from typing import TYPE_CHECKING, Any

import anyio
import pytest

import voiceagent._session
from voiceagent import Agent, AgentSession, ReconnectPolicy, SessionStatus, ToolContext, tool
from voiceagent.audio import (
    AudioFormat,
    AudioSinkBase,
    AudioSourceBase,
    MemorySink,
    MemorySource,
    WavFileSource,
)
from voiceagent.errors import (
    AudioError,
    ConfigurationError,
    SessionClosedError,
    SessionStateError,
    VoiceAgentError,
)
from voiceagent.events import (
    AgentTranscript,
    EndReason,
    EventsDropped,
    Interrupted,
    SessionEnded,
    ToolCallFinished,
    UserSpeechStarted,
)
from voiceagent.options import ServerVad
from voiceagent.testing import Emulator, Faults, Script, ToolCall, Turn, synthesize

from ..helpers import agent_transcripts, connect_args

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

PCM = AudioFormat()
RATE = 24000
QUESTION = "What is the weather in Paris today?"
ANSWER = "It is sunny and twenty one degrees."
STORY = (
    "Once upon a time there was a lighthouse keeper who counted the waves every night "
    "and wrote each number in a small blue book that nobody ever read."
)
STOP = "Stop please."
OKAY = "Okay."


def write_question(path: Path, text: str = QUESTION, silence_ms: int = 1000) -> Path:
    audio = synthesize(text).audio + bytes(RATE * 2 * silence_ms // 1000)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(audio)
    return path


def barge_in_audio(interrupt_at_ms: int = 2400) -> bytes:
    question = synthesize("Tell me a story.").audio
    before = RATE * 2 * interrupt_at_ms // 1000 - len(question)
    return question + bytes(before) + synthesize(STOP).audio + bytes(RATE * 2 * 2)


# -- 1. no sink ----------------------------------------------------------------------------


async def test_an_audio_session_without_a_sink_runs_to_its_end(tmp_path: Path) -> None:
    script = Script(Turn(hears=QUESTION, says=ANSWER))
    async with Emulator(speed=None, script=script) as emu:
        with anyio.fail_after(30):
            result = await Agent().run(
                source=WavFileSource(write_question(tmp_path / "q.wav")), **connect_args(emu)
            )
    assert result.reason is EndReason.INPUT_FINISHED
    assert result.error is None
    assert [(m.role, m.text) for m in result.history] == [  # type: ignore[union-attr]
        ("user", QUESTION),
        ("assistant", ANSWER),
    ]


async def test_a_session_without_a_sink_drops_the_audio_and_reports_it_heard() -> None:
    script = Script(Turn(hears="Hi", says=ANSWER))
    async with Emulator(speed=None, script=script) as emu:
        agent = Agent()
        async with agent.session(**connect_args(emu)) as session:
            assert session.sink.format == session.output_format
            async with agent_transcripts(session, 1) as said:
                await session.send_text("Hi")
            assert session.sink.played_ms() == len(synthesize(ANSWER).audio) / 48
    assert said[0].text == ANSWER
    assert not said[0].interrupted


# -- 2. a drop while the session starts ----------------------------------------------------


@pytest.mark.parametrize(
    ("faults", "reconnect"),
    [
        (Faults(drop_after_events=1), ReconnectPolicy.off()),
        (Faults(drop_after_events=2), ReconnectPolicy.off()),
        (Faults(drop_after_events=2), ReconnectPolicy(attempts=2, initial_backoff_s=0.01)),
    ],
)
async def test_a_drop_while_starting_is_a_result_or_an_error_never_a_cancellation(
    faults: Faults, reconnect: ReconnectPolicy
) -> None:
    outcomes: list[str] = []
    async with Emulator(speed=None, faults=faults) as emu:
        for _ in range(20):
            try:
                with anyio.fail_after(10):
                    result = await Agent(greeting="Hello!", reconnect=reconnect).run(
                        source=MemorySource(bytes(RATE * 2), PCM), **connect_args(emu)
                    )
            except VoiceAgentError as exc:
                outcomes.append(type(exc).__name__)
            else:
                assert result.reason is EndReason.CONNECTION_LOST
                outcomes.append(result.reason.value)
    assert len(outcomes) == 20
    assert set(outcomes) <= {"ConnectionLostError", "connection_lost"}


# -- 3. huge tool outputs and messages ------------------------------------------------------


class Dumper(Agent):
    modalities = ("text",)

    @tool
    async def dump(self, size: int) -> str:
        """Return ``size`` characters."""
        return "x" * size


async def test_a_tool_output_over_the_limit_is_replaced_by_an_error_and_the_call_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    script = Script(
        Turn(hears="Dump it.", calls=[ToolCall("dump", {"size": 5_000_000})], says="Done."),
        Turn(hears="Again, small.", calls=[ToolCall("dump", {"size": 10})], says="Small."),
    )
    finished: list[ToolCallFinished] = []
    async with Emulator(speed=None, script=script) as emu:
        agent = Dumper()
        agent.on(ToolCallFinished)(finished.append)
        async with agent.session(**connect_args(emu)) as session:
            async with agent_transcripts(session, 1):
                await session.send_text("Dump it.")
            async with agent_transcripts(session, 1):
                await session.send_text("Again, small.")
        received = emu.connections[0].received
    outputs = [
        e["item"]["output"]
        for e in received
        if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"
    ]
    assert len(outputs) == 2
    assert outputs[0].startswith("Error: tool 'dump' returned 5,000,000 characters")
    assert "100,000" in outputs[0]
    assert outputs[1] == "x" * 10
    assert len(finished[0].result) == 5_000_000  # the application still gets the result
    assert finished[0].error == outputs[0]
    assert "max_tool_output_chars" in caplog.text
    assert session.result().reason is EndReason.ENDED


async def test_the_tool_output_limit_is_configurable() -> None:
    script = Script(Turn(hears="Dump.", calls=[ToolCall("dump", {"size": 51})], says="Done."))
    async with Emulator(speed=None, script=script) as emu:
        async with Dumper(max_tool_output_chars=50).session(**connect_args(emu)) as session:
            async with agent_transcripts(session, 1):
                await session.send_text("Dump.")
        [output] = [
            e["item"]["output"]
            for e in emu.connections[0].received
            if e["type"] == "conversation.item.create"
            and e["item"]["type"] == "function_call_output"
        ]
    assert output.startswith("Error: tool 'dump' returned 51 characters, more than the 50")
    with pytest.raises(ConfigurationError, match="max_tool_output_chars"):
        Dumper(max_tool_output_chars=0)


async def test_nothing_sent_can_come_back_over_the_receive_limit() -> None:
    huge = "y" * 5_000_000
    script = Script(Turn(hears="Hi", says="Hello."))
    async with Emulator(speed=None, script=script) as emu:
        agent = Agent(modalities=["text"])
        async with agent.session(**connect_args(emu)) as session:
            for call in (session.send_text, session.say):
                with pytest.raises(ConfigurationError, match="echoes every conversation item"):
                    await call(huge)
            with pytest.raises(ConfigurationError, match="echoes every conversation item"):
                await session.add_message("system", huge)
            async with agent_transcripts(session, 1) as said:  # the session goes on
                await session.send_text("Hi")
        assert said[0].text == "Hello."
    with pytest.raises(ConfigurationError, match="session configuration"):
        Agent(instructions=huge).session(endpoint="http://127.0.0.1:9", api_key="k")


# -- 4. consumers that never read -------------------------------------------------------------


async def test_a_subscriber_and_a_handler_that_never_return_hold_nothing_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    long_story = (
        f"{STORY} {STORY}"  # 1600 audio deltas of 10 ms, all sent at once: more than a buffer holds
    )
    script = Script(Turn(hears="Tell me a story.", says=long_story), Turn(hears=STOP, says=OKAY))
    async with Emulator(speed=None, script=script, audio_chunk_ms=10) as emu:
        agent = Agent(turn_detection=ServerVad(silence_duration_ms=300))
        interruptions: list[Interrupted] = []
        agent.on(Interrupted)(interruptions.append)

        async def stuck(event: UserSpeechStarted) -> None:
            await anyio.sleep_forever()

        agent.on(UserSpeechStarted)(stuck)
        sink = MemorySink(realtime=True)
        source = MemorySource(barge_in_audio(), PCM, realtime=True)
        async with agent.session(source=source, sink=sink, **connect_args(emu)) as session:
            unread = session.events()  # never read until the end
            small = session.events(buffer=5)
            with anyio.fail_after(30):
                result = await session.wait()
        received = emu.connections[0].received
    assert result.reason is EndReason.INPUT_FINISHED
    assert len(interruptions) == 1  # barge-in still happened
    assert len(sink.clears) == 1
    assert any(e["type"] == "conversation.item.truncate" for e in received)
    assert "events behind" in caplog.text
    events = [event async for event in unread]
    assert isinstance(events[0], EventsDropped)
    assert events[0].count > 0
    assert isinstance(events[-1], SessionEnded)
    assert len(events) <= 1024 + 1
    tail = [event async for event in small]
    assert isinstance(tail[0], EventsDropped)
    assert len(tail) == 6
    assert isinstance(tail[-1], SessionEnded)


async def test_events_filters_by_class_and_wire_type() -> None:
    script = Script(Turn(hears="Hi", says="Hello."))
    async with Emulator(speed=None, script=script) as emu:
        agent = Agent(modalities=["text"])
        async with agent.session(**connect_args(emu)) as session:
            finals = session.events(AgentTranscript)
            dones = session.events("response.done")
            async with agent_transcripts(session, 1):
                await session.send_text("Hi")
            session.end()
            with anyio.fail_after(10):
                await session.wait()
    got = [event async for event in finals]
    assert [type(e).__name__ for e in got] == ["AgentTranscript", "SessionEnded"]
    wire = [event async for event in dones]
    assert [getattr(e, "type", None) for e in wire[:-1]] == ["response.done"]
    with pytest.raises(ConfigurationError, match="buffer"):
        session.events(buffer=0)


# -- 6. a reused call_id ---------------------------------------------------------------------


class Counter(Agent):
    modalities = ("text",)

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    @tool
    async def count(self, context: ToolContext) -> str:
        """Count a call."""
        self.calls += 1
        number = self.calls
        await anyio.sleep(0.2)
        return f"call {number}"


async def test_a_reused_call_id_still_runs_each_call_and_answers_each_once() -> None:
    calls = [ToolCall("count", call_id="call_same"), ToolCall("count", call_id="call_same")]
    script = Script(Turn(hears="Count twice.", calls=calls, says="Counted."))
    async with Emulator(speed=None, script=script) as emu:
        agent = Counter()
        async with agent.session(**connect_args(emu)) as session:
            async with agent_transcripts(session, 1):
                await session.send_text("Count twice.")
        received = emu.connections[0].received
    outputs = [
        e["item"]
        for e in received
        if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"
    ]
    assert agent.calls == 2
    assert sorted(o["output"] for o in outputs) == ["call 1", "call 2"]
    assert {o["call_id"] for o in outputs} == {"call_same"}
    records = [e for e in session.history if getattr(e, "call_id", None) == "call_same"]
    assert len(records) == 2


# -- 8. a sink that fails -----------------------------------------------------------------------


class FullDisk(MemorySink):
    async def _write(self, frame: bytes) -> None:
        if len(self.writes) >= 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        await super()._write(frame)


class FullDiskNowait(MemorySink):
    """Fails in write_nowait, the path the session takes for a non-blocking sink."""

    def write_nowait(self, frame: bytes) -> bool:
        if len(self.writes) >= 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write_nowait(frame)


@pytest.mark.parametrize(
    ("sink_class", "call"), [(FullDisk, "write()"), (FullDiskNowait, "write_nowait()")]
)
async def test_a_failing_sink_is_an_audio_error_not_a_lost_connection(
    sink_class: type[MemorySink], call: str
) -> None:
    # FullDisk overrides _write only, so the session writes it with write(); FullDiskNowait
    # fails where the session hands audio over at once, inside the receive loop.
    script = Script(Turn(hears=QUESTION, says=STORY))
    audio = synthesize(QUESTION).audio + bytes(RATE * 2)
    async with Emulator(speed=None, script=script, audio_chunk_ms=20) as emu:
        sink = sink_class()
        with pytest.raises(AudioError, match="No space left") as info, anyio.fail_after(30):
            await Agent().run(source=MemorySource(audio, PCM), sink=sink, **connect_args(emu))
    assert sink_class.__name__ in str(info.value)
    assert call in str(info.value)
    assert sink.closed  # the session closed what it owned


class CountingSink(MemorySink):
    """Counts which path each frame took."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.at_once = self.awaited = 0

    def write_nowait(self, frame: bytes) -> bool:
        taken = super().write_nowait(frame)
        self.at_once += taken
        return taken

    async def write(self, frame: bytes) -> None:
        self.awaited += 1
        await super().write(frame)


@pytest.mark.parametrize("max_buffer_ms", [None, 100])
async def test_a_non_blocking_sink_gets_every_frame_in_order_by_either_path(
    max_buffer_ms: int | None,
) -> None:
    # Unbounded: every delta is handed over at once (no task switch). Bounded at 100 ms,
    # fed 8x faster than real time: the sink runs out of room and the playback loop takes
    # over with write(), then hands over again once it has caught up. Either way the
    # sink holds exactly the answer, in order.
    script = Script(Turn(hears="Tell me a story.", says=STORY))
    async with Emulator(speed=8.0, script=script, audio_chunk_ms=20) as emu:
        sink = CountingSink(realtime=max_buffer_ms is not None, max_buffer_ms=max_buffer_ms)
        async with Agent().session(sink=sink, **connect_args(emu)) as session:
            async with agent_transcripts(session, 1):
                await session.send_text("Tell me a story.")
            await sink.drain()
            assert sink.data == synthesize(STORY).audio
    assert sink.at_once > 0
    if max_buffer_ms is None:
        assert sink.awaited == 0
    else:
        assert sink.awaited > 0


class LoggingDisk(MemorySink):
    """Overrides _write only: it must still see every frame."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    async def _write(self, frame: bytes) -> None:
        self.seen += len(frame)
        await super()._write(frame)


async def test_a_subclass_overriding_write_only_is_written_through_write() -> None:
    script = Script(Turn(hears="Tell me a story.", says=STORY))
    async with Emulator(speed=None, script=script, audio_chunk_ms=20) as emu:
        sink = LoggingDisk()
        async with Agent().session(sink=sink, **connect_args(emu)) as session:
            async with agent_transcripts(session, 1):
                await session.send_text("Tell me a story.")
            await sink.drain()
    assert sink.seen == len(synthesize(STORY).audio) == len(sink.data)


# -- 9. a bounded real-time sink at barge-in --------------------------------------------------


async def test_a_bounded_sink_plays_nothing_of_the_interrupted_answer_after_the_clear() -> None:
    script = Script(Turn(hears="Tell me a story.", says=STORY), Turn(hears=STOP, says=OKAY))
    async with Emulator(speed=8.0, script=script, audio_chunk_ms=100) as emu:
        agent = Agent(turn_detection=ServerVad(silence_duration_ms=300))
        interruptions: list[Interrupted] = []
        agent.on(Interrupted)(interruptions.append)
        sink = MemorySink(realtime=True, max_buffer_ms=300)
        source = MemorySource(barge_in_audio(), PCM, realtime=True)
        with anyio.fail_after(30):
            result = await agent.run(source=source, sink=sink, **connect_args(emu))
        [truncate] = [
            e for e in emu.connections[0].received if e["type"] == "conversation.item.truncate"
        ]
    assert result.reason is EndReason.INPUT_FINISHED
    played = sink.data
    story, okay = synthesize(STORY).audio, synthesize(OKAY).audio
    assert played.endswith(okay)
    heard = played[: len(played) - len(okay)]
    assert story.startswith(heard), "audio of the interrupted answer played after the clear"
    [interrupted] = interruptions
    assert abs(len(heard) / 48 - interrupted.heard_ms) <= 20
    assert abs(truncate["audio_end_ms"] - len(heard) / 48) <= 20


# -- 10. pausing during the confirmation window ------------------------------------------------


async def test_the_confirmation_window_pauses_and_resumes_a_pausable_sink() -> None:
    script = Script(Turn(hears="Tell me a story.", says=STORY))
    question = synthesize("Tell me a story.").audio
    cough = synthesize("Mmmmmm hmmmmm.").audio[: RATE * 2 * 450 // 1000]
    gap = RATE * 2 * 2400 // 1000 - len(question)
    audio = question + bytes(gap) + cough + bytes(RATE * 2 * 3)
    async with Emulator(speed=1.0, script=script, audio_chunk_ms=20) as emu:
        agent = Agent(
            turn_detection=ServerVad(silence_duration_ms=300, prefix_padding_ms=300),
            confirm_interruption_ms=1500,
            min_turn_ms=600,
        )
        sink = MemorySink(realtime=True)
        with anyio.fail_after(40):
            await agent.run(
                source=MemorySource(audio, PCM, realtime=True), sink=sink, **connect_args(emu)
            )
    [(paused, resumed)] = sink.pauses
    assert 0 < resumed - paused < 1.5
    assert sink.data == synthesize(STORY).audio  # nothing lost to the pause


# -- 11. a sink that never advances -------------------------------------------------------------


class StuckSink(AudioSinkBase):
    """Takes audio and never plays it."""

    @property
    def format(self) -> AudioFormat:
        return PCM

    async def _write(self, frame: bytes) -> None:
        await anyio.lowlevel.checkpoint()

    def clear(self) -> None:
        pass

    def played_ms(self) -> float:
        return 0.0

    async def drain(self) -> None:
        await anyio.sleep_forever()


async def test_a_sink_that_never_advances_ends_the_session_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(voiceagent._session, "SINK_STALL_S", 1.0)
    script = Script(Turn(hears="Hi", says=ANSWER))
    async with Emulator(speed=None, script=script) as emu:
        agent = Agent()
        with pytest.raises(AudioError, match="StuckSink is stuck") as info, anyio.fail_after(20):
            await talk(agent.session(sink=StuckSink(), **connect_args(emu)), "Hi")
    assert "played_ms()" in str(info.value)


async def talk(session: AgentSession, text: str) -> None:
    async with session:
        await session.send_text(text)
        await session.wait()


# -- 12. the lifecycle ------------------------------------------------------------------------


async def test_a_session_says_where_it_is_and_refuses_use_out_of_turn() -> None:
    script = Script(Turn(hears="Hi", says="Hello."))
    async with Emulator(speed=None, script=script) as emu:
        session = Agent(modalities=["text"]).session(**connect_args(emu))
        status: SessionStatus = session.status
        assert status is SessionStatus.NEW
        with pytest.raises(SessionStateError, match="has not started"):
            await session.send_text("Hi")
        with pytest.raises(SessionStateError, match="has not started"):
            await session.wait()
        async with session:
            status = session.status
            assert status is SessionStatus.ACTIVE
            async with agent_transcripts(session, 1):
                await session.send_text("Hi")
        status = session.status
        assert status is SessionStatus.CLOSED
        uses: list[Callable[[], Awaitable[None]]] = [
            lambda: session.send_text("again"),
            lambda: session.say("again"),
            session.interrupt,
            session.commit,
            lambda: session.add_message("user", "again"),
        ]
        for use in uses:
            with pytest.raises(SessionClosedError, match=r"has ended \(ended\)") as info:
                await use()
            assert info.value.reason == "ended"
        with pytest.raises(SessionStateError, match="entered once"):
            async with session:
                pass
        assert session.result().reason is EndReason.ENDED


async def test_bad_arguments_are_clear_errors() -> None:
    agent = Agent()
    with pytest.raises(ConfigurationError, match="sink must be an AudioSink"):
        agent.session(sink="out.wav")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="source must be an AudioSource"):
        agent.session(source=b"audio")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"'sinks' \(did you mean 'sink'\?\)"):
        agent.session(sinks=None)  # type: ignore[call-arg]
    script = Script()
    async with Emulator(speed=None, script=script) as emu:
        async with Agent(modalities=["text"]).session(**connect_args(emu)) as session:
            for bad in ("", None, 3):
                with pytest.raises(ConfigurationError, match="non-empty str"):
                    await session.send_text(bad)  # type: ignore[arg-type]
            with pytest.raises(ConfigurationError, match="role must be"):
                await session.add_message("robot", "hi")  # type: ignore[arg-type]
            with pytest.raises(ConfigurationError, match="events"):
                session.events(3)  # type: ignore[arg-type]


class EndlessSource(AudioSourceBase):
    """A microphone that never stops: its iterator says when its ``finally`` ran."""

    def __init__(self) -> None:
        super().__init__()
        self.frames = 0
        self.started = anyio.Event()
        self.iterator_closed = False

    @property
    def format(self) -> AudioFormat:
        return PCM

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while True:
                await anyio.sleep(0.02)
                self.frames += 1
                if self.frames == 5:
                    self.started.set()
                yield bytes(960)
        finally:
            self.iterator_closed = True


@pytest.mark.parametrize("how", ["end", "cancel"])
async def test_a_source_still_running_is_closed_when_the_session_ends(how: str) -> None:
    async with Emulator(speed=None, script=Script()) as emu:
        source = EndlessSource()
        with anyio.fail_after(30), anyio.CancelScope() as caller:
            async with Agent().session(source=source, **connect_args(emu)) as session:
                await source.started.wait()
                if how == "end":
                    session.end()
                    await session.wait()
                else:
                    caller.cancel()  # the caller gives up: the block ends at once
                    await anyio.sleep(10)
            # Its finally ran before the session returned, not whenever it is collected.
            assert source.iterator_closed
            assert source.closed
        assert caller.cancel_called == (how == "cancel")


async def test_the_session_closes_the_source_and_sink_it_was_given(tmp_path: Path) -> None:
    from voiceagent.audio import WavFileSink

    script = Script(Turn(hears=QUESTION, says=ANSWER))
    async with Emulator(speed=None, script=script) as emu:
        source = WavFileSource(write_question(tmp_path / "q.wav"))
        sink = WavFileSink(tmp_path / "a.wav")
        with anyio.fail_after(30):
            await Agent().run(source=source, sink=sink, **connect_args(emu))
    assert source.closed
    assert sink.closed
    with wave.open(str(tmp_path / "a.wav")) as played:
        assert played.getnframes() == len(synthesize(ANSWER).audio) // 2
