"""Calls survive dropped connections and the service's session limit (issue #11), end to
end through the real SDK against the emulator's faults."""

from __future__ import annotations

import wave
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from azure.ai.voicelive.aio import connect
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voiceagent import Agent, Message, ReconnectPolicy, SessionResult, ToolCallRecord, tool
from voiceagent._connect import ConnectionSettings
from voiceagent._wire import Uplink, Wire
from voiceagent.audio import AudioFormat, MemorySource, WavFileSink
from voiceagent.errors import AuthenticationError, ConnectError, ConnectionLostError
from voiceagent.events import AgentTranscript, EndReason, Reconnected, Reconnecting
from voiceagent.options import ServerVad
from voiceagent.testing import (
    Disconnect,
    Emulator,
    EmulatorConnection,
    Faults,
    Script,
    ToolCall,
    Turn,
    synthesize,
)

from ..helpers import agent_transcripts, connect_args

if TYPE_CHECKING:
    from pathlib import Path

RATE = 24000
PCM = AudioFormat()
Q1 = "What's the weather in Paris?"
A1 = "It is sunny in Paris, twenty one degrees, with a light breeze from the west."
Q2 = "Thank you very much."
A2 = "You are welcome."
FAST = ReconnectPolicy(initial_backoff_s=0.01, max_backoff_s=0.05)


class Weather(Agent):
    turn_detection = ServerVad(silence_duration_ms=300)
    reconnect = FAST

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.runs = 0

    @tool
    async def get_weather(self, city: str) -> dict[str, object]:
        """Current weather for a city."""
        self.runs += 1
        await anyio.sleep(0.3)
        return {"city": city, "temp_c": 21}


def script() -> Script:
    return Script(
        Turn(hears=Q1, calls=[ToolCall("get_weather", {"city": "Paris"})], says=A1),
        Turn(hears=Q2, says=A2),
    )


def two_turns() -> bytes:
    first = synthesize(Q1).audio
    return first + bytes(RATE * 2 * 4) + synthesize(Q2).audio + bytes(RATE * 2 * 1)


def replayed(connection: EmulatorConnection) -> list[dict[str, Any]]:
    """The items a connection got before anything else (a reconnection's replay)."""
    items = []
    for event in connection.received[1:]:  # after its session.update
        if event["type"] != "conversation.item.create":
            break
        items.append(event["item"])
    return items


def check_carried_on(result: SessionResult, emu: Emulator, agent: Weather) -> None:
    """The invariants of a conversation that survived drops."""
    assert result.reason is EndReason.INPUT_FINISHED, result.error
    assert result.error is None
    assert len(emu.connections) >= 2
    history = result.history
    messages = {e.item_id: e for e in history if isinstance(e, Message)}
    records = {e.call_id: e for e in history if isinstance(e, ToolCallRecord)}
    # The conversation went on: both turns answered, the last without interruption.
    texts = [(e.role, e.text) for e in history if isinstance(e, Message)]
    assert texts[0] == ("user", Q1)
    assert texts[-2:] == [("user", Q2), ("assistant", A2)]
    # The tool ran once, and each conversation got its output once.
    assert agent.runs == 1
    assert len(records) == 1
    for connection in emu.connections:
        outputs = [
            e["item"]["call_id"]
            for e in connection.received
            if e["type"] == "conversation.item.create"
            and e["item"]["type"] == "function_call_output"
        ]
        assert len(outputs) == len(set(outputs)), outputs
    final = emu.connections[-1]
    final_outputs = [
        e["item"]["call_id"]
        for e in final.received
        if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"
    ]
    assert final_outputs == list(records)
    # Every replayed item is the history's, under the same id.
    for connection in emu.connections[1:]:
        for item in replayed(connection):
            if item["type"] == "message":
                entry = messages[item["id"]]
                assert (entry.role, entry.text) == (item["role"], item["content"][0]["text"])
            elif item["type"] == "function_call":
                record = records[item["call_id"]]
                assert (record.name, record.arguments) == (item["name"], item["arguments"])
                assert record.item_id == item["id"]
            else:
                assert item["type"] == "function_call_output"
                assert records[item["call_id"]].output == item["output"]


# A drop in each phase of a conversation; abrupt (1006) or with a close frame (1011, 1001).
PHASES = {
    "configuring": Disconnect(at="session.update", code=1006),
    "user speaking": Disconnect(at="input_audio_buffer.speech_started", code=1011),
    "thinking": Disconnect(at="response.created", code=1006),
    "tool running": Disconnect(at="response.function_call_arguments.done", code=1001),
    "agent speaking": Disconnect(at="response.audio.delta", count=10, code=1006),
    "between turns": Disconnect(at="response.done", count=2, code=1011),
}


