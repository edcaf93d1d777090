"""Faults for reconnection tests: close codes at events, refused and unreachable
connections, session expiry, successive connections and their records."""

from __future__ import annotations

import datetime
import time
from typing import Any

import anyio
import pytest
from azure.ai.voicelive.aio import ConnectionClosed, VoiceLiveConnection, connect
from azure.ai.voicelive.aio import ConnectionError as VoiceLiveConnectionError

from voiceagent.errors import EmulatorError
from voiceagent.testing import (
    Disconnect,
    Emulator,
    Faults,
    Script,
    ServerWarning,
    TranscriptionFailure,
    Turn,
    Warn,
    synthesize,
)

from ..helpers import recv_until, type_of
from .test_emulator_events import b64, manual


async def drain(conn: VoiceLiveConnection) -> tuple[list[str], ConnectionClosed]:
    """Receive until the connection closes; the event types and the SDK's close error."""
    seen: list[str] = []
    with anyio.fail_after(10):
        while True:
            try:
                seen.append(type_of(await conn.recv()))
            except ConnectionClosed as closed:
                return seen, closed


async def test_abrupt_drop_after_the_third_audio_delta() -> None:
    faults = Faults(disconnects=[Disconnect(at="response.audio.delta", count=3)])
    async with (
        Emulator(speed=None, faults=faults, audio_chunk_ms=50) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        await manual(conn)
        await conn.response.create()
        seen, closed = await drain(conn)
        assert seen.count("response.audio.delta") == 3
        assert seen[-1] == "response.audio.delta"
        # No close frame: the SDK says "Connection closed"; aiohttp's socket says 1006.
        assert closed.reason == "Connection closed"
        assert conn._connection.close_code == 1006
        server = emu.connections[0]
        assert (server.close_code, server.closed_by) == (1006, "server")
        assert faults.disconnects[0].fired == 1


async def test_close_frame_with_a_code_on_a_server_event() -> None:
    fault = Disconnect(at="response.created", code=1011, reason="internal error")
    async with Emulator(speed=None, faults=Faults(disconnects=[fault])) as emu:
        async with connect(endpoint=emu.endpoint, credential=emu.credential) as conn:
            await manual(conn)
            await conn.response.create()
            seen, closed = await drain(conn)
            assert seen == ["response.created"]
            assert closed.code == 1011
        # The fault fires on one connection by default: the reconnection works.
        async with connect(endpoint=emu.endpoint, credential=emu.credential) as conn:
            await manual(conn)
            await conn.response.create()
            events = await recv_until(conn, "response.done")
            assert events[-1].response.status == "completed"
        first, second = emu.connections
        assert (first.close_code, first.closed_by) == (1011, "server")
        assert (second.close_code, second.closed_by) == (1000, "client")
        assert first.id != second.id


async def test_close_on_the_nth_client_event_before_acting_on_it() -> None:
    fault = Disconnect(at="response.create", count=2, code=1001, connections=None)
    async with (
        Emulator(speed=None, faults=Faults(disconnects=[fault])) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        await manual(conn, modalities=["text"])
        await conn.response.create()
        await recv_until(conn, "response.done")
        await conn.response.create()
        seen, closed = await drain(conn)
        assert "response.created" not in seen
        assert closed.code == 1001
        assert emu.connections[0].received[-1]["type"] == "response.create"


def test_disconnect_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="close code"):
        Disconnect(at="response.created", code=1005)
    with pytest.raises(ValueError, match="positive integer"):
        Disconnect(at="response.created", count=0)
    with pytest.raises(ValueError, match="123 bytes"):
        Disconnect(at="response.created", code=1000, reason="x" * 124)


async def test_warnings_at_events_per_turn_and_from_a_test() -> None:
    script = Script(Turn(hears="Hi", says="Hello.", warning=ServerWarning(message="turn")))
    faults = Faults(warnings=[Warn(at="response.create", warning=ServerWarning(message="rc"))])
    async with (
        Emulator(speed=None, script=script, faults=faults) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        await manual(conn, modalities=["text"])
        await conn.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "Hi"}],
                },
            }
        )
        created, warning = await recv_until(conn, "warning")
        assert type_of(created) == "conversation.item.created"
        assert warning.warning.message == "turn"
        await conn.response.create()
        [warning] = await recv_until(conn, "warning")
        assert (warning.warning.message, warning.warning.code) == ("rc", "warning")
        await recv_until(conn, "response.done")
        await emu.connections[0].send_warning("from a test", code="custom", param="session")
        [warning] = await recv_until(conn, "warning")
        assert (warning.warning.code, warning.warning.param) == ("custom", "session")


