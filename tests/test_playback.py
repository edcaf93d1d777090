"""The playback tracker (``voiceagent._playback``): cumulative played ms to per-item heard ms."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voiceagent._playback import PlaybackTracker


def test_heard_follows_the_played_position_through_consecutive_items() -> None:
    tracker = PlaybackTracker()
    tracker.on_write("a", 0, 100)
    tracker.on_write("a", 0, 100)
    tracker.on_write("b", 0, 300)
    assert tracker.written_ms == 500
    assert tracker.heard_ms("a", 0) == 0
    assert tracker.heard_ms("a", 150) == 150
    assert tracker.heard_ms("a", 450) == 200  # never more than was written for it
    assert tracker.heard_ms("b", 150) == 0
    assert tracker.heard_ms("b", 250.5) == 50.5
    assert tracker.heard_ms("b", 10_000) == 300
    assert tracker.heard_ms("unknown", 250) == 0
    assert tracker.pending_ms(250) == 250
    assert tracker.pending_ms(900) == 0
    assert tracker.written_for("a") == 200
    assert tracker.end_of("a") == 200
    assert tracker.end_of("b") == 500
    assert tracker.end_of("unknown") is None
    assert tracker.content_index("b") == 0


def test_item_at_names_what_plays_and_gives_boundaries_to_the_earlier_item() -> None:
    tracker = PlaybackTracker()
    tracker.on_write("a", 0, 100)
    tracker.on_write("b", 0, 100)
    assert tracker.item_at(0) is None
    assert tracker.item_at(50) == "a"
    assert tracker.item_at(100) == "a"
    assert tracker.item_at(100.25) == "b"
    assert tracker.item_at(300) is None


def test_clear_drops_the_unplayed_tail_and_writes_resume_at_the_played_position() -> None:
    tracker = PlaybackTracker()
    tracker.on_write("a", 0, 200)
    tracker.on_write("b", 0, 200)
    tracker.on_clear(150)
    assert tracker.written_ms == 150
    assert tracker.written_for("a") == 150
    assert tracker.written_for("b") == 0
    assert tracker.pending_ms(150) == 0
    tracker.on_write("c", 0, 100)  # the sink's played_ms never counts cleared audio
    assert tracker.heard_ms("c", 200) == 50
    assert tracker.heard_ms("a", 200) == 150


def test_interleaved_writes_of_two_items_are_each_counted() -> None:
    tracker = PlaybackTracker()
    tracker.on_write("a", 0, 100)
    tracker.on_write("b", 1, 100)
    tracker.on_write("a", 0, 100)
    assert tracker.heard_ms("a", 250) == 150
    assert tracker.heard_ms("b", 250) == 100
    assert tracker.content_index("b") == 1


def test_playing_past_the_written_end_re_anchors_the_timeline() -> None:
    tracker = PlaybackTracker()
    tracker.on_write("a", 0, 100)
    tracker.on_clear(40)  # the sink was really cleared a little later, at 45
    tracker.observe(45)
    assert tracker.written_ms == 45
    tracker.on_write("b", 0, 100)
    assert tracker.heard_ms("b", 95) == 50


def test_no_sink_counts_everything_written_as_played() -> None:
    tracker = PlaybackTracker()
    tracker.on_write("a", 0, 100)
    tracker.observe(math.inf)
    assert tracker.played_ms == 100
    assert tracker.pending_ms(tracker.played_ms) == 0
    tracker.on_write("b", 0, 50)
    tracker.on_clear(math.inf)
    assert tracker.played_ms == 150
    assert tracker.heard_ms("b", tracker.played_ms) == 50


def test_memory_is_bounded_by_forgetting_fully_played_items() -> None:
    tracker = PlaybackTracker(max_items=3)
    for index in range(10):
        tracker.on_write(f"i{index}", 0, 100)
        tracker.observe((index + 1) * 100)
    assert len(tracker) == 3
    assert tracker.heard_ms("i9", 1000) == 100
    assert tracker.heard_ms("i0", 1000) == 0  # forgotten


def test_items_still_queued_are_never_forgotten() -> None:
    tracker = PlaybackTracker(max_items=1)
    for index in range(5):
        tracker.on_write(f"i{index}", 0, 100)
    assert len(tracker) == 5
    assert tracker.heard_ms("i0", 50) == 50
    tracker.observe(500)
    tracker.on_write("next", 0, 10)
    assert len(tracker) == 1
    tracker.forget("next")
    tracker.forget("next")
    assert len(tracker) == 0


@pytest.mark.parametrize("value", [-1, math.nan, -math.inf, "5", None, True])
def test_positions_are_validated(value: object) -> None:
    tracker = PlaybackTracker()
    with pytest.raises(ValueError, match="played_ms"):
        tracker.observe(value)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="duration_ms"):
        tracker.on_write("a", 0, value)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="played_ms must be a finite number"):
        tracker.heard_ms("a", math.inf)


def test_max_items_is_validated() -> None:
    with pytest.raises(ValueError, match="max_items must be an int of at least 1, not 0"):
        PlaybackTracker(max_items=0)


# A sequence of sink operations: write (item, ms), play (ms), clear.
operations = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.sampled_from("abcd"), st.integers(0, 800)),
        st.tuples(st.just("play"), st.just(""), st.integers(0, 800)),
        st.tuples(st.just("clear"), st.just(""), st.just(0)),
    ),
    max_size=40,
)


@given(operations, st.integers(0, 2000))
def test_heard_matches_a_per_chunk_model(ops: list[tuple[str, str, int]], probe: int) -> None:
    """Against the simplest possible sink model: a list of chunks on one timeline."""
    tracker = PlaybackTracker(max_items=100)
    chunks: list[tuple[str, float, float]] = []  # (item, start, end)
    written = played = 0.0
    for op, item, amount in ops:
        quarter = amount / 4  # exact binary fractions
        if op == "write":
            tracker.on_write(item, 0, quarter)
            chunks.append((item, written, written + quarter))
            written += quarter
        elif op == "play":
            played = min(written, played + quarter)
            tracker.observe(played)
        else:
            tracker.on_clear(played)
            chunks = [(name, start, min(end, played)) for name, start, end in chunks]
            written = played
        assert tracker.written_ms == written
        assert tracker.pending_ms(played) == written - played
    position = max(played, probe / 2)
    for item in "abcd":
        expected = sum(
            max(0.0, min(position, end) - start) for name, start, end in chunks if name == item
        )
        assert tracker.heard_ms(item, position) == expected
        assert 0 <= tracker.heard_ms(item, position) <= tracker.written_for(item)