@pytest.mark.parametrize("phase", list(PHASES))
async def test_a_drop_in_any_phase_and_the_conversation_goes_on(phase: str, tmp_path: Path) -> None:
    faults = Faults(disconnects=[PHASES[phase]])
    gaps: list[Reconnected] = []
    async with Emulator(speed=4.0, script=script(), faults=faults) as emu:
        agent = Weather()
        agent.on(Reconnected)(gaps.append)
        sink = WavFileSink(tmp_path / "agent.wav")
        with anyio.fail_after(60):
            result = await agent.run(
                source=MemorySource(two_turns(), PCM, realtime=True),
                sink=sink,
                **connect_args(emu),
            )
    check_carried_on(result, emu, agent)
    if phase != "configuring":  # that one is the start-up's retry: no conversation yet
        assert len(gaps) == 1
    with wave.open(str(tmp_path / "agent.wav")) as recording:  # valid, and complete
        assert recording.getnframes() > 0
        assert recording.readframes(recording.getnframes()).endswith(synthesize(A2).audio)


async def test_the_answer_in_flight_is_cut_at_what_was_heard() -> None:
    faults = Faults(disconnects=[Disconnect(at="response.audio.delta", count=12)])
    async with Emulator(speed=1.0, script=script(), faults=faults, audio_chunk_ms=100) as emu:
        agent = Weather()
        finals: list[AgentTranscript] = []
        agent.on(AgentTranscript)(finals.append)
        with anyio.fail_after(60):
            result = await agent.run(
                source=MemorySource(two_turns(), PCM, realtime=True), **connect_args(emu)
            )
    check_carried_on(result, emu, agent)
    cut = finals[0]
    assert cut.interrupted
    assert A1.startswith(cut.text)
    assert 0 < len(cut.text) < len(A1)
    [replayed_answer] = [i for i in replayed(emu.connections[1]) if i.get("role") == "assistant"]
    assert replayed_answer["content"][0]["text"] == cut.text


# -- random drops -----------------------------------------------------------------------------

DROP_AT = [
    "response.created",
    "response.output_item.added",
    "response.function_call_arguments.done",
    "response.done",
    "conversation.item.created",
    "response.text.delta",
    "response.create",
    "conversation.item.create",
]


class TextWeather(Weather):
    modalities = ("text",)
    turn_detection = None  # type: ignore[assignment]


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    drops=st.lists(
        st.tuples(st.sampled_from(DROP_AT), st.integers(1, 3), st.sampled_from([1006, 1011])),
        max_size=3,
    )
)
def test_random_drops_never_lose_a_turn_or_run_a_tool_twice(
    drops: list[tuple[str, int, int]],
) -> None:
    async def conversation() -> None:
        faults = Faults(
            disconnects=[Disconnect(at=at, count=count, code=code) for at, count, code in drops]
        )
        async with Emulator(speed=None, script=script(), faults=faults) as emu:
            agent = TextWeather()
            async with agent.session(**connect_args(emu)) as session:
                for question, answer in ((Q1, A1), (Q2, A2)):
                    with anyio.fail_after(20):
                        finals = session.events(AgentTranscript)
                        await session.send_text(question)
                        async for event in finals:  # an answer cut by a drop comes first
                            if isinstance(event, AgentTranscript) and not event.interrupted:
                                assert event.text == answer
                                break
                        await finals.aclose()
            result = session.result()
            assert agent.runs == 1
            for connection in emu.connections:  # each conversation got the output once
                outputs = [
                    e["item"]["call_id"]
                    for e in connection.received
                    if e["type"] == "conversation.item.create"
                    and e["item"]["type"] == "function_call_output"
                ]
                assert len(outputs) == len(set(outputs))
            # Every turn is there, answered in full (an answer a drop cut short is kept,
            # marked interrupted, and answered again).
            whole = [
                (e.role, e.text)
                for e in result.history
                if isinstance(e, Message) and not e.interrupted
            ]
            assert whole == [("user", Q1), ("assistant", A1), ("user", Q2), ("assistant", A2)]
            cut = [e.text for e in result.history if isinstance(e, Message) and e.interrupted]
            assert all(A1.startswith(text) or A2.startswith(text) for text in cut)
            assert len(emu.connections) <= 1 + len(drops)

    anyio.run(conversation)


