"""The session's wire over a real connection: the microphone's appends, written as bytes on
the SDK's socket, are the messages ``conn.send`` would write, in order with what was
posted before them; without that socket they go through ``conn.send``; failures are
voiceagent errors without the key."""

from __future__ import annotations

import base64
import json
import os
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from azure.ai.voicelive.aio import connect

from voiceagent._connect import ConnectionSettings
from voiceagent._wire import _APPEND_HEAD, _APPEND_TAIL, Wire
from voiceagent.errors import ConnectionLostError
from voiceagent.testing import Disconnect, Emulator, Faults

from ..helpers import connect_args

if TYPE_CHECKING:
    from azure.ai.voicelive.aio import VoiceLiveConnection


def _appended(emu: Emulator) -> tuple[list[int], bytes]:
    """The byte count of each append the emulator received, and all their audio."""
    connection = emu.connections[0]
    assert connection.input_audio is not None
    counts = [e["audio"] for e in connection.received if e["type"] == "input_audio_buffer.append"]
    return counts, bytes(connection.input_audio)


def test_an_append_is_the_json_conn_send_writes() -> None:
    for frame in (b"", b"\x00\x01", os.urandom(960), os.urandom(961), os.urandom(962)):
        audio = base64.b64encode(frame).decode()
        expected = json.dumps({"type": "input_audio_buffer.append", "audio": audio})
        assert _APPEND_HEAD + base64.b64encode(frame) + _APPEND_TAIL == expected.encode()


async def test_appends_reach_the_service_whole_and_in_order_with_posted_events() -> None:
    frames = [os.urandom(960) for _ in range(5)]
    async with Emulator(speed=None, keep_audio=True) as emu:
        settings = ConnectionSettings.resolve(**connect_args(emu))
        async with connect(endpoint=emu.endpoint, credential=emu.credential) as connection:
            wire = Wire(connection, settings)
            await wire.send_audio(frames[0])
            wire.post({"type": "input_audio_buffer.clear"})  # not yet sent: no writer runs
            sending = wire.send_audio(frames[1])  # goes out after it
            wire.post({"type": "input_audio_buffer.commit"})
            await sending  # flushes the queue, the commit too
            for frame in frames[2:]:
                await wire.send_audio(frame)
            await wire.send({"type": "input_audio_buffer.clear"})
            await emu.wait_for("input_audio_buffer.clear", count=2, timeout=10)
        kinds = [e["type"] for e in emu.connections[0].received if e["type"] != "session.update"]
    assert kinds == [
        "input_audio_buffer.append",
        "input_audio_buffer.clear",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        *["input_audio_buffer.append"] * 3,
        "input_audio_buffer.clear",
    ]
    assert _appended(emu) == ([len(f) for f in frames], b"".join(frames))


class _NoSocket:
    """A real SDK connection seen through an object without its ``_connection``, as a
    version of the SDK that keeps its socket elsewhere would be."""

    def __init__(self, connection: VoiceLiveConnection) -> None:
        self.connection = connection

    def __getattr__(self, name: str) -> Any:
        if name == "_connection":
            raise AttributeError(name)
        return getattr(self.connection, name)


async def test_without_the_sdk_socket_appends_go_through_conn_send() -> None:
    frames = [os.urandom(960) for _ in range(3)]
    async with Emulator(speed=None, keep_audio=True) as emu:
        settings = ConnectionSettings.resolve(**connect_args(emu))
        async with connect(endpoint=emu.endpoint, credential=emu.credential) as connection:
            wire = Wire(_NoSocket(connection), settings)  # type: ignore[arg-type]
            assert wire._socket is None
            for frame in frames:
                await wire.send_audio(frame)
            await wire.send({"type": "input_audio_buffer.clear"})
            await emu.wait_for("input_audio_buffer.clear", timeout=10)
    assert _appended(emu) == ([len(f) for f in frames], b"".join(frames))


async def test_an_append_on_a_closed_connection_is_a_lost_connection_without_the_key() -> None:
    async with Emulator(speed=None, keep_audio=True) as emu:
        settings = ConnectionSettings.resolve(**connect_args(emu))
        async with connect(endpoint=emu.endpoint, credential=emu.credential) as connection:
            wire = Wire(connection, settings)
            assert wire._socket is not None
            await wire._socket.close()
            with pytest.raises(ConnectionLostError) as raised:
                await wire.send_audio(os.urandom(960))
        assert emu.endpoint in str(raised.value)
        assert emu.api_key not in str(raised.value)
    assert raised.value.__context__ is None
    assert raised.value.__cause__ is None


