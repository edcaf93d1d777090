"""Client CPU per conversation with telemetry: tracing on, off, and OpenTelemetry not
installed.

Each sample is one conversation in a fresh client process (pinned to its own core): the
benchmarks' scripted conversation (``benchmarks/_conversation.py``: three answers with
audio, a tool call and a barge-in per cycle, ``--cycles`` cycles, paced ``--speed`` times
real time) against one emulator in its own process, with the agent's audio going to a
null sink. The client's CPU time is measured around the conversation only, after a short
warm-up conversation in the same process (so not the interpreter's start, the imports or
the first connection, which every process pays once). The variants:

- ``not_installed``: ``opentelemetry`` cannot be imported (an import hook in the client
  process refuses it), as for a user who never installed it. The report's recorder runs.
- ``off``: the OpenTelemetry API is installed and no SDK is configured, the default for
  most users: voiceagent's spans are the API's no-op spans and its instruments no-ops.
- ``on``: the OpenTelemetry SDK configured as a user would (global ``TracerProvider``
  with a ``BatchSpanProcessor``, ``MeterProvider`` with a reader): every span and metric
  point recorded. The exporter discards what it gets (what an exporter costs is the
  application's choice, and happens in the processor's thread, which is counted).
- ``bare``: ``Telemetry.off()``: no recorder at all (for reference: what the report costs).

Each round runs one conversation of every variant, their four client processes at the
same time on the same core (started in a rotating order), so that all variants meet the
same machine: on a shared machine the CPU a given piece of work costs changes from minute
to minute, by more than the differences measured here. The figures are each variant's
median CPU per conversation and, for each comparison, the ratio within each round: their
median (the figure), their mean with its standard error, and the lowest and highest.

Usage::

    python benchmarks/telemetry.py             # 15 rounds of 2-cycle conversations at 4x
    python benchmarks/telemetry.py --smoke     # 1 round of 1 cycle at 8x, no verdict

A second, precise figure: the recorder's own CPU for one conversation. The events one
conversation's recorder observed (every event and wire event, in order) are recorded in
the benchmark process, then fed to fresh recorders 20 times per configuration (report
only, which is what runs without OpenTelemetry; tracing off; tracing on) and timed, and
set against the conversation's CPU.

Target: off / not installed at most 1.01.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import CLIENT_CPU, EmulatorProcess, Row, pin, write_result

if TYPE_CHECKING:
    from collections.abc import Sequence

NAME = "telemetry"
VARIANTS = ("not_installed", "off", "on", "bare")
TARGET = 1.01
ROUNDS = 15
CYCLES = 2
SPEED = 4.0


# -- the client process ------------------------------------------------------------------------


def _block_opentelemetry() -> None:
    """Make ``import opentelemetry`` fail in this process, as if it were not installed."""
    import importlib.abc

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: Any, target: Any = None) -> None:
            if name == "opentelemetry" or name.startswith("opentelemetry."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    sys.meta_path.insert(0, Refuse())


def _configure_sdk() -> Any:
    """The OpenTelemetry SDK as an application sets it up; returns the span counter."""

    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Discard(SpanExporter):
        def __init__(self) -> None:
            self.count = 0

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            self.count += len(spans)
            return SpanExportResult.SUCCESS

    exporter = Discard()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    return provider, exporter


def child(variant: str, endpoint: str, key: str, cycles: int, speed: float) -> dict[str, Any]:
    """One conversation in this process; its CPU time and what telemetry recorded."""
    import time

    if variant == "not_installed":
        _block_opentelemetry()
    sdk = _configure_sdk() if variant == "on" else None

    import anyio
    from azure.core.credentials import AzureKeyCredential

    from benchmarks._conversation import PacedSource, WeatherAgent, build_cycle
    from voiceagent.audio import NullSink
    from voiceagent.events import EndReason
    from voiceagent.telemetry import Telemetry

    pin(CLIENT_CPU)
    cycle = build_cycle()
    agent = WeatherAgent(telemetry=Telemetry.off() if variant == "bare" else Telemetry())

    async def warm_up() -> None:
        # One short text conversation first: one-time costs (imports, first connection)
        # are the process's, not the measured conversation's.
        async with agent.session(
            modalities=["text"], endpoint=endpoint, credential=AzureKeyCredential(key)
        ) as session:
            await session.send_text("What is the weather in Paris?")
            session.end()
            await session.wait()

    async def converse() -> Any:
        return await agent.run(
            source=PacedSource(cycle.audio, repeat=cycles, speed=speed),
            sink=NullSink(),
            endpoint=endpoint,
            credential=AzureKeyCredential(key),
        )

    anyio.run(warm_up)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = anyio.run(converse)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if result.reason is not EndReason.INPUT_FINISHED:
        raise RuntimeError(f"the session ended with {result.reason}: {result.error}")
    spans = 0
    if sdk is not None:
        provider, exporter = sdk
        provider.force_flush()
        spans = exporter.count
    turns = result.report().summary.turns if variant != "bare" else None
    return {
        "variant": variant,
        "cpu_s": cpu,
        "wall_s": wall,
        "spans": spans,
        "turns": turns,
        "opentelemetry_importable": "opentelemetry" in sys.modules,
    }


# -- the parent ----------------------------------------------------------------------------------


def _command(variant: str, emu: EmulatorProcess, cycles: int, speed: float) -> list[str]:
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        variant,
        "--endpoint",
        emu.endpoint,
        "--key",
        emu.api_key,
        "--cycles",
        str(cycles),
        "--speed",
        str(speed),
    ]


def _round(
    order: tuple[str, ...], emu: EmulatorProcess, cycles: int, speed: float
) -> dict[str, dict[str, Any]]:
    """One sample of each variant, their processes running at the same time (on the same
    core), so that all of them meet the same machine."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    running = {
        variant: subprocess.Popen(
            _command(variant, emu, cycles, speed),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for variant in order
    }
    samples: dict[str, dict[str, Any]] = {}
    for variant, process in running.items():
        out, err = process.communicate(timeout=600)
        if process.returncode != 0:
            raise RuntimeError(f"the {variant} client failed:\n{err}")
        samples[variant] = json.loads(out.strip().splitlines()[-1])
    return samples