@pytest.mark.parametrize(
    ("code", "said"),
    [
        (1006, "was cut (it ended without a WebSocket close frame)"),
        (1011, "closed (code 1011)"),
        (1001, "closed (code 1001)"),
    ],
)
async def test_the_reconnection_says_how_the_connection_ended(code: int, said: str) -> None:
    # An abrupt drop reaches the SDK as the end of the stream, which aiohttp reports as a
    # normal close (1000): the reason must not say "closed (code 1000)" for a cut.
    drop = Disconnect(at="response.audio.delta", count=1, code=code)
    async with Emulator(speed=None, faults=Faults(disconnects=[drop])) as emu:
        agent = Agent(modalities=["text", "audio"], turn_detection=None, reconnect=FAST)
        tries: list[Reconnecting] = []
        agent.on(Reconnecting)(tries.append)
        async with agent.session(**connect_args(emu)) as session:
            with anyio.fail_after(10):
                async with agent_transcripts(session, 1):
                    await session.send_text("Hello there.")
            session.end()
        assert tries
        assert tries[0].reason == f"the connection to {emu.endpoint} {said}"


# -- the session limit ------------------------------------------------------------------------


async def test_a_forty_minute_call_crosses_the_session_limit_without_losing_a_turn() -> None:
    # Ten emulated minutes a session, at 100x: an expiry every 6 s of the test's time.
    # Three seconds to open the next one: a loaded CI worker can take over one.
    policy = ReconnectPolicy(recycle_s=3.0, last_safe_s=0.5, initial_backoff_s=0.01)
    turns = [Turn(says=lambda ctx: ctx.transcript.replace("Question", "Answer"))] * 400
    async with Emulator(
        speed=100.0, script=Script(*turns), faults=Faults(session_max_s=600)
    ) as emu:
        agent = Agent(modalities=["text"], turn_detection=None, reconnect=policy)
        moves: list[Reconnected] = []
        agent.on(Reconnected)(moves.append)
        async with agent.session(**connect_args(emu)) as session:
            started = anyio.current_time()
            n = 0
            while anyio.current_time() - started < 24:  # 40 emulated minutes
                with anyio.fail_after(10):
                    async with agent_transcripts(session, 1) as said:
                        await session.send_text(f"Question {n}.")
                assert said[0].text == f"Answer {n}.", f"turn {n} lost"
                n += 1
                await anyio.sleep(0.3)
            session.end()
        connections = list(emu.connections)
    assert len(moves) >= 3
    assert len(connections) >= 4
    # The session moved before each expiry: the service never had to end one itself.
    assert all(c.closed_by == "client" for c in connections[:-1])
    answers = [
        e.text for e in session.result().history if isinstance(e, Message) and e.role == "assistant"
    ]
    assert answers == [f"Answer {i}." for i in range(n)]


@pytest.mark.parametrize("late", [1, 2], ids=["first move", "second move"])
async def test_a_next_connection_not_ready_in_time_falls_back_to_reconnecting_after_expiry(
    late: int,
) -> None:
    # The moves before `late` go as planned; the `late`-th move's connection is refused and
    # its retry waits past the last safe moment, so the service ends that session itself.
    # The call must carry on on a fresh connection (the first move used to fail the
    # session, a later one to "move" to the connection it was already on).
    policy = ReconnectPolicy(
        recycle_s=2.0, last_safe_s=0.5, initial_backoff_s=5.0, jitter=0.0, stable_s=1.0
    )
    turns = [Turn(says=lambda ctx: ctx.transcript.replace("Question", "Answer"))] * 10
    async with Emulator(speed=None, script=Script(*turns), faults=Faults(session_max_s=4)) as emu:
        agent = Agent(modalities=["text"], turn_detection=None, reconnect=policy)
        moves: list[Reconnected] = []
        moved_enough = anyio.Event()

        @agent.on(Reconnected)
        def moved(event: Reconnected) -> None:
            moves.append(event)
            if len(moves) == late - 1:
                emu.faults.refuse_connections = 1  # the next move's first attempt
            if len(moves) == late:
                moved_enough.set()

        async with agent.session(**connect_args(emu)) as session:
            if late == 1:
                emu.faults.refuse_connections = 1
            with anyio.fail_after(15):
                await moved_enough.wait()
                async with agent_transcripts(session, 1) as said:
                    await session.send_text("Question 1.")
            assert said[0].text == "Answer 1."
            session.end()
        connections = list(emu.connections)
    assert len(connections) == late + 1
    # (The last one is closed as the session ends, and the emulator may see that late.)
    assert [c.closed_by for c in connections[:late]] == ["client"] * (late - 1) + ["server"]
    assert [status for status, _ in emu.rejected] == [503]
    assert session.result().reason is EndReason.ENDED


# -- start-up ----------------------------------------------------------------------------------