async def test_transcription_fails_per_turn_and_by_fault() -> None:
    speech = synthesize("Hello there.").audio
    script = Script(
        Turn(hears="one", says="First.", transcription_fails=TranscriptionFailure()),
        Turn(hears="two", says="Second."),
        Turn(hears="three", says="Third."),
    )
    faults = Faults()
    async with (
        Emulator(speed=None, script=script, faults=faults) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        await manual(conn, input_audio_transcription={"model": "azure-speech"})

        async def commit() -> list[Any]:
            await conn.input_audio_buffer.append(audio=b64(speech))
            await conn.input_audio_buffer.commit()
            return await recv_until(
                conn,
                lambda e: (
                    type_of(e).startswith("conversation.item.input_audio_transcription.")
                    and not type_of(e).endswith(".delta")
                ),
            )

        *_, failed = await commit()
        assert type_of(failed) == "conversation.item.input_audio_transcription.failed"
        assert failed.error.code == "audio_unintelligible"
        assert failed.error.type == "transcription_error"
        assert emu.connections[0].items[-1]["content"][0]["transcript"] is None
        *_, completed = await commit()
        assert completed.transcript == "two"
        faults.transcription_failure = TranscriptionFailure(message="No speech.", code="x")
        *_, failed = await commit()
        assert (failed.error.message, failed.error.code) == ("No speech.", "x")


async def test_refuse_the_next_connection_attempts_then_accept() -> None:
    faults = Faults(refuse_connections=2, refuse_status=429)
    async with Emulator(speed=None, faults=faults) as emu:
        for _ in range(2):
            with pytest.raises(VoiceLiveConnectionError, match="429"):
                async with connect(endpoint=emu.endpoint, credential=emu.credential):
                    pass
        async with connect(endpoint=emu.endpoint, credential=emu.credential) as conn:
            assert type_of(await conn.recv()) == "session.created"
        assert emu.rejected == [(429, "/voice-live/realtime")] * 2
        assert faults.refuse_connections == 0
        assert emu.accepted == 1


async def test_unreachable_then_reachable_again() -> None:
    async with Emulator(speed=None) as emu:
        async with connect(endpoint=emu.endpoint, credential=emu.credential) as conn:
            await conn.recv()
            await emu.go_offline()
            assert not emu.online
            _, closed = await drain(conn)
            assert closed.reason == "Connection closed"
            assert conn._connection.close_code == 1006
        with pytest.raises(VoiceLiveConnectionError, match=r"Cannot connect|Connect call failed"):
            async with connect(endpoint=emu.endpoint, credential=emu.credential):
                pass
        await emu.go_online()
        async with connect(endpoint=emu.endpoint, credential=emu.credential) as conn:
            assert type_of(await conn.recv()) == "session.created"
        assert [c.close_code for c in emu.connections] == [1006, 1000]


async def test_go_offline_can_keep_open_connections() -> None:
    async with Emulator(speed=None) as emu:
        async with connect(endpoint=emu.endpoint, credential=emu.credential) as conn:
            await manual(conn, modalities=["text"])
            await emu.go_offline(drop_connections=False)
            await conn.response.create()
            assert type_of((await recv_until(conn, "response.done"))[-1]) == "response.done"
        await emu.go_online()
        await emu.go_online()  # already online: nothing to do


async def test_session_expires_at_expires_at_with_the_services_error_and_close() -> None:
    # 60 emulated seconds at speed 60: one wall second.
    faults = Faults(session_max_s=60)
    async with (
        Emulator(speed=60, faults=faults) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        opened = time.time()
        created: Any = await conn.recv()
        expires_at = created.session.expires_at
        assert isinstance(expires_at, datetime.datetime)
        announced = expires_at.timestamp()
        # Whole seconds, rounded down: within a second before the real end, never after.
        assert announced == int(announced)
        assert opened + 1 - 1.5 < announced <= opened + 1
        seen, closed = await drain(conn)
        elapsed = time.time() - opened
        assert time.time() >= announced  # it never ends before what it announced
        assert seen == ["error"]
        assert closed.code == 1001
        assert elapsed >= 0.9
        server = emu.connections[0]
        error = server.sent[-1]
        assert error["error"] == {
            "type": "invalid_request_error",
            "code": "session_expired",
            "message": "Your session hit the maximum duration of 1 minute.",
            "param": None,
            "event_id": None,
        }
        assert (server.close_code, server.closed_by) == (1001, "server")
        assert server.expires_in == pytest.approx(1.0)


async def test_session_expiry_reaches_a_session_in_the_middle_of_a_response() -> None:
    faults = Faults(session_max_s=0.3)
    async with (
        Emulator(speed=None, faults=faults) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        await manual(conn)
        faults.response_delay = 5.0
        await conn.response.create()
        seen, closed = await drain(conn)
        assert seen == ["response.created", "error"]
        assert closed.code == 1001
        message = emu.connections[0].sent[-1]["error"]["message"]
        assert message == "Your session hit the maximum duration of 0.3 seconds."


async def test_successive_connections_have_independent_sessions_and_records() -> None:
    async with Emulator(speed=None) as emu:
        async with connect(endpoint=emu.endpoint, credential=emu.credential) as conn:
            await conn.recv()
            await conn.session.update(session={"instructions": "first"})
            await recv_until(conn, "session.updated")
        async with connect(endpoint=emu.endpoint, credential=emu.credential) as conn:
            created: Any = await conn.recv()
            assert created.session.instructions == ""
        first = await emu.wait_for_connection(1)
        second = await emu.wait_for_connection(2)
        assert first.session["instructions"] == "first"
        assert second.session["instructions"] == ""
        assert [e["type"] for e in first.received] == ["session.update"]
        assert second.received == []
        assert await first.wait_closed() == 1000
        assert await second.wait_closed() == 1000


async def test_records_carry_monotonic_times() -> None:
    faults = Faults(response_delay=0.2)
    async with (
        Emulator(speed=None, faults=faults) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        await manual(conn)
        before = time.monotonic()
        await conn.response.create()
        await recv_until(conn, "response.done")
        after = time.monotonic()
        server = emu.connections[0]
        assert len(server.received_at) == len(server.received)
        assert len(server.sent_at) == len(server.sent)
        assert server.sent_at == sorted(server.sent_at)
        assert before <= server.received_at[-1] <= after
        kinds = [e["type"] for e in server.sent]
        created = server.sent_at[kinds.index("response.created")]
        first_output = server.sent_at[kinds.index("response.output_item.added")]
        assert first_output - created >= 0.2


async def test_bounded_records_and_forgotten_closed_connections() -> None:
    async with Emulator(speed=None, record_limit=10, keep_closed=2) as emu:
        for i in range(4):
            async with connect(endpoint=emu.endpoint, credential=emu.credential) as conn:
                server = await emu.wait_for_connection(i + 1)
                await conn.recv()
                for _ in range(100):
                    await conn.input_audio_buffer.clear()
                for _ in range(100):
                    await recv_until(conn, "input_audio_buffer.cleared")
            await server.wait_closed()
        assert len(emu.connections) == 2
        assert emu.accepted == 4
        for server in emu.connections:
            assert server.events_received == 100
            assert 10 <= len(server.received) < 2 * 10 + 64
            assert server.received[-1]["type"] == "input_audio_buffer.clear"
            assert len(server.received_at) == len(server.received)
        assert (await emu.wait_for_connection(4)) is emu.connections[-1]
        with pytest.raises(EmulatorError, match="forgotten"):
            await emu.wait_for_connection(1)


async def test_record_limit_and_keep_closed_are_checked() -> None:
    with pytest.raises(EmulatorError, match="record_limit"):
        Emulator(record_limit=-1)
    with pytest.raises(EmulatorError, match="keep_closed"):
        Emulator(keep_closed=1.5)  # type: ignore[arg-type]


async def test_a_bad_port_is_a_clear_error() -> None:
    with pytest.raises(EmulatorError, match="ports are 0 to 65535"):
        async with Emulator(port=99999):
            pass
