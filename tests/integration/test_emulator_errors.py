"""Invalid requests get the service's ``error`` event and the socket stays open."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import pytest
from azure.ai.voicelive.models import ServerEventError

from voiceagent.testing import Emulator, synthesize

from ..helpers import create_item, is_a, recv_until, type_of
from .test_emulator_events import manual

if TYPE_CHECKING:
    from azure.ai.voicelive.aio import VoiceLiveConnection


async def expect_error(conn: VoiceLiveConnection) -> Any:
    """Receive the error, then prove the socket still works with a round trip."""
    events = await recv_until(conn, "error")
    assert [type_of(e) for e in events] == ["error"], events
    error = events[0]
    error = is_a(error, ServerEventError)
    assert error.event_id.startswith("event_")
    assert error.error.message
    await conn.input_audio_buffer.clear()
    await recv_until(conn, "input_audio_buffer.cleared")
    return error


async def test_malformed_json(conn: VoiceLiveConnection) -> None:
    await manual(conn)
    await conn._connection.send_str("{not json")
    error = await expect_error(conn)
    assert error.error.type == "invalid_request_error"
    assert error.error.code == "invalid_json"


async def test_json_that_is_not_an_object(conn: VoiceLiveConnection) -> None:
    await manual(conn)
    await conn._connection.send_str("[1, 2]")
    error = await expect_error(conn)
    assert error.error.code == "invalid_type"


@pytest.mark.parametrize("kind", ["no.such.event", "transcription_session.update"])
async def test_unknown_event_type(conn: VoiceLiveConnection, kind: str) -> None:
    await manual(conn)
    await conn.send({"type": kind, "event_id": "evt_42"})
    error = await expect_error(conn)
    assert error.error.code == "invalid_value"
    assert error.error.param == "type"
    assert error.error.event_id == "evt_42"
    assert kind in error.error.message


async def test_missing_type(conn: VoiceLiveConnection) -> None:
    await manual(conn)
    await conn.send({"session": {}})
    error = await expect_error(conn)
    assert error.error.code == "missing_required_parameter"
    assert error.error.param == "type"


async def test_commit_empty_buffer(conn: VoiceLiveConnection) -> None:
    await manual(conn)
    await conn.input_audio_buffer.commit(event_id="client_evt_1")
    error = await expect_error(conn)
    assert error.error.code == "input_audio_buffer_commit_empty"
    assert error.error.event_id == "client_evt_1"
    assert "0.00ms" in error.error.message


async def test_commit_too_short_buffer(conn: VoiceLiveConnection) -> None:
    await manual(conn)
    await conn.input_audio_buffer.append(audio=base64.b64encode(bytes(48 * 60)).decode())
    await conn.input_audio_buffer.commit()
    error = await expect_error(conn)
    assert error.error.code == "input_audio_buffer_commit_empty"
    assert "60.00ms" in error.error.message


async def test_append_invalid_base64_and_odd_pcm16(conn: VoiceLiveConnection) -> None:
    await manual(conn)
    await conn.input_audio_buffer.append(audio="!!not base64!!")
    assert (await expect_error(conn)).error.param == "audio"
    await conn.input_audio_buffer.append(audio=base64.b64encode(b"abc").decode())
    assert (await expect_error(conn)).error.param == "audio"


async def _assistant_item(conn: VoiceLiveConnection, text: str = "Hello there.") -> tuple[str, int]:
    await conn.response.create(
        response={
            "pre_generated_assistant_message": {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "text", "text": text}],
            }
        }
    )
    events = await recv_until(conn, "response.done")
    return events[-1].response.output[0].id, synthesize(text).duration_ms


async def test_truncate_past_the_audio_length(conn: VoiceLiveConnection) -> None:
    await manual(conn)
    item_id, duration = await _assistant_item(conn)
    await conn.conversation.item.truncate(
        item_id=item_id, content_index=0, audio_end_ms=duration + 500
    )
    error = await expect_error(conn)
    assert error.error.code == "invalid_value"
    assert error.error.param == "audio_end_ms"
    assert f"Audio content of {duration}ms is already shorter than {duration + 500}ms" == (
        error.error.message
    )


async def test_truncate_a_non_audio_item(conn: VoiceLiveConnection) -> None:
    await manual(conn)
    await create_item(
        conn,
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x"}]},
    )
    [created] = await recv_until(conn, "conversation.item.created")
    await conn.conversation.item.truncate(item_id=created.item.id, content_index=0, audio_end_ms=0)
    error = await expect_error(conn)
    assert "Only model output audio messages can be truncated" in error.error.message


async def test_truncate_with_a_bad_content_index(conn: VoiceLiveConnection) -> None:
    await manual(conn)
    item_id, _ = await _assistant_item(conn)
    await conn.conversation.item.truncate(item_id=item_id, content_index=3, audio_end_ms=0)
    assert (await expect_error(conn)).error.param == "content_index"


async def test_cancel_with_no_active_response(conn: VoiceLiveConnection) -> None:
    await manual(conn)
    await conn.response.cancel()
    error = await expect_error(conn)
    assert error.error.code == "response_cancel_not_active"
    assert error.error.message == "Cancellation failed: no active response found"


@pytest.mark.parametrize(
    "send",
    [
        lambda c: c.conversation.item.retrieve(item_id="item_missing"),
        lambda c: c.conversation.item.delete(item_id="item_missing"),
        lambda c: c.conversation.item.truncate(
            item_id="item_missing", content_index=0, audio_end_ms=0
        ),
        lambda c: create_item(
            c,
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "x"}],
            },
            previous_item_id="item_missing",
        ),
    ],
    ids=["retrieve", "delete", "truncate", "create-after"],
)
async def test_unknown_item_id(conn: VoiceLiveConnection, send: Any) -> None:
    await manual(conn)
    await send(conn)
    error = await expect_error(conn)
    assert error.error.code == "item_not_found"
    assert "item_missing" in error.error.message


@pytest.mark.parametrize(
    ("session", "param"),
    [
        ({"input_audio_format": "mp3"}, "session.input_audio_format"),
        ({"output_audio_format": "flac"}, "session.output_audio_format"),
        (
            {"turn_detection": {"type": "server_vad", "threshold": 1.5}},
            "session.turn_detection.threshold",
        ),
        (
            {"turn_detection": {"type": "server_vad", "threshold": 0.0}},
            "session.turn_detection.threshold",
        ),
        ({"turn_detection": {"type": "nope"}}, "session.turn_detection.type"),
        ({"modalities": ["audio"]}, "session.modalities"),
        ({"max_response_output_tokens": 0}, "session.max_response_output_tokens"),
    ],
)
async def test_invalid_session_fields(
    conn: VoiceLiveConnection, session: dict[str, Any], param: str
) -> None:
    await manual(conn)
    await conn.session.update(session=session)
    error = await expect_error(conn)
    assert error.error.type == "invalid_request_error"
    assert error.error.param == param
    # The rejected update changed nothing.
    await conn.session.update(session={})
    [updated] = await recv_until(conn, "session.updated")
    assert updated.session.input_audio_format == "pcm16"
    assert updated.session.turn_detection is None


async def test_invalid_item(conn: VoiceLiveConnection) -> None:
    await manual(conn)
    await create_item(conn, item={"type": "message", "role": "robot", "content": []})
    assert (await expect_error(conn)).error.param == "item.role"


async def test_second_response_without_cancel_previous(
    conn: VoiceLiveConnection, emulator: Emulator
) -> None:
    emulator.faults.response_delay = 0.5  # keep the first response active
    await manual(conn)
    await conn.send({"type": "response.create"})
    await conn.send({"type": "response.create", "response": {"cancel_previous": False}})
    events = await recv_until(conn, "error")
    assert events[-1].error.code == "conversation_already_has_active_response"
    await recv_until(conn, "response.done")
