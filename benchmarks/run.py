"""Run every benchmark and print one table.

Usage::

    python -m benchmarks                      # everything, full length (about 15 minutes)
    python -m benchmarks --smoke              # every benchmark for a few seconds, no verdicts
    python -m benchmarks --only overhead,memory
    python benchmarks/run.py ...              # the same

Each benchmark runs in its own process (``python benchmarks/<name>.py``), so none inherits
another's memory or warm caches, and writes its JSON under ``benchmarks/results/``. This
script then reads those files, prints one table and writes it to
``benchmarks/results/summary.json`` (``summary.smoke.json`` for a smoke run).

A benchmark that crashes makes this script exit non-zero; a missed target does not (the
table says so): timings on a shared machine are for people to read, not for CI to assert.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import ROOT, Row, machine_info, result_path

ORDER = (
    "emulator_capacity",
    "audio_convert",
    "overhead",
    "latency",
    "barge_in",
    "concurrency",
    "memory",
)
"""The order benchmarks run in; any other benchmark file runs after these, by name."""
EXTRA_ARGS: dict[str, list[str]] = {}
"""Arguments a benchmark gets in a full run, by name (none need any today)."""


def discover(directory: Path = ROOT) -> list[str]:
    """The benchmarks in ``directory``: every ``*.py`` but ``__init__``, ``__main__``,
    ``run`` and private ``_*`` modules (the files CI smoke-runs), in :data:`ORDER`."""
    names = {
        path.stem
        for path in directory.glob("*.py")
        if path.stem not in ("__init__", "__main__", "run") and not path.stem.startswith("_")
    }
    known = [name for name in ORDER if name in names]
    return known + sorted(names - set(known))


def _load(path: Path, since: float) -> dict[str, Any] | None:
    if not path.exists() or path.stat().st_mtime < since:
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _emulator_capacity(smoke: bool, since: float) -> list[Row]:
    suffix = ".smoke.json" if smoke else ".json"
    for name in ("emulator_capacity", "emulator_capacity_record"):
        data = _load(ROOT / "results" / f"{name}{suffix}", since)
        if data is not None:
            best = data.get("max_sessions_holding")
            return [
                Row(
                    benchmark="emulator_capacity",
                    metric="emulator: real-time sessions on one core",
                    value=str(best),
                )
            ]
    return []


def _audio_convert(smoke: bool, since: float) -> list[Row]:
    data = _load(ROOT / "results" / "audio_convert.json", since)
    if data is None:
        return []
    target = float(data.get("target_fraction", 0.005)) * 100
    rows = []
    for path in data.get("paths", []):
        if path.get("path") in ("input", "output"):
            percent = float(path["percent_of_one_core"])
            rows.append(
                Row(
                    benchmark="audio_convert",
                    metric=f"{path['what']}, share of one core",
                    value=f"{percent:.3f} %",
                    target=f"< {target:g} %",
                    met=None if smoke else percent < target,
                )
            )
    return rows


ADAPTERS = {"emulator_capacity": _emulator_capacity, "audio_convert": _audio_convert}
"""Readers for benchmarks whose JSON has no ``summary`` rows."""


def rows_for(name: str, *, smoke: bool, since: float) -> list[Row]:
    """The table rows of benchmark ``name`` from its results written after ``since``.

    Returns:
        Its ``summary`` rows, or an adapter's reading of its JSON, or one row saying that
        no result was found.
    """
    data = _load(result_path(name, smoke=smoke), since)
    if data is not None and "summary" in data:
        return [Row(**row) for row in data["summary"]]
    adapter = ADAPTERS.get(name)
    rows = adapter(smoke, since) if adapter is not None else []
    return rows or [Row(benchmark=name, metric="(no result file found)", value="-")]


def format_table(rows: list[Row]) -> str:
    """The rows as a plain-text table (benchmark, metric, value, target, verdict)."""
    header = ("benchmark", "metric", "value", "target", "verdict")
    cells = [header] + [
        (
            r.benchmark,
            r.metric,
            r.value,
            r.target,
            "" if r.met is None else ("met" if r.met else "MISSED"),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds each, no verdicts")
    parser.add_argument("--only", help="comma-separated benchmark names")
    args = parser.parse_args(argv)
    names = discover()
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(names)}")
        names = [n for n in names if n in wanted]
    started = time.time()
    failed: list[str] = []
    rows: list[Row] = []
    for name in names:
        command = [sys.executable, str(ROOT / f"{name}.py")]
        command += ["--smoke"] if args.smoke else EXTRA_ARGS.get(name, [])
        print(f"=== {name}: {' '.join(command[1:])}", flush=True)
        since = time.time()
        if subprocess.run(command, check=False).returncode != 0:
            failed.append(name)
        rows += rows_for(name, smoke=args.smoke, since=since - 1)
    table = format_table(rows)
    print(f"\n{table}")
    summary = {
        "smoke": args.smoke,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "machine": machine_info(),
        "failed": failed,
        "rows": [row.as_dict() for row in rows],
    }
    path = result_path("summary", smoke=args.smoke)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nwrote {path}")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
