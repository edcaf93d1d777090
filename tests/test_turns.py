"""The turn machine (``voiceagent._turns``): each barge-in rule, then a model-based proof.

The unit tests walk through the scenarios of issue #5 one rule at a time. The
:class:`TurnWorld` state machine then drives the machine with arbitrary, consistent
interleavings of a plausible server (responses, items, audio, transcripts, function calls,
VAD turns), a sink that plays audio, tools that finish, interrupts, commits and clock ticks,
and checks every action the machine returns against an independent model of the server and
the sink.
"""

from __future__ import annotations

import copy
import math
from collections import Counter, defaultdict
from typing import Any, TypeVar

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from voiceagent._turns import (
    OUTPUT_CANCELLED,
    OUTPUT_INCOMPLETE,
    OUTPUT_NOT_RUN,
    TRANSITIONS,
    Action,
    AddMessage,
    AgentInterrupted,
    AgentTranscriptFinal,
    AnswerStarted,
    AudioDelta,
    AudioDone,
    CancelResponse,
    CancelTool,
    ClearPlayback,
    Commit,
    CommitFailed,
    CommitInput,
    CreateFailed,
    CreateResponse,
    EndOfAudio,
    FunctionCallDone,
    Input,
    InputCommitted,
    Interrupt,
    OutputItemAdded,
    PausePlayback,
    PlayAudio,
    PlaybackProgress,
    ResponseCreated,
    ResponseDone,
    ResponseRequested,
    ResumePlayback,
    SendToolOutput,
    SpeechStarted,
    SpeechStopped,
    StartTool,
    Tick,
    ToolFinished,
    TranscriptDelta,
    TranscriptDone,
    Trigger,
    Truncate,
    TurnChanged,
    TurnConfig,
    TurnMachine,
    TurnState,
    UserText,
    WordTimestamp,
)
from voiceagent.errors import ConfigurationError

from .strategies import turn_configs

# -- helpers for the unit tests ---------------------------------------------------------------

A = TypeVar("A", bound=Action)
FRAME = b"\x00\x01" * 240  # the bytes do not matter to the machine, only duration_ms


class Driver:
    """A machine plus shorthand for feeding it a server's events."""

    def __init__(self, config: TurnConfig | None = None) -> None:
        self.machine = TurnMachine(config)
        self.now = 0.0
        self.played = 0.0

    def state(self) -> TurnState:
        return self.machine.state

    def feed(self, event: Input) -> list[Action]:
        return self.machine.handle(event, self.now)

    def speech(self, item: str = "u1", start: int = 0) -> list[Action]:
        return self.feed(SpeechStarted(item_id=item, audio_start_ms=start, played_ms=self.played))

    def stop(self, item: str = "u1", end: int = 1000) -> list[Action]:
        return self.feed(SpeechStopped(item_id=item, audio_end_ms=end, played_ms=self.played))

    def respond(self, response: str = "r1", item: str | None = "a1") -> list[Action]:
        actions = self.feed(ResponseCreated(response))
        if item is None:
            return actions
        return actions + self.feed(
            OutputItemAdded(response_id=response, item_id=item, kind="message")
        )

    def audio(
        self, ms: float, response: str = "r1", item: str = "a1", chunk: float = 100.0
    ) -> list[Action]:
        actions: list[Action] = []
        while ms > 0:
            step = min(ms, chunk)
            actions += self.feed(
                AudioDelta(
                    response_id=response,
                    item_id=item,
                    content_index=0,
                    data=FRAME,
                    duration_ms=step,
                )
            )
            ms -= step
        return actions

    def say(self, text: str, response: str = "r1", item: str = "a1", word_ms: float = 0) -> None:
        """Transcript deltas (and word timestamps every ``word_ms`` if given)."""
        for index, word in enumerate(text.split(" ")):
            self.feed(TranscriptDelta(item_id=item, text=(" " if index else "") + word))
            if word_ms:
                self.feed(
                    WordTimestamp(
                        item_id=item,
                        text=word.strip(",.!?"),
                        start_ms=index * word_ms,
                        duration_ms=word_ms * 0.8,
                    )
                )

    def call(
        self,
        call: str = "c1",
        response: str = "r1",
        item: str = "f1",
        *,
        done: bool = True,
        cancel_on_interrupt: bool = False,
    ) -> list[Action]:
        actions = self.feed(
            OutputItemAdded(
                response_id=response, item_id=item, kind="function_call", call_id=call, name="t"
            )
        )
        if done:
            actions += self.feed(
                FunctionCallDone(
                    response_id=response,
                    item_id=item,
                    call_id=call,
                    name="t",
                    arguments="{}",
                    cancel_on_interrupt=cancel_on_interrupt,
                )
            )
        return actions

    def done(self, response: str = "r1", status: str = "completed") -> list[Action]:
        return self.feed(ResponseDone(response_id=response, status=status))

    def play(self, ms: float, *, drained: bool = False) -> list[Action]:
        self.played += ms
        return self.feed(PlaybackProgress(self.played, drained=drained))


class Sent:
    """Equal to a :class:`SendToolOutput` with this call id and output (whatever the rest)."""

    def __init__(self, call_id: str, output: str) -> None:
        self.call_id, self.output = call_id, output

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, SendToolOutput)
            and other.call_id == self.call_id
            and other.output == self.output
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Sent({self.call_id!r}, {self.output!r})"


def kinds(actions: list[Action]) -> list[type[Action]]:
    return [type(action) for action in actions]


def only(actions: list[Action], kind: type[A]) -> list[A]:
    return [action for action in actions if isinstance(action, kind)]


def changes(actions: list[Action]) -> list[tuple[TurnState, TurnState]]:
    return [(a.old, a.new) for a in only(actions, TurnChanged)]


S = TurnState


# -- configuration ----------------------------------------------------------------------------


