"""The translator (``voiceagent._translate``): wire events in, machine inputs and events out,
with no state and no calls back."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from voiceagent import _turns as t
from voiceagent._translate import NEEDS_POSITION, NOTHING, ItemCreated, Translator
from voiceagent.events import (
    AgentTranscriptDelta,
    AvatarAnimation,
    ServiceErrorReported,
    ServiceWarningReported,
    UserSpeechStarted,
    UserTranscript,
    UserTranscriptFailed,
)

T = Translator(bytes_per_ms=48.0, cancel_on_interrupt={"slow": False})


def test_speech_started_carries_the_position_read_for_it() -> None:
    raw = {"type": "input_audio_buffer.speech_started", "item_id": "u1", "audio_start_ms": 120}
    assert raw["type"] in NEEDS_POSITION
    result = T.translate(raw, 512.5)
    assert result.inputs == (t.SpeechStarted(item_id="u1", audio_start_ms=120, played_ms=512.5),)
    assert result.events == (UserSpeechStarted(item_id="u1", audio_start_ms=120),)


def test_audio_deltas_are_decoded_and_timed_in_the_wire_format() -> None:
    pcm = bytes(range(96)) * 10  # 960 bytes = 20 ms at 48 bytes/ms
    raw = {
        "type": "response.audio.delta",
        "response_id": "r1",
        "item_id": "a1",
        "output_index": 0,
        "content_index": 0,
        "delta": base64.b64encode(pcm).decode(),
    }
    [delta] = T.translate(raw).inputs
    assert isinstance(delta, t.AudioDelta)
    assert delta.data == pcm
    assert delta.duration_ms == 20.0
    assert T.translate({**raw, "delta": "***not base64***"}).inputs[0].duration_ms == 0  # type: ignore[attr-defined]


def test_text_deltas_are_marked_text_only_and_audio_transcripts_are_not() -> None:
    base = {"response_id": "r1", "item_id": "a1", "delta": "Hi"}
    [text] = T.translate({"type": "response.text.delta", **base}).inputs
    [spoken] = T.translate({"type": "response.audio_transcript.delta", **base}).inputs
    assert isinstance(text, t.TranscriptDelta)
    assert isinstance(spoken, t.TranscriptDelta)
    assert text.text_only
    assert not spoken.text_only
    assert T.translate({"type": "response.text.delta", **base}).events == (
        AgentTranscriptDelta(item_id="a1", response_id="r1", delta="Hi"),
    )


def test_done_texts_come_from_the_right_field() -> None:
    base = {"response_id": "r1", "item_id": "a1"}
    [done] = T.translate({"type": "response.text.done", "text": "A.", **base}).inputs
    assert done == t.TranscriptDone(item_id="a1", text="A.", response_id="r1")
    [done] = T.translate(
        {"type": "response.audio_transcript.done", "transcript": "B.", **base}
    ).inputs
    assert done == t.TranscriptDone(item_id="a1", text="B.", response_id="r1")


def test_a_call_carries_its_tool_policy_and_unknown_tools_are_cancellable() -> None:
    raw: dict[str, Any] = {
        "type": "response.function_call_arguments.done",
        "response_id": "r1",
        "item_id": "f1",
        "call_id": "c1",
        "name": "slow",
        "arguments": "{}",
    }
    [call] = T.translate(raw).inputs
    assert isinstance(call, t.FunctionCallDone)
    assert not call.cancel_on_interrupt
    [other] = T.translate({**raw, "name": "mystery"}).inputs
    assert isinstance(other, t.FunctionCallDone)
    assert other.cancel_on_interrupt


def test_function_call_items_carry_their_call_id_and_name() -> None:
    raw = {
        "type": "response.output_item.added",
        "response_id": "r1",
        "item": {"id": "f1", "type": "function_call", "call_id": "c1", "name": "get"},
    }
    assert T.translate(raw).inputs == (
        t.OutputItemAdded(
            response_id="r1", item_id="f1", kind="function_call", call_id="c1", name="get"
        ),
    )


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (
            {
                "id": "u1",
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Hi"}],
            },
            ItemCreated(item_id="u1", previous_item_id="p", kind="message", role="user", text="Hi"),
        ),
        (
            {
                "id": "u2",
                "type": "message",
                "role": "user",
                "content": [{"type": "input_audio", "transcript": None}],
            },
            ItemCreated(item_id="u2", previous_item_id="p", kind="message", role="user", text=None),
        ),
        (
            {"id": "f1", "type": "function_call", "call_id": "c1"},
            ItemCreated(item_id="f1", previous_item_id="p", kind="function_call"),
        ),
    ],
)
def test_created_items_become_history_facts(item: dict[str, Any], expected: ItemCreated) -> None:
    raw = {"type": "conversation.item.created", "previous_item_id": "p", "item": item}
    assert T.translate(raw).item == expected


def test_transcripts_errors_and_warnings_become_events() -> None:
    assert T.translate(
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": "u1",
            "transcript": "Hi",
        }
    ).events == (UserTranscript(item_id="u1", text="Hi"),)
    assert T.translate(
        {
            "type": "conversation.item.input_audio_transcription.failed",
            "item_id": "u1",
            "error": {"code": "audio_unintelligible", "message": "no"},
        }
    ).events == (UserTranscriptFailed(item_id="u1", message="no", code="audio_unintelligible"),)
    assert T.translate(
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "code": "x",
                "message": "m",
                "event_id": "e",
            },
        }
    ).events == (
        ServiceErrorReported(
            code="x", message="m", error_type="invalid_request_error", event_id="e"
        ),
    )
    assert T.translate({"type": "warning", "warning": {"message": "w", "code": "c"}}).events == (
        ServiceWarningReported(code="c", message="w"),
    )


def test_malformed_events_translate_without_raising() -> None:
    for raw in (
        {"type": "response.audio.delta"},
        {"type": "conversation.item.created", "item": "nonsense"},
        {"type": "response.done", "response": None},
        {"type": "response.animation_viseme.delta", "audio_offset_ms": "x"},
        {"type": "error"},
    ):
        T.translate(raw)  # no exception: fields read as empty values


def test_unknown_types_translate_to_nothing() -> None:
    assert T.translate({"type": "rate_limits.updated"}) is NOTHING
    assert (
        T.translate({"type": "response.audio_timestamp.delta", "timestamp_type": "phoneme"})
        is NOTHING
    )


def test_blendshape_frames_pass_through() -> None:
    raw = {"type": "response.animation_blendshapes.delta", "item_id": "a1", "frames": [[0.1, 0.2]]}
    assert T.translate(raw).events == (
        AvatarAnimation(kind="blendshapes", item_id="a1", frames=[[0.1, 0.2]]),
    )
