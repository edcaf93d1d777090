"""What installing voiceagent costs a pytest run that does not use its plugin.

Installing voiceagent registers its pytest plugin (``voiceagent_pytest``) in every pytest
run of the environment. Measured: the wall time of a whole ``python -m pytest`` process
running one trivial test, with the plugin loaded as installed; the baseline, in the same
run and alternating with it, is the same command with the plugin disabled
(``-p no:voiceagent``), i.e. what the run costs without voiceagent's plugin. Both load
every other plugin of the environment (pytest-asyncio, hypothesis, anyio...).

Usage::

    python benchmarks/pytest_plugin.py            # 20 rounds of each
    python benchmarks/pytest_plugin.py --smoke    # 2 rounds, no verdict
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import Distribution, Row, percentile, write_result

NAME = "pytest_plugin"
ROUNDS = 20
TARGET = 1.05
"""The plugin may add at most 5% to a trivial pytest run."""
TEST = "def test_nothing():\n    assert True\n"


def _run(directory: Path, *extra: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra, "test_it.py"],
        cwd=directory,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def measure(*, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "test_it.py").write_text(TEST)
        _run(directory)  # warm the file system caches once
        with_plugin: list[float] = []
        baseline: list[float] = []
        for _ in range(rounds):
            with_plugin.append(_run(directory))
            baseline.append(_run(directory, "-p", "no:voiceagent"))
    ratio = percentile(with_plugin, 50) / percentile(baseline, 50)
    return {
        "with_plugin_ms": Distribution.of_seconds(with_plugin).as_dict(),
        "baseline_ms": Distribution.of_seconds(baseline).as_dict(),
        "ratio_p50": round(ratio, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="2 rounds, no verdict")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds of each")
    args = parser.parse_args(argv)
    result = measure(rounds=2 if args.smoke else args.rounds)
    w, b = result["with_plugin_ms"], result["baseline_ms"]
    rows = [
        Row(
            benchmark=NAME,
            metric="pytest, one trivial test, with the plugin, p50 / max",
            value=f"{w['p50']:.0f} / {w['max']:.0f} ms (n={w['count']})",
        ),
        Row(
            benchmark=NAME,
            metric="baseline: the plugin disabled, p50 / max",
            value=f"{b['p50']:.0f} / {b['max']:.0f} ms",
        ),
        Row(
            benchmark=NAME,
            metric="with / without the plugin, p50",
            value=f"{result['ratio_p50']}",
            target=f"<= {TARGET}",
            met=result["ratio_p50"] <= TARGET,
        ),
    ]
    path = write_result(NAME, result, rows, smoke=args.smoke)
    for row in rows:
        print(f"{row.metric}: {row.value}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