async def test_a_refused_key_is_final_at_once() -> None:
    async with Emulator(speed=None) as emu:
        with pytest.raises(AuthenticationError), anyio.fail_after(5):
            async with Agent(reconnect=FAST).session(endpoint=emu.endpoint, api_key="wrong"):
                pass
        assert emu.connections == []


async def test_refused_connections_at_start_follow_the_policy() -> None:
    script_ = Script(Turn(hears="Hi", says="Hello."))
    async with Emulator(speed=None, script=script_, faults=Faults(refuse_connections=3)) as emu:
        agent = Agent(modalities=["text"], reconnect=FAST)
        async with agent.session(**connect_args(emu)) as session:
            async with agent_transcripts(session, 1) as said:
                await session.send_text("Hi")
        assert said[0].text == "Hello."
    async with Emulator(speed=None, faults=Faults(refuse_connections=10)) as emu:
        with pytest.raises(ConnectError, match="503"):
            async with Agent(reconnect=ReconnectPolicy(attempts=3, initial_backoff_s=0.01)).session(
                **connect_args(emu)
            ):
                pass


async def test_a_service_that_keeps_dropping_ends_the_call_after_the_attempts() -> None:
    attempts: list[Reconnecting] = []
    async with Emulator(speed=None, faults=Faults(drop_on_event="response.create")) as emu:
        agent = Agent(
            modalities=["text"], reconnect=ReconnectPolicy(attempts=3, initial_backoff_s=0.01)
        )
        agent.on(Reconnecting)(attempts.append)
        async with agent.session(**connect_args(emu)) as session:
            await session.send_text("hello")
            with anyio.fail_after(10):
                result = await session.wait()
    assert result.reason is EndReason.CONNECTION_LOST
    assert "after 3 attempt(s)" in str(result.error)
    assert [a.attempt for a in attempts] == [1, 2, 3]


async def test_the_uplink_keeps_a_whole_turn_but_little_silence() -> None:
    # What a next connection would be sent (resend_events), over a real connection.
    frame = bytes(PCM.bytes_for_ms(20))
    whole, idle = PCM.bytes_for_ms(5000), PCM.bytes_for_ms(1620)

    async def say(uplink: Uplink, frames: int) -> int:
        for _ in range(frames):
            sending = uplink.send_audio(frame)
            assert sending is not None
            await sending
        return len(uplink.resend_events()) * len(frame)

    async with Emulator(speed=None) as emu:
        settings = ConnectionSettings.resolve(**connect_args(emu))
        async with connect(endpoint=emu.endpoint, credential=emu.credential) as connection:
            uplink = Uplink(whole, idle)
            uplink.attach(Wire(connection, settings))
            assert await say(uplink, 200) == idle  # nobody speaking: the onset's margin
            uplink.speech_started()
            assert await say(uplink, 100) == idle + 100 * len(frame)  # a turn: all of it...
            assert await say(uplink, 300) == whole  # ...up to the buffer
            uplink.committed()
            assert uplink.resend_events() == []
            assert await say(uplink, 10) == 10 * len(frame)
            uplink.detach()  # an outage: everything the user says, up to the buffer
            for _ in range(300):
                assert uplink.send_audio(frame) is None
            assert len(uplink.resend_events()) * len(frame) == whole
            manual = Uplink(whole)  # manual turns: every uncommitted byte is the turn
            manual.attach(Wire(connection, settings))
            assert await say(manual, 300) == whole


async def test_a_wire_whose_events_pile_up_unsent_reports_the_connection_lost() -> None:
    # The writer never runs here, as when the service stops reading and the socket's
    # buffer is full: posts and sends queued behind them stop at the backlog, with an
    # error the session treats as a drop, instead of growing without end.
    async with Emulator(speed=None) as emu:
        settings = ConnectionSettings.resolve(**connect_args(emu))
        async with connect(endpoint=emu.endpoint, credential=emu.credential) as connection:
            wire = Wire(connection, settings)
            event = {"type": "input_audio_buffer.clear"}
            for _ in range(10_000):
                wire.post(event)
            with pytest.raises(ConnectionLostError, match="stopped taking events") as raised:
                wire.post(event)
            assert emu.endpoint in str(raised.value)
            assert emu.api_key not in str(raised.value)
            with pytest.raises(ConnectionLostError, match="stopped taking events"):
                await wire.send({"type": "input_audio_buffer.commit"})
            await wire.flush()  # what was taken goes out, in order, and the wire works
            await wire.send({"type": "input_audio_buffer.commit"})
            await emu.wait_for("input_audio_buffer.commit", timeout=10)
            kinds = [e["type"] for e in emu.connections[0].received]
            assert kinds[-1] == "input_audio_buffer.commit"
            assert kinds.count("input_audio_buffer.clear") == 10_000
