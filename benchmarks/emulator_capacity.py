"""How many concurrent real-time sessions one emulator process sustains on one core.

The emulator runs in its own process, pinned to one core where the machine allows;
the load generator runs in this process, pinned to another. Each session streams
20 ms input frames in real time (a speech burst, then silence, over and over) and
the emulator answers every turn with real-time paced audio in 20 ms deltas, so
audio flows both ways continuously.

A step of N sessions holds when the emulator's pacing stays on time: the p99 lateness
of response audio deltas (arrival versus the real-time schedule of their response)
stays under ``--max-lag-ms`` and the emulator process uses less than one core. The
load generator is a raw aiohttp client (not the SDK), so that it is not the
bottleneck; any lag it adds makes the figure conservative.

Usage::

    python benchmarks/emulator_capacity.py            # ramp until a step fails
    python benchmarks/emulator_capacity.py --record   # same, keeping the event record
    python benchmarks/emulator_capacity.py --smoke    # a few seconds, no verdict

By default the emulator runs with ``record=False`` (its setting for load runs: events
are counted, not kept); ``--record`` measures it as tests use it, where the growing
record adds garbage-collection pauses.

Prints a table and writes ``benchmarks/results/emulator_capacity.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

ROOT = Path(__file__).resolve().parent
FRAME_MS = 20
CYCLE_S = 5.0
RATE = 24000


def _pin(cpu: int) -> bool:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        try:
            os.sched_setaffinity(0, {cpu})
        except OSError:
            return False
        return True
    return False


def _serve(pipe: Connection, api_key: str, record: bool, profile: str | None = None) -> None:
    """Child process: run the emulator until the pipe says stop."""
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        try:
            _serve(pipe, api_key, record)
        finally:
            profiler.disable()
            profiler.dump_stats(profile)
        return
    pinned = _pin(0)
    from voiceagent.testing import Emulator, Script, Turn

    reply = "Thanks, I heard you. Here is a short answer that lasts about three seconds."
    script = Script(*[Turn(hears="hello", says=reply) for _ in range(1000)])

    async def main() -> None:
        async with Emulator(
            script=script, api_key=api_key, speed=1.0, audio_chunk_ms=FRAME_MS, record=record
        ) as emu:
            pipe.send({"endpoint": emu.endpoint, "pinned": pinned})
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, pipe.recv)

    asyncio.run(main())


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _frames() -> list[str]:
    """One 5 s cycle of pre-encoded append events: 1.5 s of speech, 3.5 s of silence."""
    from voiceagent.testing import synthesize

    speech = synthesize(
        "Hello there, this is the caller speaking for a little while.", sample_rate=RATE
    ).audio[: RATE * 2 * 3 // 2]
    cycle = speech + bytes(RATE * 2 * 5 - len(speech))
    step = RATE * 2 * FRAME_MS // 1000
    return [
        json.dumps(
            {
                "type": "input_audio_buffer.append",
                "audio": base64.b64encode(cycle[i : i + step]).decode(),
            }
        )
        for i in range(0, len(cycle), step)
    ]


async def _session(
    url: str,
    api_key: str,
    frames: list[str],
    duration: float,
    lags: list[float],
    counts: dict[str, int],
    offset: float,
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(url, headers={"api-key": api_key}, max_msg_size=0) as ws,
    ):
        await ws.send_str(
            json.dumps(
                {
                    "type": "session.update",
                    "session": {
                        "turn_detection": {"type": "server_vad", "silence_duration_ms": 300}
                    },
                }
            )
        )
        loop = asyncio.get_running_loop()
        start = loop.time() + offset
        end = start + duration

        async def send() -> None:
            i = 0
            while True:
                at = start + i * FRAME_MS / 1000
                if at >= end:
                    return
                await asyncio.sleep(max(0.0, at - loop.time()))
                await ws.send_str(frames[i % len(frames)])
                i += 1

        async def receive() -> None:
            first: float | None = None
            audio_ms = 0.0
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                head = msg.data[:48]
                now = loop.time()
                if '"response.audio.delta"' in head:
                    if first is None:
                        first = now
                    else:
                        lags.append((now - (first + audio_ms / 1000)) * 1000)
                    audio_ms += FRAME_MS
                    counts["deltas"] += 1
                elif '"response.created"' in head:
                    first, audio_ms = None, 0.0
                    counts["responses"] += 1
                elif '"error"' in head:
                    counts["errors"] += 1

        receiver = asyncio.create_task(receive())
        await send()
        await asyncio.sleep(0.2)
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiver


async def _step(
    url: str, api_key: str, pid: int, n: int, duration: float, frames: list[str]
) -> dict[str, Any]:
    lags: list[float] = []
    counts = {"deltas": 0, "responses": 0, "errors": 0}
    cpu0, wall0, client0 = _cpu_seconds(pid), time.monotonic(), time.process_time()
    await asyncio.gather(
        *(
            # Calls are independent: spread their starts over one 5 s speech cycle.
            _session(url, api_key, frames, duration, lags, counts, offset=CYCLE_S * i / n)
            for i in range(n)
        )
    )
    wall = time.monotonic() - wall0
    cpu = (_cpu_seconds(pid) - cpu0) / wall
    client_cpu = (time.process_time() - client0) / wall
    lags.sort()
    p99 = lags[min(len(lags) - 1, math.ceil(len(lags) * 0.99) - 1)] if lags else float("nan")
    return {
        "sessions": n,
        "seconds": duration,
        "emulator_cpu_cores": round(cpu, 3),
        "client_cpu_cores": round(client_cpu, 3),
        "audio_deltas": counts["deltas"],
        "responses": counts["responses"],
        "errors": counts["errors"],
        "lag_p50_ms": round(statistics.median(lags), 2) if lags else None,
        "lag_p99_ms": round(p99, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds, no verdict")
    parser.add_argument("--steps", default="25,50,100,150,200,250,300,400")
    parser.add_argument("--seconds", type=float, default=12.0, help="duration of each step")
    parser.add_argument("--max-lag-ms", type=float, default=40.0)
    parser.add_argument(
        "--record",
        action="store_true",
        help="keep the emulator's full event record (as tests do); by default the emulator "
        "runs with record=False, its documented setting for load and soak runs",
    )
    parser.add_argument("--profile", metavar="FILE", help="cProfile the emulator into FILE")
    args = parser.parse_args(argv)
    steps = [3] if args.smoke else [int(s) for s in args.steps.split(",")]
    duration = 2.5 if args.smoke else args.seconds

    api_key = "benchmark-key"
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, api_key, args.record, args.profile), daemon=True)
    proc.start()
    info = parent.recv()
    client_pinned = _pin(1)
    url = info["endpoint"].replace("http", "ws") + "/voice-live/realtime"
    frames = _frames()
    rows: list[dict[str, Any]] = []
    best = 0
    try:
        for n in steps:
            row = asyncio.run(_step(url, api_key, proc.pid or 0, n, duration, frames))
            row["holds"] = (
                row["lag_p99_ms"] == row["lag_p99_ms"]  # not NaN
                and row["lag_p99_ms"] < args.max_lag_ms
                and row["emulator_cpu_cores"] < 0.95
                and row["errors"] == 0
            )
            rows.append(row)
            print(
                f"{n:5d} sessions  emulator cpu {row['emulator_cpu_cores']:.2f}  "
                f"client cpu {row['client_cpu_cores']:.2f}  "
                f"lag p50 {row['lag_p50_ms']} ms  p99 {row['lag_p99_ms']} ms  "
                f"responses {row['responses']}  errors {row['errors']}  "
                f"{'holds' if row['holds'] else 'FAILS'}",
                flush=True,
            )
            if row["holds"]:
                best = n
            elif not args.smoke:
                break
    finally:
        parent.send("stop")
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
    result = {
        "benchmark": "emulator_capacity",
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()} {os.cpu_count()} cpus",
        "emulator_pinned": info["pinned"],
        "client_pinned": client_pinned,
        "frame_ms": FRAME_MS,
        "emulator_records_events": args.record,
        "max_lag_ms": args.max_lag_ms,
        "smoke": args.smoke,
        "steps": rows,
        "max_sessions_holding": best,
    }
    out = ROOT / "results"
    out.mkdir(exist_ok=True)
    name = (
        "emulator_capacity"
        + ("_record" if args.record else "")
        + (".smoke" if args.smoke else "")
        + ".json"
    )
    (out / name).write_text(json.dumps(result, indent=2) + "\n")
    print(f"max sessions holding real-time pacing on one core: {best}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