async def test_appends_queued_behind_a_backlog_are_refused() -> None:
    async with Emulator(speed=None, keep_audio=True) as emu:
        settings = ConnectionSettings.resolve(**connect_args(emu))
        async with connect(endpoint=emu.endpoint, credential=emu.credential) as connection:
            wire = Wire(connection, settings)
            for _ in range(10_000):
                wire.post({"type": "input_audio_buffer.clear"})
            with pytest.raises(ConnectionLostError, match="stopped taking events"):
                await wire.send_audio(os.urandom(960))


async def _read_until_closed(wire: Wire) -> tuple[list[str], str]:
    """The types of the events received until the connection ended, and how it ended."""
    kinds: list[str] = []

    async def read_all() -> None:
        while True:
            kinds.append(str((await wire.recv())["type"]))

    with anyio.fail_after(10), pytest.raises(ConnectionLostError) as raised:
        await read_all()
    assert raised.value.__context__ is None
    return kinds, str(raised.value)


@pytest.mark.parametrize("code", [1006, 1011, 1001, 1000])
async def test_reading_the_socket_itself_ends_as_reading_through_the_sdk(code: int) -> None:
    # The same events and the same end, read from the SDK's socket and through its
    # recv_bytes, for an abrupt drop and for close frames.
    ends: list[tuple[list[str], str]] = []
    for direct in (True, False):
        drop = Disconnect(at="session.updated", code=code)  # a fault fires once
        async with Emulator(speed=None, faults=Faults(disconnects=[drop])) as emu:
            settings = ConnectionSettings.resolve(**connect_args(emu))
            async with connect(endpoint=emu.endpoint, credential=emu.credential) as connection:
                wire = Wire(connection if direct else _NoSocket(connection), settings)  # type: ignore[arg-type]
                assert (wire._socket is not None) is direct
                await wire.send({"type": "session.update", "session": {"voice": None}})
                kinds, said = await _read_until_closed(wire)
            ends.append((kinds, said.replace(emu.endpoint, "<endpoint>")))
    assert ends[0] == ends[1]
    kinds, said = ends[0]
    assert kinds == ["session.created", "session.updated"]
    if code == 1006:
        assert (
            said
            == "the connection to <endpoint> was cut (it ended without a WebSocket close frame)"
        )
    else:
        assert said == f"the connection to <endpoint> closed (code {code})"


async def test_appends_go_through_conn_send_while_something_watches_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The SDK's own instrumentor makes a span and counts the audio of each append it sees;
    # so does any wrapper an application sets on the connection. Neither may lose them.
    from azure.ai.voicelive.telemetry import VoiceLiveInstrumentor

    frames = [os.urandom(960) for _ in range(3)]
    async with Emulator(speed=None, keep_audio=True) as emu:
        settings = ConnectionSettings.resolve(**connect_args(emu))
        async with connect(endpoint=emu.endpoint, credential=emu.credential) as connection:
            assert Wire(connection, settings)._append_socket is not None  # nothing watches
            seen: list[str] = []
            send = connection.send

            async def watched(event: Any) -> None:
                seen.append(event["type"])
                await send(event)

            monkeypatch.setattr(connection, "send", watched)
            wire = Wire(connection, settings)
            assert wire._append_socket is None
            assert wire._socket is not None  # receiving still reads the socket itself
            for frame in frames:
                await wire.send_audio(frame)
            assert seen == ["input_audio_buffer.append"] * 3
            monkeypatch.undo()

            monkeypatch.setenv("AZURE_EXPERIMENTAL_ENABLE_GENAI_TRACING", "true")
            instrumentor = VoiceLiveInstrumentor()
            instrumentor.instrument()
            try:
                assert Wire(connection, settings)._append_socket is None
            finally:
                instrumentor.uninstrument()
            assert Wire(connection, settings)._append_socket is not None
            await wire.send({"type": "input_audio_buffer.clear"})
            await emu.wait_for("input_audio_buffer.clear", timeout=10)
    assert _appended(emu) == ([len(f) for f in frames], b"".join(frames))
