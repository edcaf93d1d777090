"""A dropped connection, from the drop to the agent's first audio on the new connection.

Each round is one conversation against an emulator in its own process: the user asks (a
text message), the agent answers with audio at real time, and the emulator drops the
connection abruptly (1006) at the answer's fifth audio delta, on every connection. The
session reconnects, sends its configuration again, replays the conversation, asks again
for the answer the drop cut short, and the agent speaks again. Measured, on the client's
clock: from the session noticing the drop (``Reconnecting``, attempt 1) to the first audio
of the answer on the new connection (its ``TurnMetrics``), and the gap the session reports
(``Reconnected.gap_ms``: drop to the new connection taking over).

The baseline, measured in the same run against the same emulator: what an application
without resume pays to get the agent speaking again on a fresh session, from opening it
(connect and configure) to the first audio of an answer to the same message, with the
history lost.

Usage::

    python benchmarks/reconnect.py            # 50 rounds of each
    python benchmarks/reconnect.py --smoke    # 3 rounds, no verdict
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio

from benchmarks._harness import CLIENT_CPU, Distribution, EmulatorProcess, Row, pin, write_result
from voiceagent import Agent, ReconnectPolicy
from voiceagent.events import Reconnected, Reconnecting, TurnMetrics
from voiceagent.testing import Disconnect, Faults, Script, Turn

NAME = "reconnect"
QUESTION = "Tell me about the lighthouse."
ANSWER = (
    "The lighthouse keeper counted the waves every night and wrote each number in a small "
    "blue book that nobody ever read."
)
ROUNDS = 50


def _agent() -> Agent:
    return Agent(
        turn_detection=None,
        reconnect=ReconnectPolicy(initial_backoff_s=0.05),
        instructions="You tell short stories.",
    )


async def _resumed_round(endpoint: str, key: str) -> tuple[float, float]:
    """One conversation with a drop: (drop -> first resumed audio, reported gap), seconds."""
    agent = _agent()
    marks: dict[str, float] = {}
    resumed = anyio.Event()

    def on_reconnecting(event: Reconnecting) -> None:
        if event.attempt == 1 and "drop" not in marks:
            marks["drop"] = anyio.current_time()

    def on_reconnected(event: Reconnected) -> None:
        marks.setdefault("gap", event.gap_ms / 1000)

    def on_metrics(event: TurnMetrics) -> None:
        if "gap" in marks and "audio" not in marks:
            marks["audio"] = anyio.current_time()
            resumed.set()

    agent.on(Reconnecting)(on_reconnecting)
    agent.on(Reconnected)(on_reconnected)
    agent.on(TurnMetrics)(on_metrics)
    async with agent.session(endpoint=endpoint, api_key=key) as session:
        await session.send_text(QUESTION)
        with anyio.fail_after(30):
            await resumed.wait()
        session.end()
    return marks["audio"] - marks["drop"], marks["gap"]


async def _fresh_round(endpoint: str, key: str) -> float:
    """A new session to the agent's first audio (the baseline), seconds."""
    agent = _agent()
    first = anyio.Event()
    agent.on(TurnMetrics)(lambda event: first.set())
    started = anyio.current_time()
    async with agent.session(endpoint=endpoint, api_key=key) as session:
        await session.send_text(QUESTION)
        with anyio.fail_after(30):
            await first.wait()
        elapsed = anyio.current_time() - started
        session.end()
    return elapsed


def measure(*, rounds: int) -> dict[str, Any]:
    """Run the rounds (resumed and fresh, alternating) and return the figures."""
    client_pinned = pin(CLIENT_CPU)
    turns = [Turn(says=ANSWER)] * (rounds * 40)
    resumed: list[float] = []
    gaps: list[float] = []
    fresh: list[float] = []
    dropping = Faults(
        disconnects=[Disconnect(at="response.audio.delta", count=5, connections=None)]
    )
    with (
        EmulatorProcess(Script(*turns), speed=1.0, faults=dropping) as drops,
        EmulatorProcess(Script(*turns), speed=1.0) as steady,
    ):

        async def run() -> None:
            for _ in range(rounds):
                to_audio, gap = await _resumed_round(drops.endpoint, drops.api_key)
                resumed.append(to_audio)
                gaps.append(gap)
                fresh.append(await _fresh_round(steady.endpoint, steady.api_key))

        anyio.run(run)
    resumed_d = Distribution.of_seconds(resumed)
    fresh_d = Distribution.of_seconds(fresh)
    gap_d = Distribution.of_seconds(gaps)
    print(
        f"{rounds} rounds: drop -> first resumed audio p50/p99 {resumed_d.p50:.1f} / "
        f"{resumed_d.p99:.1f} ms (gap {gap_d.p50:.1f} / {gap_d.p99:.1f} ms); fresh session to "
        f"first audio {fresh_d.p50:.1f} / {fresh_d.p99:.1f} ms",
        flush=True,
    )
    return {
        "rounds": rounds,
        "client_pinned": client_pinned,
        "drop_to_first_audio_ms": resumed_d.as_dict(),
        "gap_ms": gap_d.as_dict(),
        "fresh_session_to_first_audio_ms": fresh_d.as_dict(),
        "ratio_p50": round(resumed_d.p50 / fresh_d.p50, 3) if fresh_d.p50 else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="3 rounds, no verdict")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds of each")
    args = parser.parse_args(argv)
    rounds = 3 if args.smoke else args.rounds
    result = measure(rounds=rounds)
    d, f, g = (
        result["drop_to_first_audio_ms"],
        result["fresh_session_to_first_audio_ms"],
        result["gap_ms"],
    )
    rows = [
        Row(
            benchmark=NAME,
            metric="drop -> first resumed audio, p50 / p99",
            value=f"{d['p50']:.1f} / {d['p99']:.1f} ms (n={d['count']})",
        ),
        Row(
            benchmark=NAME,
            metric="drop -> new connection took over (gap), p50 / p99",
            value=f"{g['p50']:.1f} / {g['p99']:.1f} ms",
        ),
        Row(
            benchmark=NAME,
            metric="baseline: fresh session -> first audio, p50 / p99",
            value=f"{f['p50']:.1f} / {f['p99']:.1f} ms",
        ),
        Row(benchmark=NAME, metric="resume / fresh session, p50", value=f"{result['ratio_p50']}"),
    ]
    path = write_result(NAME, result, rows, smoke=args.smoke)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
