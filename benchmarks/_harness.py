"""What every voiceagent benchmark shares: the emulator in its own pinned process, CPU and
memory readings, distributions, and the JSON results.

The machine the benchmarks are meant for has at least two cores: the emulator runs on
CPU 0 and the client (the process being measured) on CPU 1, so that neither steals the
other's time. Figures are ratios or distributions measured in the same run, because
absolute times on a shared machine are noise.

Every benchmark writes ``benchmarks/results/<name>.json`` (``<name>.smoke.json`` for a
``--smoke`` run, so a smoke run never overwrites measured results) with a ``summary`` list
of rows that ``python -m benchmarks`` gathers into one table.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import attrs

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from multiprocessing.connection import Connection
    from types import TracebackType

    from voiceagent.testing import Faults, Script

__all__ = [
    "CLIENT_CPU",
    "EMULATOR_CPU",
    "RESULTS",
    "Distribution",
    "EmulatorProcess",
    "Row",
    "allocated_blocks",
    "core_busy_seconds",
    "format_ms",
    "linear_slope",
    "machine_info",
    "percentile",
    "pin",
    "process_cpu_seconds",
    "result_path",
    "rss_bytes",
    "write_result",
]

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
EMULATOR_CPU = 0
CLIENT_CPU = 1
API_KEY = "benchmark-key"  # a loopback emulator's key, not a secret


# -- processes ---------------------------------------------------------------------------


def pin(cpu: int) -> bool:
    """Pin this process to ``cpu`` when the machine has more than one core.

    Returns:
        Whether the process was pinned.
    """
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        try:
            os.sched_setaffinity(0, {cpu % (os.cpu_count() or 1)})
        except OSError:
            return False
        return True
    return False


def process_cpu_seconds(pid: int | None = None) -> float:
    """User plus system CPU time of a process (this one by default), in seconds.

    Another process's time is read from ``/proc`` (Linux); this process's from
    :func:`time.process_time`.
    """
    if pid is None or pid == os.getpid():
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def core_busy_seconds() -> dict[int, float]:
    """Busy time (everything but idle and iowait) of each core since boot, in seconds.

    Empty where ``/proc/stat`` is unavailable. Set against the CPU of the benchmark's own
    processes, it shows how much other work shared the cores (how noisy a run was).
    """
    busy: dict[int, float] = {}
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return busy
    ticks = os.sysconf("SC_CLK_TCK")
    for line in lines:
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            values = [int(v) for v in fields]
            busy[int(name[3:])] = (sum(values[:8]) - values[3] - values[4]) / ticks
    return busy


def rss_bytes() -> int | None:
    """This process's resident set size now (not the peak), or None where unknown."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def allocated_blocks() -> int:
    """Memory blocks the Python allocator holds now (a leak shows here before in RSS)."""
    return sys.getallocatedblocks()


def machine_info() -> dict[str, Any]:
    """Where the figures come from: Python, the CPU and the core count."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "cpu": model,
        "cpus": os.cpu_count(),
        "platform": platform.platform(terse=True),
    }


def _serve(
    pipe: Connection,
    script: Script | None,
    speed: float | None,
    audio_chunk_ms: int,
    cpu: int,
    faults: Faults | None = None,
) -> None:
    """Child process: run an emulator (no event record) until the pipe says stop."""
    pinned = pin(cpu)
    from voiceagent.testing import Emulator

    async def main() -> None:
        async with Emulator(
            script=script,
            api_key=API_KEY,
            speed=speed,
            audio_chunk_ms=audio_chunk_ms,
            record=False,
            faults=faults,
        ) as emu:
            pipe.send({"endpoint": emu.endpoint, "pinned": pinned})
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)

    asyncio.run(main())


class EmulatorProcess:
    """A :class:`voiceagent.testing.Emulator` in a separate process, pinned to its own core.

    Use it as a context manager; :attr:`endpoint` and :attr:`api_key` point a client at it.
    The emulator keeps no event record (``record=False``), as for any long or loaded run.

    Args:
        script: The emulator's script (sent to the child, so it must pickle: text replies).
        speed: Response audio pacing (1.0 is real time; None unpaced).
        audio_chunk_ms: Audio per ``response.audio.delta``.
        cpu: The core to pin the emulator to.
        faults: Faults to inject (they must pickle).
    """

    def __init__(
        self,
        script: Script | None,
        *,
        speed: float | None = 1.0,
        audio_chunk_ms: int = 20,
        cpu: int = EMULATOR_CPU,
        faults: Faults | None = None,
    ) -> None:
        self._args = (script, speed, audio_chunk_ms, cpu, faults)
        self._proc: Any = None
        self._pipe: Connection | None = None
        self.endpoint = ""
        """The endpoint to give the SDK."""
        self.pinned = False
        """Whether the emulator process could be pinned to its core."""
        self.api_key = API_KEY
        """The key the emulator accepts."""

    @property
    def pid(self) -> int:
        """The emulator process's id."""
        assert self._proc is not None, "the emulator process is not running"
        return int(self._proc.pid)

    def cpu_seconds(self) -> float:
        """CPU time the emulator process has used so far."""
        return process_cpu_seconds(self.pid)

    def __enter__(self) -> Self:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, *self._args), daemon=True)
        self._proc.start()
        self._pipe = parent
        if not parent.poll(60):
            self.__exit__(None, None, None)
            raise RuntimeError("the emulator process did not start within 60 s")
        info = parent.recv()
        self.endpoint, self.pinned = info["endpoint"], info["pinned"]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if self._pipe is not None:
            with contextlib.suppress(OSError):
                self._pipe.send("stop")
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=5)


