"""The history (``voiceagent._history``): one writer, the service's conversation order."""

from __future__ import annotations

from voiceagent._history import History, Message, ToolCallRecord
from voiceagent._translate import ItemCreated
from voiceagent.events import AgentTranscript, UserTranscript


def item(
    item_id: str, previous: str | None, role: str | None = "user", text: str | None = None
) -> ItemCreated:
    return ItemCreated(
        item_id=item_id, previous_item_id=previous, kind="message", role=role, text=text
    )


def test_items_take_their_place_and_late_transcripts_land_in_it() -> None:
    history = History()
    history.apply(item("u1", None))
    history.apply(item("a1", "u1", role="assistant"))
    history.apply(AgentTranscript(item_id="a1", text="Hello."))
    history.apply(UserTranscript(item_id="u1", text="Hi"))
    assert history.entries() == (
        Message(role="user", text="Hi", item_id="u1"),
        Message(role="assistant", text="Hello.", item_id="a1"),
    )


def test_an_item_inserted_after_another_goes_there() -> None:
    history = History()
    history.apply(item("a", None, text="first"))
    history.apply(item("c", "a", text="third"))
    history.apply(item("b", "a", text="second"))
    assert [e.text for e in history.entries() if isinstance(e, Message)] == [
        "first",
        "second",
        "third",
    ]


def test_text_messages_come_from_the_item_and_audio_waits_for_its_transcript() -> None:
    history = History()
    history.apply(item("s", None, role="system", text="Be brief."))
    history.apply(item("u", "s"))  # audio: no text yet
    assert history.entries() == (Message(role="system", text="Be brief.", item_id="s"),)


def test_tool_calls_fill_their_call_item() -> None:
    history = History()
    history.apply(item("u", None, text="Weather?"))
    history.apply(ItemCreated(item_id="f1", previous_item_id="u", kind="function_call"))
    history.apply(item("a", "f1", role="assistant"))
    record = ToolCallRecord(call_id="c1", name="w", arguments="{}", output="sunny", item_id="f1")
    history.apply(AgentTranscript(item_id="a", text="Sunny."))
    history.apply(record)
    assert [type(e).__name__ for e in history.entries()] == ["Message", "ToolCallRecord", "Message"]


def test_an_item_seen_twice_keeps_its_first_place() -> None:
    history = History()
    history.apply(item("a", None, text="A"))
    history.apply(item("b", "a", text="B"))
    history.apply(item("a", "b", text="A"))
    assert [e.text for e in history.entries() if isinstance(e, Message)] == ["A", "B"]
