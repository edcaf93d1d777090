"""Many probed voiceagent sessions in this process, against one emulator process.

:func:`run_load` starts ``n`` sessions spread over a ramp (so their conversations are out
of phase, as real calls are), measures a window once all have started, then stops them.
Every session runs the benchmark conversation (``_conversation.py``) over and over, with
a :class:`~benchmarks._probes.DeviceSink` and a :class:`~benchmarks._probes.SessionProbe`.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import anyio
import attrs
from azure.core.credentials import AzureKeyCredential

from benchmarks._conversation import ANSWER, OKAY, STORY, Cycle, PacedSource
from benchmarks._harness import Distribution, core_busy_seconds, process_cpu_seconds
from benchmarks._probes import ProbedAgent, Samples, SessionProbe, utterance_index
from voiceagent.events import EndReason

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from benchmarks._harness import EmulatorProcess

__all__ = ["LoadRun", "cycles_needed", "measure_window", "run_load"]


@attrs.frozen(kw_only=True)
class LoadRun:
    """What a window of load measured.

    Attributes:
        sessions: Sessions running.
        seconds: The measured window.
        client_cpu_cores: This process's CPU over the window, in cores.
        emulator_cpu_cores: The emulator process's CPU over the window, in cores.
        other_cpu_cores: CPU that other processes used on the machine over the window, in
            cores (zero on a quiet machine; the noise of a shared one).
        failures: Sessions that ended other than by being stopped, with why.
        samples: The durations and counters gathered in the window.
    """

    sessions: int
    seconds: float
    client_cpu_cores: float
    emulator_cpu_cores: float
    other_cpu_cores: float
    failures: tuple[str, ...]
    samples: Samples

    def distribution(self, kind: str) -> Distribution:
        """The distribution of one kind of sample (a :class:`Samples` list's name)."""
        values: list[float] = getattr(self.samples, kind)
        return Distribution.of_seconds(values)

    def as_dict(self) -> dict[str, Any]:
        """The figures, for JSON."""
        s = self.samples
        return {
            "sessions": self.sessions,
            "seconds": round(self.seconds, 2),
            "client_cpu_cores": round(self.client_cpu_cores, 3),
            "emulator_cpu_cores": round(self.emulator_cpu_cores, 3),
            "other_cpu_cores": round(self.other_cpu_cores, 3),
            "failures": list(self.failures),
            "utterances": s.utterances,
            "unknown_utterances": s.unknown_utterances,
            "underruns": s.underruns,
            "mismatched_writes": s.mismatched,
            **{
                f"{kind}_ms": self.distribution(kind).as_dict()
                for kind in (
                    "audio",
                    "barge_in",
                    "tool_start",
                    "tool_output",
                    "dispatch",
                    "arrival_lag",
                    "sink_lag",
                    "loop_lag",
                )
            },
        }


def cycles_needed(cycle: Cycle, seconds: float, speed: float) -> int:
    """How many conversation cycles cover ``seconds`` of wall time at ``speed``, plus one."""
    return math.ceil(seconds * speed * 1000 / cycle.duration_ms) + 1


async def run_load(
    *,
    n: int,
    emulator: EmulatorProcess,
    cycle: Cycle,
    ramp_s: float,
    measure_s: float,
    speed: float = 1.0,
    jitter_ms: float = 100.0,
    chunk_ms: int = 20,
) -> LoadRun:
    """Run ``n`` probed sessions and measure a window.

    Args:
        n: How many sessions.
        emulator: The emulator (its script must hold enough cycles: :func:`cycles_needed`).
        cycle: The conversation each session plays, over and over.
        ramp_s: Sessions start evenly spread over this many seconds; nothing is measured
            until all have started.
        measure_s: The measured window.
        speed: The emulator's and the microphones' speed-up.
        jitter_ms: The sinks' jitter buffer (how late a frame may be).
        chunk_ms: The emulator's audio per delta (to recognize utterances).

    Returns:
        The window's figures.
    """
    samples = Samples(recording=False)
    probes: dict[int, SessionProbe] = {}
    agent = ProbedAgent(samples, probes)
    utterances = utterance_index((ANSWER, STORY, OKAY), chunk_ms)
    repeat = cycles_needed(cycle, ramp_s + measure_s + 5, speed)
    failures: list[str] = []

    async def one(delay: float) -> None:
        await anyio.sleep(delay)
        probe = SessionProbe(samples, speed=speed)
        source = PacedSource(cycle.audio, repeat=repeat, speed=speed)
        session = agent.session(
            source=source,
            sink=probe.sink(utterances=utterances, jitter_ms=jitter_ms),
            endpoint=emulator.endpoint,
            credential=AzureKeyCredential(emulator.api_key),
        )
        probes[id(session)] = probe
        try:
            async with session:
                probe.attach(session)
                result = await session.wait()
            if not samples.stopped and result.reason is not EndReason.INPUT_FINISHED:
                failures.append(f"{result.reason.value}: {result.error!r}")
        except Exception as exc:
            if not samples.stopped:
                failures.append(repr(exc))
        finally:
            del probes[id(session)]

    wall, cpu, emulator_cpu, other = await measure_window(
        one, n=n, ramp_s=ramp_s, measure_s=measure_s, samples=samples, emulator=emulator
    )
    return LoadRun(
        sessions=n,
        seconds=wall,
        client_cpu_cores=cpu,
        emulator_cpu_cores=emulator_cpu,
        other_cpu_cores=other,
        failures=tuple(failures),
        samples=samples,
    )


async def measure_window(
    one: Callable[[float], Coroutine[Any, Any, None]],
    *,
    n: int,
    ramp_s: float,
    measure_s: float,
    samples: Samples,
    emulator: EmulatorProcess,
) -> tuple[float, float, float, float]:
    """Start ``one(delay)`` ``n`` times, spread over ``ramp_s``, and measure a window.

    ``samples`` records during the window only (the event loop's lag included: how late
    a 10 ms sleep wakes up); once the window is over, ``samples.stopped`` is set, so that
    what the cancellation makes fail is not counted, and every task is cancelled.

    Returns:
        The window's length (s), this process's CPU, the emulator's CPU and the other
        processes' CPU over it, in cores.
    """

    async def watch_loop() -> None:
        while True:
            before = time.perf_counter()
            await anyio.sleep(0.01)
            samples.add("loop_lag", time.perf_counter() - before - 0.01)

    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(one, ramp_s * i / n)
        tg.start_soon(watch_loop)
        await anyio.sleep(ramp_s + 0.5)
        samples.recording = True
        cpu0, emu0, wall0 = process_cpu_seconds(), emulator.cpu_seconds(), time.perf_counter()
        busy0 = sum(core_busy_seconds().values())
        await anyio.sleep(measure_s)
        samples.recording = False
        cpu1, emu1, wall1 = process_cpu_seconds(), emulator.cpu_seconds(), time.perf_counter()
        busy1 = sum(core_busy_seconds().values())
        samples.stopped = True
        tg.cancel_scope.cancel()
    wall = wall1 - wall0
    cpu, emulator_cpu = cpu1 - cpu0, emu1 - emu0
    other = max(0.0, (busy1 - busy0) - cpu - emulator_cpu) / wall
    return wall, cpu / wall, emulator_cpu / wall, other
