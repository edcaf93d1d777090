"""How many concurrent browser-protocol conversations ``voiceagent serve`` carries on one
core, next to the library alone (``concurrency.py``'s load) measured in the same run.

Three processes: the emulator (pinned to CPU 0), the server (an app from
``create_app``, on uvicorn, pinned to CPU 1: the measured process) and this one, which
plays N pages with :class:`voiceagent.serve.BrowserClient` (pinned to CPU 0 beside the
emulator). Each client streams the benchmark conversation's microphone at real time
(tool call, three answers, a barge-in; ``_conversation.py``), plays the agent's audio on
a simulated device at real time and reports its position as the page does. Each step
first runs the library baseline (N sessions in one process on CPU 1, as
``concurrency.py``), then the same N through the server.

A step holds when the measured process uses less than 0.9 of a core, the event-dispatch
lag p99 in it is under 20 ms (an SDK event's arrival to the agent's handler), and no
frame reached its listener later than the jitter buffer (100 ms) after its real-time
schedule (for the server: at the client, so the browser protocol's hop counts). When
CPU 0 (emulator plus clients) is saturated the step is marked ``load-bound``: the
figures of the measured process still hold, the clients' lateness does not.

Usage::

    python benchmarks/serve_concurrency.py                 # steps 25, 50, 75, 100, 125
    python benchmarks/serve_concurrency.py --steps 50,100
    python benchmarks/serve_concurrency.py --smoke         # seconds, no verdict
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio
import anyio.to_thread

from benchmarks._conversation import ANSWER, OKAY, PCM, STORY, build_cycle, script_for
from benchmarks._harness import (
    CLIENT_CPU,
    EMULATOR_CPU,
    Distribution,
    EmulatorProcess,
    Row,
    core_busy_seconds,
    pin,
    process_cpu_seconds,
    write_result,
)
from benchmarks._load import cycles_needed, run_load
from benchmarks._probes import DISPATCHED, utterance_index

if TYPE_CHECKING:
    from collections.abc import Callable
    from multiprocessing.connection import Connection

NAME = "serve_concurrency"
MAX_CPU = 0.9
MAX_DISPATCH_P99_MS = 20.0
LOAD_SATURATED = 1.6
"""CPU (cores) of emulator plus clients from which CPU 0 is taken to limit a step: the
two share one core, so the threshold is against that core's 1.0 plus the time the kernel
lends from the other (a saturated CPU 0 shows as ~1 core of the two together)."""


# -- the server process -----------------------------------------------------------------


def _server(pipe: Connection, endpoint: str, api_key: str, cpu: int) -> None:
    """Child process: the app on uvicorn, with timing probes, driven by the pipe."""
    pinned = pin(cpu)
    from benchmarks._probes import ProbedAgent, Samples
    from voiceagent._wire import Wire  # a benchmark's timing hook
    from voiceagent.serve import create_app, running

    samples = Samples(recording=False)
    recv = Wire.recv

    async def timed_recv(self: Wire) -> Any:
        # A benchmark's timing hook: stamp the arrival of the events the agent handles,
        # where the session's wire hands them over (read and parsed once).
        event = await recv(self)
        if event["type"] in DISPATCHED:
            samples.arrived(event, time.perf_counter())
        return event

    Wire.recv = timed_recv  # type: ignore[method-assign]
    agent = ProbedAgent(samples, {})
    app = create_app(agent, endpoint=endpoint, api_key=api_key, max_sessions=100_000)

    async def main() -> None:
        async with running(app) as server:
            pipe.send({"port": server.port, "pinned": pinned})
            async with anyio.create_task_group() as tg:

                async def loop_lag() -> None:
                    while True:
                        before = time.perf_counter()
                        await anyio.sleep(0.01)
                        samples.add("loop_lag", time.perf_counter() - before - 0.01)

                tg.start_soon(loop_lag)
                while True:
                    command = await anyio.to_thread.run_sync(pipe.recv)
                    if command == "start":
                        samples.recording = True
                        samples.dispatch.clear()
                        samples.loop_lag.clear()
                        cpu0, wall0 = process_cpu_seconds(), time.perf_counter()
                    elif command == "stop":
                        samples.recording = False
                        cpu = (process_cpu_seconds() - cpu0) / (time.perf_counter() - wall0)
                        pipe.send(
                            {
                                "cpu_cores": cpu,
                                "dispatch": Distribution.of_seconds(samples.dispatch).as_dict(),
                                "loop_lag": Distribution.of_seconds(samples.loop_lag).as_dict(),
                            }
                        )
                    else:
                        tg.cancel_scope.cancel()
                        return

    anyio.run(main)


class ServerProcess:
    """The measured server in its own process (see :func:`_server`)."""

    def __init__(self, emulator: EmulatorProcess) -> None:
        context = mp.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(
            target=_server,
            args=(child, emulator.endpoint, emulator.api_key, CLIENT_CPU),
            daemon=True,
        )
        self._process.start()
        if not self._pipe.poll(60):
            raise RuntimeError("the server process did not start within 60 s")
        info = self._pipe.recv()
        self.url = f"ws://127.0.0.1:{info['port']}/ws"
        self.pinned = bool(info["pinned"])

    @property
    def pid(self) -> int:
        """The server process's id."""
        return int(self._process.pid or 0)

    def start(self) -> None:
        self._pipe.send("start")

    def stop(self) -> dict[str, Any]:
        self._pipe.send("stop")
        result: dict[str, Any] = self._pipe.recv()
        return result

    def close(self) -> None:
        self._pipe.send("exit")
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()


