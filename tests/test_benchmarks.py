"""The benchmarks' helper code: statistics, results and the table, the scripted conversation
and its paced microphone, the timing probes, and the raw-SDK baseline against the emulator.

The benchmarks themselves are smoke-run by CI (``benchmarks/*.py --smoke``); these tests
check the arithmetic and bookkeeping their figures rest on, with clocks passed in.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
from typing import TYPE_CHECKING, Any

import anyio
import attrs
import pytest
from azure.ai.voicelive.models import (
    ClientEventConversationItemCreate,
    FunctionCallOutputItem,
    ServerEvent,
)
from benchmarks import _harness, concurrency, instructions, overhead, peers, run
from benchmarks._conversation import (
    ANSWER,
    OKAY,
    PCM,
    STORY,
    PacedSource,
    WeatherAgent,
    build_cycle,
    replies,
    script_for,
)
from benchmarks._harness import Distribution, Row, linear_slope, percentile
from benchmarks._probes import DeviceSink, Samples, SessionProbe, utterance_index
from benchmarks.overhead import (
    Outcome,
    raw_conversation,
    voiceagent_conversation,
)
from hypothesis import given
from hypothesis import strategies as st

from voiceagent.testing import Emulator, synthesize

if TYPE_CHECKING:
    from pathlib import Path

FRAME = PCM.bytes_for_ms(20)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def server_event(payload: dict[str, Any]) -> Any:
    """A real SDK server event, parsed as the SDK parses what comes off the socket."""
    return ServerEvent._deserialize(json.loads(json.dumps(payload)), [])  # type: ignore[no-untyped-call]


def audio_delta(response: str, data: bytes, item: str = "item_1") -> Any:
    return server_event(
        {
            "type": "response.audio.delta",
            "event_id": "e",
            "response_id": response,
            "item_id": item,
            "output_index": 0,
            "content_index": 0,
            "delta": base64.b64encode(data).decode(),
        }
    )


# -- statistics -------------------------------------------------------------------------------


def test_percentile_is_the_nearest_rank() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(values, 50) == 3.0
    assert percentile(values, 99) == 5.0
    assert percentile(values, 0) == 1.0
    assert percentile(values, 20) == 1.0
    assert percentile(values, 21) == 2.0
    assert math.isnan(percentile([], 50))


@pytest.mark.parametrize("q", [-1, 100.5, math.nan])
def test_percentile_rejects_a_rank_outside_0_to_100(q: float) -> None:
    with pytest.raises(ValueError, match="q must be between 0 and 100"):
        percentile([1.0], q)


@given(
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50),
    st.floats(0, 100),
    st.floats(0, 100),
)
def test_percentile_is_a_sample_and_grows_with_the_rank(
    values: list[float], q1: float, q2: float
) -> None:
    low, high = sorted((q1, q2))
    assert percentile(values, low) in values
    assert min(values) <= percentile(values, low) <= percentile(values, high) <= max(values)


def test_a_distribution_reports_milliseconds() -> None:
    d = Distribution.of_seconds([0.001 * i for i in range(1, 201)])
    assert (d.count, d.p50, d.p99, d.max) == (200, 100.0, 198.0, 200.0)
    empty = Distribution.of_seconds([]).as_dict()
    assert empty == {"count": 0, "p50": None, "p99": None, "max": None}


def test_linear_slope_of_a_line_and_of_too_little() -> None:
    assert linear_slope([0, 1, 2, 3], [1, 3, 5, 7]) == pytest.approx(2.0)
    assert linear_slope([0, 1, 2, 3], [5, 5, 5, 5]) == 0.0
    with pytest.raises(ValueError, match="at least two points"):
        linear_slope([1.0], [1.0])
    with pytest.raises(ValueError, match="distinct"):
        linear_slope([1.0, 1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="2 x values but 3"):
        linear_slope([1.0, 2.0], [1.0, 2.0, 3.0])


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs Linux /proc")
def test_cpu_and_memory_readings_on_linux() -> None:
    rss = _harness.rss_bytes()
    assert rss is not None
    assert rss > 1024 * 1024
    busy = _harness.core_busy_seconds()
    assert sorted(busy) == list(range(len(busy)))
    assert all(seconds > 0 for seconds in busy.values())
    assert _harness.process_cpu_seconds(os.getpid()) >= 0


# -- results and the table --------------------------------------------------------------------


def test_results_carry_the_machine_and_smoke_runs_give_no_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_harness, "RESULTS", tmp_path)
    rows = [Row(benchmark="b", metric="ratio", value="1.05", target="<= 1.10", met=True)]
    full = _harness.write_result("b", {"ratio": 1.05}, rows, smoke=False)
    smoke = _harness.write_result("b", {"ratio": 1.5}, rows, smoke=True)
    assert (full.name, smoke.name) == ("b.json", "b.smoke.json")
    document = json.loads(full.read_text())
    assert document["ratio"] == 1.05
    assert document["machine"]["cpus"] == os.cpu_count()
    assert document["summary"][0]["met"] is True
    assert json.loads(smoke.read_text())["summary"][0]["met"] is None


def test_run_discovers_what_ci_smoke_runs(tmp_path: Path) -> None:
    for name in ("__init__", "__main__", "run", "_harness", "memory", "zeta", "overhead"):
        (tmp_path / f"{name}.py").write_text("")
    (tmp_path / "notes.md").write_text("")
    assert run.discover(tmp_path) == ["overhead", "memory", "zeta"]


def test_run_reads_summary_rows_written_since_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_harness, "RESULTS", tmp_path)
    monkeypatch.setattr(run, "ROOT", tmp_path.parent)
    row = Row(benchmark="b", metric="m", value="v", target="t", met=False)
    path = _harness.write_result("b", {}, [row], smoke=False)
    assert run.rows_for("b", smoke=False, since=0.0) == [row]
    stale = path.stat().st_mtime + 10
    [missing] = run.rows_for("b", smoke=False, since=stale)
    assert missing.metric == "(no result file found)"


def test_the_instruction_total_is_callgrinds_totals_not_its_header(tmp_path: Path) -> None:
    # With counting off at the start, callgrind's header says "summary: 0"; the counted
    # figure is the "totals:" line at the end. A file with nothing counted is an error.
    counted = tmp_path / "a.out"
    counted.write_text("events: Ir\nsummary: 0\n\nfn=(1) f\n1 5\ntotals: 465232153\n")
    assert instructions._totals(counted) == 465_232_153
    empty = tmp_path / "b.out"
    empty.write_text("events: Ir\nsummary: 0\ntotals: 0\n")
    with pytest.raises(RuntimeError, match="no instructions counted"):
        instructions._totals(empty)


def test_the_table_aligns_columns_and_names_verdicts() -> None:
    table = run.format_table(
        [
            Row(benchmark="overhead", metric="ratio", value="1.2", target="<= 1.10", met=False),
            Row(benchmark="memory", metric="slope", value="0.1 MB/h", target="< 1", met=True),
            Row(benchmark="latency", metric="p99", value="0.2 ms"),
        ]
    )
    header, rule, *lines = table.splitlines()
    assert header.split() == ["benchmark", "metric", "value", "target", "verdict"]
    assert set(rule.replace(" ", "")) == {"-"}
    assert lines[0].endswith("MISSED")
    assert lines[1].endswith("met")
    assert lines[2].endswith("0.2 ms")
    assert len({line.index("ratio") for line in lines[:1]} | {lines[1].index("slope")}) == 1


# -- the conversation -------------------------------------------------------------------------


def test_the_barge_in_falls_inside_the_story() -> None:
    cycle = build_cycle()
    story_ms = replies()[STORY]
    assert cycle.story_starts_ms < cycle.barge_in_ms < cycle.story_starts_ms + story_ms
    assert PCM.is_aligned(len(cycle.audio))
    assert [turn.says for turn in cycle.turns] == [ANSWER, STORY, OKAY]
    assert [len(turn.calls) for turn in cycle.turns] == [1, 0, 0]
    assert len(script_for(cycle, 3).turns) == 9


def test_a_cycle_is_padded_to_the_duration_asked() -> None:
    short = build_cycle()
    long = build_cycle(min_duration_ms=60000)
    assert long.duration_ms == 60000
    assert long.audio.startswith(short.audio)
    assert long.audio[len(short.audio) :] == bytes(len(long.audio) - len(short.audio))


async def test_paced_source_plays_the_audio_repeat_times_in_20_ms_frames() -> None:
    audio = bytes(range(256)) * 30  # 7680 bytes: 8 frames
    source = PacedSource(audio, repeat=3, speed=None)
    frames = [frame async for frame in source]
    assert b"".join(frames) == audio * 3
    assert {len(f) for f in frames} == {FRAME}
    assert source.sent_ms == source.duration_ms == 3 * PCM.ms_for_bytes(len(audio))


async def test_paced_source_keeps_its_schedule() -> None:
    source = PacedSource(bytes(FRAME * 5), speed=50.0)  # 100 ms of audio in 2 ms
    start = anyio.current_time()
    async for _ in source:
        pass
    assert anyio.current_time() - start >= 0.1 / 50


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"repeat": 0}, "repeat"),
        ({"speed": 0.0}, "speed"),
        ({"frame_ms": 0}, "frame_ms"),
    ],
)
def test_paced_source_rejects_bad_settings(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PacedSource(bytes(FRAME), **kwargs)
    with pytest.raises(ValueError, match="whole pcm16 samples"):
        PacedSource(b"\x00")


# -- the device sink --------------------------------------------------------------------------


def utterance(frames: int) -> bytes:
    return bytes(range(1, 241)) * 4 + bytes(FRAME * (frames - 1))


async def test_frames_on_schedule_are_no_underrun_and_late_ones_are() -> None:
    clock, samples = Clock(), Samples()
    sink = DeviceSink(samples, utterances={utterance(4)[:FRAME]: 4 * FRAME}, clock=clock)
    audio = utterance(4)
    for i, late_ms in enumerate((0, 5, 99, 150)):
        clock.now = 100.0 + i * 0.02 + late_ms / 1000
        await sink.write(audio[i * FRAME : (i + 1) * FRAME])
    assert samples.utterances == 1
    assert samples.underruns == 1
    assert samples.sink_lag == pytest.approx([0.0, 0.005, 0.099, 0.150])
    # The utterance is complete: the next known first frame starts a new one.
    clock.now += 1
    await sink.write(audio[:FRAME])
    assert (samples.utterances, samples.unknown_utterances) == (2, 0)
    assert samples.sink_lag[-1] == 0.0


async def test_a_clear_ends_the_utterance_and_unknown_audio_is_counted() -> None:
    clock, samples = Clock(), Samples()
    audio = utterance(10)
    sink = DeviceSink(samples, utterances={audio[:FRAME]: len(audio)}, clock=clock)
    await sink.write(audio[:FRAME])
    clock.now += 0.02
    await sink.write(audio[FRAME : 2 * FRAME])
    sink.clear()
    clock.now += 5  # long after: this would be a huge lag were the utterance still on
    await sink.write(audio[:FRAME])
    assert samples.underruns == 0
    await sink.write(bytes(FRAME))  # mid-utterance audio after...
    sink.clear()
    await sink.write(b"\x01\x00" * (FRAME // 2))  # ...a clear: not a known first frame
    assert samples.unknown_utterances == 1
    assert sink.clears == 2


async def test_the_device_plays_in_real_time_and_drops_what_a_clear_finds() -> None:
    clock, samples = Clock(), Samples()
    sink = DeviceSink(samples, clock=clock, speed=2.0)
    await sink.write(bytes(FRAME * 10))  # 200 ms, played in 100 ms at 2x
    clock.now += 0.05
    assert sink.played_ms() == pytest.approx(100.0)
    assert sink.queued_ms() == pytest.approx(100.0)
    sink.clear()
    clock.now += 1
    assert sink.played_ms() == pytest.approx(100.0)
    assert sink.queued_ms() == 0.0


async def test_nothing_is_kept_while_not_recording() -> None:
    samples = Samples(recording=False)
    sink = DeviceSink(samples, clock=Clock())
    await sink.write(bytes(FRAME))
    samples.add("audio", 1.0)
    assert (samples.utterances, samples.unknown_utterances, samples.audio) == (0, 0, [])


def test_utterances_are_recognized_by_their_first_chunk() -> None:
    index = utterance_index((ANSWER, OKAY), 20)
    assert index == {
        synthesize(text).audio[:FRAME]: len(synthesize(text).audio) for text in (ANSWER, OKAY)
    }
    with pytest.raises(ValueError, match="same audio"):
        utterance_index((OKAY, OKAY), 20)


# -- the session probe ------------------------------------------------------------------------


async def test_a_delta_is_paired_with_its_write_and_speech_with_the_clear() -> None:
    clock, samples = Clock(), Samples()
    probe = SessionProbe(samples, clock=clock)
    sink = probe.sink()
    probe.on_event(server_event({"type": "response.created", "response": {"id": "r1"}}), 100.0)
    probe.on_event(audio_delta("r1", bytes(FRAME)), 100.0)
    probe.on_event(audio_delta("r1", bytes(2 * FRAME)), 100.001)
    clock.now = 100.002
    await sink.write(bytes(FRAME))
    assert samples.audio == pytest.approx([0.002])
    speech = server_event(
        {"type": "input_audio_buffer.speech_started", "audio_start_ms": 1, "item_id": "u"}
    )
    probe.on_event(speech, 100.010)
    # The server cancels r1: its late audio is dropped, never written.
    probe.on_event(audio_delta("r1", bytes(FRAME)), 100.011)
    clock.now = 100.0105
    sink.clear()
    assert samples.barge_in == pytest.approx([0.0005])
    probe.on_event(server_event({"type": "response.created", "response": {"id": "r2"}}), 101)
    probe.on_event(audio_delta("r2", bytes(FRAME)), 101.0)
    clock.now = 101.004
    await sink.write(bytes(FRAME))
    assert samples.audio == pytest.approx([0.002, 0.004])
    assert samples.mismatched == 0
    # A write that matches no delta is a probe error, counted.
    await sink.write(bytes(FRAME))
    assert samples.mismatched == 1


def test_tool_latencies_from_arrival_to_start_and_from_return_to_sent() -> None:
    clock, samples = Clock(), Samples()
    probe = SessionProbe(samples, clock=clock)
    done = server_event(
        {
            "type": "response.function_call_arguments.done",
            "response_id": "r1",
            "item_id": "i",
            "output_index": 0,
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": "{}",
        }
    )
    probe.on_event(done, 100.0)
    clock.now = 100.003
    probe.tool_started("call_1")
    clock.now = 100.004
    probe.tool_returned("call_1")
    sent = ClientEventConversationItemCreate(
        item=FunctionCallOutputItem(call_id="call_1", output="{}")
    )
    probe.on_sent(sent, 100.0045)
    assert samples.tool_start == pytest.approx([0.003])
    assert samples.tool_output == pytest.approx([0.0005])
    probe.on_sent(sent, 100.01)  # no second return: nothing more to pair
    assert len(samples.tool_output) == 1


def test_dispatch_lag_from_arrival_to_handler() -> None:
    clock, samples = Clock(), Samples()
    probe = SessionProbe(samples, clock=clock)
    payload = {"type": "response.done", "event_id": "event_7", "response": {"id": "r1"}}
    probe.on_event(json.loads(json.dumps(payload)), 100.0)  # what the wire hands over
    clock.now = 100.25
    handled = server_event(payload)  # the handler's SDK object is built apart from it
    samples.handler(clock)(handled)
    samples.handler(clock)(handled)  # dispatched once: paired once
    assert samples.dispatch == pytest.approx([0.25])


def test_a_concurrency_step_measures_every_figure_it_judges() -> None:
    # Real sessions against a real emulator process: the probes must see the session's
    # events (a probe hooked where the session no longer reads measured nothing, and a
    # step "held" on a dispatch lag of nan).
    result = concurrency.measure(
        steps=[2],
        speed=10.0,
        ramp_s=0.3,
        measure_s=2.2,
        jitter_ms=100.0,
        chunk_ms=20,
        keep_going=True,
    )
    (step,) = result["steps"]
    # Counts only: whether the step holds depends on the machine's load (no timing asserts).
    assert step["dispatch_ms"]["count"] > 0
    assert step["sink_lag_ms"]["count"] > 0
    assert step["audio_ms"]["count"] > 0
    assert step["utterances"] > 0


# -- the raw-SDK baseline ---------------------------------------------------------------------


@pytest.mark.parametrize("style", ["competent", "samples", "minimal"])
async def test_the_baselines_and_voiceagent_have_the_same_conversation(style: str) -> None:
    cycle = build_cycle()
    async with Emulator(script=script_for(cycle, 1), speed=10.0, audio_chunk_ms=20) as emu:
        with anyio.fail_after(30):
            raw = await raw_conversation(
                emu.endpoint, emu.api_key, PacedSource(cycle.audio, speed=10.0), style
            )
            va = await voiceagent_conversation(
                WeatherAgent(), emu.endpoint, emu.api_key, PacedSource(cycle.audio, speed=10.0)
            )
        truncates = [
            [e for e in conn.received if e["type"] == "conversation.item.truncate"]
            for conn in emu.connections
        ]
    assert raw.client == style
    assert raw.shape() == va.shape() == (3, 1, 1)
    assert [len(t) for t in truncates] == [1, 1]
    full = sum(len(synthesize(text).audio) for text in (ANSWER, OKAY))
    assert full < raw.audio_bytes < full + len(synthesize(STORY).audio)


# -- the peers (benchmarks/peers: optional, in their own virtualenv) ----------------------------


# The peers' own deprecations (pipecat imports audioop) are theirs to fix, not ours.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", sorted(peers.PEERS))
async def test_a_peer_has_the_same_conversation_as_the_others(name: str) -> None:
    why = peers.unavailable(name)
    if why is not None:
        pytest.skip(why)
    conversation = peers.load(name)
    cycle = build_cycle()
    async with Emulator(script=script_for(cycle, 1), speed=10.0, audio_chunk_ms=20) as emu:
        with anyio.fail_after(60):
            done = await conversation(
                emu.endpoint, emu.api_key, PacedSource(cycle.audio, speed=10.0)
            )
        rejected = [
            e["error"]["code"]
            for conn in emu.connections
            for e in conn.sent
            if e["type"] == "error"
        ]
    outcome = Outcome(client=name, wall_s=0.0, **attrs.asdict(done))
    assert outcome.shape() == (3, 1, 1)
    # What the emulator refused: only a cancel that the server's own barge-in overtook.
    assert set(rejected) <= {"response_cancel_not_active"}
    full = sum(len(synthesize(text).audio) for text in (ANSWER, OKAY))
    assert full < done.audio_bytes < full + len(synthesize(STORY).audio) + 48_000


def test_a_peer_that_is_not_installed_is_skipped_with_its_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ghost = peers._Peer(module="benchmarks.peers.ghost", packages=("ghost",), imports=("gh0st",))
    monkeypatch.setitem(peers.PEERS, "ghost", ghost)
    monkeypatch.setattr(overhead, "PEERS", (*overhead.PEERS, "ghost"))
    assert peers.unavailable("ghost") == (
        "ghost: gh0st is not installed "
        "(pip install -r benchmarks/peers/requirements.txt, in a separate virtualenv)"
    )
    with pytest.raises(SystemExit) as exit_info:
        overhead.main(["--smoke", "--baselines", "ghost"])
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"skipped peer {peers.unavailable('ghost')}"]
    assert "no baseline left to compare with" in err


def test_solo_runs_one_client_alone_for_a_profiler(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--seconds", "0", "--parallel", "2", "--speed", "20"]
    # --solo pins this process to the client's core: give the test worker its cores back,
    # or every later test in it (and the programs it starts) shares one core.
    cores = os.sched_getaffinity(0)
    try:
        assert overhead.main(["--solo", "voiceagent", *args]) == 0
    finally:
        os.sched_setaffinity(0, cores)
    out = capsys.readouterr().out
    match = re.fullmatch(
        r"voiceagent: 2 conversations of \d+ s at once, cpu per conversation ([0-9.]+) ms\n", out
    )
    assert match is not None, out
    assert float(match[1]) > 0
    with pytest.raises(SystemExit) as exit_info:
        overhead.main(["--solo", "livekit", *args])
    assert exit_info.value.code == 2
    assert (
        "--solo takes voiceagent or one of competent, samples, minimal" in capsys.readouterr().err
    )


def test_a_peer_is_set_against_the_competent_loop_of_the_same_run() -> None:
    def level(baseline: str, cpu_ms: float) -> dict[str, Any]:
        return {"baseline": baseline, "peer": baseline in peers.PEERS, "raw_cpu_ms": cpu_ms}

    levels = [level("competent", 200.0), level("samples", 250.0), level("livekit", 500.0)]
    with_ratios = overhead._with_peer_ratios(levels)
    assert [lv.get("vs_competent") for lv in with_ratios] == [None, None, 2.5]
    assert overhead._with_peer_ratios(levels[1:]) == levels[1:]  # no competent loop: no ratio


def test_a_peer_with_another_conversation_is_flagged_not_fatal() -> None:
    def round_of(client: str, shape: tuple[int, int, int]) -> overhead.Round:
        answers, interrupted, calls = shape
        outcome = Outcome(
            client=client,
            wall_s=20.0,
            answers=answers,
            interrupted=interrupted,
            tool_calls=calls,
            audio_bytes=0,
        )
        return overhead.Round(
            client=client, conversations=1, cpu_s=0.5, wall_s=20.0, other_cpu_s=0.0,
            outcomes=(outcome,),
        )  # fmt: skip

    same = overhead._level(
        [(round_of("livekit", (3, 1, 1)), round_of("voiceagent", (3, 1, 1)))], 20
    )
    assert same["conversation_differed"] == []
    missed = [
        (round_of("pipecat", (3, 1, 1)), round_of("voiceagent", (3, 1, 1))),
        (round_of("pipecat", (3, 0, 1)), round_of("voiceagent", (3, 1, 1))),
    ]
    assert overhead._level(missed, 20)["conversation_differed"] == [(3, 0, 1)]


def test_a_concurrency_step_holds_only_within_cpu_lag_and_underruns() -> None:
    from benchmarks._load import LoadRun
    from benchmarks._probes import Samples
    from benchmarks.concurrency import verdict

    def run(cpu: float, lag_s: float, underruns: int = 0) -> LoadRun:
        samples = Samples()
        samples.utterances = 10
        samples.dispatch = [0.001] * 98 + [lag_s] * 2
        samples.underruns = underruns
        return LoadRun(
            sessions=100,
            seconds=20.0,
            client_cpu_cores=cpu,
            emulator_cpu_cores=0.3,
            other_cpu_cores=0.0,
            failures=(),
            samples=samples,
        )

    assert verdict(run(0.5, 0.005))["holds"]
    assert verdict(run(0.95, 0.005))["why"] == ["client at 0.95 cores (limit 0.9)"]
    assert verdict(run(0.5, 0.025))["why"] == ["dispatch lag p99 25.0 ms (limit 20)"]
    assert verdict(run(0.5, 0.005, underruns=3))["why"] == ["3 underruns"]
