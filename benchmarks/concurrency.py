"""How many concurrent real-time sessions one client process sustains on one core.

The client (this process) is pinned to one core and the emulator to another. Each step
runs N voiceagent sessions, each playing the benchmark conversation (tool call, three
answers, a barge-in; ``_conversation.py``) over and over at real time, with a microphone
paced at real time and a simulated playback device (``_probes.DeviceSink``). Sessions
start spread over one conversation cycle, so that their turns are out of phase as real
calls are; the window is measured once all are running.

A step holds only when all of these do: the client used less than 0.9 of its core (a
saturated client still "keeps up" for a while, by falling behind its own clock), the p99
event-dispatch lag (an SDK event's arrival to the application's handler) is under 20 ms,
no sink underran (every frame of every answer reached its sink no later than the
device's jitter buffer, ``--jitter-ms``, after its real-time schedule), and no session
failed. The result is the largest N that holds.

The emulator must not be the bottleneck: each step also reports the emulator's CPU and
how late audio arrives from it (against the same schedule, before the client touches it).
A step that fails while the emulator is saturated is marked ``emulator-bound``; the client
CPU per session then tells how far the client alone would go.

Usage::

    python benchmarks/concurrency.py                    # steps of 25-50, up to 300
    python benchmarks/concurrency.py --steps 150,200    # chosen steps
    python benchmarks/concurrency.py --smoke            # seconds, sped up, no verdict
    python benchmarks/concurrency.py --baseline         # and, at each step, bare voiceagent
                                                        # and the competent raw-SDK loop
    python benchmarks/concurrency.py --uvloop           # the client on uvloop

Target: at least 300 sessions (the physical work per session is 50 frames a second each
way).
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

from benchmarks._conversation import Cycle, PacedSource, WeatherAgent, build_cycle, script_for
from benchmarks._harness import (
    CLIENT_CPU,
    Distribution,
    EmulatorProcess,
    Row,
    pin,
    write_result,
)
from benchmarks._load import LoadRun, cycles_needed, measure_window, run_load
from benchmarks._probes import Samples
from benchmarks.overhead import raw_conversation, voiceagent_conversation

NAME = "concurrency"
TARGET = 300
MAX_CLIENT_CPU = 0.9
"""Client CPU (cores) at or above which a step does not hold."""
MAX_DISPATCH_P99_MS = 20.0
"""Dispatch lag p99 at or above which a step does not hold."""
EMULATOR_SATURATED = 0.9
"""Emulator CPU (cores) from which it, not the client, is taken to limit a step."""


def verdict(run: LoadRun) -> dict[str, Any]:
    """Whether a step holds, and whether the emulator limited it.

    Args:
        run: The step's figures.

    Returns:
        ``holds``, ``emulator_bound`` and ``why`` (what failed, empty when it holds).
    """
    s = run.samples
    why = []
    if s.underruns:
        why.append(f"{s.underruns} underruns")
    if run.failures:
        why.append(f"{len(run.failures)} sessions failed")
    if not s.utterances:
        why.append("no audio played")
    if s.unknown_utterances or s.mismatched:
        why.append("the probes lost track of the audio")
    if run.client_cpu_cores >= MAX_CLIENT_CPU:
        why.append(f"client at {run.client_cpu_cores:.2f} cores (limit {MAX_CLIENT_CPU})")
    dispatch = run.distribution("dispatch")
    if not dispatch.p99 < MAX_DISPATCH_P99_MS:
        why.append(f"dispatch lag p99 {dispatch.p99:.1f} ms (limit {MAX_DISPATCH_P99_MS:g})")
    # The arrival lag cannot tell the emulator's lateness from the client's (an event
    # "arrives" when the client's loop reads it), so only the emulator's CPU decides.
    emulator_bound = run.emulator_cpu_cores >= EMULATOR_SATURATED
    return {"holds": not why, "emulator_bound": bool(why) and emulator_bound, "why": why}


async def bare_load(
    *,
    client: str,
    n: int,
    emulator: EmulatorProcess,
    cycle: Cycle,
    ramp_s: float,
    measure_s: float,
    speed: float,
) -> dict[str, Any]:
    """The baseline at one step: ``n`` bare conversations of ``client``, no probes.

    ``competent`` is ``overhead.py``'s competent raw-SDK loop (appends as dicts through
    ``conn.send``, each event's raw fields read once, barge-in correct, its audio into a
    null player); ``voiceagent`` is ``overhead.py``'s voiceagent client (``agent.run``
    into a null sink, no handlers). Both get the same paced microphone and the same
    started-over conversation as the probed step: the pair says what the library costs
    against a competent user's own client at the same load, without the simulated
    device and the probes that the probed step also pays for.

    Returns:
        ``client_cpu_cores``, ``loop_lag_ms`` (a 10 ms sleep's lateness) and ``failures``.
    """
    repeat = cycles_needed(cycle, ramp_s + measure_s + 5, speed)
    agent = WeatherAgent()
    samples = Samples(recording=False)  # the event loop's lag, in the window
    failures: list[str] = []

    async def one(delay: float) -> None:
        await anyio.sleep(delay)
        source = PacedSource(cycle.audio, repeat=repeat, speed=speed)
        try:
            if client == "voiceagent":
                await voiceagent_conversation(agent, emulator.endpoint, emulator.api_key, source)
            else:
                await raw_conversation(emulator.endpoint, emulator.api_key, source, client)
        except Exception as exc:
            if not samples.stopped:
                failures.append(repr(exc))

    _, cpu, _, _ = await measure_window(
        one, n=n, ramp_s=ramp_s, measure_s=measure_s, samples=samples, emulator=emulator
    )
    return {
        "client_cpu_cores": round(cpu, 3),
        "loop_lag_ms": Distribution.of_seconds(samples.loop_lag).as_dict(),
        "failures": failures,
    }


def measure(
    *,
    steps: list[int],
    speed: float,
    ramp_s: float | None,
    measure_s: float,
    jitter_ms: float,
    chunk_ms: int,
    keep_going: bool,
    uvloop: bool = False,
    baseline: bool = False,
) -> dict[str, Any]:
    """Run the steps and return the figures.

    Args:
        steps: Session counts, in order.
        speed: Speed-up of the emulator and the microphones (1.0: real time).
        ramp_s: Sessions start spread over this long (None: one conversation cycle).
        measure_s: The measured window of each step.
        jitter_ms: The sinks' jitter buffer.
        chunk_ms: Audio per ``response.audio.delta``.
        keep_going: Run every step, not only until one fails.
        uvloop: Run the client's event loop on uvloop instead of asyncio's own.
        baseline: At each step, also run the bare clients (:func:`bare_load`).

    Returns:
        The result document (without the machine and summary).
    """
    cycle = build_cycle()
    ramp = cycle.duration_ms / 1000 / speed if ramp_s is None else ramp_s
    client_pinned = pin(CLIENT_CPU)
    rows: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    with EmulatorProcess(
        script_for(cycle, cycles_needed(cycle, ramp + measure_s + 5, speed)),
        speed=speed,
        audio_chunk_ms=chunk_ms,
    ) as emu:
        for n in steps:
            run = anyio.run(
                functools.partial(
                    run_load,
                    n=n,
                    emulator=emu,
                    cycle=cycle,
                    ramp_s=ramp,
                    measure_s=measure_s,
                    speed=speed,
                    jitter_ms=jitter_ms,
                    chunk_ms=chunk_ms,
                ),
                backend_options={"use_uvloop": uvloop},
            )
            row = {**run.as_dict(), **verdict(run)}
            row["client_cpu_per_session"] = round(run.client_cpu_cores / n, 5)
            baseline_note = ""
            if baseline:
                bare = {
                    client: anyio.run(
                        functools.partial(
                            bare_load, client=client, n=n, emulator=emu, cycle=cycle,
                            ramp_s=ramp, measure_s=measure_s, speed=speed,
                        ),
                        backend_options={"use_uvloop": uvloop},
                    )
                    for client in ("voiceagent", "competent")
                }  # fmt: skip
                row["bare"] = bare
                row["bare_cpu_ratio"] = round(
                    bare["voiceagent"]["client_cpu_cores"] / bare["competent"]["client_cpu_cores"],
                    3,
                )
                baseline_note = (
                    f"  [bare: voiceagent cpu {bare['voiceagent']['client_cpu_cores']:.2f}, "
                    f"competent raw SDK cpu {bare['competent']['client_cpu_cores']:.2f}, "
                    f"ratio {row['bare_cpu_ratio']:.2f}"
                    + "".join(
                        f", {len(b['failures'])} {c} failed"
                        for c, b in bare.items()
                        if b["failures"]
                    )
                    + "]"
                )
            rows.append(row)
            dispatch, sink = run.distribution("dispatch"), run.distribution("sink_lag")
            state = "holds" if row["holds"] else "FAILS: " + ", ".join(row["why"])
            if row["emulator_bound"]:
                state += " (emulator-bound)"
            print(
                f"{n:5d} sessions  client cpu {run.client_cpu_cores:.2f}  emulator cpu "
                f"{run.emulator_cpu_cores:.2f}  dispatch lag p50/p99 {dispatch.p50:.1f}/"
                f"{dispatch.p99:.1f} ms  sink lag p99 {sink.p99:.1f} ms  {state}{baseline_note}",
                flush=True,
            )
            if row["holds"]:
                best = row
            elif not keep_going:
                break
    # The client's cost per session where it still keeps up (a saturated step's is
    # meaningless): what one core would carry were nothing else limiting.
    basis = best or (rows[0] if rows else None)
    per_session = basis["client_cpu_per_session"] if basis else None
    return {
        "event_loop": "uvloop" if uvloop else "asyncio",
        "speed": speed,
        "audio_chunk_ms": chunk_ms,
        "jitter_ms": jitter_ms,
        "ramp_seconds": round(ramp, 2),
        "cycle_seconds": round(cycle.duration_ms / 1000, 2),
        "emulator_pinned": emu.pinned,
        "client_pinned": client_pinned,
        "steps": rows,
        "max_sessions_holding": best["sessions"] if best else 0,
        "dispatch_p99_ms_at_max": best["dispatch_ms"]["p99"] if best else None,
        "client_cpu_per_session": per_session,
        "projected_sessions_per_core": int(0.95 / per_session) if per_session else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds, no verdict")
    parser.add_argument("--steps", default="50,100,150,200,250,300,350,400", help="session counts")
    parser.add_argument("--all", action="store_true", help="run every step, even after a fail")
    parser.add_argument("--speed", type=float, default=1.0, help="speed-up (1.0: real time)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per step")
    parser.add_argument("--jitter-ms", type=float, default=100.0, help="sink jitter buffer")
    parser.add_argument("--chunk-ms", type=int, default=20, help="audio per response delta")
    parser.add_argument(
        "--uvloop", action="store_true", help="run the client on uvloop (pip install uvloop)"
    )
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="at each step, also run bare voiceagent and competent raw-SDK clients (no probes)",
    )
    args = parser.parse_args(argv)
    steps = [int(s) for s in args.steps.split(",")]
    ramp: float | None = None
    if args.smoke:
        steps, args.speed, args.seconds, ramp = [2], 10.0, 2.2, 0.3
    result = measure(
        steps=steps,
        speed=args.speed,
        ramp_s=ramp,
        measure_s=args.seconds,
        jitter_ms=args.jitter_ms,
        chunk_ms=args.chunk_ms,
        keep_going=args.all,
        uvloop=args.uvloop,
        baseline=args.baseline,
    )
    best = result["max_sessions_holding"]
    last = result["steps"][-1]
    limited = " (the failing step was emulator-bound)" if last["emulator_bound"] else ""
    rows = [
        Row(benchmark=NAME, metric="real-time sessions on one core, no underrun",
            value=f"{best}{limited}", target=f">= {TARGET}", met=best >= TARGET),
        Row(benchmark=NAME, metric=f"dispatch lag p99 at {best} sessions",
            value=f"{result['dispatch_p99_ms_at_max']} ms"),
        Row(benchmark=NAME, metric=f"client CPU per session at {best or 'the first step'}",
            value=f"{(result['client_cpu_per_session'] or 0) * 100:.2f} % of a core "
            f"(~{result['projected_sessions_per_core']} per core)"),
    ]  # fmt: skip
    path = write_result(NAME, result, rows, smoke=args.smoke)
    print(
        f"largest N holding real time on one core: {best} (target >= {TARGET}); "
        f"dispatch lag p99 there: {result['dispatch_p99_ms_at_max']} ms"
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
