"""Latency voiceagent adds between an event arriving and the application seeing it.

Four paths, each from the moment the SDK hands the event over (``conn.recv()`` returns; a
timing hook wraps the session's real SDK connection) to its effect:

- ``response.audio.delta`` arrives -> its bytes reach the sink (``sink.write``);
- ``input_audio_buffer.speech_started`` arrives -> the sink is cleared (barge-in);
- ``response.function_call_arguments.done`` arrives -> the tool starts;
- the tool returns -> its ``function_call_output`` has been sent (``conn.send`` returned).

Also the event-dispatch lag: an SDK event's arrival to the application's handler.

Measured with 1 session and with 100 sessions in this process, every session running the
benchmark conversation (tool call, answers, barge-in; ``_conversation.py``) over and over
at real time against the emulator, which runs in its own pinned process.

Usage::

    python benchmarks/latency.py            # 1 and 100 sessions
    python benchmarks/latency.py --smoke    # seconds, sped up, no verdict

Reports p50 and p99 in ms (nearest rank: with fewer than 100 samples p99 is the maximum).
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio

from benchmarks._conversation import build_cycle, script_for
from benchmarks._harness import CLIENT_CPU, EmulatorProcess, Row, format_ms, pin, write_result
from benchmarks._load import LoadRun, cycles_needed, run_load

NAME = "latency"
PATHS = {
    "audio": "audio delta -> sink write",
    "barge_in": "speech_started -> sink cleared",
    "tool_start": "call arguments done -> tool starts",
    "tool_output": "tool returns -> output sent",
    "dispatch": "event -> handler (dispatch lag)",
}


def describe(run: LoadRun) -> str:
    """One line per path for a run."""
    lines = [
        f"{run.sessions} session(s): client cpu {run.client_cpu_cores:.2f} cores, emulator cpu "
        f"{run.emulator_cpu_cores:.2f}, underruns {run.samples.underruns}, "
        f"failures {len(run.failures)}"
    ]
    for kind, what in PATHS.items():
        lines.append(f"    {what:<38} p50/p99 {format_ms(run.distribution(kind))}")
    return "\n".join(lines)


def measure(
    *,
    counts: list[int],
    speed: float,
    single_s: float,
    ramp_s: float | None,
    measure_s: float,
    jitter_ms: float,
    chunk_ms: int,
) -> dict[str, Any]:
    """Run one load per session count and return the figures.

    Args:
        counts: Session counts, e.g. ``[1, 100]``.
        speed: Speed-up of the emulator and the microphones (1.0: real time).
        single_s: The measured window for a single session.
        ramp_s: Ramp for more than one session (None: one conversation cycle).
        measure_s: The measured window for more than one session.
        jitter_ms: The sinks' jitter buffer.
        chunk_ms: Audio per ``response.audio.delta``.

    Returns:
        The result document (without the machine and summary).
    """
    cycle = build_cycle()
    cycle_s = cycle.duration_ms / 1000 / speed
    ramp = cycle_s if ramp_s is None else ramp_s
    longest = max(single_s, ramp + measure_s)
    client_pinned = pin(CLIENT_CPU)
    runs: list[LoadRun] = []
    with EmulatorProcess(
        script_for(cycle, cycles_needed(cycle, longest + 5, speed)),
        speed=speed,
        audio_chunk_ms=chunk_ms,
    ) as emu:
        for n in counts:
            run = anyio.run(
                functools.partial(
                    run_load,
                    n=n,
                    emulator=emu,
                    cycle=cycle,
                    ramp_s=0.0 if n == 1 else ramp,
                    measure_s=single_s if n == 1 else measure_s,
                    speed=speed,
                    jitter_ms=jitter_ms,
                    chunk_ms=chunk_ms,
                )
            )
            print(describe(run), flush=True)
            runs.append(run)
    return {
        "speed": speed,
        "audio_chunk_ms": chunk_ms,
        "jitter_ms": jitter_ms,
        "cycle_seconds": round(cycle.duration_ms / 1000, 2),
        "emulator_pinned": emu.pinned,
        "client_pinned": client_pinned,
        "runs": [run.as_dict() for run in runs],
    }


def summary(result: dict[str, Any]) -> list[Row]:
    """The table rows: p50/p99 of each path at each session count."""
    rows = []
    for run in result["runs"]:
        for kind, what in PATHS.items():
            d = run[f"{kind}_ms"]
            value = "no samples" if not d["count"] else f"{d['p50']:.2f} / {d['p99']:.2f} ms"
            rows.append(
                Row(
                    benchmark=NAME,
                    metric=f"{what}, p50 / p99, {run['sessions']} session(s)",
                    value=value,
                )
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds, no verdict")
    parser.add_argument("--sessions", default="1,100", help="session counts, comma-separated")
    parser.add_argument("--speed", type=float, default=1.0, help="speed-up (1.0: real time)")
    parser.add_argument("--single-seconds", type=float, default=60.0, help="window, 1 session")
    parser.add_argument("--seconds", type=float, default=40.0, help="window, many sessions")
    parser.add_argument("--jitter-ms", type=float, default=100.0, help="sink jitter buffer")
    parser.add_argument("--chunk-ms", type=int, default=20, help="audio per response delta")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.sessions.split(",")]
    ramp: float | None = None
    if args.smoke:
        counts, args.speed, args.single_seconds, args.seconds, ramp = [1, 3], 10.0, 2.2, 2.2, 0.3
    result = measure(
        counts=counts,
        speed=args.speed,
        single_s=args.single_seconds,
        ramp_s=ramp,
        measure_s=args.seconds,
        jitter_ms=args.jitter_ms,
        chunk_ms=args.chunk_ms,
    )
    path = write_result(NAME, result, summary(result), smoke=args.smoke)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
