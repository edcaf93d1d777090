"""Fault injection, recording and waiting, and many concurrent connections."""

from __future__ import annotations

import base64

import anyio
import pytest
from azure.ai.voicelive.aio import ConnectionError as VoiceLiveConnectionError
from azure.ai.voicelive.aio import connect

from voiceagent.errors import EmulatorError
from voiceagent.testing import Emulator, Faults, Script, Turn, synthesize

from ..helpers import create_item, recv_until, type_of, types
from .test_emulator_events import manual


async def test_drop_after_n_events() -> None:
    async with (
        Emulator(speed=None, faults=Faults(drop_after_events=2)) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        await manual(conn)  # event 1
        await conn.input_audio_buffer.clear()  # event 2: answered, then dropped
        seen = [type_of(e) async for e in conn]
        assert seen == ["input_audio_buffer.cleared"]
        assert emu.connections[0].closed


async def test_drop_on_event_type() -> None:
    async with (
        Emulator(speed=None, faults=Faults(drop_on_event="response.create")) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        await manual(conn)
        await conn.response.create()
        assert [e async for e in conn] == []
        with pytest.raises(VoiceLiveConnectionError):
            await conn.recv()
        assert emu.connections[0].received[-1]["type"] == "response.create"


async def test_drop_from_a_test_and_send_error(emulator: Emulator) -> None:
    async with connect(endpoint=emulator.endpoint, credential=emulator.credential) as conn:
        await manual(conn)
        server = emulator.connections[0]
        await server.send_error("The server had an error.", code="internal_error")
        [error] = await recv_until(conn, "error")
        assert error.error.type == "server_error"
        assert error.error.code == "internal_error"
        await server.drop(graceful=True)
        assert [e async for e in conn] == []


async def test_non_json_frame_breaks_the_sdk_as_documented(emulator: Emulator) -> None:
    async with connect(endpoint=emulator.endpoint, credential=emulator.credential) as conn:
        await manual(conn)
        await emulator.connections[0].send_raw("this is not json")
        with pytest.raises(VoiceLiveConnectionError, match="Failed to parse message"):
            await conn.recv()


async def test_response_delay_and_audio_stall() -> None:
    faults = Faults(response_delay=0.3, stall_audio_at_ms=200, stall_seconds=0.4)
    async with (
        Emulator(speed=None, faults=faults, audio_chunk_ms=100) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        await manual(conn)
        await conn.response.create()
        start = anyio.current_time()
        await recv_until(conn, "response.created")
        await recv_until(conn, "response.audio.delta")
        first_audio = anyio.current_time() - start
        await recv_until(conn, "response.done")
        total = anyio.current_time() - start
    # Lower bounds only: the faults must have delayed the stream at least this much.
    assert first_audio >= 0.3
    assert total >= 0.7


async def test_wait_for_returns_recorded_client_events(emulator: Emulator) -> None:
    async with connect(endpoint=emulator.endpoint, credential=emulator.credential) as conn:
        await manual(conn)
        await conn.response.create(response={"modalities": ["text"]})
        event = await emulator.wait_for("response.create")
        assert event["response"] == {"modalities": ["text"]}
        async with anyio.create_task_group() as tg:

            async def later() -> None:
                await anyio.sleep(0.05)
                await conn.response.create()

            tg.start_soon(later)
            second = await emulator.wait_for("response.create", count=2, timeout=5)
        assert second == {"type": "response.create"}
        with pytest.raises(TimeoutError, match=r"response.cancel"):
            await emulator.wait_for("response.cancel", timeout=0.1)
        assert emulator.connections[0].sent[0]["type"] == "session.created"


async def test_record_off_counts_events_but_keeps_no_record() -> None:
    async with (
        Emulator(speed=None, record=False, faults=Faults(drop_after_events=3)) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        await manual(conn)
        await conn.response.create(response={"modalities": ["text"]})
        await recv_until(conn, "response.done")
        record = emu.connections[0]
        assert record.events_received == 2
        assert record.received == []
        assert record.sent == []
        with pytest.raises(EmulatorError, match="record=True"):
            await emu.wait_for("response.create", timeout=0.1)
        # Fault counting works from the counter, not the record.
        await conn.input_audio_buffer.clear()
        assert [type_of(e) async for e in conn] == ["input_audio_buffer.cleared"]
        assert record.closed


async def test_keep_audio_keeps_raw_input() -> None:
    speech = synthesize("Keep this audio.")
    async with (
        Emulator(speed=None, keep_audio=True) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        await manual(conn)
        await conn.input_audio_buffer.append(audio=base64.b64encode(speech.audio).decode())
        await conn.input_audio_buffer.commit()
        [*_, created] = await recv_until(conn, "conversation.item.created")
        await conn.conversation.item.retrieve(item_id=created.item.id)
        [retrieved] = await recv_until(conn, "conversation.item.retrieved")
        assert base64.b64decode(retrieved.item.content[0]["audio"]) == speech.audio
        assert bytes(emu.connections[0].input_audio or b"") == speech.audio


async def test_fifty_concurrent_connections_each_complete_a_scripted_turn() -> None:
    script = Script(Turn(hears="ping", says="pong"))
    results: dict[int, tuple[str, str, str]] = {}

    async with Emulator(speed=None, script=script) as emu:

        async def one(index: int) -> None:
            async with connect(endpoint=emu.endpoint, credential=emu.credential) as conn:
                await manual(conn, instructions=f"session {index}")
                await create_item(
                    conn,
                    item={
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": f"hello from {index}"}],
                    },
                )
                [created] = await recv_until(conn, "conversation.item.created")
                await conn.response.create()
                events = await recv_until(conn, "response.done", timeout=60)
                assert types(events)[0] == "response.created"
                transcript = events[-1].response.output[0].content[0].transcript
                await conn.conversation.item.retrieve(item_id=created.item.id)
                [retrieved] = await recv_until(conn, "conversation.item.retrieved")
                results[index] = (transcript, retrieved.item.content[0].text, created.item.id)

        async with anyio.create_task_group() as tg:
            for i in range(50):
                tg.start_soon(one, i)
        sessions = {c.id for c in emu.connections}
        instructions = sorted(c.session["instructions"] for c in emu.connections)

    assert len(results) == 50
    assert len(sessions) == 50
    assert instructions == sorted(f"session {i}" for i in range(50))
    for index, (transcript, text, _) in results.items():
        assert transcript == "pong"
        assert text == f"hello from {index}"
    assert len({item_id for *_, item_id in results.values()}) == 50