# -- the clients ----------------------------------------------------------------------------


class Listener:
    """Checks each agent frame a client receives against its utterance's real-time
    schedule, as ``_probes.DeviceSink`` does for a sink (a clear ends the utterance)."""

    def __init__(self, utterances: dict[bytes, int], jitter_ms: float) -> None:
        self.utterances = utterances
        self.jitter = jitter_ms / 1000
        self.recording = False
        self.lags: list[float] = []
        self.underruns = 0
        self.played = 0
        self.unknown = 0

    def for_client(self) -> tuple[Callable[[float, bytes], None], list[Any]]:
        """An ``on_audio`` callback for one client, and the one-slot list to put the
        client in (the callback reads its clear epoch)."""
        holder: list[Any] = [None]
        state: list[Any] = [None, 0]  # [utterance [start, length, done] or None, epoch]

        def on_audio(at: float, frame: bytes) -> None:
            if state[1] != holder[0].epoch:  # a clear: the utterance ended there
                state[0], state[1] = None, holder[0].epoch
            utterance = state[0]
            if utterance is None:
                length = self.utterances.get(frame)
                if length is None:
                    self.unknown += self.recording
                    return
                utterance = state[0] = [at, length, 0]
                self.played += self.recording
            start, length, done = utterance
            lag = at - (start + done / PCM.bytes_per_second)
            if self.recording:
                self.lags.append(lag)
                self.underruns += lag > self.jitter
            utterance[2] = done + len(frame)
            if utterance[2] >= length:
                state[0] = None

        return on_audio, holder


