"""Memory over a long conversation: RSS of the client over a simulated 60-minute call.

One voiceagent session plays the benchmark conversation (a tool call, three answers and
a barge-in every cycle of about 20 s; ``_conversation.py``) over and over for an hour of
audio, with the microphone and the emulator sped up (``--speed``) so the hour takes a few
minutes. The emulator runs in its own process (without an event record), so only the
client's memory is measured.

Every minute of conversation the benchmark collects garbage and reads this process's
resident set size and the Python allocator's block count. Growth must be bounded: the
figure is the least-squares slope of RSS over conversation time once warm (after
``--warm-minutes``), in MB per hour of conversation. The session's history, which grows
with every turn by design (it is the transcript), is reported alongside.

Usage::

    python benchmarks/memory.py               # 60 minutes at 20x (3 minutes)
    python benchmarks/memory.py --trace       # also tracemalloc's top growth sites
    python benchmarks/memory.py --smoke       # 2 minutes at 60x, no verdict

Target: under 1 MB per hour once warm.
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio
from azure.core.credentials import AzureKeyCredential

from benchmarks._conversation import PacedSource, WeatherAgent, build_cycle, script_for
from benchmarks._harness import (
    CLIENT_CPU,
    EmulatorProcess,
    Row,
    allocated_blocks,
    linear_slope,
    pin,
    rss_bytes,
    write_result,
)
from voiceagent.audio import NullSink
from voiceagent.events import EndReason
from voiceagent.telemetry import Telemetry

NAME = "memory"
TARGET_MB_PER_HOUR = 1.0
MB = 1024 * 1024


async def _conversation(
    endpoint: str,
    api_key: str,
    source: PacedSource,
    *,
    every_ms: float,
    warm_ms: float,
    trace: bool,
    report: bool = True,
) -> tuple[list[dict[str, Any]], Any, int]:
    """Run the session, sampling memory every ``every_ms`` of conversation."""
    # The report's recorder keeps the latest Telemetry.report_turns turns (1000, about 5.5
    # hours of this conversation): Telemetry.off() measures the session without it.
    agent = WeatherAgent() if report else WeatherAgent(telemetry=Telemetry.off())
    points: list[dict[str, Any]] = []
    snapshot: Any = None
    async with agent.session(
        source=source,
        sink=NullSink(),
        endpoint=endpoint,
        credential=AzureKeyCredential(api_key),
    ) as session:

        def sample() -> None:
            gc.collect()
            rss = rss_bytes()
            points.append(
                {
                    "minutes": round(source.sent_ms / 60000, 3),
                    "rss_mb": None if rss is None else round(rss / MB, 3),
                    "blocks": allocated_blocks(),
                    "history": len(session.history),
                }
            )

        async def sampler() -> None:
            nonlocal snapshot
            due = 0.0
            while True:
                if source.sent_ms >= due:
                    sample()
                    if trace and snapshot is None and source.sent_ms >= warm_ms:
                        tracemalloc.start(4)
                        snapshot = tracemalloc.take_snapshot()
                    due += every_ms
                await anyio.sleep(0.05)

        async with anyio.create_task_group() as tg:
            tg.start_soon(sampler)
            result = await session.wait()
            tg.cancel_scope.cancel()
        sample()
    if result.reason is not EndReason.INPUT_FINISHED:
        raise RuntimeError(f"the session ended with {result.reason}: {result.error!r}")
    return points, snapshot, len(result.history)


def _growth_sites(before: Any, limit: int = 12) -> list[str]:
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    stats = after.compare_to(before, "traceback")
    return [
        f"{stat.size_diff / 1024:+.1f} KiB in {stat.count_diff:+d} blocks: "
        + " <- ".join(
            f"{f.filename.split('site-packages/')[-1]}:{f.lineno}" for f in stat.traceback[:4]
        )
        for stat in stats[:limit]
    ]


def measure(
    *,
    minutes: float,
    speed: float,
    warm_minutes: float,
    every_minutes: float,
    trace: bool,
    report: bool = True,
) -> dict[str, Any]:
    """Run the long conversation and return the figures.

    Args:
        minutes: Conversation length (audio time).
        speed: Speed-up of the microphone and the emulator.
        warm_minutes: Conversation time before the slope is measured.
        every_minutes: Sampling interval, in conversation time.
        trace: Also report tracemalloc's top growth sites after warm-up.
        report: Keep the conversation report's recorder on (the default of a session).

    Returns:
        The result document (without the machine and summary).
    """
    cycle = build_cycle()
    repeat = max(1, math.ceil(minutes * 60000 / cycle.duration_ms))
    client_pinned = pin(CLIENT_CPU)
    source = PacedSource(cycle.audio, repeat=repeat, speed=speed)
    wall0 = time.perf_counter()
    with EmulatorProcess(script_for(cycle, repeat), speed=speed) as emu:
        points, snapshot, history = anyio.run(
            lambda: _conversation(
                emu.endpoint,
                emu.api_key,
                source,
                every_ms=every_minutes * 60000,
                warm_ms=warm_minutes * 60000,
                trace=trace,
                report=report,
            )
        )
    wall = time.perf_counter() - wall0
    sites = _growth_sites(snapshot) if snapshot is not None else []
    warm = [p for p in points if p["minutes"] >= warm_minutes and p["rss_mb"] is not None]
    slope = blocks_slope = None
    if len(warm) >= 2 and warm[-1]["minutes"] > warm[0]["minutes"]:
        xs = [p["minutes"] / 60 for p in warm]
        slope = linear_slope(xs, [p["rss_mb"] for p in warm])
        blocks_slope = linear_slope(xs, [p["blocks"] for p in warm])
    return {
        "conversation_minutes": round(points[-1]["minutes"], 2),
        "cycles": repeat,
        "speed": speed,
        "wall_seconds": round(wall, 1),
        "warm_minutes": warm_minutes,
        "emulator_pinned": emu.pinned,
        "client_pinned": client_pinned,
        "rss_mb_start": points[0]["rss_mb"],
        "rss_mb_warm": warm[0]["rss_mb"] if warm else None,
        "rss_mb_end": points[-1]["rss_mb"],
        "slope_mb_per_hour": None if slope is None else round(slope, 3),
        "blocks_per_hour": None if blocks_slope is None else round(blocks_slope),
        "history_entries": history,
        "growth_sites": sites,
        "points": points,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds, no verdict")
    parser.add_argument("--minutes", type=float, default=60.0, help="conversation length")
    parser.add_argument("--speed", type=float, default=20.0, help="speed-up of the audio")
    parser.add_argument("--warm-minutes", type=float, default=10.0, help="warm-up, not measured")
    parser.add_argument("--every", type=float, default=1.0, help="sampling interval, minutes")
    parser.add_argument("--trace", action="store_true", help="tracemalloc growth sites")
    parser.add_argument(
        "--no-report",
        action="store_true",
        help="Telemetry.off(): without the conversation report's recorder",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.minutes, args.speed, args.warm_minutes, args.every = 2.0, 60.0, 0.5, 0.25
    result = measure(
        minutes=args.minutes,
        speed=args.speed,
        warm_minutes=args.warm_minutes,
        every_minutes=args.every,
        trace=args.trace,
        report=not args.no_report,
    )
    slope = result["slope_mb_per_hour"]
    rss = f"{result['rss_mb_start']} / {result['rss_mb_warm']} / {result['rss_mb_end']} MB"
    rows = [
        Row(benchmark=NAME, metric="RSS growth once warm, per hour of conversation",
            value="n/a" if slope is None else f"{slope:+.2f} MB/h",
            target=f"< {TARGET_MB_PER_HOUR:g} MB/h",
            met=None if slope is None else slope < TARGET_MB_PER_HOUR),
        Row(benchmark=NAME, metric="RSS start / warm / end", value=rss),
        Row(benchmark=NAME, metric="history entries at the end",
            value=str(result["history_entries"])),
    ]  # fmt: skip
    for site in result["growth_sites"]:
        print("  ", site)
    path = write_result(NAME, result, rows, smoke=args.smoke)
    print(
        f"{result['conversation_minutes']} minutes of conversation in {result['wall_seconds']} s:"
        f" RSS {result['rss_mb_start']} -> {result['rss_mb_end']} MB, slope once warm "
        f"{slope} MB/h (target < {TARGET_MB_PER_HOUR:g}), allocator blocks "
        f"{result['blocks_per_hour']}/h, history {result['history_entries']} entries"
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