def test_config_defaults_are_the_service_defaults_with_immediate_barge_in() -> None:
    config = TurnConfig()
    assert config.server_detects_turns
    assert config.server_cancels_on_speech
    assert not config.server_truncates
    assert config.server_creates_response
    assert config.confirm_window_ms is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"confirm_window_ms": 0}, "confirm_window_ms must be None"),
        ({"confirm_window_ms": True}, "confirm_window_ms must be None"),
        ({"confirm_window_ms": 1.5}, "confirm_window_ms must be None"),
        ({"min_turn_ms": -1}, "min_turn_ms must be a whole number"),
        ({"vad_padding_ms": "300"}, "vad_padding_ms must be a whole number"),
        ({"server_truncates": 1}, "server_truncates must be True or False, not 1"),
    ],
)
def test_config_rejects_bad_values(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        TurnConfig(**kwargs)


def test_confirm_window_needs_the_client_to_decide() -> None:
    with pytest.raises(ConfigurationError) as info:
        TurnConfig(confirm_window_ms=800, server_truncates=False)
    assert "server_cancels_on_speech, server_creates_response must be False" in str(info.value)


def test_confirm_window_must_outlast_min_turn() -> None:
    with pytest.raises(ConfigurationError, match=r"\(300\) must be at least min_turn_ms \(400\)"):
        TurnConfig(
            confirm_window_ms=300,
            server_cancels_on_speech=False,
            server_creates_response=False,
        )


def test_manual_turns_reject_vad_behaviour() -> None:
    with pytest.raises(ConfigurationError, match="server_creates_response must be off"):
        TurnConfig(
            server_detects_turns=False,
            server_cancels_on_speech=False,
            server_creates_response=True,
        )
    assert not TurnConfig.manual().server_detects_turns


# -- states -----------------------------------------------------------------------------------


def test_a_vad_turn_walks_the_states_and_reports_each_change() -> None:
    d = Driver()
    assert d.state() is S.IDLE
    assert changes(d.speech()) == [(S.IDLE, S.USER_SPEAKING)]
    assert changes(d.stop()) == [(S.USER_SPEAKING, S.THINKING)]
    assert d.feed(InputCommitted("u1")) == []  # the server creates the response
    assert d.respond() == []
    d.now = 0.7
    actions = d.audio(100)
    assert kinds(actions) == [PlayAudio, AnswerStarted, TurnChanged]
    assert only(actions, AnswerStarted) == [AnswerStarted(response_id="r1", latency_s=0.7)]
    assert changes(actions) == [(S.THINKING, S.AGENT_SPEAKING)]
    d.feed(TranscriptDone(item_id="a1", text="Hi."))
    d.feed(AudioDone(response_id="r1", item_id="a1"))
    assert d.done() == []  # done, but the sink still plays
    assert d.state() is S.AGENT_SPEAKING
    assert d.play(60) == []
    actions = d.play(40)
    assert actions == [
        AgentTranscriptFinal(item_id="a1", response_id="r1", text="Hi.", interrupted=False),
        TurnChanged(old=S.AGENT_SPEAKING, new=S.IDLE),
    ]


def test_agent_speaking_lasts_while_the_response_is_active_even_if_played_out() -> None:
    d = Driver()
    d.respond()
    d.audio(100)
    d.play(100)
    assert d.state() is S.AGENT_SPEAKING  # more audio may come
    assert changes(d.done()) == [(S.AGENT_SPEAKING, S.IDLE)]


def test_the_clock_may_sleep_through_an_answer_until_a_message_is_complete() -> None:
    d = Driver()
    assert d.machine.playback_wait_ms(0) == 0  # nothing written
    d.respond()
    d.audio(300)
    assert d.machine.playback_wait_ms(0) is None  # audio still coming: nothing to watch
    d.play(250)
    d.feed(AudioDone(response_id="r1", item_id="a1"))
    assert d.machine.playback_wait_ms(250) is None  # its text is not known yet
    d.feed(TranscriptDone(item_id="a1", text="Hello there.", response_id="r1"))
    assert d.machine.playback_wait_ms(250) == 50  # complete: final once heard
    assert only(d.play(50), AgentTranscriptFinal)[0].text == "Hello there."
    assert d.machine.playback_wait_ms(300) is None  # the response is not done
    d.feed(OutputItemAdded(response_id="r1", item_id="a2", kind="message"))
    d.audio(200, item="a2")
    assert d.machine.playback_wait_ms(300) is None
    assert d.play(100) == []  # nothing changes meanwhile
    d.done()
    assert d.machine.playback_wait_ms(400) == 100  # now the end of what was written
    assert changes(d.play(100)) == [(S.AGENT_SPEAKING, S.IDLE)]


def test_an_interrupted_answer_gives_the_clock_nothing_to_sleep_through() -> None:
    d = Driver()
    d.respond()
    d.audio(300)
    d.play(100)
    d.speech()
    assert d.machine.playback_wait_ms(100) == 0  # cleared: nothing queued, nothing coming


def test_a_drained_sink_ends_agent_speaking_despite_rounding() -> None:
    d = Driver()
    d.respond()
    d.audio(300)
    d.done()
    d.play(297)  # a resampler held back 3 ms that will never play on their own
    assert d.state() is S.AGENT_SPEAKING
    assert changes(d.play(0, drained=True)) == [(S.AGENT_SPEAKING, S.IDLE)]


def test_no_sink_counts_everything_written_as_played() -> None:
    d = Driver()
    d.respond()
    d.audio(300)
    d.done()
    assert changes(d.feed(PlaybackProgress(math.inf))) == [(S.AGENT_SPEAKING, S.IDLE)]


def test_text_only_response_thinks_then_idles() -> None:
    d = Driver()
    d.respond()
    d.feed(TranscriptDelta(item_id="a1", text="Hello"))
    assert d.state() is S.THINKING
    actions = d.done()
    assert only(actions, AgentTranscriptFinal)[0].text == "Hello"
    assert changes(actions) == [(S.THINKING, S.IDLE)]


# -- barge-in: clear, cancel, truncate --------------------------------------------------------


def speaking(config: TurnConfig | None = None, ms: float = 1000) -> Driver:
    d = Driver(config)
    d.speech("u0")
    d.stop("u0")
    d.feed(InputCommitted("u0"))
    d.respond()
    d.audio(ms)
    return d


def test_barge_in_clears_first_and_never_plays_that_response_again() -> None:
    d = speaking(TurnConfig(server_cancels_on_speech=False))
    d.played = 250.75
    actions = d.speech("u1", start=5000)
    assert isinstance(actions[0], ClearPlayback)
    assert kinds(actions) == [
        ClearPlayback,
        CancelResponse,
        Truncate,
        AgentInterrupted,
        TurnChanged,
    ]
    assert only(actions, CancelResponse) == [CancelResponse("r1")]
    assert only(actions, Truncate) == [Truncate(item_id="a1", content_index=0, audio_end_ms=250)]
    assert only(actions, AgentInterrupted) == [AgentInterrupted(item_id="a1", heard_ms=250.75)]
    assert d.state() is S.USER_SPEAKING
    assert only(d.audio(500), PlayAudio) == []  # deltas still arriving are dropped


def test_server_side_cancel_means_no_cancel_for_speech_but_one_for_interrupt() -> None:
    d = speaking(TurnConfig(server_cancels_on_speech=True))
    d.played = 100
    assert only(d.speech("u1"), CancelResponse) == []
    assert only(d.feed(Interrupt(played_ms=100)), CancelResponse) == []  # server cancels it

    d = speaking(TurnConfig(server_cancels_on_speech=True))
    assert only(d.feed(Interrupt(played_ms=100)), CancelResponse) == [CancelResponse("r1")]
    assert only(d.feed(Interrupt(played_ms=100)), CancelResponse) == []  # never twice
    assert only(d.speech("u1"), CancelResponse) == []


def test_no_cancel_once_the_response_is_done_but_its_audio_still_plays() -> None:
    d = speaking(TurnConfig(server_cancels_on_speech=False))
    d.done()
    d.played = 400
    actions = d.speech("u1")
    assert kinds(actions)[:2] == [ClearPlayback, Truncate]
    assert only(actions, CancelResponse) == []
    assert only(actions, Truncate)[0].audio_end_ms == 400


def test_nothing_heard_means_no_truncate() -> None:
    d = speaking(TurnConfig(server_cancels_on_speech=False))
    d.played = 0.9  # floor would be 0: the service rejects truncating to nothing
    actions = d.speech("u1")
    assert ClearPlayback in kinds(actions)
    assert only(actions, Truncate) == []


def test_server_truncation_skips_truncate_for_speech_only() -> None:
    config = TurnConfig(server_cancels_on_speech=True, server_truncates=True)
    d = speaking(config)
    d.played = 300
    assert only(d.speech("u1"), Truncate) == []
    d = speaking(config)
    actions = d.feed(Interrupt(played_ms=300))
    assert only(actions, Truncate) == [Truncate(item_id="a1", content_index=0, audio_end_ms=300)]


def test_truncate_never_exceeds_the_audio_received_and_happens_once() -> None:
    d = speaking(TurnConfig(server_cancels_on_speech=False), ms=300)
    d.played = 300  # played everything received so far; more is being generated
    actions = d.feed(Interrupt(played_ms=300))
    assert only(actions, Truncate) == [Truncate(item_id="a1", content_index=0, audio_end_ms=300)]
    d.audio(500)
    assert only(d.feed(Interrupt(played_ms=300)), Truncate) == []
    assert only(d.speech("u1"), Truncate) == []


def test_items_heard_in_full_are_not_truncated_nor_marked_interrupted() -> None:
    d = speaking(TurnConfig(server_cancels_on_speech=False), ms=200)
    d.feed(TranscriptDone(item_id="a1", text="First."))
    d.feed(AudioDone(response_id="r1", item_id="a1"))
    d.feed(OutputItemAdded(response_id="r1", item_id="a2", kind="message"))
    d.audio(300, item="a2")
    d.played = 350  # a1 heard in full, a2 for 150 ms
    actions = d.speech("u1")
    assert only(actions, Truncate) == [Truncate(item_id="a2", content_index=0, audio_end_ms=150)]
    assert only(actions, AgentInterrupted) == [AgentInterrupted(item_id="a2", heard_ms=150)]
    assert only(actions, AgentTranscriptFinal) == [
        AgentTranscriptFinal(item_id="a1", response_id="r1", text="First.", interrupted=False)
    ]


def test_speech_while_thinking_cancels_with_nothing_to_truncate() -> None:
    d = Driver(TurnConfig(server_cancels_on_speech=False))
    d.respond()
    assert d.state() is S.THINKING
    actions = d.speech("u1")
    assert kinds(actions) == [ClearPlayback, CancelResponse, AgentInterrupted, TurnChanged]
    assert only(actions, AgentInterrupted) == [AgentInterrupted(item_id=None, heard_ms=0.0)]


def test_speech_when_idle_is_not_a_barge_in() -> None:
    d = Driver(TurnConfig(server_cancels_on_speech=False))
    assert kinds(d.speech()) == [TurnChanged]
    assert kinds(d.feed(Interrupt(played_ms=0))) == []


def test_a_response_requested_before_an_interruption_is_cancelled_when_created() -> None:
    d = Driver(TurnConfig.manual())
    assert kinds(d.feed(Commit())) == [CommitInput, CreateResponse, TurnChanged]
    d.feed(InputCommitted("u1"))
    actions = d.feed(Interrupt(played_ms=0))  # before response.created arrived
    assert kinds(actions) == [ClearPlayback, AgentInterrupted, TurnChanged]
    assert d.state() is S.IDLE
    assert d.feed(ResponseCreated("r1")) == [CancelResponse("r1")]
    assert only(d.audio(300), PlayAudio) == []
    assert d.done(status="cancelled") == [
        AgentTranscriptFinal(item_id="a1", response_id="r1", text="", interrupted=True)
    ]
    assert d.state() is S.IDLE


def test_a_response_created_while_another_still_plays_is_queued_behind_it() -> None:
    d = speaking()
    d.done()
    d.feed(ResponseRequested())  # e.g. session.say()
    d.respond("r2", "a2")
    assert len(only(d.audio(200, "r2", "a2"), PlayAudio)) == 2
    assert d.state() is S.AGENT_SPEAKING


def test_a_failed_response_answers_its_unfinished_calls_and_asks_for_nothing() -> None:
    d = Driver()
    d.respond()
    d.call(done=False)
    actions = d.done(status="failed")
    assert only(actions, SendToolOutput) == [Sent("c1", OUTPUT_INCOMPLETE.format(name="t"))]
    assert only(actions, CreateResponse) == []
    assert d.state() is S.IDLE


# -- transcripts ------------------------------------------------------------------------------


def test_the_final_transcript_waits_until_the_item_was_heard() -> None:
    d = speaking(ms=500)
    d.say("Hello there.")
    d.feed(TranscriptDone(item_id="a1", text="Hello there."))
    d.feed(AudioDone(response_id="r1", item_id="a1"))
    d.done()
    assert only(d.play(499), AgentTranscriptFinal) == []
    assert only(d.play(1), AgentTranscriptFinal) == [
        AgentTranscriptFinal(item_id="a1", response_id="r1", text="Hello there.", interrupted=False)
    ]


def test_an_interrupted_transcript_is_cut_to_the_words_heard() -> None:
    d = speaking(TurnConfig(server_cancels_on_speech=False), ms=1000)
    d.say("One, two three. Four five", word_ms=200)
    d.played = 500  # words at 0, 200, 400 (mid 80 ms later): "three" is heard
    d.speech("u1")
    actions = d.done(status="cancelled")
    assert only(actions, AgentTranscriptFinal) == [
        AgentTranscriptFinal(
            item_id="a1", response_id="r1", text="One, two three.", interrupted=True
        )
    ]


def test_an_interrupted_transcript_without_word_timing_is_cut_at_the_heard_share() -> None:
    d = speaking(TurnConfig(server_cancels_on_speech=False), ms=1000)
    d.say("One two three four")
    d.played = 420  # 42% of the audio: the words ending before 42% of the text
    d.speech("u1")
    d.feed(TranscriptDone(item_id="a1", text="One two three four five"))
    assert only(d.done(status="cancelled"), AgentTranscriptFinal) == [
        AgentTranscriptFinal(item_id="a1", response_id="r1", text="One two", interrupted=True)
    ]


def test_words_that_do_not_match_the_text_are_joined() -> None:
    d = speaking(TurnConfig(server_cancels_on_speech=False), ms=1000)
    d.feed(TranscriptDone(item_id="a1", text="completely different"))
    for index, word in enumerate(["alpha", "beta", "gamma"]):
        d.feed(WordTimestamp(item_id="a1", text=word, start_ms=index * 100, duration_ms=100))
    d.played = 160
    d.speech("u1")
    assert only(d.done(status="cancelled"), AgentTranscriptFinal)[0].text == "alpha beta"


def test_nothing_heard_with_word_timing_is_an_empty_transcript() -> None:
    d = speaking(TurnConfig(server_cancels_on_speech=False), ms=1000)
    d.say("Hello world", word_ms=300)
    d.played = 100
    d.speech("u1")
    assert only(d.done(status="cancelled"), AgentTranscriptFinal)[0].text == ""


# -- tools ------------------------------------------------------------------------------------


def test_a_tool_round_trip_asks_for_exactly_one_follow_up() -> None:
    d = Driver()
    d.respond()
    actions = d.call("c1", item="f1") + d.call("c2", item="f2")
    assert only(actions, StartTool) == [
        StartTool(item_id="f1", call_id="c1", name="t", arguments="{}", response_id="r1"),
        StartTool(item_id="f2", call_id="c2", name="t", arguments="{}", response_id="r1"),
    ]
    assert d.state() is S.TOOL_RUNNING
    # outputs go out as each tool finishes, even before the response is done
    assert d.feed(ToolFinished(item_id="f1", output="one")) == [Sent("c1", "one")]
    assert only(d.done(), CreateResponse) == []
    actions = d.feed(ToolFinished(item_id="f2", output="two"))
    assert kinds(actions) == [SendToolOutput, CreateResponse, TurnChanged]
    assert changes(actions) == [(S.TOOL_RUNNING, S.THINKING)]
    assert d.feed(ToolFinished(item_id="f2", output="again")) == []


def test_the_follow_up_waits_for_response_done() -> None:
    d = Driver()
    d.respond(item=None)
    d.call()
    d.feed(ToolFinished(item_id="f1", output="x"))
    assert kinds(d.done()) == [CreateResponse]


def test_calls_of_an_interrupted_response_that_had_not_started_never_run() -> None:
    d = Driver(TurnConfig(server_cancels_on_speech=False))
    d.respond(item=None)
    d.call("c1", item="f1", done=False)
    d.call("c2", item="f2", done=False)
    d.feed(Interrupt(played_ms=0))
    actions = d.feed(
        FunctionCallDone(
            response_id="r1",
            item_id="f1",
            call_id="c1",
            name="t",
            arguments="{}",
            cancel_on_interrupt=False,
        )
    )
    assert actions == [Sent("c1", OUTPUT_NOT_RUN.format(name="t"))]
    actions = d.done(status="cancelled")  # c2's arguments never completed
    assert actions == [Sent("c2", OUTPUT_NOT_RUN.format(name="t"))]


def test_a_running_tool_follows_its_cancel_on_interrupt_policy() -> None:
    d = Driver(TurnConfig(server_cancels_on_speech=False))
    d.respond()
    d.call("keep", item="f1", cancel_on_interrupt=False)
    d.call("stop", item="f2", cancel_on_interrupt=True)
    actions = d.feed(Interrupt(played_ms=0))
    assert kinds(actions) == [
        ClearPlayback,
        CancelResponse,
        CancelTool,
        SendToolOutput,
        AgentInterrupted,
        TurnChanged,
    ]
    assert only(actions, CancelTool) == [CancelTool("f2")]
    assert only(actions, SendToolOutput) == [Sent("stop", OUTPUT_CANCELLED.format(name="t"))]
    assert d.state() is S.IDLE  # the interrupted turn's tool no longer holds it
    d.done(status="cancelled")
    assert d.feed(ToolFinished(item_id="f2", output="late")) == []
    # the kept tool's output still goes to the model, but nothing asks it to speak
    assert d.feed(ToolFinished(item_id="f1", output="done")) == [Sent("keep", "done")]


def test_a_tool_finishing_after_the_user_took_the_turn_asks_for_nothing() -> None:
    d = Driver(TurnConfig(server_cancels_on_speech=True))
    d.respond()
    d.call()
    d.done()
    assert d.state() is S.TOOL_RUNNING
    actions = d.speech("u1")
    assert only(actions, CancelResponse) == []
    assert d.state() is S.USER_SPEAKING
    assert d.feed(ToolFinished(item_id="f1", output="x")) == [Sent("c1", "x")]


def test_a_response_due_before_a_typed_barge_in_is_left_to_the_server_to_cancel() -> None:
    # The follow-up is due when the user types over it: our response.create comes after
    # it, so the service cancels it (cancel_previous); a cancel of ours would find nothing.
    d = Driver()
    d.respond()
    d.call()
    d.done()
    assert kinds(d.feed(ToolFinished(item_id="f1", output="x"))) == [
        SendToolOutput,
        CreateResponse,
        TurnChanged,
    ]
    actions = d.feed(UserText(text="Stop."))
    assert kinds(actions) == [ClearPlayback, AgentInterrupted, AddMessage, CreateResponse]
    assert d.feed(ResponseCreated("r2")) == []  # the superseded follow-up: no cancel
    assert d.done("r2", status="cancelled") == []
    assert d.respond("r3", "a3") == []  # the answer to the typed message
    assert d.audio(100, response="r3", item="a3")[0] == PlayAudio(
        response_id="r3", item_id="a3", content_index=0, data=FRAME, duration_ms=100
    )


def test_a_response_due_before_a_spoken_barge_in_is_ours_to_cancel() -> None:
    d = Driver(TurnConfig(server_cancels_on_speech=True))
    d.respond()
    d.call()
    d.done()
    d.feed(ToolFinished(item_id="f1", output="x"))  # the follow-up is due
    d.speech("u2")
    assert d.feed(ResponseCreated("r2")) == [CancelResponse("r2")]


def test_duplicate_and_late_events_start_nothing_twice() -> None:
    d = Driver()
    d.respond(item=None)
    assert d.feed(ResponseCreated("r1")) == []
    assert len(only(d.call(), StartTool)) == 1
    assert (
        d.feed(
            FunctionCallDone(
                response_id="r1",
                item_id="f1",
                call_id="c1",
                name="t",
                arguments="{}",
                cancel_on_interrupt=False,
            )
        )
        == []
    )
    d.feed(ToolFinished(item_id="f1", output="x"))
    assert kinds(d.done()) == [CreateResponse]
    assert d.done() == []
    # events about a finished response are ignored, not taken as a new one
    assert d.call(item="f9", call="c9") == []


# -- confirmation window ----------------------------------------------------------------------

WINDOW = TurnConfig(
    server_cancels_on_speech=False,
    server_creates_response=False,
    confirm_window_ms=1500,
    min_turn_ms=400,
    vad_padding_ms=800,
)


def test_short_speech_in_the_window_resumes_the_agent() -> None:
    d = speaking(WINDOW, ms=300)
    d.now = 10.0
    d.played = 100
    actions = d.speech("u1", start=2000)
    assert kinds(actions) == [PausePlayback, TurnChanged]
    assert changes(actions) == [(S.AGENT_SPEAKING, S.CONFIRMING)]
    assert d.machine.next_deadline == pytest.approx(11.5)
    held = d.audio(200)
    assert only(held, PlayAudio) == []  # held back, not lost
    assert d.feed(Tick(played_ms=100)) == []  # not yet
    actions = d.stop("u1", end=2000 + 800 + 399)  # 399 ms of speech: a cough
    assert kinds(actions) == [ResumePlayback, PlayAudio, PlayAudio, TurnChanged]
    assert changes(actions) == [(S.CONFIRMING, S.AGENT_SPEAKING)]
    assert d.machine.next_deadline is None
    assert d.feed(InputCommitted("u1")) == []  # no answer to a cough


def test_long_speech_in_the_window_barges_in() -> None:
    d = speaking(WINDOW, ms=300)
    d.played = 100
    d.speech("u1", start=2000)
    d.audio(200)
    actions = d.stop("u1", end=2000 + 800 + 400)
    assert kinds(actions) == [
        ClearPlayback,
        CancelResponse,
        Truncate,
        AgentInterrupted,
        TurnChanged,
    ]
    assert changes(actions) == [(S.CONFIRMING, S.THINKING)]
    assert d.feed(InputCommitted("u1")) == [CreateResponse()]


def test_speech_outlasting_the_window_barges_in_at_the_deadline() -> None:
    d = speaking(WINDOW, ms=300)
    d.played = 100
    d.speech("u1")
    d.now = 1.5
    actions = d.feed(Tick(played_ms=120))
    assert kinds(actions)[0] is ClearPlayback
    assert only(actions, Truncate)[0].audio_end_ms == 120
    assert changes(actions) == [(S.CONFIRMING, S.USER_SPEAKING)]
    assert d.machine.next_deadline is None


def test_the_window_holds_tool_starts_and_follow_ups_until_it_decides() -> None:
    d = Driver(WINDOW)
    d.respond()
    d.call("c1", item="f1")
    d.speech("u1")
    assert only(d.call("c2", item="f2"), StartTool) == []
    d.feed(ToolFinished(item_id="f1", output="one"))
    assert d.done() == []
    actions = d.feed(Interrupt(played_ms=0))
    assert only(actions, StartTool) == []
    assert only(actions, SendToolOutput) == [Sent("c2", OUTPUT_NOT_RUN.format(name="t"))]
    assert only(actions, CreateResponse) == []

    d = Driver(WINDOW)
    d.respond()
    d.speech("u1")
    d.call("c2", item="f2")
    actions = d.stop("u1", end=900)
    assert only(actions, StartTool) == [
        StartTool(item_id="f2", call_id="c2", name="t", arguments="{}", response_id="r1")
    ]


# -- push-to-talk and requests ----------------------------------------------------------------


def test_push_to_talk_commit_interrupts_then_asks() -> None:
    d = Driver(TurnConfig.manual())
    d.respond()
    d.audio(300)
    actions = d.feed(Commit(played_ms=120))
    assert kinds(actions) == [
        ClearPlayback,
        CancelResponse,
        Truncate,
        AgentInterrupted,
        CommitInput,
        CreateResponse,
        TurnChanged,
    ]
    assert changes(actions) == [(S.AGENT_SPEAKING, S.THINKING)]
    assert d.feed(InputCommitted("u1")) == []  # our own commit: its response is requested


def test_a_text_turn_only_asks_for_a_response() -> None:
    d = Driver()
    assert kinds(d.feed(Commit(audio=False))) == [CreateResponse, TurnChanged]


def test_without_server_created_responses_each_vad_turn_is_answered() -> None:
    d = Driver(TurnConfig(server_creates_response=False))
    d.speech()
    d.stop()
    assert d.feed(InputCommitted("u1")) == [CreateResponse()]


def test_failed_requests_do_not_leave_the_machine_waiting() -> None:
    d = Driver(TurnConfig.manual())
    d.feed(Commit())
    assert changes(d.feed(CreateFailed())) == [(S.THINKING, S.IDLE)]
    d.feed(CommitFailed())
    # the next commit from elsewhere is not mistaken for the failed one
    d2 = Driver(TurnConfig(server_creates_response=False))
    d2.feed(Commit())
    d2.feed(CommitFailed())
    assert kinds(d2.feed(InputCommitted("u9"))) == [CreateResponse]


def test_commit_while_the_vad_hears_speech_ends_the_turn() -> None:
    d = Driver()
    d.speech()
    assert changes(d.feed(Commit())) == [(S.USER_SPEAKING, S.THINKING)]
    assert d.stop() == []  # the VAD's stop no longer means anything
    d.feed(InputCommitted("u0"))  # our commit
    d.feed(CreateFailed())
    assert changes(d.feed(InputCommitted("u1"))) == [(S.IDLE, S.THINKING)]  # the VAD's


def test_commit_during_the_window_barges_in_and_asks() -> None:
    d = speaking(WINDOW, ms=300)
    d.played = 100
    d.speech("u1")
    actions = d.feed(Commit(played_ms=100))
    assert kinds(actions)[:3] == [ClearPlayback, CancelResponse, Truncate]
    assert changes(actions) == [(S.CONFIRMING, S.THINKING)]


def test_the_window_can_close_on_nothing_left_to_say() -> None:
    d = Driver(WINDOW)
    d.respond(item=None)
    d.speech("u1")
    d.done()
    assert changes(d.stop("u1", end=100)) == [(S.CONFIRMING, S.IDLE)]


def test_any_input_carrying_the_position_can_end_agent_speaking() -> None:
    d = speaking()
    d.done()
    assert changes(d.feed(Tick(played_ms=1000))) == [(S.AGENT_SPEAKING, S.IDLE)]


def test_a_response_never_announced_is_taken_as_created() -> None:
    d = Driver()
    actions = d.audio(100, response="r9", item="a9")
    assert kinds(actions) == [PlayAudio, TurnChanged]
    assert changes(actions) == [(S.IDLE, S.AGENT_SPEAKING)]
    # text for an item of an unknown response is ignored rather than guessed at
    assert d.feed(TranscriptDelta(item_id="x", text="lost")) == []


# -- contract ---------------------------------------------------------------------------------


def test_unknown_inputs_are_refused() -> None:
    with pytest.raises(TypeError, match="cannot handle 'Input'; inputs are: AudioDelta"):
        TurnMachine().handle(Input(), 0.0)


def test_an_illegal_transition_raises_naming_both_states(monkeypatch: pytest.MonkeyPatch) -> None:
    import voiceagent._turns as turns

    monkeypatch.setattr(turns, "TRANSITIONS", {**TRANSITIONS, S.IDLE: {}})
    with pytest.raises(RuntimeError, match="from idle to user_speaking on 'speech started'"):
        Driver().speech()


def test_positions_must_be_numbers() -> None:
    d = Driver()
    with pytest.raises(ValueError, match="played_ms must be a number of milliseconds, not nan"):
        d.feed(PlaybackProgress(math.nan))
    d.respond()
    with pytest.raises(ValueError, match=r"duration_ms must be a finite number .* not -1"):
        d.feed(
            AudioDelta(response_id="r1", item_id="a1", content_index=0, data=b"", duration_ms=-1)
        )


def test_now_must_be_a_finite_number() -> None:
    with pytest.raises(ValueError, match="now must be a finite number of seconds, not nan"):
        TurnMachine().handle(Tick(), math.nan)


def test_a_function_call_item_needs_a_call_id() -> None:
    with pytest.raises(ValueError, match="'f1' has no call_id"):
        Driver().feed(OutputItemAdded(response_id="r1", item_id="f1", kind="function_call"))


def test_memory_stays_bounded_over_a_long_conversation() -> None:
    d = Driver(TurnConfig(server_cancels_on_speech=False))
    for turn in range(500):
        r, a = f"r{turn}", f"a{turn}"
        d.respond(r, a)
        d.audio(200, r, a)
        if turn % 2:
            d.played += 50
            d.speech(f"u{turn}")
            d.stop(f"u{turn}")
            d.feed(InputCommitted(f"u{turn}"))
            d.done(r, "cancelled")
        else:
            d.call(f"c{turn}", r, f"f{turn}")
            d.done(r)
            d.play(200)
            d.feed(ToolFinished(item_id=f"f{turn}", output="x"))
    assert len(d.machine.playback) <= 1
    assert len(d.machine._responses) <= 1
    assert len(d.machine._items) <= 1
    assert len(d.machine._finished) <= 256


# -- the model-based proof --------------------------------------------------------------------
#
# TurnWorld plays a plausible server, a sink and the tools, all modelled independently of the
# machine, and checks every action the machine returns against that model.

EPS = 1e-6
WORDS = ("Sure", "the", "weather", "in", "Paris", "is", "mild,", "sunny.")
#: Durations and advances are multiples of 1/4 ms, so float sums are exact.
quarter_ms = st.integers(1, 1600).map(lambda q: q / 4)
#: The user's, the sink's, the tools' and the clock's events, weighted by repetition.
USER_EVENTS = (
    *["play"] * 4,
    *["speech_start"] * 2,
    *["speak_over"] * 3,
    *["speech_stop"] * 3,
    *["vad_commit"] * 3,
    *["server_commit"] * 2,
    *["verdict"] * 2,
    *["tool_finish"] * 2,
    *["over_tools"] * 3,
    "late_tool",
    "interrupt",
    "commit",
    *["tick"] * 2,
)
#: The server's events, weighted by repetition.
SERVER_EVENTS = (
    *["answer"] * 2,
    *["tool_call"] * 2,
    *["tool_turn"] * 2,
    *["create"] * 2,
    "app",
    *["item"] * 2,
    *["audio"] * 6,
    *["transcript"] * 2,
    "item_done",
    *["call"] * 2,
    *["arguments"] * 2,
    *["done"] * 2,
)


@attrs.define
class SItem:
    id: str
    kind: str
    received: float = 0.0
    audio_done: bool = False
    text: str = ""
    word_clock: float = 0.0


@attrs.define
class SCall:
    call_id: str
    item_id: str
    response_id: str
    args_done: bool = False


@attrs.define
class SResponse:
    id: str
    active: bool = True
    cancel_requested: bool = False
    status: str | None = None
    items: list[SItem] = attrs.Factory(list)
    calls: list[SCall] = attrs.Factory(list)


class TurnWorld(RuleBasedStateMachine):
    """A plausible server, a sink and tools around one TurnMachine."""

    def __init__(self) -> None:
        super().__init__()
        self.config = TurnConfig()
        self.machine = TurnMachine(self.config)
        self.now = 0.0
        self.counter = 0
        # server
        self.responses: dict[str, SResponse] = {}
        self.items: dict[str, SItem] = {}
        self.calls: dict[str, SCall] = {}
        # responses the server will create, in order: [who asked, stale since a barge-in,
        # superseded: a response.create of the client's came after it, so the server
        # cancels it itself (cancel_previous)]
        self.queue: list[list[Any]] = []
        self.vad_item: str | None = None
        self.vad_start = 0
        self.audio_clock = 0
        self.vad_commits: list[str] = []
        self.own_commits = 0
        # sink: chunks [response, item, start, end] on the played timeline
        self.pausable = True
        self.chunks: list[list[Any]] = []
        self.item_written: defaultdict[str, float] = defaultdict(float)
        self.written = 0.0
        self.played = 0.0
        self.paused = False
        # tools
        self.running: set[str] = set()
        self.cancelled: set[str] = set()
        self.results: dict[str, str] = {}
        # what the machine did
        self.state = TurnState.IDLE
        self.outputs: Counter[str] = Counter()
        self.started: set[str] = set()
        self.truncated: set[str] = set()
        self.finals: set[str] = set()
        self.audio_ended: set[str] = set()
        self.forbidden: set[str] = set()  # interrupted: never to be played again
        self.followed_up: set[str] = set()
        self.dismissed: set[str] = set()

    # -- model queries ------------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def pending(self) -> float:
        return self.written - self.played

    def heard(self, item_id: str) -> float:
        return sum(
            max(0.0, min(self.played, float(end)) - float(start))
            for _, item, start, end in self.chunks
            if item == item_id
        )

    def sink_has(self, response_id: str) -> bool:
        return any(r == response_id and end > self.played for r, _, _, end in self.chunks)

    def answered(self, response: SResponse) -> bool:
        return all(self.outputs[c.call_id] for c in response.calls)

    def unfinished(self, response: SResponse) -> bool:
        return (
            response.active
            or self.sink_has(response.id)
            or not self.answered(response)
            or any(i.received > self.item_written[i.id] + EPS for i in response.items)
            or (
                response.status == "completed"
                and bool(response.calls)
                and response.id not in self.followed_up
            )
        )

    def live(self) -> bool:
        """Something a barge-in must stop right now."""
        return self.pending() > 0.5 or any(
            r.active and r.id not in self.forbidden for r in self.responses.values()
        )

    def eligible(self) -> list[SResponse]:
        """Responses owed their one follow-up response.create."""
        return [
            r
            for r in self.responses.values()
            if r.status == "completed"
            and r.calls
            and r.id not in self.forbidden
            and r.id not in self.followed_up
            and self.answered(r)
        ]

    def expected_truncates(self, by_speech: bool) -> set[tuple[str, int]]:
        if by_speech and self.config.server_truncates:
            return set()
        expected = set()
        for response in self.responses.values():
            if response.id in self.forbidden:
                continue
            for item in response.items:
                if item.kind != "message" or item.id in self.truncated:
                    continue
                heard = self.heard(item.id)
                if item.audio_done and heard >= item.received - 0.5:
                    continue
                if math.floor(heard + EPS) >= 1:
                    expected.add((item.id, math.floor(heard + EPS)))
        return expected

    # -- feeding the machine and checking what it does -----------------------------------------

    def feed(self, event: Input, *, by_speech: bool = False) -> list[Action]:
        actions = self.machine.handle(event, self.now)
        turns = only(actions, TurnChanged)
        assert len(turns) <= 1, actions
        if turns:
            assert actions[-1] is turns[0]
            assert turns[0].old is self.state
            assert turns[0].new is self.machine.state
            assert turns[0].old is not turns[0].new
        assert self.machine.state is (turns[0].new if turns else self.state)
        self.state = self.machine.state
        assert (AgentInterrupted in kinds(actions)) == (ClearPlayback() in actions)
        if ClearPlayback() in actions:
            assert actions.index(ClearPlayback()) == 0, "a barge-in clears the sink first"
            expected = self.expected_truncates(by_speech)
            got = {(a.item_id, a.audio_end_ms) for a in only(actions, Truncate)}
            assert got == expected, f"truncates {got} != expected {expected}"
        for action in actions:
            self.apply(event, action, by_speech=by_speech)
        return actions

    def apply(self, event: Input, action: Action, *, by_speech: bool) -> None:
        if isinstance(action, PlayAudio):
            assert action.response_id not in self.forbidden, f"played interrupted {action}"
            assert not self.paused, f"played while paused: {action}"
            assert action.item_id not in self.audio_ended, f"played after its end: {action}"
            self.chunks.append(
                [
                    action.response_id,
                    action.item_id,
                    self.written,
                    self.written + action.duration_ms,
                ]
            )
            self.written += action.duration_ms
            self.item_written[action.item_id] += action.duration_ms
        elif isinstance(action, ClearPlayback):
            self.forbidden |= {r.id for r in self.responses.values() if self.unfinished(r)}
            for chunk in self.chunks:
                chunk[3] = min(chunk[3], self.played)
            self.chunks = [c for c in self.chunks if c[3] > c[2]]
            self.written = self.played
            self.paused = False
            for entry in self.queue:
                entry[1] = True
        elif isinstance(action, PausePlayback):
            assert not self.paused
            self.paused = True
        elif isinstance(action, ResumePlayback):
            assert self.paused
            self.paused = False
        elif isinstance(action, CancelResponse):
            response = self.responses[action.response_id]
            assert response.active, f"cancelled inactive {action.response_id}"
            assert not response.cancel_requested, f"cancelled twice {action.response_id}"
            response.cancel_requested = True
            self.forbidden.add(response.id)
        elif isinstance(action, Truncate):
            item = self.items[action.item_id]
            assert item.kind == "message", f"truncated a {item.kind} item"
            assert item.received > 0, f"truncated an item without audio: {item}"
            assert action.item_id not in self.truncated, f"truncated twice {action}"
            assert 1 <= action.audio_end_ms <= item.received + EPS
            assert action.audio_end_ms <= self.heard(action.item_id) + EPS
            assert not (by_speech and self.config.server_truncates)
            self.truncated.add(action.item_id)
        elif isinstance(action, StartTool):
            call = self.calls[action.call_id]
            assert action.item_id == call.item_id
            assert call.args_done
            assert action.call_id not in self.started
            assert call.response_id not in self.forbidden, f"started interrupted {action}"
            self.started.add(action.call_id)
            self.running.add(action.call_id)
        elif isinstance(action, CancelTool):
            call_id = next(c.call_id for c in self.calls.values() if c.item_id == action.item_id)
            assert call_id in self.running
            self.running.remove(call_id)
            self.cancelled.add(call_id)
        elif isinstance(action, SendToolOutput):
            assert action.call_id in self.calls, f"output for unknown call {action}"
            self.outputs[action.call_id] += 1
            assert self.outputs[action.call_id] == 1, f"second output {action}"
            if action.call_id in self.results:
                assert action.output == self.results[action.call_id]
            else:
                refusals = (OUTPUT_NOT_RUN, OUTPUT_CANCELLED, OUTPUT_INCOMPLETE)
                assert action.output in [r.format(name="tool") for r in refusals]
        elif isinstance(action, CreateResponse):
            for entry in self.queue:
                entry[2] = entry[2] or entry[1]
            self.queue.append(["client", False, False])
            self.check_create(event)
        elif isinstance(action, CommitInput):
            assert isinstance(event, Commit)
            assert event.audio
            self.own_commits += 1
        elif isinstance(action, AgentTranscriptFinal):
            item = self.items[action.item_id]
            assert item.kind == "message"
            assert action.item_id not in self.finals
            self.finals.add(action.item_id)
            if action.interrupted:
                assert action.response_id in self.forbidden
            else:
                assert item.audio_done
                assert self.heard(item.id) >= item.received - 0.5
                assert action.text == item.text
        elif isinstance(action, AgentInterrupted):
            if action.item_id is not None:
                assert self.items[action.item_id].received > 0
                assert action.heard_ms == pytest.approx(self.heard(action.item_id))
        elif isinstance(action, EndOfAudio):
            item = self.items[action.item_id]
            assert item.kind == "message", f"end of audio of a {item.kind} item"
            assert item.received > 0, f"end of audio of an item without audio: {item}"
            assert action.item_id not in self.audio_ended, f"audio ended twice: {action}"
            assert self.response_of(item).id not in self.forbidden, f"ended interrupted {action}"
            self.audio_ended.add(action.item_id)
        elif isinstance(action, AnswerStarted):
            assert action.response_id in self.responses, f"unknown response {action}"
            assert action.latency_s >= 0
        else:
            assert isinstance(action, TurnChanged), action

    def check_create(self, event: Input) -> None:
        """Every response.create has a reason, and none follows an interruption."""
        if isinstance(event, Commit):
            return
        if isinstance(event, InputCommitted):
            assert not self.config.server_creates_response
            assert event.item_id not in self.dismissed
            return
        eligible = self.eligible()
        if isinstance(event, ToolFinished):
            eligible = [r for r in eligible if any(c.item_id == event.item_id for c in r.calls)]
        elif isinstance(event, ResponseDone):
            eligible = [r for r in eligible if r.id == event.response_id]
        else:
            assert isinstance(event, SpeechStopped), f"response.create on {event}"
        assert eligible, f"response.create on {event} with no response owed one"
        self.followed_up.add(eligible[0].id)

    # -- rules: the user and the VAD ------------------------------------------------------------

    @initialize(config=turn_configs(), pausable=st.booleans())
    def setup(self, config: TurnConfig, pausable: bool) -> None:
        self.config = config
        self.machine = TurnMachine(config)
        self.pausable = pausable

    def can_speak(self) -> bool:
        return (
            self.config.server_detects_turns
            and self.vad_item is None
            and not self.vad_commits  # the server commits a turn right after its speech stops
            and not self.own_commits
        )

    @rule(
        event=st.sampled_from(USER_EVENTS),
        index=st.integers(0, 9),
        advance=quarter_ms | st.just(0.0),
        fraction=st.floats(0, 1),
        ms=st.integers(0, 3000),
        seconds=st.floats(0, 2),
        flag=st.booleans(),
    )
    def user(
        self,
        event: str,
        index: int,
        advance: float,
        fraction: float,
        ms: int,
        seconds: float,
        flag: bool,
    ) -> None:
        """One event of the user, the sink, the tools or the clock, chosen with weights; an
        impossible one becomes playback progress."""
        possible = {
            "speech_start": self.can_speak(),
            "speak_over": self.can_speak() and self.pending() > 0,
            "speech_stop": self.vad_item is not None,
            "vad_commit": bool(self.vad_commits),
            "server_commit": bool(self.own_commits),
            "commit": self.vad_item is None and not self.vad_commits,
            "verdict": self.state is TurnState.CONFIRMING and self.vad_item is not None,
            "tool_finish": bool(self.running),
            "over_tools": bool(self.running),
            "late_tool": bool(self.cancelled),
        }
        if not possible.get(event, True):
            event = "play"
        if event == "speech_start":
            self.speech_starts(ms)
        elif event == "speak_over":
            self.user_speaks_over_the_agent(fraction, ms)
        elif event == "speech_stop":
            self.speech_stops(ms)
        elif event == "vad_commit":
            self.vad_commits_turn()
        elif event == "server_commit":
            self.server_commits(index)
        elif event == "commit":
            self.commit(flag)
        elif event == "interrupt":
            self.interrupt()
        elif event == "tick":
            self.tick(seconds, flag)
        elif event == "verdict":  # the agent goes on while paused, then the speech ends
            if self.open_items():
                self.audio_delta(index, [advance or 100.0])
                if flag:
                    self.item_done(index)
            if self.open_calls():
                self.finish_arguments(self.open_calls()[0], flag)
            span = self.config.vad_padding_ms + self.config.min_turn_ms
            self.speech_stops(max(0, span - 1 - ms % 200) if flag else span + ms % 200)
        elif event == "over_tools":  # the user takes the turn while tools run
            if flag and self.can_speak():
                self.speech_starts(ms)
            else:
                self.interrupt()
        elif event == "tool_finish":
            self.tool_finishes(index)
        elif event == "late_tool":
            self.cancelled_tool_finishes_anyway()
        else:
            self.playback(advance, flag)

    def speech_starts(self, pause: int) -> None:
        self.audio_clock += pause
        self.vad_item = self.new_id("u")
        self.vad_start = self.audio_clock
        live = self.live()
        if self.config.server_cancels_on_speech:
            for response in self.responses.values():
                if response.active:
                    response.cancel_requested = True
        actions = self.feed(
            SpeechStarted(
                item_id=self.vad_item, audio_start_ms=self.audio_clock, played_ms=self.played
            ),
            by_speech=True,
        )
        if live and self.config.confirm_window_ms is None:
            assert isinstance(actions[0], ClearPlayback), "barge-in must clear at once"
        elif live:
            assert isinstance(actions[0], PausePlayback)

    def user_speaks_over_the_agent(self, fraction: float, pause: int) -> None:
        """The scenario that matters most: speech while the agent's audio plays."""
        if not (self.paused and self.pausable):
            self.played += math.floor(self.pending() * fraction * 4) / 4
            self.feed(PlaybackProgress(self.played))
        self.speech_starts(pause)

    def speech_stops(self, duration: int) -> None:
        assert self.vad_item is not None
        confirming = self.state is TurnState.CONFIRMING
        self.audio_clock = self.vad_start + duration
        item, self.vad_item = self.vad_item, None
        actions = self.feed(
            SpeechStopped(item_id=item, audio_end_ms=self.audio_clock, played_ms=self.played),
            by_speech=True,
        )
        if confirming:
            short = duration - self.config.vad_padding_ms < self.config.min_turn_ms
            assert isinstance(actions[0], ResumePlayback if short else ClearPlayback)
            if short:
                self.dismissed.add(item)
        self.vad_commits.append(item)

    def vad_commits_turn(self) -> None:
        item = self.vad_commits.pop(0)
        actions = self.feed(InputCommitted(item))
        creates = len(only(actions, CreateResponse))
        if self.config.server_creates_response:
            self.queue.append(["auto", False, False])
            assert creates == 0
        else:
            assert creates == (0 if item in self.dismissed else 1)

    def commit(self, audio: bool) -> None:
        live = self.live()
        actions = self.feed(Commit(audio=audio, played_ms=self.played))
        assert only(actions, CreateResponse) == [CreateResponse()]
        if live:
            assert isinstance(actions[0], ClearPlayback)

    def server_commits(self, fail: int) -> None:
        self.own_commits -= 1
        if fail:  # our own commit: its response was asked for with it
            assert only(self.feed(InputCommitted(self.new_id("u"))), CreateResponse) == []
        else:
            self.feed(CommitFailed())

    def interrupt(self) -> None:
        live = self.live()
        actions = self.feed(Interrupt(played_ms=self.played))
        if live:
            assert isinstance(actions[0], ClearPlayback)

    def tick(self, seconds: float, to_deadline: bool) -> None:
        deadline = self.machine.next_deadline
        assert (deadline is not None) == (self.state is TurnState.CONFIRMING)
        self.now = max(self.now, deadline) if to_deadline and deadline else self.now + seconds
        due = deadline is not None and self.now >= deadline
        actions = self.feed(Tick(played_ms=self.played), by_speech=True)
        if due:
            assert isinstance(actions[0], ClearPlayback)
        else:
            assert only(actions, ClearPlayback) == []

    # -- rules: the server's responses ------------------------------------------------------------

    def pick(self, things: list[Any], index: int) -> Any:
        return things[index % len(things)]

    def active(self) -> list[SResponse]:
        return [r for r in self.responses.values() if r.active]

    def open_items(self) -> list[SItem]:
        return [
            i for r in self.active() for i in r.items if i.kind == "message" and not i.audio_done
        ]

    def open_calls(self) -> list[SCall]:
        return [c for r in self.active() for c in r.calls if not c.args_done]

    @rule(
        event=st.sampled_from(SERVER_EVENTS),
        index=st.integers(0, 9),
        durations=st.lists(quarter_ms, min_size=1, max_size=4),
        word=st.sampled_from(WORDS),
        flag=st.booleans(),
        roll=st.integers(0, 7),
    )
    def server(
        self, event: str, index: int, durations: list[float], word: str, flag: bool, roll: int
    ) -> None:
        """One server event, chosen with weights; an impossible one falls back to the first
        possible in lifecycle order, so no step is wasted."""
        possible = {
            "create": bool(self.queue),
            "app": not self.queue,
            "item": bool(self.active()),
            "audio": bool(self.open_items()),
            "transcript": bool(self.open_items()),
            "item_done": bool(self.open_items()),
            "call": bool(self.active()),
            "arguments": bool(self.open_calls()),
            "done": bool(self.active()),
        }
        possible["answer"] = possible["create"]
        possible["tool_call"] = possible["tool_turn"] = possible["call"]
        if not possible[event]:
            event = next(e for e in ("audio", "item", "create", "app") if possible[e])
        if event == "answer":  # a response that starts speaking at once
            self.server_creates(1)
            if self.active():
                self.add_message(self.active()[-1])
                self.audio_delta(-1, durations)
        elif event == "tool_call":  # a call whose arguments complete at once
            self.finish_arguments(self.function_call(index), flag)
        elif event == "tool_turn":  # a response that only calls a tool, done at once
            call = self.function_call(index)
            self.finish_arguments(call, flag)
            self.end_response(self.responses[call.response_id], "completed", close=True)
        elif event == "create":
            self.server_creates(roll)
        elif event == "app":
            self.app_asks_for_a_response(flag)
        elif event == "item":
            self.message_item(index)
        elif event == "audio":
            self.audio_delta(index, durations)
        elif event == "transcript":
            self.transcript_delta(index, word, flag)
        elif event == "item_done":
            self.item_done(index)
        elif event == "call":
            self.function_call(index)
        elif event == "arguments":
            self.arguments_done(index, flag)
        else:
            status = ("completed", "failed", "incomplete")[roll % 5 // 3 + (roll == 7)]
            self.response_done(index, status, flag)

    def server_creates(self, fail: int) -> None:
        kind, stale, superseded = self.queue.pop(0)
        if kind == "client" and not fail:
            self.feed(CreateFailed())
            return
        response = SResponse(self.new_id("r"))
        self.responses[response.id] = response
        actions = self.feed(ResponseCreated(response.id))
        # due before a barge-in, created after it: the machine must cancel it itself,
        # unless a response.create of its own followed, which cancels it at the server
        expected = [CancelResponse(response.id)] if stale and not superseded else []
        assert actions == expected, actions
        if superseded:
            self.forbidden.add(response.id)
            response.cancel_requested = True
            self.end_response(response, "cancelled", close=False)
            return
        if fail % 2:
            self.add_message(response)

    def app_asks_for_a_response(self, announced: bool) -> None:
        if announced:
            self.feed(ResponseRequested())
            for entry in self.queue:
                entry[2] = entry[2] or entry[1]
            self.queue.append(["app", False, False])
        else:  # the server answers something the machine was not told about
            response = SResponse(self.new_id("r"))
            self.responses[response.id] = response
            self.feed(ResponseCreated(response.id))

    def message_item(self, index: int) -> None:
        self.add_message(self.pick(self.active(), index))

    def add_message(self, response: SResponse) -> None:
        item = SItem(self.new_id("a"), "message")
        response.items.append(item)
        self.items[item.id] = item
        self.feed(OutputItemAdded(response_id=response.id, item_id=item.id, kind="message"))

    def response_of(self, item: SItem) -> SResponse:
        return next(r for r in self.responses.values() if item in r.items)

    def audio_delta(self, index: int, durations: list[float]) -> None:
        item = self.pick(self.open_items(), index)
        response = self.response_of(item)
        for duration in durations:
            item.received += duration
            actions = self.feed(
                AudioDelta(
                    response_id=response.id,
                    item_id=item.id,
                    content_index=0,
                    data=b"\0\0",
                    duration_ms=duration,
                )
            )
            if response.id in self.forbidden or self.paused:
                assert only(actions, PlayAudio) == []

    def transcript_delta(self, index: int, word: str, timed: bool) -> None:
        item = self.pick(self.open_items(), index)
        text = (" " if item.text else "") + word
        item.text += text
        self.feed(TranscriptDelta(item_id=item.id, text=text))
        if timed:
            self.feed(
                WordTimestamp(
                    item_id=item.id,
                    text=word.strip(",."),
                    start_ms=item.word_clock,
                    duration_ms=120,
                )
            )
            item.word_clock += 150

    def item_done(self, index: int) -> None:
        item = self.pick(self.open_items(), index)
        item.audio_done = True
        response = self.response_of(item)
        self.feed(AudioDone(response_id=response.id, item_id=item.id))
        self.feed(TranscriptDone(item_id=item.id, text=item.text))

    def function_call(self, index: int) -> SCall:
        response = self.pick(self.active(), index)
        call = SCall(self.new_id("c"), self.new_id("f"), response.id)
        response.calls.append(call)
        self.calls[call.call_id] = call
        self.items[call.item_id] = SItem(call.item_id, "function_call")
        response.items.append(self.items[call.item_id])
        self.feed(
            OutputItemAdded(
                response_id=response.id,
                item_id=call.item_id,
                kind="function_call",
                call_id=call.call_id,
                name="tool",
            )
        )
        return call

    def finish_arguments(self, call: SCall, cancel_on_interrupt: bool) -> None:
        call.args_done = True
        self.feed(
            FunctionCallDone(
                response_id=call.response_id,
                item_id=call.item_id,
                call_id=call.call_id,
                name="tool",
                arguments="{}",
                cancel_on_interrupt=cancel_on_interrupt,
            )
        )

    def arguments_done(self, index: int, cancel_on_interrupt: bool) -> None:
        self.finish_arguments(self.pick(self.open_calls(), index), cancel_on_interrupt)

    def response_done(self, index: int, status: str, close: bool) -> None:
        self.end_response(self.pick(self.active(), index), status, close)

    def end_response(self, response: SResponse, status: str, close: bool) -> None:
        if response.cancel_requested:
            status = "cancelled"
        if close or status == "completed":
            for item in response.items:
                if item.kind == "message" and not item.audio_done:
                    item.audio_done = True
                    self.feed(AudioDone(response_id=response.id, item_id=item.id))
            for call in response.calls:
                if not call.args_done:
                    self.finish_arguments(call, cancel_on_interrupt=False)
        for item in response.items:
            item.audio_done = True
        response.active = False
        response.status = status
        self.feed(ResponseDone(response_id=response.id, status=status))

    # -- rules: the sink and the tools ---------------------------------------------------------

    def playback(self, advance: float, drained: bool) -> None:
        if not (self.paused and self.pausable):
            self.played = min(self.written, self.played + advance)
        self.feed(PlaybackProgress(self.played, drained=drained and self.pending() == 0))

    def tool_finishes(self, index: int) -> None:
        call_id = self.pick(sorted(self.running), index)
        self.running.remove(call_id)
        self.results[call_id] = f"result of {call_id}"
        item_id = self.calls[call_id].item_id
        actions = self.feed(ToolFinished(item_id=item_id, output=self.results[call_id]))
        assert only(actions, SendToolOutput) == [Sent(call_id, self.results[call_id])]

    def cancelled_tool_finishes_anyway(self) -> None:
        call_id = self.cancelled.pop()
        item_id = self.calls[call_id].item_id
        assert self.feed(ToolFinished(item_id=item_id, output="too late")) == []

    # -- invariants and the end -----------------------------------------------------------------

    @invariant()
    def playback_short_of_the_wait_changes_nothing(self) -> None:
        """What lets the session's clock sleep: short of the position playback_wait_ms
        names (anywhere in what was written when it names none), a PlaybackProgress yields
        no action and leaves the state alone."""
        wait = self.machine.playback_wait_ms(self.played)
        limit = self.written if wait is None else min(self.written, self.played + wait)
        target = limit - 1.0  # the machine rounds within half a millisecond
        if target <= self.played:
            return
        probe = copy.deepcopy(self.machine)
        state = probe.state
        assert probe.handle(PlaybackProgress(target), self.now) == []
        assert probe.state is state

    @invariant()
    def state_is_defined(self) -> None:
        assert self.machine.state in set(TurnState)
        assert (self.machine.next_deadline is not None) == (
            self.machine.state is TurnState.CONFIRMING
        )

    def teardown(self) -> None:
        """Let everything finish, then check nothing was lost and nothing is left."""
        if not hasattr(self, "machine"):
            return
        for _ in range(10_000):
            if self.vad_item is not None:
                self.speech_stops(3000 + self.config.vad_padding_ms)
            elif self.vad_commits:
                self.vad_commits_turn()
            elif self.own_commits:
                self.server_commits(1)
            elif self.queue:
                self.server_creates(1)
            elif self.active():
                self.end_response(self.active()[0], "completed", close=True)
            elif self.running:
                self.tool_finishes(0)
            elif self.machine.next_deadline is not None:
                self.tick(0, to_deadline=True)
            elif self.pending() > 0 or self.state is not TurnState.IDLE:
                self.playback(self.pending(), drained=True)
                if self.state is not TurnState.IDLE:
                    break
            else:
                break
        assert self.state is TurnState.IDLE, self.state
        for call_id in self.calls:
            assert self.outputs[call_id] == 1, f"{call_id} got {self.outputs[call_id]} outputs"
        assert not self.eligible(), "a tool round trip was never answered"
        messages = {i.id for i in self.items.values() if i.kind == "message"}
        assert self.finals == messages, f"no final transcript for {messages - self.finals}"
        assert len(self.machine.playback) == 0


TurnWorld.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# Passing takes seconds; a failure is then shrunk to a minimal example, which can take minutes.
test_turn_machine_model = pytest.mark.timeout(900)(TurnWorld.TestCase)


def test_the_transition_table_names_every_state() -> None:
    assert set(TRANSITIONS) == set(TurnState)
    for row in TRANSITIONS.values():
        assert set(row) <= set(Trigger)