async def run_clients(
    *,
    n: int,
    server: ServerProcess,
    emulator: EmulatorProcess,
    cycle_audio: bytes,
    ramp_s: float,
    measure_s: float,
    jitter_ms: float,
    chunk_ms: int,
) -> dict[str, Any]:
    """N pages through the server; measure a window once all have started."""
    from voiceagent.serve import BrowserClient

    listener = Listener(utterance_index((ANSWER, STORY, OKAY), chunk_ms), jitter_ms)
    failures: list[str] = []
    stopping = False

    async def one(delay: float) -> None:
        await anyio.sleep(delay)
        on_audio, holder = listener.for_client()
        try:
            async with BrowserClient(server.url, keep_messages=False, on_audio=on_audio) as client:
                holder[0] = client
                while True:
                    await client.stream(cycle_audio)
        except Exception as exc:
            if not stopping:
                failures.append(repr(exc))

    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(one, ramp_s * i / n)
        await anyio.sleep(ramp_s + 1.0)
        listener.recording = True
        server.start()
        own0, emu0, wall0 = process_cpu_seconds(), emulator.cpu_seconds(), time.perf_counter()
        busy0 = sum(core_busy_seconds().values())
        await anyio.sleep(measure_s)
        listener.recording = False
        measured = server.stop()
        own1, emu1, wall1 = process_cpu_seconds(), emulator.cpu_seconds(), time.perf_counter()
        busy1 = sum(core_busy_seconds().values())
        stopping = True
        tg.cancel_scope.cancel()
    wall = wall1 - wall0
    clients_cpu = (own1 - own0) / wall
    emulator_cpu = (emu1 - emu0) / wall
    other = max(0.0, (busy1 - busy0) / wall - clients_cpu - emulator_cpu - measured["cpu_cores"])
    return {
        "sessions": n,
        "server_cpu_cores": round(measured["cpu_cores"], 3),
        "clients_cpu_cores": round(clients_cpu, 3),
        "emulator_cpu_cores": round(emulator_cpu, 3),
        "other_cpu_cores": round(other, 3),
        "dispatch_ms": measured["dispatch"],
        "loop_lag_ms": measured["loop_lag"],
        "listener_lag_ms": Distribution.of_seconds(listener.lags).as_dict(),
        "underruns": listener.underruns,
        "utterances": listener.played,
        "unknown_utterances": listener.unknown,
        "failures": failures,
    }


def verdict(row: dict[str, Any], *, cpu_key: str, load_key: float) -> dict[str, Any]:
    """Whether a step holds by the three criteria, and whether CPU 0 limited it."""
    why = []
    if row[cpu_key] >= MAX_CPU:
        why.append(f"cpu {row[cpu_key]:.2f} >= {MAX_CPU}")
    p99 = row["dispatch_ms"]["p99"]
    if p99 is None or p99 >= MAX_DISPATCH_P99_MS:
        why.append(f"dispatch p99 {p99} ms")
    if row["underruns"]:
        why.append(f"{row['underruns']} underruns")
    if row["failures"]:
        why.append(f"{len(row['failures'])} failures")
    if not row["utterances"]:
        why.append("no audio played")
    return {"holds": not why, "load_bound": bool(why) and load_key >= LOAD_SATURATED, "why": why}


