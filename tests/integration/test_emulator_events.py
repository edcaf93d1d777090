"""Each client event type the SDK defines: the documented server reaction, over a real socket."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

import pytest
from azure.ai.voicelive.aio import VoiceLiveConnection, connect
from azure.ai.voicelive.models import (
    AzureSemanticVad,
    RequestSession,
    ResponseAudioContentPart,
    ResponseFunctionCallItem,
    ResponseMessageItem,
    ServerEventConversationItemCreated,
    ServerEventResponseDone,
    ServerEventSessionUpdated,
    ServerVad,
)

from voiceagent.testing import Emulator, Script, ToolCall, Turn, synthesize

from ..helpers import create_item, is_a, recv_until, type_of, types

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

SPEECH = synthesize("What is the weather like in Paris today?", sample_rate=24000)
SILENCE_1S = bytes(48000)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


async def manual(conn: VoiceLiveConnection, **session: Any) -> None:
    """Turn server VAD off (push-to-talk) and consume the handshake events."""
    await conn.recv()  # session.created
    await conn.session.update(session={"turn_detection": None, **session})
    await recv_until(conn, "session.updated")


async def test_session_update_returns_the_full_effective_config(
    conn: VoiceLiveConnection,
) -> None:
    await conn.recv()
    await conn.session.update(
        session=RequestSession(
            instructions="Be brief.",
            voice={"type": "azure-standard", "name": "en-US-Ava:DragonHDLatestNeural"},
            turn_detection=AzureSemanticVad(threshold=0.3),
        )
    )
    [updated] = await recv_until(conn, "session.updated")
    updated = is_a(updated, ServerEventSessionUpdated)
    session = updated.session
    assert session.instructions == "Be brief."
    assert session.voice == {"type": "azure-standard", "name": "en-US-Ava:DragonHDLatestNeural"}
    assert isinstance(session.turn_detection, AzureSemanticVad)
    assert session.turn_detection.threshold == 0.3
    # Fields not in the update keep their values; the whole config is echoed.
    assert session.modalities == ["text", "audio"]
    assert session.input_audio_sampling_rate == 24000
    assert session.id.startswith("sess_")
    # A second update changes only what it names; null turns VAD off.
    await conn.session.update(session={"turn_detection": None})
    [updated] = await recv_until(conn, "session.updated")
    updated = is_a(updated, ServerEventSessionUpdated)
    assert updated.session.turn_detection is None
    assert updated.session.instructions == "Be brief."


async def test_session_update_sent_before_reading_session_created(emulator: Emulator) -> None:
    async with connect(endpoint=emulator.endpoint, credential=emulator.credential) as conn:
        await conn.session.update(session={"instructions": "early"})
        events = await recv_until(conn, "session.updated")
    assert types(events) == ["session.created", "session.updated"]


async def test_append_is_not_acknowledged_and_clear_answers_cleared(
    conn: VoiceLiveConnection,
) -> None:
    await manual(conn)
    await conn.input_audio_buffer.append(audio=b64(SILENCE_1S))
    await conn.input_audio_buffer.clear()
    events = await recv_until(conn, "input_audio_buffer.cleared")
    assert types(events) == ["input_audio_buffer.cleared"]


async def test_manual_commit_creates_a_user_item_and_no_response(
    conn: VoiceLiveConnection, emulator: Emulator
) -> None:
    await manual(conn)
    await conn.input_audio_buffer.append(audio=b64(SPEECH.audio))
    await conn.input_audio_buffer.commit()
    committed, created = await recv_until(conn, "conversation.item.created")
    assert type_of(committed) == "input_audio_buffer.committed"
    assert committed.previous_item_id is None
    created = is_a(created, ServerEventConversationItemCreated)
    assert created.item.id == committed.item_id
    assert isinstance(created.item, ResponseMessageItem)
    assert created.item.role == "user"
    assert created.item.content[0].type == "input_audio"
    # No response is created by a commit: the next event is the clear we ask for.
    await conn.input_audio_buffer.clear()
    [_event] = await recv_until(conn, "input_audio_buffer.cleared")
    record = emulator.connections[0]
    assert [e["type"] for e in record.received] == [
        "session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
    ]
    assert record.received[1]["audio"] == len(SPEECH.audio)
    assert record.audio_received_bytes == len(SPEECH.audio)


async def test_item_create_retrieve_delete(conn: VoiceLiveConnection) -> None:
    await manual(conn)
    await create_item(
        conn,
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "A"}]},
    )
    [first] = await recv_until(conn, "conversation.item.created")
    first = is_a(first, ServerEventConversationItemCreated)
    assert first.previous_item_id is None
    assert first.item.id.startswith("item_")
    assert first.item.object == "realtime.item"
    assert first.item.status == "completed"
    # A client id is kept; "root" inserts at the start.
    await create_item(
        conn,
        item={
            "id": "my_item",
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": "S"}],
        },
        previous_item_id="root",
    )
    [second] = await recv_until(conn, "conversation.item.created")
    assert second.item.id == "my_item"
    assert second.previous_item_id is None
    # Inserting after an item names it as previous.
    await create_item(
        conn,
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "B"}]},
        previous_item_id="my_item",
    )
    [third] = await recv_until(conn, "conversation.item.created")
    assert third.previous_item_id == "my_item"
    await conn.conversation.item.retrieve(item_id=first.item.id)
    [retrieved] = await recv_until(conn, "conversation.item.retrieved")
    assert retrieved.item.id == first.item.id
    assert retrieved.item.content[0].text == "A"
    await conn.conversation.item.delete(item_id=first.item.id)
    [deleted] = await recv_until(conn, "conversation.item.deleted")
    assert deleted.item_id == first.item.id
    await conn.conversation.item.retrieve(item_id=first.item.id)
    [error] = await recv_until(conn, "error")
    assert error.error.code == "item_not_found"


AUDIO_RESPONSE = [
    "response.created",
    "response.output_item.added",
    "conversation.item.created",
    "response.content_part.added",
]
AUDIO_RESPONSE_END = [
    "response.audio.done",
    "response.audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.done",
]


async def test_response_create_streams_an_audio_answer(conn: VoiceLiveConnection) -> None:
    await manual(conn)
    await create_item(
        conn,
        item={
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Hello there"}],
        },
    )
    [user] = await recv_until(conn, "conversation.item.created")
    await conn.response.create()
    events = await recv_until(conn, "response.done")
    kinds = types(events)
    assert kinds[:4] == AUDIO_RESPONSE
    assert kinds[-5:] == AUDIO_RESPONSE_END
    middle = set(kinds[4:-5])
    assert middle == {"response.audio.delta", "response.audio_transcript.delta"}
    created = events[0]
    done = events[-1]
    done = is_a(done, ServerEventResponseDone)
    response_id = created.response.id
    assert response_id.startswith("resp_")
    assert created.response.status == "in_progress"
    item_id = events[1].item.id
    assert events[2].previous_item_id == user.item.id
    assert events[2].item.id == item_id
    # Every delta is tied to the response, the item, output 0 and content 0.
    for event in events[3:-1]:
        if type_of(event) == "response.output_item.done":
            continue
        assert event.response_id == response_id
        assert event.item_id == item_id
        assert event.output_index == 0
        assert event.content_index == 0
    audio = b"".join(e.delta for e in events if type_of(e) == "response.audio.delta")
    transcript = "".join(e.delta for e in events if type_of(e) == "response.audio_transcript.delta")
    assert transcript == "You said: Hello there"
    expected = synthesize(transcript)
    assert audio == expected.audio
    assert events[-4].transcript == transcript
    part = events[-3].part
    part = is_a(part, ResponseAudioContentPart)
    assert part.transcript == transcript
    assert done.response.status == "completed"
    assert done.response.status_details is None
    assert done.response.output[0].id == item_id
    assert done.response.output[0].content[0].transcript == transcript
    assert done.response.usage.output_tokens > 0
    assert done.response.usage.total_tokens == (
        done.response.usage.input_tokens + done.response.usage.output_tokens
    )


async def test_text_only_response(conn: VoiceLiveConnection) -> None:
    await manual(conn, modalities=["text"])
    await create_item(
        conn,
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
    )
    await recv_until(conn, "conversation.item.created")
    await conn.response.create()
    events = await recv_until(conn, "response.done")
    kinds = types(events)
    assert "response.audio.delta" not in kinds
    assert kinds[:4] == AUDIO_RESPONSE
    assert kinds[-4:] == [
        "response.text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    text = "".join(e.delta for e in events if type_of(e) == "response.text.delta")
    assert text == "You said: Hi"
    assert events[-4].text == text
    assert events[-1].response.output[0].content[0].text == text


async def test_response_create_overrides_modalities_and_format(conn: VoiceLiveConnection) -> None:
    await manual(conn)
    await conn.response.create(
        response={"modalities": ["text"], "instructions": "x"}, additional_instructions="y"
    )
    events = await recv_until(conn, "response.done")
    assert "response.text.delta" in types(events)
    assert events[-1].response.modalities == ["text"]
    await conn.response.create(response={"output_audio_format": "g711_ulaw"})
    events = await recv_until(conn, "response.done")
    audio = b"".join(e.delta for e in events if type_of(e) == "response.audio.delta")
    transcript = events[-1].response.output[0].content[0].transcript
    assert audio == synthesize(transcript, encoding="g711_ulaw", sample_rate=8000).audio


async def test_greeting_when_nothing_was_said(conn: VoiceLiveConnection) -> None:
    await manual(conn)
    await conn.response.create()
    events = await recv_until(conn, "response.done")
    assert events[-1].response.output[0].content[0].transcript == (
        "Hello! How can I help you today?"
    )


async def test_pre_generated_assistant_message_is_spoken_verbatim(
    conn: VoiceLiveConnection,
) -> None:
    await manual(conn)
    await conn.response.create(
        response={
            "pre_generated_assistant_message": {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "text", "text": "Welcome to the desk."}],
            }
        }
    )
    events = await recv_until(conn, "response.done")
    assert events[-1].response.output[0].content[0].transcript == "Welcome to the desk."


@pytest.fixture
async def tool_emulator() -> AsyncIterator[Emulator]:
    script = Script(
        Turn(
            hears="What's the weather in Paris and Rome?",
            preface="Let me check.",
            calls=[
                ToolCall("get_weather", {"city": "Paris"}),
                ToolCall("get_time", {"tz": "Europe/Rome"}),
            ],
            says=lambda ctx: (
                f"Paris is {ctx.output('get_weather')['temp']} degrees, "
                f"and in Rome it is {ctx.output('get_time')}."
            ),
        )
    )
    async with Emulator(script=script, speed=None) as emu:
        yield emu


async def test_function_calls_then_outputs_then_final_answer(tool_emulator: Emulator) -> None:
    async with connect(endpoint=tool_emulator.endpoint, credential=tool_emulator.credential) as c:
        await manual(c, input_audio_transcription={"model": "azure-speech"})
        await c.input_audio_buffer.append(audio=b64(SPEECH.audio))
        await c.input_audio_buffer.commit()
        events = await recv_until(c, "conversation.item.input_audio_transcription.completed")
        assert events[-1].transcript == "What's the weather in Paris and Rome?"
        await c.response.create()
        events = await recv_until(c, "response.done")
        done = events[-1]
        assert [item.type for item in done.response.output] == [
            "message",
            "function_call",
            "function_call",
        ]
        calls = done.response.output[1:]
        for call in calls:
            call = is_a(call, ResponseFunctionCallItem)
            assert call.call_id.startswith("call_")
        # Created items carry name and call_id before the argument deltas.
        created = [e for e in events if type_of(e) == "conversation.item.created"]
        assert [e.item.type for e in created] == ["message", "function_call", "function_call"]
        assert created[1].item.name == "get_weather"
        args_done = [e for e in events if type_of(e) == "response.function_call_arguments.done"]
        assert [(e.name, json.loads(e.arguments)) for e in args_done] == [
            ("get_weather", {"city": "Paris"}),
            ("get_time", {"tz": "Europe/Rome"}),
        ]
        deltas = "".join(
            e.delta
            for e in events
            if type_of(e) == "response.function_call_arguments.delta"
            and e.call_id == calls[0].call_id
        )
        assert deltas == args_done[0].arguments
        # A tool output alone does not start a response.
        for call, output in zip(calls, ['{"temp": 21}', '"10:30"'], strict=True):
            await create_item(
                c, item={"type": "function_call_output", "call_id": call.call_id, "output": output}
            )
            [out] = await recv_until(c, "conversation.item.created")
            assert out.item.type == "function_call_output"
            assert out.previous_item_id is not None
        await c.response.create()
        events = await recv_until(c, "response.done")
        final = events[-1].response.output[0].content[0].transcript
        assert final == "Paris is 21 degrees, and in Rome it is 10:30."


async def test_function_call_output_for_an_unknown_call_is_an_error(
    conn: VoiceLiveConnection,
) -> None:
    await manual(conn)
    await create_item(
        conn, item={"type": "function_call_output", "call_id": "call_nope", "output": "{}"}
    )
    [error] = await recv_until(conn, "error")
    assert error.error.param == "item.call_id"


async def test_response_cancel_closes_open_parts_then_done_cancelled() -> None:
    long_text = "This is a long answer that takes many seconds to speak. " * 4
    async with (
        Emulator(speed=1.0, script=Script(Turn(says=long_text))) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential) as conn,
    ):
        await manual(conn)
        await create_item(
            conn,
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Go"}],
            },
        )
        await recv_until(conn, "conversation.item.created")
        await conn.response.create()
        await recv_until(conn, "response.audio.delta")
        await conn.response.cancel()
        events = await recv_until(conn, "response.done")
        kinds = [k for k in types(events) if not k.endswith(".delta")]
        assert kinds == AUDIO_RESPONSE_END
        done = events[-1]
        assert done.response.status == "cancelled"
        assert done.response.status_details.reason == "client_cancelled"
        item = done.response.output[0]
        assert item.status == "incomplete"
        heard = item.content[0].transcript
        assert long_text.startswith(heard)
        assert len(heard) < len(long_text)
        # Nothing of the cancelled response arrives afterwards.
        await conn.input_audio_buffer.clear()
        assert types(await recv_until(conn, "input_audio_buffer.cleared")) == [
            "input_audio_buffer.cleared"
        ]


async def test_truncate_cuts_the_item_and_retrieve_shows_it(conn: VoiceLiveConnection) -> None:
    await manual(conn)
    await conn.response.create(
        response={
            "pre_generated_assistant_message": {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "text", "text": "One two three four five six seven eight."}],
            }
        }
    )
    events = await recv_until(conn, "response.done")
    item_id = events[-1].response.output[0].id
    speech = synthesize("One two three four five six seven eight.")
    cut = speech.words[3].offset_ms - 1
    await conn.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=cut)
    [truncated] = await recv_until(conn, "conversation.item.truncated")
    assert (truncated.item_id, truncated.content_index, truncated.audio_end_ms) == (
        item_id,
        0,
        cut,
    )
    await conn.conversation.item.retrieve(item_id=item_id)
    [retrieved] = await recv_until(conn, "conversation.item.retrieved")
    part = retrieved.item.content[0]
    assert part.transcript == "One two three"
    audio = base64.b64decode(part["audio"])
    assert len(audio) == cut * 48


async def test_output_audio_buffer_clear(conn: VoiceLiveConnection) -> None:
    await manual(conn)
    await conn.output_audio_buffer.clear()
    assert types(await recv_until(conn, "output_audio_buffer.cleared")) == [
        "output_audio_buffer.cleared"
    ]


async def test_avatar_connect(conn: VoiceLiveConnection) -> None:
    await manual(conn)
    await conn.send({"type": "session.avatar.connect", "client_sdp": "c2Rw"})
    [error] = await recv_until(conn, "error")
    assert error.error.param == "session.avatar"
    await conn.session.update(session={"avatar": {"character": "lisa", "style": "casual-sitting"}})
    await recv_until(conn, "session.updated")
    await conn.send({"type": "session.avatar.connect", "client_sdp": "c2Rw"})
    [connecting] = await recv_until(conn, "session.avatar.connecting")
    assert json.loads(base64.b64decode(connecting.server_sdp))["type"] == "answer"


async def test_input_text_streams_into_an_item(conn: VoiceLiveConnection) -> None:
    await manual(conn)
    await create_item(
        conn,
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": ""}]},
    )
    [created] = await recv_until(conn, "conversation.item.created")
    item_id = created.item.id
    await conn.send(
        {"type": "input_text.delta", "id": item_id, "delta": "Hello, ", "content_index": 0}
    )
    await conn.send({"type": "input_text.delta", "id": item_id, "delta": "world"})
    await conn.send({"type": "input_text.done", "id": item_id})
    await conn.conversation.item.retrieve(item_id=item_id)
    events = await recv_until(conn, "conversation.item.retrieved")
    assert types(events) == ["conversation.item.retrieved"]
    assert events[0].item.content[0].text == "Hello, world"


async def test_input_audio_turns(conn: VoiceLiveConnection) -> None:
    await manual(conn)
    await conn.send({"type": "input_audio.turn.start", "turn_id": "t1"})
    await conn.send(
        {"type": "input_audio.turn.append", "turn_id": "t1", "audio": b64(SPEECH.audio)}
    )
    await conn.send({"type": "input_audio.turn.end", "turn_id": "t1"})
    events = await recv_until(conn, "response.done")
    assert types(events)[:3] == [
        "input_audio_buffer.committed",
        "conversation.item.created",
        "response.created",
    ]
    await conn.send({"type": "input_audio.turn.start", "turn_id": "t2"})
    await conn.send({"type": "input_audio.turn.cancel", "turn_id": "t2"})
    await conn.send({"type": "input_audio.turn.end", "turn_id": "t2"})
    [error] = await recv_until(conn, "error")
    assert error.error.param == "turn_id"
    await conn.send({"type": "input_audio.clear"})
    assert types(await recv_until(conn, "input_audio_buffer.cleared")) == [
        "input_audio_buffer.cleared"
    ]


async def test_mcp_approval_response_event_for_an_unknown_request(
    conn: VoiceLiveConnection,
) -> None:
    # The bare event answers like the item (see test_emulator_mcp.py for the whole flow):
    # it must name an mcp_approval_request item of the conversation.
    await manual(conn)
    await conn.send(
        {"type": "mcp_approval_response", "approval_request_id": "item_Appr1", "approve": True}
    )
    [error] = await recv_until(conn, "error")
    assert error.error.code == "item_not_found"


async def test_server_vad_default_is_on(conn: VoiceLiveConnection, emulator: Emulator) -> None:
    created: Any = await conn.recv()
    assert isinstance(created.session.turn_detection, ServerVad)
    await conn.input_audio_buffer.append(audio=b64(SPEECH.audio + SILENCE_1S))
    events = await recv_until(conn, "response.done")
    assert types(events)[:5] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.created",
        "response.created",
    ]
    item_id = events[0].item_id
    assert all(e.item_id == item_id for e in events[1:3])
    assert events[3].item.id == item_id
    assert emulator.connections[0].items[0]["id"] == item_id