# -- statistics --------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile of ``values`` (NaN when there are none).

    Args:
        values: The samples, in any order.
        q: The percentile, 0 to 100.

    Raises:
        ValueError: ``q`` is outside 0-100.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, got {q!r}")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[rank - 1])


@attrs.frozen(kw_only=True)
class Distribution:
    """Summary of a set of durations, in milliseconds.

    Attributes:
        count: How many samples.
        p50: The median.
        p99: The 99th percentile (nearest rank: with fewer than 100 samples, the maximum).
        max: The largest.
    """

    count: int
    p50: float
    p99: float
    max: float

    @classmethod
    def of_seconds(cls, samples: Iterable[float]) -> Distribution:
        """The distribution of ``samples`` given in seconds, reported in milliseconds."""
        ms = [s * 1000 for s in samples]
        return cls(
            count=len(ms),
            p50=round(percentile(ms, 50), 3),
            p99=round(percentile(ms, 99), 3),
            max=round(max(ms), 3) if ms else math.nan,
        )

    def as_dict(self) -> dict[str, Any]:
        """The fields, with NaN as None (for JSON)."""
        return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in _fields(self)}


def _fields(value: Any) -> list[tuple[str, Any]]:
    return [(f.name, getattr(value, f.name)) for f in attrs.fields(type(value))]


def linear_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """The least-squares slope of ``ys`` over ``xs``.

    Raises:
        ValueError: Fewer than two points, lengths differ, or all ``xs`` are equal.
    """
    if len(xs) != len(ys):
        raise ValueError(f"{len(xs)} x values but {len(ys)} y values")
    if len(xs) < 2:
        raise ValueError("a slope needs at least two points")
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        raise ValueError("a slope needs at least two distinct x values")
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


# -- results -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Row:
    """One line of the summary table.

    Attributes:
        benchmark: The benchmark's name.
        metric: What was measured.
        value: The figure, already formatted with its unit.
        target: The target, e.g. ``"<= 1.10"``; empty when there is none.
        met: Whether the target is met; None when there is no target or no verdict
            (smoke runs give none).
    """

    benchmark: str
    metric: str
    value: str
    target: str = ""
    met: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        """The fields as a dict."""
        return dict(_fields(self))


def result_path(name: str, *, smoke: bool) -> Path:
    """Where a benchmark's JSON goes: ``results/<name>.json`` or ``<name>.smoke.json``."""
    return RESULTS / f"{name}{'.smoke' if smoke else ''}.json"


def write_result(name: str, result: dict[str, Any], summary: Sequence[Row], *, smoke: bool) -> Path:
    """Write a benchmark's result, with the machine and its summary rows, as JSON.

    In a smoke run no target gets a verdict (``met`` is None): smoke runs only prove that
    the benchmark still works.

    Returns:
        The file written.
    """
    rows = [attrs.evolve(row, met=None) if smoke else row for row in summary]
    document = {
        "benchmark": name,
        "smoke": smoke,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(),
        **result,
        "summary": [row.as_dict() for row in rows],
    }
    path = result_path(name, smoke=smoke)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=_json_default) + "\n")
    return path


def _json_default(value: Any) -> Any:
    if attrs.has(type(value)):
        return dict(_fields(value))
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def format_ms(dist: Distribution) -> str:
    """``p50 / p99`` of a distribution, in ms."""
    return f"{dist.p50:.2f} / {dist.p99:.2f} ms (n={dist.count})"