def measure(
    *, steps: list[int], ramp_s: float | None, measure_s: float, jitter_ms: float, keep_going: bool
) -> dict[str, Any]:
    """Run the steps, library then server at each, and return the figures."""
    chunk_ms = 20
    cycle = build_cycle()
    ramp = cycle.duration_ms / 1000 if ramp_s is None else ramp_s
    rows: list[dict[str, Any]] = []
    best: dict[str, int] = {"library": 0, "serve": 0}
    with EmulatorProcess(
        script_for(cycle, cycles_needed(cycle, ramp + measure_s + 10, 1.0)),
        speed=1.0,
        audio_chunk_ms=chunk_ms,
    ) as emulator:
        server = ServerProcess(emulator)
        try:
            for n in steps:
                pin(CLIENT_CPU)  # the library baseline runs in this process, on CPU 1
                library = anyio.run(
                    functools.partial(
                        run_load,
                        n=n,
                        emulator=emulator,
                        cycle=cycle,
                        ramp_s=ramp,
                        measure_s=measure_s,
                        speed=1.0,
                        jitter_ms=jitter_ms,
                        chunk_ms=chunk_ms,
                    )
                )
                lib = library.as_dict()
                lib_row = {
                    "client_cpu_cores": lib["client_cpu_cores"],
                    "dispatch_ms": lib["dispatch_ms"],
                    "underruns": lib["underruns"],
                    "utterances": lib["utterances"],
                    "failures": lib["failures"],
                }
                lib_row.update(verdict(lib_row, cpu_key="client_cpu_cores", load_key=0.0))
                pin(EMULATOR_CPU)  # the pages run beside the emulator, off the server's core
                served = anyio.run(
                    functools.partial(
                        run_clients,
                        n=n,
                        server=server,
                        emulator=emulator,
                        cycle_audio=cycle.audio,
                        ramp_s=ramp,
                        measure_s=measure_s,
                        jitter_ms=jitter_ms,
                        chunk_ms=chunk_ms,
                    )
                )
                load = served["clients_cpu_cores"] + served["emulator_cpu_cores"]
                served.update(verdict(served, cpu_key="server_cpu_cores", load_key=load))
                ratio = served["server_cpu_cores"] / max(lib_row["client_cpu_cores"], 1e-9)
                rows.append({"sessions": n, "library": lib_row, "serve": served,
                             "cpu_ratio_serve_to_library": round(ratio, 3)})  # fmt: skip
                for side, row in (("library", lib_row), ("serve", served)):
                    if row["holds"]:
                        best[side] = n
                cpu = served["server_cpu_cores"]
                print(
                    f"{n:4d}  library cpu {lib_row['client_cpu_cores']:.2f} "
                    f"p99 {lib_row['dispatch_ms']['p99']} ms "
                    f"{'holds' if lib_row['holds'] else 'FAILS ' + ', '.join(lib_row['why'])}"
                    f" | serve cpu {cpu:.2f} p99 {served['dispatch_ms']['p99']} ms, "
                    f"clients+emulator {load:.2f} "
                    f"{'holds' if served['holds'] else 'FAILS ' + ', '.join(served['why'])}"
                    f"{' (load-bound)' if served['load_bound'] else ''}  ratio {ratio:.2f}",
                    flush=True,
                )
                if not (lib_row["holds"] or served["holds"]) and not keep_going:
                    break
        finally:
            server.close()
    per_session = {
        side: next((r[side][key] / r["sessions"] for r in reversed(rows) if r[side]["holds"]), None)
        for side, key in (("library", "client_cpu_cores"), ("serve", "server_cpu_cores"))
    }
    return {
        "jitter_ms": jitter_ms,
        "ramp_seconds": round(ramp, 2),
        "cycle_seconds": round(cycle.duration_ms / 1000, 2),
        "server_pinned": server.pinned,
        "steps": rows,
        "max_sessions_holding": best,
        "cpu_per_session": per_session,
        "projected_sessions_per_core": {
            side: int(MAX_CPU / value) if value else None for side, value in per_session.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds, no verdict")
    parser.add_argument("--steps", default="25,50,75,100,125", help="session counts")
    parser.add_argument("--all", action="store_true", help="run every step, even after a fail")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per step")
    parser.add_argument("--jitter-ms", type=float, default=100.0, help="listener jitter buffer")
    args = parser.parse_args(argv)
    steps = [int(s) for s in args.steps.split(",")]
    ramp: float | None = None
    if args.smoke:
        steps, args.seconds, ramp = [2], 2.0, 0.5
    result = measure(
        steps=steps,
        ramp_s=ramp,
        measure_s=args.seconds,
        jitter_ms=args.jitter_ms,
        keep_going=args.all,
    )
    best = result["max_sessions_holding"]
    ratios = [r["cpu_ratio_serve_to_library"] for r in result["steps"]]
    rows = [
        Row(benchmark=NAME, metric="library: real-time sessions on one core, criteria held",
            value=str(best["library"])),
        Row(benchmark=NAME, metric="serve: browser-protocol sessions on one core, criteria held",
            value=str(best["serve"])),
        Row(benchmark=NAME, metric="server CPU / library CPU at the same N (per step)",
            value=", ".join(f"{r:.2f}" for r in ratios)),
        Row(benchmark=NAME, metric="projected sessions per core (library / serve)",
            value=f"{result['projected_sessions_per_core']['library']} / "
            f"{result['projected_sessions_per_core']['serve']}"),
    ]  # fmt: skip
    path = write_result(NAME, result, rows, smoke=args.smoke)
    print(f"holding: library {best['library']}, serve {best['serve']}; wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
