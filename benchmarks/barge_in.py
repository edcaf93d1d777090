"""Barge-in latency under load: ``speech_started`` arriving at the client to the sink being
cleared, with 100 sessions in one process against the emulator.

Every session runs the benchmark conversation (``_conversation.py``) over and over at real
time: in each cycle the user talks over the agent's story once, the server's VAD sends
``input_audio_buffer.speech_started``, and voiceagent must clear the sink at once. The
arrival is stamped when the SDK hands the event over (a timing hook around the session's
real SDK connection); the clear when the sink's ``clear()`` is called. Sessions start
spread over one cycle, so their barge-ins fall at different moments, as real calls' do,
and the window is measured once all are running.

Usage::

    python benchmarks/barge_in.py            # 100 sessions, 40 s window
    python benchmarks/barge_in.py --smoke    # seconds, sped up, no verdict

Target: p99 under 5 ms.
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
from benchmarks._load import cycles_needed, run_load

NAME = "barge_in"
TARGET_P99_MS = 5.0


def measure(
    *,
    sessions: int,
    speed: float,
    ramp_s: float | None,
    measure_s: float,
    jitter_ms: float,
    chunk_ms: int,
) -> dict[str, Any]:
    """Run the sessions and return the figures.

    Args:
        sessions: How many sessions in this process.
        speed: Speed-up of the emulator and the microphones (1.0: real time).
        ramp_s: Sessions start spread over this long (None: one conversation cycle).
        measure_s: The measured window.
        jitter_ms: The sinks' jitter buffer.
        chunk_ms: Audio per ``response.audio.delta``.

    Returns:
        The result document (without the machine and summary).

    Raises:
        RuntimeError: No barge-in happened in the window.
    """
    cycle = build_cycle()
    ramp = cycle.duration_ms / 1000 / speed if ramp_s is None else ramp_s
    client_pinned = pin(CLIENT_CPU)
    with EmulatorProcess(
        script_for(cycle, cycles_needed(cycle, ramp + measure_s + 5, speed)),
        speed=speed,
        audio_chunk_ms=chunk_ms,
    ) as emu:
        run = anyio.run(
            functools.partial(
                run_load,
                n=sessions,
                emulator=emu,
                cycle=cycle,
                ramp_s=ramp,
                measure_s=measure_s,
                speed=speed,
                jitter_ms=jitter_ms,
                chunk_ms=chunk_ms,
            )
        )
    barge_in = run.distribution("barge_in")
    if not barge_in.count:
        raise RuntimeError(f"no barge-in happened in the window: {run.as_dict()}")
    print(
        f"{sessions} sessions: speech_started -> sink cleared p50/p99 {format_ms(barge_in)}, "
        f"max {barge_in.max:.2f} ms; client cpu {run.client_cpu_cores:.2f} cores, "
        f"emulator cpu {run.emulator_cpu_cores:.2f}, failures {len(run.failures)}",
        flush=True,
    )
    return {
        "speed": speed,
        "audio_chunk_ms": chunk_ms,
        "jitter_ms": jitter_ms,
        "emulator_pinned": emu.pinned,
        "client_pinned": client_pinned,
        "target_p99_ms": TARGET_P99_MS,
        "barge_in_ms": barge_in.as_dict(),
        "run": run.as_dict(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds, no verdict")
    parser.add_argument("--sessions", type=int, default=100, help="sessions in this process")
    parser.add_argument("--speed", type=float, default=1.0, help="speed-up (1.0: real time)")
    parser.add_argument("--seconds", type=float, default=40.0, help="measured window")
    parser.add_argument("--jitter-ms", type=float, default=100.0, help="sink jitter buffer")
    parser.add_argument("--chunk-ms", type=int, default=20, help="audio per response delta")
    args = parser.parse_args(argv)
    ramp: float | None = None
    if args.smoke:
        args.sessions, args.speed, args.seconds, ramp = 3, 10.0, 2.2, 0.3
    result = measure(
        sessions=args.sessions,
        speed=args.speed,
        ramp_s=ramp,
        measure_s=args.seconds,
        jitter_ms=args.jitter_ms,
        chunk_ms=args.chunk_ms,
    )
    d = result["barge_in_ms"]
    rows = [
        Row(
            benchmark=NAME,
            metric=f"speech_started -> sink cleared, p50 / p99, {args.sessions} sessions",
            value=f"{d['p50']:.2f} / {d['p99']:.2f} ms (n={d['count']})",
            target=f"p99 < {TARGET_P99_MS:g} ms",
            met=d["p99"] < TARGET_P99_MS,
        )
    ]
    path = write_result(NAME, result, rows, smoke=args.smoke)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
