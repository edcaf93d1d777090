"""How sessions start and end: options, greeting, manual turns, cancellation, lost
connections, ending from handlers, and Ctrl-C in a real program."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import anyio
import pytest

from voiceagent import Agent, AgentSession, ReconnectPolicy, TurnState, tool
from voiceagent.audio import AudioFormat, MemorySink, MemorySource
from voiceagent.errors import ConfigurationError, ToolDefinitionError
from voiceagent.events import (
    AgentTranscript,
    EndReason,
    ServiceErrorReported,
    SessionEnded,
    UserTranscript,
)
from voiceagent.options import ServerVad
from voiceagent.testing import Emulator, Faults, Script, ToolCall, Turn, synthesize

from ..helpers import agent_transcripts, connect_args, wait_closed

if TYPE_CHECKING:
    from pathlib import Path


class Concierge(Agent):
    instructions = "You are a hotel concierge."
    voice = "en-US-Ava:DragonHDLatestNeural"
    modalities = ("text",)
    temperature = 0.7


async def test_class_attributes_and_constructor_arguments_reach_the_service() -> None:
    async with Emulator(speed=None) as emu:
        async with Concierge().session(**connect_args(emu)):
            pass
        async with Concierge(instructions="You are a night porter.", temperature=0.9).session(
            **connect_args(emu)
        ):
            pass
        async with Concierge().session(**connect_args(emu), voice="alloy"):
            pass
    first, second, third = (c.received[0]["session"] for c in emu.connections)
    assert first["instructions"] == "You are a hotel concierge."
    assert first["voice"] == {"type": "azure-standard", "name": "en-US-Ava:DragonHDLatestNeural"}
    assert first["temperature"] == 0.7
    assert second["instructions"] == "You are a night porter."
    assert second["temperature"] == 0.9
    assert third["voice"] == {"type": "openai", "name": "alloy"}
    assert third["instructions"] == "You are a hotel concierge."


def test_invalid_options_fail_when_the_agent_is_defined() -> None:
    with pytest.raises(ConfigurationError, match=r"Broken.*temperature.*5"):

        class Broken(Agent):
            temperature = 5.0

    with pytest.raises(ConfigurationError, match="voice"):
        Agent(voice="not a voice!")
    with pytest.raises(ConfigurationError, match="unknown setting"):
        Agent(temprature=0.8)
    with pytest.raises(ConfigurationError, match="greeting"):
        Agent(greeting="   ")
    with pytest.raises(ConfigurationError, match="confirm_interruption_ms"):
        Agent(confirm_interruption_ms=0)


def test_bad_tools_fail_when_the_agent_is_defined() -> None:
    with pytest.raises(ToolDefinitionError, match="lookup"):

        class Bad(Agent):
            @tool
            def lookup(self, data: bytes) -> str:
                """Look up."""
                return ""

    agent = Agent()

    @agent.tool
    def ping() -> str:
        """Ping."""
        return "pong"

    with pytest.raises(ToolDefinitionError, match="duplicate"):

        @agent.tool(name="ping")
        def ping_again() -> str:
            """Ping again."""
            return "pong"


async def test_one_agent_definition_holds_no_session_state() -> None:
    agent = Concierge()
    async with Emulator(speed=None) as emu:
        async with (
            agent.session(**connect_args(emu)) as one,
            agent.session(**connect_args(emu)) as two,
        ):
            assert one is not two
            assert one.session_id != two.session_id
    assert not any(isinstance(v, AgentSession) for v in vars(agent).values())


async def test_greeting_is_spoken_first() -> None:
    async with Emulator(speed=None) as emu:
        agent = Agent(modalities=["text"], greeting="Welcome to the Grand Hotel!")
        async with (
            agent.session(**connect_args(emu)) as session,
            agent_transcripts(session, 1) as said,
        ):
            pass
    assert said[0].text == "Welcome to the Grand Hotel!"


async def test_push_to_talk_commit_ends_the_turn() -> None:
    question = synthesize("Is the pool open?").audio
    script = Script(Turn(hears="Is the pool open?", says="Yes, until ten."))
    async with Emulator(speed=None, script=script) as emu:
        agent = Agent(turn_detection=None)
        sink = MemorySink()
        transcripts: list[str] = []
        agent.on(UserTranscript)(lambda event: transcripts.append(event.text))
        source = MemorySource(question, AudioFormat())
        with anyio.fail_after(20):
            result = await agent.run(source=source, sink=sink, **connect_args(emu))
        received = [e["type"] for e in emu.connections[0].received]
    assert emu.connections[0].session["turn_detection"] is None
    assert received.count("input_audio_buffer.commit") == 1
    assert received.count("response.create") == 1
    assert result.reason is EndReason.INPUT_FINISHED
    assert transcripts == ["Is the pool open?"]
    assert sink.data == synthesize("Yes, until ten.").audio


async def test_manual_commit_from_the_application() -> None:
    script = Script(Turn(hears="Hello?", says="Hi!"))
    async with Emulator(speed=None, script=script) as emu:
        agent = Agent(turn_detection=None, modalities=["text"])
        async with agent.session(**connect_args(emu)) as session:
            async with agent_transcripts(session, 1) as said:
                wire = session._uplink.wire  # no public append: push-to-talk apps use a source
                assert wire is not None
                await wire.send(
                    {
                        "type": "input_audio_buffer.append",
                        "audio": base64.b64encode(synthesize("Hello?").audio).decode(),
                    }
                )
                await session.commit()
    assert said[0].text == "Hi!"


async def test_cancelling_run_closes_the_connection() -> None:
    async with Emulator(speed=1.0) as emu:
        agent = Agent(turn_detection=ServerVad())
        source = MemorySource(bytes(24000 * 2 * 30), AudioFormat(), realtime=True)
        ended: list[SessionEnded] = []
        agent.on(SessionEnded)(ended.append)
        with anyio.move_on_after(0.5):
            await agent.run(source=source, sink=MemorySink(), **connect_args(emu))
        await wait_closed(emu.connections[0])
    assert ended[0].reason is EndReason.CANCELLED


async def test_a_dropped_connection_ends_the_session_when_reconnecting_is_off() -> None:
    async with Emulator(speed=None, faults=Faults(drop_on_event="response.create")) as emu:
        agent = Agent(modalities=["text"], reconnect=ReconnectPolicy.off())
        async with agent.session(**connect_args(emu)) as session:
            await session.send_text("hello")
            with anyio.fail_after(5):
                result = await session.wait()
    assert result.reason is EndReason.CONNECTION_LOST
    assert "was cut (it ended without a WebSocket close frame)" in str(result.error)


async def test_end_from_a_handler() -> None:
    script = Script(Turn(says="Goodbye."))
    async with Emulator(speed=None, script=script) as emu:
        agent = Agent(modalities=["text"])
        holder: list[AgentSession] = []

        @agent.on(AgentTranscript)
        def hang_up(event: AgentTranscript) -> None:
            holder[0].end()

        async with agent.session(**connect_args(emu)) as session:
            holder.append(session)
            await session.send_text("bye")
            with anyio.fail_after(5):
                result = await session.wait()
    assert result.reason is EndReason.ENDED


async def test_tool_timeout_and_unserializable_result_reach_the_model() -> None:
    script = Script(Turn(calls=[ToolCall("slow"), ToolCall("weird")], says=lambda ctx: "ok"))
    async with Emulator(speed=None, script=script) as emu:
        agent = Agent(modalities=["text"])

        @agent.tool(timeout=0.05)
        async def slow() -> str:
            """Never finishes in time."""
            await anyio.sleep(10)
            return "late"

        @agent.tool
        def weird() -> object:
            """Returns something that is not JSON."""
            return {1, 2}

        async with agent.session(**connect_args(emu)) as session, agent_transcripts(session, 1):
            await session.send_text("go")
        outputs = [
            e["item"]["output"]
            for e in emu.connections[0].received
            if e["type"] == "conversation.item.create"
            and e["item"].get("type") == "function_call_output"
        ]
    assert len(outputs) == 2
    assert any("did not finish within 0.05 seconds" in output for output in outputs)
    assert any("could not be converted to JSON" in output for output in outputs)


SCRIPT = textwrap.dedent(
    """
    import anyio, sys
    from voiceagent import Agent
    from voiceagent.audio import AudioFormat, MemorySink, MemorySource
    from voiceagent.testing import Emulator

    async def main():
        async with Emulator(speed=1.0) as emu:
            source = MemorySource(bytes(24000 * 2 * 60), AudioFormat(), realtime=True)
            print("ready", flush=True)
            await Agent().run(source=source, sink=MemorySink(),
                              endpoint=emu.endpoint, credential=emu.credential)

    try:
        anyio.run(main)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
    """
)


def test_ctrl_c_exits_promptly_and_quietly(tmp_path: Path) -> None:
    program = tmp_path / "agent.py"
    program.write_text(SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(program)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    import time

    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 130, err
    assert "interrupted" in out
    assert "Traceback" not in err, err
    assert "Task exception was never retrieved" not in err


async def test_a_failed_commit_does_not_leave_the_turn_hanging() -> None:
    async with Emulator(speed=None) as emu:
        agent = Agent(turn_detection=None, modalities=["text"])
        errors: list[ServiceErrorReported] = []
        agent.on(ServiceErrorReported)(errors.append)
        async with agent.session(**connect_args(emu)) as session:
            await session.commit()  # nothing was appended: the service refuses
            with anyio.fail_after(5):
                while session.state is not TurnState.IDLE:  # noqa: ASYNC110
                    await anyio.sleep(0.01)
            session.end()
            with anyio.fail_after(5):
                result = await session.wait()
    assert result.reason is EndReason.ENDED
    assert [e.code for e in errors][:1] == ["input_audio_buffer_commit_empty"]
