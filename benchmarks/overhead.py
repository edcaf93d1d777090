"""Client CPU per conversation: voiceagent against hand-written raw-SDK clients.

Every client runs the same scripted conversation against the emulator (in its own
process, pinned to another core): user audio streamed in 20 ms frames at real time, three
agent answers whose audio goes into a null sink, one tool call and one barge-in (see
``benchmarks/_conversation.py``), session set-up included (each conversation connects and
configures). The raw clients are written with ``azure.ai.voicelive.aio`` only and made
correct for barge-in (they drop the interrupted answer's audio and truncate the item to
what was played, as voiceagent does), so all do the same protocol work:

- ``competent`` (**the baseline**): what a competent SDK user writes: ``conn.recv()``,
  each event's raw fields read once (``event["delta"]``: an SDK attribute read decodes the
  field again each time), appends sent as plain dicts through ``conn.send`` (the SDK's
  ``input_audio_buffer.append()`` builds and serializes a model per frame);
- ``samples``: the loop of the SDK's samples (``conn.input_audio_buffer.append(...)``,
  attribute reads), a labelled reference;
- ``minimal``: the least work the SDK allows: ``conn.recv_bytes()`` and ``json.loads``
  (no SDK event model at all), dict sends, a labelled reference: the floor.

Other frameworks' released Voice Live clients run as labelled peer references where their
packages are installed (``benchmarks/peers``, a separate virtualenv; skipped with a
one-line reason otherwise): ``livekit`` (a LiveKit Agents ``AgentSession`` on the Azure
Voice Live plugin) and ``pipecat`` (a pipecat pipeline with its Azure Voice Live service).
Each is paired with voiceagent like a raw client; when ``competent`` runs too, the peer's
CPU per conversation is also set against the competent loop's (medians of the run). A
peer whose conversation went otherwise (a saturated core can make it miss the barge-in) is
reported as not comparable; the run goes on.

Conversations run a few at once (``--parallel``, default 4 and then 30: the cost per
conversation is not the same in a quiet process and in a busy one). Each round runs
voiceagent and one raw client at the same time, each in its own process pinned to the
same core, so that both meet the same machine; each client's CPU is its own process's CPU
time, and the two processes swap roles from one round of a raw client to its next (so
that 4 rounds put each in each process twice). Rounds cycle through the raw clients.
After one warm-up of every client, the figures are, per call length, level and raw
client, the median CPU time per conversation of each and the median of the rounds'
ratios. CPU that other processes use meanwhile is reported with each round.

Usage::

    python benchmarks/overhead.py                    # 60 s and 20 s calls; 4, then 30 at
                                                     # once; 4 rounds per raw client (and
                                                     # per peer, where installed)
    python benchmarks/overhead.py --seconds 60 --parallel 30 --baselines competent
    python benchmarks/overhead.py --smoke            # one short conversation each, no verdict
    .venv-peers/bin/python benchmarks/overhead.py --baselines competent,livekit,pipecat
    python benchmarks/overhead.py --profile out.prof # also cProfile one voiceagent run
    py-spy record -r 200 -f raw -o va.txt -- python benchmarks/overhead.py --solo voiceagent \
        --seconds 60 --parallel 30                   # one client alone, in this process,
                                                     # for a sampling profiler

Target: voiceagent / competent at most 1.05.
"""

from __future__ import annotations

import argparse
import base64
import collections
import contextlib
import cProfile
import functools
import io
import json
import multiprocessing as mp
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio
import attrs
from azure.ai.voicelive.aio import connect
from azure.ai.voicelive.models import (
    AudioInputTranscriptionOptions,
    FunctionCallOutputItem,
    FunctionTool,
    InputAudioFormat,
    OutputAudioFormat,
    RequestSession,
)
from azure.core.credentials import AzureKeyCredential

from benchmarks import peers
from benchmarks._conversation import (
    Cycle,
    PacedSource,
    WeatherAgent,
    build_cycle,
    get_weather,
    script_for,
)
from benchmarks._harness import (
    CLIENT_CPU,
    EmulatorProcess,
    Row,
    core_busy_seconds,
    pin,
    process_cpu_seconds,
    write_result,
)
from voiceagent.audio import NullSink
from voiceagent.events import EndReason

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

