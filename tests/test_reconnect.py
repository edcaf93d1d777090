"""The reconnection policy and the replay (``voiceagent._reconnect``), and the turn
machine's side of a lost connection."""

from __future__ import annotations

import random

import pytest

from voiceagent import ReconnectPolicy
from voiceagent._history import Message, ToolCallRecord
from voiceagent._reconnect import answer_owed, replay_events
from voiceagent._turns import (
    AgentTranscriptFinal,
    AudioDelta,
    ClearPlayback,
    ConnectionLost,
    CreateResponse,
    FunctionCallDone,
    OutputItemAdded,
    ResponseCreated,
    Resumed,
    StartTool,
    TranscriptDelta,
    TurnMachine,
    TurnState,
)
from voiceagent.errors import ConfigurationError


def test_backoff_doubles_up_to_the_cap_with_bounded_jitter() -> None:
    policy = ReconnectPolicy(initial_backoff_s=0.5, max_backoff_s=3.0, jitter=0.5)
    rng = random.Random(7)
    assert policy.backoff_s(1, rng) == 0.0  # the first attempt is immediate
    for attempt, base in [(2, 0.5), (3, 1.0), (4, 2.0), (5, 3.0), (9, 3.0)]:
        waits = [policy.backoff_s(attempt, rng) for _ in range(200)]
        assert min(waits) >= base * 0.5
        assert max(waits) <= base
        assert max(waits) - min(waits) > base * 0.3  # really jittered
    assert ReconnectPolicy(jitter=0).backoff_s(3) == 0.4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"attempts": -1}, "attempts"),
        ({"jitter": 1.5}, "jitter must be between 0 and 1"),
        ({"buffer_ms": "5s"}, "buffer_ms"),
        ({"recycle_s": 1.0, "last_safe_s": 2.0}, "last_safe_s"),
    ],
)
def test_bad_policies_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ReconnectPolicy(**kwargs)  # type: ignore[arg-type]


def test_off_never_reconnects() -> None:
    assert not ReconnectPolicy.off().enabled
    assert ReconnectPolicy().enabled


HISTORY = (
    Message(role="system", text="Be brief.", item_id="s1"),
    Message(role="user", text="Weather?", item_id="u1"),
    ToolCallRecord(call_id="c1", name="w", arguments="{}", output="sunny", item_id="f1"),
    Message(role="assistant", text="It is", item_id="a1", interrupted=True),
)


def test_the_replay_rebuilds_the_conversation_under_the_same_ids() -> None:
    running = StartTool(item_id="f2", call_id="c2", name="w", arguments='{"a":1}', response_id="r")
    events = replay_events(HISTORY, [running])
    items = [e["item"] for e in events]
    assert all(e["type"] == "conversation.item.create" for e in events)
    assert items == [
        {
            "id": "s1",
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": "Be brief."}],
        },
        {
            "id": "u1",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Weather?"}],
        },
        {"id": "f1", "type": "function_call", "call_id": "c1", "name": "w", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        {
            "id": "a1",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": "It is"}],
        },
        {"id": "f2", "type": "function_call", "call_id": "c2", "name": "w", "arguments": '{"a":1}'},
    ]


def test_an_answer_is_owed_after_a_user_message_or_a_tool_output() -> None:
    assert not answer_owed(HISTORY, tools_running=False)  # ends with the agent
    assert answer_owed(HISTORY[:2], tools_running=False)
    assert answer_owed(HISTORY[:3], tools_running=False)
    assert not answer_owed(HISTORY[:3], tools_running=True)  # its output comes first
    assert not answer_owed((), tools_running=False)
    cut_to_nothing = (*HISTORY[:2], Message(role="assistant", text="", item_id="a2"))
    assert answer_owed(cut_to_nothing, tools_running=False)


# -- the machine --------------------------------------------------------------------------------


def state(machine: TurnMachine) -> TurnState:
    return machine.state


def speaking_machine() -> TurnMachine:
    m = TurnMachine()
    m.handle(ResponseCreated("r1"), 0)
    m.handle(OutputItemAdded(response_id="r1", item_id="a1", kind="message"), 0)
    m.handle(
        AudioDelta(
            response_id="r1", item_id="a1", content_index=0, data=b"\0\0" * 4800, duration_ms=200
        ),
        0,
    )
    m.handle(TranscriptDelta(item_id="a1", text="One two three four", response_id="r1"), 0)
    return m


def test_a_lost_connection_fails_the_answer_at_what_was_heard_and_asks_again() -> None:
    m = speaking_machine()
    assert state(m) is TurnState.AGENT_SPEAKING
    actions = m.handle(ConnectionLost(played_ms=100), 1)
    assert actions[0] == ClearPlayback()
    [final] = [a for a in actions if isinstance(a, AgentTranscriptFinal)]
    assert final.interrupted
    assert final.text == "One two"  # half the audio: the words in the first half
    assert state(m) is TurnState.IDLE
    resumed = m.handle(Resumed(answer_owed=False), 2)
    assert CreateResponse() in resumed  # the cut answer is asked for again
    assert state(m) is TurnState.THINKING
    # ...and again after another drop, until a response for it is created.
    m.handle(ConnectionLost(played_ms=100), 3)
    assert CreateResponse() in m.handle(Resumed(answer_owed=False), 4)
    m.handle(ResponseCreated("r2"), 5)
    m.handle(ConnectionLost(played_ms=100), 6)
    assert CreateResponse() not in m.handle(Resumed(answer_owed=False), 7)


def test_running_tools_survive_a_drop_and_their_follow_up_goes_to_the_new_connection() -> None:
    m = TurnMachine()
    m.handle(ResponseCreated("r1"), 0)
    m.handle(
        OutputItemAdded(
            response_id="r1", item_id="f1", kind="function_call", call_id="c1", name="t"
        ),
        0,
    )
    m.handle(
        OutputItemAdded(
            response_id="r1", item_id="f2", kind="function_call", call_id="c2", name="t"
        ),
        0,
    )
    started = m.handle(
        FunctionCallDone(
            response_id="r1",
            item_id="f1",
            call_id="c1",
            name="t",
            arguments="{}",
            cancel_on_interrupt=True,
        ),
        0,
    )
    assert any(isinstance(a, StartTool) for a in started)
    actions = m.handle(ConnectionLost(played_ms=0), 1)
    assert not any(type(a).__name__ == "CancelTool" for a in actions)  # it keeps running
    assert [c.call_id for c in m.running_calls()] == ["c1"]  # c2 never had whole arguments
    assert state(m) is TurnState.TOOL_RUNNING
    assert CreateResponse() not in m.handle(Resumed(answer_owed=False), 2)
    from voiceagent._turns import ToolFinished

    done = m.handle(ToolFinished(item_id="f1", output="x"), 3)
    assert [type(a).__name__ for a in done][:2] == ["SendToolOutput", "CreateResponse"]
