"""Conformance: every server event type the emulator can emit is deserialized by the
real SDK into the intended model class."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import azure.ai.voicelive.models as models
from azure.ai.voicelive.aio import connect
from azure.ai.voicelive.models import ServerEvent

import voiceagent.testing
from voiceagent.testing import (
    Emulator,
    Faults,
    McpCall,
    McpServer,
    McpTool,
    Script,
    ServerWarning,
    ToolCall,
    TranscriptionFailure,
    Turn,
    Warn,
    synthesize,
)
from voiceagent.testing._protocol import SERVER_EVENT_CLASSES

from ..helpers import create_item, recv_until, type_of

PACKAGE = Path(voiceagent.testing.__file__).parent


def test_every_emitted_type_literal_is_in_the_table() -> None:
    # Any server event the emulator builds has a literal "type": "..." in its source.
    emitted: set[str] = set()
    for path in PACKAGE.glob("*.py"):
        for kind in re.findall(r'"type": "([a-z_]+(?:\.[a-z_]+)+|error)"', path.read_text()):
            emitted.add(kind)
    client_only = {"function_call_output", "item_reference"}
    assert emitted - client_only <= set(SERVER_EVENT_CLASSES), emitted - set(SERVER_EVENT_CLASSES)


def test_every_class_in_the_table_exists_in_the_sdk() -> None:
    for kind, name in SERVER_EVENT_CLASSES.items():
        cls = getattr(models, name)
        assert issubclass(cls, ServerEvent)
        assert cls.__mapping__ if hasattr(cls, "__mapping__") else True
        assert ServerEvent.__mapping__[kind] is cls, kind


async def test_every_server_event_parses_to_its_class() -> None:
    seen: dict[str, set[str]] = {}

    def note(events: list[ServerEvent]) -> None:
        for event in events:
            seen.setdefault(type_of(event), set()).add(type(event).__name__)

    script = Script(
        Turn(hears="Call the tool.", calls=[ToolCall("lookup", {"q": "x"})], says="Found it."),
    )
    speech = synthesize("Hello, can you hear me?")
    async with (
        Emulator(speed=None, script=script) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        note([await conn.recv()])
        await conn.session.update(
            session={
                "input_audio_transcription": {"model": "azure-speech"},
                "output_audio_timestamp_types": ["word"],
                "animation": {"outputs": ["viseme_id", "blendshapes"]},
                "avatar": {"character": "lisa", "style": "casual-sitting"},
                "voice": {"type": "azure-standard", "name": "en-US-NancyNeural"},
                "tools": [{"type": "function", "name": "lookup", "parameters": {}}],
                "turn_detection": {"type": "server_vad", "create_response": True},
            }
        )
        note(await recv_until(conn, "session.updated"))
        # A VAD turn with transcription, answered with a function call.
        await conn.input_audio_buffer.append(
            audio=base64.b64encode(speech.audio + bytes(48000)).decode()
        )
        events = await recv_until(conn, "response.done")
        note(events)
        call = next(e for e in events if type_of(e) == "response.function_call_arguments.done")
        await create_item(
            conn, item={"type": "function_call_output", "call_id": call.call_id, "output": "{}"}
        )
        note(await recv_until(conn, "conversation.item.created"))
        await conn.response.create()
        events = await recv_until(conn, "response.done")
        note(events)
        item_id = events[-1].response.output[0].id
        await conn.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=10)
        note(await recv_until(conn, "conversation.item.truncated"))
        await conn.conversation.item.retrieve(item_id=item_id)
        note(await recv_until(conn, "conversation.item.retrieved"))
        await conn.conversation.item.delete(item_id=item_id)
        note(await recv_until(conn, "conversation.item.deleted"))
        await conn.response.create(response={"modalities": ["text"]})
        note(await recv_until(conn, "response.done"))
        await conn.input_audio_buffer.clear()
        note(await recv_until(conn, "input_audio_buffer.cleared"))
        await conn.output_audio_buffer.clear()
        note(await recv_until(conn, "output_audio_buffer.cleared"))
        await conn.send({"type": "session.avatar.connect", "client_sdp": "c2Rw"})
        note(await recv_until(conn, "session.avatar.connecting"))
        await conn.response.cancel()
        note(await recv_until(conn, "error"))

    # Injected: a failed transcription and a warning.
    faults = Faults(
        transcription_failure=TranscriptionFailure(),
        warnings=[Warn(at="session.updated", warning=ServerWarning(message="Heads up."))],
    )
    async with (
        Emulator(speed=None, faults=faults) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        note([await conn.recv()])
        await conn.session.update(
            session={"turn_detection": None, "input_audio_transcription": {"model": "whisper-1"}}
        )
        note(await recv_until(conn, "warning"))
        await conn.input_audio_buffer.append(audio=base64.b64encode(speech.audio).decode())
        await conn.input_audio_buffer.commit()
        note(await recv_until(conn, "conversation.item.input_audio_transcription.failed"))

    # MCP: a listing that fails, one that works, a call that works and one that fails.
    mcp_script = Script(
        Turn(
            mcp_calls=[McpCall("ok", "tool"), McpCall("ok", "tool", error="boom")],
            says="Done.",
        ),
        mcp_servers=[McpServer("ok", tools=[McpTool("tool")]), McpServer("bad", list_error="x")],
    )
    async with (
        Emulator(speed=None, script=mcp_script) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        note([await conn.recv()])
        url = "https://mcp.example.com"
        await conn.session.update(
            session={
                "turn_detection": None,
                "tools": [
                    {
                        "type": "mcp",
                        "server_label": "ok",
                        "server_url": url,
                        "require_approval": "never",
                    },
                    {"type": "mcp", "server_label": "bad", "server_url": url},
                ],
            }
        )
        note(await recv_until(conn, "mcp_list_tools.failed"))
        await create_item(
            conn,
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Go"}],
            },
        )
        await conn.response.create()
        note(await recv_until(conn, "response.mcp_call.failed"))

    assert set(seen) == set(SERVER_EVENT_CLASSES), set(SERVER_EVENT_CLASSES) ^ set(seen)
    for kind, classes in seen.items():
        assert classes == {SERVER_EVENT_CLASSES[kind]}, (kind, classes)
