"""How scripted turns advance: only what a response emitted consumes the script."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from azure.ai.voicelive.aio import connect

from voiceagent.testing import (
    Emulator,
    Faults,
    ResponseFailure,
    Script,
    ToolCall,
    Turn,
    synthesize,
)

from ..helpers import create_item, recv_until, type_of, types
from .test_emulator_events import manual

if TYPE_CHECKING:
    from azure.ai.voicelive.aio import VoiceLiveConnection

TOOL_TURN = Script(
    Turn(
        hears="Weather in Paris?",
        calls=[ToolCall("get_weather", {"city": "Paris"})],
        says="It is sunny in Paris.",
    )
)


async def ask(conn: VoiceLiveConnection, text: str) -> None:
    await create_item(
        conn,
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]},
    )
    await recv_until(conn, "conversation.item.created")


def calls_in(events: list[Any]) -> list[str]:
    return [
        e.item.name
        for e in events
        if type_of(e) == "response.output_item.done" and e.item.type == "function_call"
    ]


async def test_a_response_cancelled_before_its_calls_does_not_consume_them() -> None:
    faults = Faults(response_delay=0.5)
    async with (
        Emulator(script=TOOL_TURN, speed=None, faults=faults) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        await manual(conn)
        await ask(conn, "Weather in Paris?")
        await conn.response.create()
        await recv_until(conn, "response.created")
        await conn.response.cancel()
        [*_, done] = await recv_until(conn, "response.done")
        assert done.response.status == "cancelled"
        faults.response_delay = 0.0
        await conn.response.create()
        events = await recv_until(conn, "response.done")
        assert calls_in(events) == ["get_weather"]
        assert events[-1].response.status == "completed"


async def test_a_response_replaced_by_response_create_does_not_consume_the_calls() -> None:
    # What a client does when it sends response.create while the automatic (VAD) response
    # is starting: cancel_previous (default true) cancels that one.
    faults = Faults(response_delay=0.5)
    async with (
        Emulator(script=TOOL_TURN, speed=None, faults=faults) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        await manual(conn)
        await ask(conn, "Weather in Paris?")
        await conn.response.create()
        await recv_until(conn, "response.created")
        faults.response_delay = 0.0
        await conn.response.create()
        first = await recv_until(conn, "response.done")
        assert first[-1].response.status == "cancelled"
        second = await recv_until(conn, "response.done")
        assert calls_in(second) == ["get_weather"]


async def test_calls_once_emitted_are_not_made_again() -> None:
    async with (
        Emulator(script=TOOL_TURN, speed=None) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        await manual(conn, modalities=["text"])
        await ask(conn, "Weather in Paris?")
        await conn.response.create()
        events = await recv_until(conn, "response.done")
        [call] = [e for e in events if types([e]) == ["response.function_call_arguments.done"]]
        await create_item(
            conn,
            item={"type": "function_call_output", "call_id": call.call_id, "output": "{}"},
        )
        await recv_until(conn, "conversation.item.created")
        await conn.response.create()
        events = await recv_until(conn, "response.done")
        assert calls_in(events) == []
        [text] = [e.text for e in events if types([e]) == ["response.text.done"]]
        assert text == "It is sunny in Paris."


async def test_a_failure_cancelled_during_its_delay_still_fails_the_next_response() -> None:
    script = Script(Turn(hears="Hi", fail=ResponseFailure(), says="Hello."))
    faults = Faults(response_delay=0.5)
    async with (
        Emulator(script=script, speed=None, faults=faults) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        await manual(conn)
        await ask(conn, "Hi")
        await conn.response.create()
        await recv_until(conn, "response.created")
        await conn.response.cancel()
        await recv_until(conn, "response.done")
        faults.response_delay = 0.0
        await conn.response.create()
        [*_, done] = await recv_until(conn, "response.done")
        assert done.response.status == "failed"
        await conn.response.create()
        [*_, done] = await recv_until(conn, "response.done")
        assert done.response.status == "completed"


async def test_an_unscripted_audio_turn_gets_a_spoken_answer_of_seconds() -> None:
    # The SDK's live tests expect a real model's answer: more than 50 KB of pcm16 (about a
    # second) and 10 KB of G.711. A one-word acknowledgement was shorter than that.
    async with (
        Emulator(speed=None) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        await manual(conn)
        await conn.input_audio_buffer.append(
            audio=base64.b64encode(synthesize("Hello there.").audio).decode()
        )
        await conn.input_audio_buffer.commit()
        await conn.response.create()
        events = await recv_until(conn, "response.done")
        audio = sum(len(e.delta) for e in events if type_of(e) == "response.audio.delta")
        assert audio / 48 >= 2000
        [done] = [e for e in events if type_of(e) == "response.audio_transcript.done"]
        assert done.transcript == "I heard you, but I need a script to answer."