NAME = "overhead"
TARGET = 1.05
BASELINE = "competent"
RAW_CLIENTS = ("competent", "samples", "minimal")
PEERS = tuple(peers.PEERS)

_TOOL = FunctionTool(
    name="get_weather",
    description="Current weather for a city.",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string", "description": 'City name, e.g. "Paris".'}},
        "required": ["city"],
    },
)


@attrs.frozen(kw_only=True)
class Outcome:
    """What one conversation did, to check both clients had the same conversation.

    Attributes:
        client: A raw client's or a peer's name, or ``voiceagent``.
        wall_s: Wall time, connect to close.
        answers: Agent answers with audio.
        interrupted: Answers cut short by the barge-in.
        tool_calls: Tool calls run.
        audio_bytes: Agent audio written to the sink.
    """

    client: str
    wall_s: float
    answers: int
    interrupted: int
    tool_calls: int
    audio_bytes: int

    def shape(self) -> tuple[int, int, int]:
        """(answers, interrupted, tool calls): what both clients must agree on."""
        return (self.answers, self.interrupted, self.tool_calls)


# -- the baseline: the raw SDK ---------------------------------------------------------------


class _NullPlayer:
    """The raw client's audio output: takes bytes, plays nothing."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self.bytes += len(data)

    def clear(self) -> None:
        """Nothing is ever queued."""


async def raw_conversation(
    endpoint: str, api_key: str, source: PacedSource, style: str = BASELINE
) -> Outcome:
    """One conversation with the raw SDK, made barge-in correct.

    Args:
        endpoint: The emulator's endpoint.
        api_key: Its key.
        source: The user's audio.
        style: ``competent``, ``samples`` or ``minimal`` (see the module's docstring).

    Returns:
        What the conversation did.
    """
    wall0 = time.perf_counter()
    player = _NullPlayer()
    played_ms: collections.defaultdict[str, float] = collections.defaultdict(float)
    audio_items: set[str] = set()
    interrupted: set[str] = set()
    calls = 0
    active: str | None = None  # the response in progress
    item: str | None = None  # the assistant item whose audio is playing
    dropped: str | None = None  # an interrupted response: its late audio is dropped
    needs_answer = False  # function outputs were sent: ask for the answer at response.done
    source_done = False
    async with connect(
        endpoint=endpoint, credential=AzureKeyCredential(api_key), model="gpt-realtime"
    ) as conn:
        await conn.session.update(
            session=RequestSession(
                instructions="You are a concise weather assistant.",
                input_audio_format=InputAudioFormat.PCM16,
                input_audio_sampling_rate=24000,
                output_audio_format=OutputAudioFormat.PCM16,
                input_audio_transcription=AudioInputTranscriptionOptions(model="whisper-1"),
                tools=[_TOOL],
            )
        )
        while (await conn.recv()).type != "session.updated":
            pass

        async def receive() -> Any:
            if style == "minimal":
                return json.loads(await conn.recv_bytes())
            return await conn.recv()

        async with anyio.create_task_group() as tg:

            async def send_audio() -> None:
                nonlocal source_done
                async for frame in source:
                    audio = base64.b64encode(frame).decode("ascii")
                    if style == "samples":
                        await conn.input_audio_buffer.append(audio=audio)
                    else:
                        await conn.send({"type": "input_audio_buffer.append", "audio": audio})
                source_done = True
                if active is None:
                    tg.cancel_scope.cancel()

            tg.start_soon(send_audio)
            while True:
                event: Any = await receive()
                if style == "samples":
                    kind = event.type
                    if kind == "response.audio.delta":
                        if event.response_id != dropped:
                            # Each attribute read decodes its field: read it once.
                            data, item = event.delta, event.item_id
                            player.write(data)
                            played_ms[item] += len(data) / 48
                            audio_items.add(item)
                        continue
                else:
                    kind = event["type"]
                    if kind == "response.audio.delta":
                        if event["response_id"] != dropped:
                            data, item = base64.b64decode(event["delta"]), event["item_id"]
                            player.write(data)
                            played_ms[item] += len(data) / 48
                            audio_items.add(item)
                        continue
                if kind == "input_audio_buffer.speech_started":
                    player.clear()
                    if active is not None and item is not None:
                        # The server cancels the response itself (server VAD default);
                        # the item is cut to what the user heard.
                        dropped = active
                        interrupted.add(item)
                        await conn.conversation.item.truncate(
                            item_id=item, content_index=0, audio_end_ms=int(played_ms[item])
                        )
                    item = None
                elif kind == "response.created":
                    active = event["response"]["id"]
                elif kind == "response.function_call_arguments.done":
                    output = json.dumps(get_weather(**json.loads(event["arguments"])))
                    await conn.conversation.item.create(
                        item=FunctionCallOutputItem(call_id=event["call_id"], output=output)
                    )
                    calls += 1
                    needs_answer = True
                elif kind == "response.done":
                    active = None
                    if needs_answer:
                        needs_answer = False
                        await conn.response.create()
                    elif source_done:
                        tg.cancel_scope.cancel()
                elif kind == "error":
                    raise RuntimeError(f"the service reported an error: {event['error']}")
    return Outcome(
        client=style,
        wall_s=time.perf_counter() - wall0,
        answers=len(audio_items),
        interrupted=len(interrupted),
        tool_calls=calls,
        audio_bytes=player.bytes,
    )


# -- voiceagent ------------------------------------------------------------------------------


async def voiceagent_conversation(
    agent: WeatherAgent, endpoint: str, api_key: str, source: PacedSource
) -> Outcome:
    """One conversation with voiceagent: ``agent.run`` with the source and a null sink.

    Args:
        agent: The agent (a definition, shared by all conversations).
        endpoint: The emulator's endpoint.
        api_key: Its key.
        source: The user's audio.

    Returns:
        What the conversation did.

    Raises:
        RuntimeError: The session ended other than by its source finishing.
    """
    wall0 = time.perf_counter()
    sink = NullSink()
    result = await agent.run(
        source=source, sink=sink, endpoint=endpoint, credential=AzureKeyCredential(api_key)
    )
    wall = time.perf_counter() - wall0
    if result.reason is not EndReason.INPUT_FINISHED:
        raise RuntimeError(f"the voiceagent session ended with {result.reason}: {result.error}")
    answers = [m for m in result.history if getattr(m, "role", None) == "assistant"]
    return Outcome(
        client="voiceagent",
        wall_s=wall,
        answers=len(answers),
        interrupted=sum(bool(getattr(m, "interrupted", False)) for m in answers),
        tool_calls=sum(1 for m in result.history if hasattr(m, "call_id")),
        audio_bytes=sink.written_bytes,
    )


# -- the benchmark ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Round:
    """A few conversations of one client, run at the same time.

    Attributes:
        client: ``raw`` or ``voiceagent``.
        conversations: How many ran.
        cpu_s: This process's CPU time over the round.
        wall_s: The round's wall time.
        other_cpu_s: CPU time other processes (not this one, not the emulator) used on the
            machine over the round: the noise of a shared machine.
        outcomes: What each conversation did.
    """

    client: str
    conversations: int
    cpu_s: float
    wall_s: float
    other_cpu_s: float
    outcomes: tuple[Outcome, ...]

    @property
    def cpu_per_conversation_s(self) -> float:
        """CPU time per conversation."""
        return self.cpu_s / self.conversations


async def _round(
    client: str,
    agent: WeatherAgent,
    endpoint: str,
    api_key: str,
    cycle: Cycle,
    *,
    speed: float,
    conversations: int,
) -> Round:
    """Run ``conversations`` conversations of ``client`` at once, their starts spread over
    at most 5 s (0.25 s apart) so that they are not in lockstep."""
    outcomes: list[Outcome] = []
    peer = peers.load(client) if client in PEERS else None

    async def one(delay: float) -> None:
        await anyio.sleep(delay)
        source = PacedSource(cycle.audio, speed=speed)
        if client in RAW_CLIENTS:
            outcomes.append(await raw_conversation(endpoint, api_key, source, client))
        elif peer is not None:
            wall0 = time.perf_counter()
            done = await peer(endpoint, api_key, source)
            outcomes.append(
                Outcome(client=client, wall_s=time.perf_counter() - wall0, **attrs.asdict(done))
            )
        else:
            outcomes.append(await voiceagent_conversation(agent, endpoint, api_key, source))

    step = min(0.25, 5.0 / conversations)
    cpu0, wall0 = process_cpu_seconds(), time.perf_counter()
    async with anyio.create_task_group() as tg:
        for i in range(conversations):
            tg.start_soon(one, step * i)
    return Round(
        client=client,
        conversations=conversations,
        cpu_s=process_cpu_seconds() - cpu0,
        wall_s=time.perf_counter() - wall0,
        other_cpu_s=0.0,
        outcomes=tuple(outcomes),
    )


def _worker(
    pipe: Connection,
    cycle: Cycle,
    endpoint: str,
    warm_endpoint: str | None,
    api_key: str,
    peer_clients: tuple[str, ...] = (),
) -> None:
    """A client process: imports the peers' clients, warms up against the fast emulator
    (unless None), then runs rounds on demand (``(client, conversations, speed)`` in, a
    :class:`Round` out) until None."""
    pin(CLIENT_CPU)
    for name in peer_clients:  # imported before any round, so no round pays for it
        peers.load(name)
    agent = WeatherAgent()
    warm = (*RAW_CLIENTS, *peer_clients, "voiceagent") if warm_endpoint is not None else ()
    for client in warm:
        anyio.run(
            functools.partial(_round, speed=20.0, conversations=1),
            client,
            agent,
            warm_endpoint,
            api_key,
            cycle,
        )
    pipe.send("ready")
    while (order := pipe.recv()) is not None:
        client, n, speed = order
        pipe.send(
            anyio.run(
                functools.partial(_round, speed=speed, conversations=n),
                client,
                agent,
                endpoint,
                api_key,
                cycle,
            )
        )


def _profile_top(profiler: cProfile.Profile, path: str, limit: int = 40) -> str:
    profiler.dump_stats(path)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(limit)
    return out.getvalue()


class _Clients:
    """Two client processes pinned to the same core, each able to run either client.

    Both clients of a round run at the same time, one per process, so that both meet the
    same machine: on a shared machine, other work (a busy sibling hyperthread, the cache)
    changes what the same work costs, and clients measured a minute apart would meet
    different noise. Each client's CPU is its own process's CPU time; the processes swap
    roles from one round of a baseline to its next.
    """

    def __init__(
        self,
        cycle: Cycle,
        emulator: EmulatorProcess,
        warm: EmulatorProcess | None,
        peer_clients: tuple[str, ...] = (),
    ) -> None:
        ctx = mp.get_context("spawn")
        self._pipes: list[Connection] = []
        self._procs: list[Any] = []
        for _ in range(2):
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_worker,
                args=(
                    child,
                    cycle,
                    emulator.endpoint,
                    warm.endpoint if warm is not None else None,
                    emulator.api_key,
                    peer_clients,
                ),
                daemon=True,
            )
            proc.start()
            self._pipes.append(parent)
            self._procs.append(proc)
        for pipe in self._pipes:
            if pipe.recv() != "ready":
                raise RuntimeError("a client process did not start")
        self._emulator = emulator
        # Per baseline: with the baselines' rounds interleaved, one flag for all would put
        # every round of a baseline in the same process when there are two of them.
        self._swapped: dict[str, bool] = {}

    def pair(self, n: int, speed: float, raw_client: str) -> tuple[Round, Round]:
        """A round of each client, at the same time: (raw client or peer, voiceagent)."""
        clients = [raw_client, "voiceagent"]
        swap = self._swapped.get(raw_client, False)
        if swap:
            clients.reverse()
        self._swapped[raw_client] = not swap
        busy0, emu0, wall0 = (
            sum(core_busy_seconds().values()),
            self._emulator.cpu_seconds(),
            time.perf_counter(),
        )
        for pipe, client in zip(self._pipes, clients, strict=True):
            pipe.send((client, n, speed))
        rounds = {r.client: r for r in (pipe.recv() for pipe in self._pipes)}
        wall = time.perf_counter() - wall0
        busy = sum(core_busy_seconds().values()) - busy0
        own = sum(r.cpu_s for r in rounds.values()) + self._emulator.cpu_seconds() - emu0
        other = max(0.0, busy - own)
        raw, va = rounds[raw_client], rounds["voiceagent"]
        return (
            attrs.evolve(raw, other_cpu_s=other * raw.wall_s / wall),
            attrs.evolve(va, other_cpu_s=other * va.wall_s / wall),
        )

    def close(self) -> None:
        """Stop the client processes."""
        for pipe in self._pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for proc in self._procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()


def _level(pairs: list[tuple[Round, Round]], seconds: float) -> dict[str, Any]:
    raw = statistics.median(r.cpu_per_conversation_s for r, _ in pairs)
    va = statistics.median(v.cpu_per_conversation_s for _, v in pairs)
    ratios = [v.cpu_s / r.cpu_s for r, v in pairs]
    own = {o.shape() for r, _ in pairs for o in r.outcomes}
    expected = {o.shape() for _, v in pairs for o in v.outcomes}
    return {
        "baseline": pairs[0][0].client,
        "peer": pairs[0][0].client in PEERS,
        # A peer's conversation that went otherwise (e.g. a saturated core made it miss
        # the barge-in): its figure is not comparable, but the run goes on.
        "conversation_differed": sorted(own - expected),
        "seconds_of_audio": seconds,
        "parallel": pairs[0][0].conversations,
        "raw_cpu_ms": round(raw * 1000, 2),
        "voiceagent_cpu_ms": round(va * 1000, 2),
        "ratio": round(statistics.median(ratios), 3),
        "ratio_min": round(min(ratios), 3),
        "ratio_max": round(max(ratios), 3),
        "rounds": [
            {
                "client": r.client,
                "cpu_s": round(r.cpu_s, 4),
                "wall_s": round(r.wall_s, 3),
                "cpu_per_conversation_ms": round(r.cpu_per_conversation_s * 1000, 2),
                "other_cpu_cores": round(r.other_cpu_s / r.wall_s, 3),
                "audio_bytes": [o.audio_bytes for o in r.outcomes],
            }
            for pair in pairs
            for r in pair
        ],
    }


def _with_peer_ratios(levels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add to each peer's level (of one call length and parallelism) its CPU per
    conversation over the competent loop's, when that ran too (medians of the run)."""
    competent = next((lv for lv in levels if lv["baseline"] == BASELINE), None)
    if competent is None:
        return levels
    return [
        {**lv, "vs_competent": round(lv["raw_cpu_ms"] / competent["raw_cpu_ms"], 3)}
        if lv["peer"]
        else lv
        for lv in levels
    ]


def measure(
    *,
    seconds: list[float],
    speed: float,
    rounds: int,
    parallel: list[int],
    baselines: list[str],
    warmup: bool,
    profile: str | None = None,
    chunk_ms: int = 20,
) -> dict[str, Any]:
    """Run the conversations and return the figures.

    Args:
        seconds: Call lengths: the user's audio per conversation.
        speed: Speed-up of the microphone and of the emulator's audio (1.0: real time).
        rounds: Rounds measured per call length, level and raw client.
        parallel: Levels: conversations per round and client, run at the same time.
        baselines: The raw clients and peers to compare with (the peers' packages must be
            installed: see :func:`benchmarks.peers.unavailable`).
        warmup: Run one fast unmeasured conversation per client first.
        profile: cProfile one more voiceagent conversation into this file.
        chunk_ms: Audio per ``response.audio.delta``.

    Returns:
        The result document (without the machine and summary).

    Raises:
        RuntimeError: The clients did not have the same conversation.
    """
    client_pinned = pin(CLIENT_CPU)
    levels: list[dict[str, Any]] = []
    profile_text = None
    shapes: dict[tuple[int, int, int], set[str]] = collections.defaultdict(set)
    for length in seconds:
        cycle = build_cycle(min_duration_ms=length * 1000)
        script = script_for(cycle, 1)
        with (
            EmulatorProcess(script, speed=speed, audio_chunk_ms=chunk_ms) as emu,
            EmulatorProcess(script, speed=20.0, audio_chunk_ms=chunk_ms) as warm,
        ):
            peer_clients = tuple(b for b in baselines if b in PEERS)
            clients = _Clients(cycle, emu, warm if warmup else None, peer_clients)
            try:
                for n in parallel:
                    by_client: dict[str, list[tuple[Round, Round]]] = {b: [] for b in baselines}
                    for _ in range(rounds):
                        for baseline in baselines:  # interleaved: all meet the same noise
                            raw, va = clients.pair(n, speed, baseline)
                            by_client[baseline].append((raw, va))
                            # A peer's conversation is checked per level (see _level).
                            for o in va.outcomes + (() if baseline in PEERS else raw.outcomes):
                                shapes[o.shape()].add(o.client)
                            print(
                                f"  {cycle.duration_ms / 1000:.0f} s calls, {n} + {n} at once: "
                                f"cpu per conversation {baseline} "
                                f"{raw.cpu_per_conversation_s * 1000:.1f} ms, voiceagent "
                                f"{va.cpu_per_conversation_s * 1000:.1f} ms, ratio "
                                f"{va.cpu_s / raw.cpu_s:.3f}; wall {raw.wall_s:.1f} s, other "
                                f"processes {raw.other_cpu_s / raw.wall_s:.2f} cores",
                                flush=True,
                            )
                    levels += _with_peer_ratios(
                        [
                            _level(pairs, round(cycle.duration_ms / 1000, 2))
                            for pairs in by_client.values()
                        ]
                    )
            finally:
                clients.close()
            if profile and profile_text is None:
                agent = WeatherAgent()
                profiler = cProfile.Profile()
                profiler.enable()
                anyio.run(
                    functools.partial(_round, speed=speed, conversations=1),
                    "voiceagent",
                    agent,
                    emu.endpoint,
                    emu.api_key,
                    cycle,
                )
                profiler.disable()
                profile_text = _profile_top(profiler, profile)
    if len(shapes) != 1:
        seen = "; ".join(
            f"{', '.join(sorted(who))}: {shape[0]} answers, {shape[1]} interrupted, "
            f"{shape[2]} tool calls"
            for shape, who in shapes.items()
        )
        raise RuntimeError(f"the clients had different conversations: {seen}")
    [(answers, interrupted, calls)] = shapes
    return {
        "speed": speed,
        "audio_chunk_ms": chunk_ms,
        "peers": {b: peers.versions(b) for b in baselines if b in PEERS},
        "rounds_per_client": rounds,
        "client_pinned": client_pinned,
        "conversation": {"answers": answers, "interrupted": interrupted, "tool_calls": calls},
        "levels": levels,
        "profile": profile_text,
    }


def solo(client: str, *, seconds: float, conversations: int, speed: float) -> tuple[float, float]:
    """Run ``conversations`` conversations of one client at once in this process (pinned
    to the client's core), after one warm-up, for a profiler to watch: nothing else runs
    in the process.

    Returns:
        The CPU time per conversation and the conversation's audio, in seconds.
    """
    cycle = build_cycle(min_duration_ms=seconds * 1000)
    script = script_for(cycle, 1)
    with (
        EmulatorProcess(script, speed=speed) as emu,
        EmulatorProcess(script, speed=20.0) as warm,
    ):
        pin(CLIENT_CPU)
        agent = WeatherAgent()
        for server, n, pace in ((warm, 1, 20.0), (emu, conversations, speed)):
            done = anyio.run(
                functools.partial(_round, speed=pace, conversations=n),
                client,
                agent,
                server.endpoint,
                server.api_key,
                cycle,
            )
    return done.cpu_per_conversation_s, cycle.duration_ms / 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds, no verdict")
    parser.add_argument(
        "--rounds", type=int, default=4, help="rounds per level and client (even: balanced)"
    )
    parser.add_argument(
        "--parallel", default="4,30", help="conversations at once, per level (comma-separated)"
    )
    parser.add_argument(
        "--seconds", default="60,20", help="call lengths: user audio per conversation"
    )
    parser.add_argument(
        "--baselines",
        default=",".join((*RAW_CLIENTS, *PEERS)),
        help=f"raw clients and peers to compare with (of {', '.join((*RAW_CLIENTS, *PEERS))}"
        "; a peer whose packages are not installed is skipped with its reason)",
    )
    parser.add_argument("--speed", type=float, default=1.0, help="speed-up (1.0: real time)")
    parser.add_argument("--chunk-ms", type=int, default=20, help="audio per response delta")
    parser.add_argument("--profile", metavar="FILE", help="cProfile one voiceagent conversation")
    parser.add_argument(
        "--solo",
        metavar="CLIENT",
        help="run only CLIENT (voiceagent or a raw client): the first --parallel level's "
        "conversations at once, in this process, for a sampling profiler; no comparison",
    )
    args = parser.parse_args(argv)
    parallel = [int(n) for n in args.parallel.split(",")]
    seconds = [float(s) for s in args.seconds.split(",")]
    if args.solo is not None:
        if args.solo not in (*RAW_CLIENTS, "voiceagent"):
            parser.error(f"--solo takes voiceagent or one of {', '.join(RAW_CLIENTS)}")
        cpu, length = solo(
            args.solo, seconds=seconds[0], conversations=parallel[0], speed=args.speed
        )
        print(f"{args.solo}: {parallel[0]} conversations of {length:.0f} s at once, "
              f"cpu per conversation {cpu * 1000:.1f} ms")  # fmt: skip
        return 0
    baselines = [b.strip() for b in args.baselines.split(",")]
    unknown = set(baselines) - set(RAW_CLIENTS) - set(PEERS)
    if unknown:
        parser.error(f"unknown baselines: {', '.join(sorted(unknown))}")
    skipped = {b: why for b in baselines if b in PEERS and (why := peers.unavailable(b))}
    for why in skipped.values():
        print(f"skipped peer {why}")
    baselines = [b for b in baselines if b not in skipped]
    if not baselines:
        parser.error("no baseline left to compare with")
    if args.smoke:
        args.rounds, parallel, seconds, args.speed = 1, [1], [0.0], 20.0
    result = measure(
        seconds=seconds,
        speed=args.speed,
        rounds=args.rounds,
        parallel=parallel,
        baselines=baselines,
        warmup=not args.smoke,
        profile=args.profile,
        chunk_ms=args.chunk_ms,
    )
    result["skipped_peers"] = skipped
    summary = []
    for level in result["levels"]:
        n, ratio, base = level["parallel"], level["ratio"], level["baseline"]
        what = f"{level['seconds_of_audio']:.0f} s calls, {n} at once"
        target = base == BASELINE
        kind = "peer" if level["peer"] else "raw SDK"
        if level["conversation_differed"]:
            print(
                f"{what}: {base} had another conversation (answers, interrupted, tool calls: "
                f"{level['conversation_differed']}): its figures are not comparable"
            )
            what += f" (NOT COMPARABLE: {base} had another conversation)"
        summary += [
            Row(benchmark=NAME, metric=f"{base} {kind} CPU / conversation, {what}",
                value=f"{level['raw_cpu_ms']:.0f} ms"),
            Row(benchmark=NAME, metric=f"voiceagent CPU / conversation, {what}",
                value=f"{level['voiceagent_cpu_ms']:.0f} ms"),
            Row(benchmark=NAME, metric=f"CPU ratio voiceagent / {base}, {what}",
                value=f"{ratio:.3f} ({level['ratio_min']:.3f}-{level['ratio_max']:.3f})",
                target=f"<= {TARGET:.2f}" if target else "",
                met=ratio <= TARGET if target else None),
        ]  # fmt: skip
        if "vs_competent" in level:  # a peer, with the competent loop in the same run
            summary.append(
                Row(
                    benchmark=NAME,
                    metric=f"CPU ratio {base} (peer) / {BASELINE}, {what} (medians of the run)",
                    value=f"{level['vs_competent']:.3f}",
                )
            )
        print(
            f"{what}: {base} {level['raw_cpu_ms']:.0f} ms, voiceagent "
            f"{level['voiceagent_cpu_ms']:.0f} ms per conversation, ratio {ratio:.3f} "
            f"(rounds {level['ratio_min']:.3f}-{level['ratio_max']:.3f})"
            + (f"; {base} / {BASELINE} {level['vs_competent']:.3f}" if level["peer"] else "")
            + (" [smoke: no verdict]" if args.smoke else "")
        )
    path = write_result(NAME, result, summary, smoke=args.smoke)
    if result["profile"]:
        print(result["profile"])
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
