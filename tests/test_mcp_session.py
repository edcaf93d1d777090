"""McpTracker, sans-IO: what the MCP wire events mean, and when the follow-up answer is
due (the end-to-end flows are in tests/integration/test_agent_mcp.py)."""

from __future__ import annotations

from typing import Any

from voiceagent._mcp_session import MCP_WIRE_TYPES, McpTracker
from voiceagent.events import McpCallCompleted, McpCallFailed, McpCallStarted

CALL = {"id": "item_c", "type": "mcp_call", "server_label": "s", "name": "t", "arguments": ""}


def response(tracker: McpTracker, status: str, *items: dict[str, Any]) -> None:
    for item in items:
        tracker.feed({"type": "response.output_item.added", "response_id": "r", "item": item}, 0)
        tracker.feed({"type": "conversation.item.created", "item": item}, 0)
    tracker.feed(
        {
            "type": "response.mcp_call_arguments.done",
            "item_id": "item_c",
            "arguments": '{"q":1}',
        },
        0,
    )
    # A call item closed inside its response has not run yet.
    step = tracker.feed({"type": "response.output_item.done", "item": dict(CALL)}, 0)
    assert step.events == ()
    tracker.feed({"type": "response.done", "response": {"id": "r", "status": status}}, 0)


def run(tracker: McpTracker, *, output: str | None = "ok", error: str | None = None) -> Any:
    started = tracker.feed({"type": "response.mcp_call.in_progress", "item_id": "item_c"}, 1.0)
    [event] = started.events
    assert isinstance(event, McpCallStarted)
    assert event.arguments == '{"q":1}'
    item: dict[str, Any] = {**CALL, "arguments": '{"q":1}'}
    if error is not None:
        item["error"] = {"type": "tool_execution_error", "message": error}
    else:
        item["output"] = output
    return tracker.feed({"type": "response.output_item.done", "item": item}, 1.5)


def test_a_call_is_followed_up_once_its_result_is_in() -> None:
    tracker = McpTracker()
    response(tracker, "completed", CALL)
    assert tracker.busy
    step = run(tracker)
    [done] = step.events
    assert isinstance(done, McpCallCompleted)
    assert (done.output, done.duration_s) == ("ok", 0.5)
    assert step.follow_up
    assert not tracker.busy


def test_a_failed_call_is_followed_up_too() -> None:
    tracker = McpTracker()
    response(tracker, "completed", CALL)
    step = run(tracker, error="boom")
    [failed] = step.events
    assert isinstance(failed, McpCallFailed)
    assert failed.error == "boom"
    assert step.follow_up


def test_a_cancelled_responses_calls_never_run() -> None:
    tracker = McpTracker()
    response(tracker, "cancelled", CALL)
    assert not tracker.busy
    assert tracker.feed({"type": "response.mcp_call.in_progress", "item_id": "item_c"}, 1) == (
        tracker.feed({"type": "response.mcp_call.in_progress", "item_id": "nope"}, 1)
    )


def test_the_user_speaking_during_a_call_takes_the_follow_up_over() -> None:
    tracker = McpTracker()
    response(tracker, "completed", CALL)
    tracker.feed({"type": "input_audio_buffer.speech_started", "item_id": "u"}, 1)
    step = run(tracker)
    assert len(step.events) == 1
    assert not step.follow_up
    assert not tracker.busy
    # The next episode is not stale.
    response(tracker, "completed", CALL)
    assert run(tracker).follow_up


def test_an_approval_keeps_the_episode_open_until_answered() -> None:
    tracker = McpTracker()
    request = {"id": "item_a", "type": "mcp_approval_request", "server_label": "s", "name": "t"}
    tracker.feed({"type": "response.output_item.added", "response_id": "r", "item": request}, 0)
    step = tracker.feed({"type": "conversation.item.created", "item": request}, 0)
    [approval] = step.approvals
    assert approval.item_id == "item_a"
    tracker.feed({"type": "response.done", "response": {"id": "r", "status": "completed"}}, 0)
    assert tracker.busy
    tracker.answered("item_a")
    assert not tracker.busy


def test_reset_forgets_what_was_in_flight() -> None:
    tracker = McpTracker()
    response(tracker, "completed", CALL)
    tracker.reset()
    assert not tracker.busy
    # The tracker ignores results of calls it forgot.
    assert (
        tracker.feed(
            {"type": "response.output_item.done", "item": {**CALL, "output": "x"}}, 2
        ).events
        == ()
    )


def test_it_reads_only_what_it_declares() -> None:
    assert "response.audio.delta" not in MCP_WIRE_TYPES
    assert McpTracker().feed({"type": "response.audio.delta"}, 0).events == ()