def replay_cost(emu: EmulatorProcess, cycles: int, speed: float, repeats: int) -> dict[str, Any]:
    """The recorder's own CPU for one conversation, precisely: record what the recorder of
    one conversation observed (every event and wire event, in order), then feed that
    sequence to fresh recorders ``repeats`` times per configuration and time it."""
    import time

    import anyio
    from azure.core.credentials import AzureKeyCredential
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from benchmarks._conversation import PacedSource, WeatherAgent, build_cycle
    from voiceagent._recorder import Recorder
    from voiceagent.audio import NullSink
    from voiceagent.telemetry import Telemetry

    observed: list[tuple[Any, str | None]] = []

    class Tap:
        """Sits between the session's event bus and its recorder, keeping what passes."""

        def __init__(self, inner: Recorder) -> None:
            self.inner = inner

        def event(self, event: object) -> None:
            observed.append((event, None))
            self.inner.event(event)

        def wire(self, raw: Any, kind: str) -> None:
            observed.append((raw, kind))
            self.inner.wire(raw, kind)

    async def converse() -> None:
        agent = WeatherAgent()
        session = agent.session(
            source=PacedSource(build_cycle().audio, repeat=cycles, speed=speed),
            sink=NullSink(),
            endpoint=emu.endpoint,
            credential=AzureKeyCredential(emu.api_key),
        )
        assert session._recorder is not None  # the private hook, tapped for the benchmark
        session._bus.observer = Tap(session._recorder)  # type: ignore[assignment]
        async with session:
            await session.wait()

    anyio.run(converse)
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(InMemorySpanExporter()))
    configurations = {
        "report only (as not installed)": Telemetry(traces=False, metrics=False),
        "off (API, no SDK)": Telemetry(),
        "on (SDK)": Telemetry(
            tracer_provider=tracer_provider,
            meter_provider=MeterProvider(metric_readers=[InMemoryMetricReader()]),
        ),
    }
    costs: dict[str, float] = {}
    for name, settings in configurations.items():
        cpu0 = time.process_time()
        for _ in range(repeats):
            recorder = Recorder.create(settings, agent="WeatherAgent", model="gpt-realtime")
            assert recorder is not None
            with recorder.conversation():
                pass
            for item, kind in observed:
                if kind is None:
                    recorder.event(item)
                else:
                    recorder.wire(item, kind)
            recorder.recording()
        costs[name] = round((time.process_time() - cpu0) / repeats * 1000, 3)
    tracer_provider.shutdown()
    return {
        "events_per_conversation": len(observed),
        "voiceagent_events": sum(1 for _, kind in observed if kind is None),
        "repeats": repeats,
        "recorder_cpu_ms_per_conversation": costs,
    }


def measure(*, rounds: int, cycles: int, speed: float) -> dict[str, Any]:
    """Run the rounds and return the figures."""
    from benchmarks._conversation import build_cycle, script_for

    script = script_for(build_cycle(), cycles + 1)  # the script restarts on each connection
    samples: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    with EmulatorProcess(script, speed=speed) as emu:
        for n in range(rounds):
            order = VARIANTS[n % len(VARIANTS) :] + VARIANTS[: n % len(VARIANTS)]
            for variant, sample in _round(order, emu, cycles, speed).items():
                samples[variant].append(sample)
            cpu = {v: samples[v][-1]["cpu_s"] for v in VARIANTS}
            print(
                f"round {n + 1}/{rounds}: "
                + ", ".join(f"{v} {cpu[v] * 1000:.0f} ms" for v in VARIANTS),
                flush=True,
            )
        replay = replay_cost(emu, cycles, speed, repeats=20 if rounds > 1 else 2)
    # Each variant did what it claims.
    assert not any(s["opentelemetry_importable"] for s in samples["not_installed"])
    assert all(s["spans"] > 0 for s in samples["on"])
    assert all(s["spans"] == 0 for s in samples["off"])
    medians = {v: statistics.median(s["cpu_s"] for s in samples[v]) for v in VARIANTS}

    def ratios(a: str, b: str) -> list[float]:
        return [x["cpu_s"] / y["cpu_s"] for x, y in zip(samples[a], samples[b], strict=True)]

    def figure(a: str, b: str) -> dict[str, float]:
        within = ratios(a, b)
        spread = statistics.stdev(within) if len(within) > 1 else 0.0
        return {
            "median_ratio": round(statistics.median(within), 4),
            "mean_ratio": round(statistics.mean(within), 4),
            "standard_error": round(spread / len(within) ** 0.5, 4),
            "round_min": round(min(within), 4),
            "round_max": round(max(within), 4),
        }

    return {
        "rounds": rounds,
        "cycles_per_conversation": cycles,
        "speed": speed,
        "emulator_pinned": emu.pinned,
        "cpu_per_conversation_ms": {v: round(medians[v] * 1000, 1) for v in VARIANTS},
        "spans_per_conversation": statistics.median(s["spans"] for s in samples["on"]),
        "off_vs_not_installed": figure("off", "not_installed"),
        "on_vs_not_installed": figure("on", "not_installed"),
        "not_installed_vs_bare": figure("not_installed", "bare"),
        "replay": replay,
        "samples": samples,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="1 round, 1 cycle, no verdict")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds (each variant once)")
    parser.add_argument("--cycles", type=int, default=CYCLES, help="cycles per conversation")
    parser.add_argument("--speed", type=float, default=SPEED, help="pace, x real time")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.endpoint, args.key, args.cycles, args.speed)))
        return 0
    rounds, cycles, speed = (1, 1, 8.0) if args.smoke else (args.rounds, args.cycles, args.speed)
    result = measure(rounds=rounds, cycles=cycles, speed=speed)
    cpu = result["cpu_per_conversation_ms"]
    off, on, bare = (
        result["off_vs_not_installed"],
        result["on_vs_not_installed"],
        result["not_installed_vs_bare"],
    )

    def spread(fig: dict[str, float]) -> str:
        return (
            f"{fig['median_ratio']:.3f} (mean {fig['mean_ratio']:.3f} ± "
            f"{fig['standard_error']:.3f}; rounds {fig['round_min']:.3f} to "
            f"{fig['round_max']:.3f}, n={rounds})"
        )

    rows = [
        Row(
            benchmark=NAME,
            metric="CPU per conversation: not installed / off / on / no recorder",
            value=" / ".join(f"{cpu[v]:.0f}" for v in VARIANTS) + " ms",
        ),
        Row(
            benchmark=NAME,
            metric="tracing off (API, no SDK) / OpenTelemetry not installed",
            value=spread(off),
            target=f"<= {TARGET}",
            met=off["median_ratio"] <= TARGET,
        ),
        Row(benchmark=NAME, metric="tracing on (SDK) / not installed", value=spread(on)),
        Row(benchmark=NAME, metric="report recorder / no recorder", value=spread(bare)),
    ]
    replay = result["replay"]
    conversation_ms = cpu["not_installed"]
    for name, ms in replay["recorder_cpu_ms_per_conversation"].items():
        rows.append(
            Row(
                benchmark=NAME,
                metric=f"recorder CPU per conversation, replayed: {name}",
                value=f"{ms:.2f} ms ({ms / conversation_ms * 100:.2f} % of the conversation's)",
            )
        )
    print("\n".join(f"{row.metric}: {row.value}" for row in rows), flush=True)
    path = write_result(NAME, result, rows, smoke=args.smoke)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
