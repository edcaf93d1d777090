"""Instructions per conversation: voiceagent against the competent raw-SDK loop, counted
by Valgrind's callgrind instead of timed.

CPU time on a shared 2-vCPU machine moves by 5 to 10% from one run to the next, which is
the size of the differences ``overhead.py`` looks for. The number of instructions a
client executes for the same conversation hardly moves: it does not depend on what else
the machine runs, on its clock speed or on its caches. This benchmark counts them.

Each client runs in its own process under ``valgrind --tool=callgrind`` with counting
off. The process warms up (one unmeasured conversation against a fast emulator: imports,
first connection, caches), then this script turns counting on (``callgrind_control -i
on``), the process runs ``--parallel`` conversations at once against the paced emulator
(its own process, not under Valgrind), and counting goes off again before it exits. The
figure is the instructions counted per conversation, the clients' ratio, and the share
of a few places every client pays for (JSON, base64, the event loop's ``select``).

Under Valgrind a Python process runs about 50 times slower, so the conversation is slowed
down too (``--speed``, by default 0.25: a 60 s call takes 4 minutes) to keep each client
well within real time; the script reports each client's CPU load over its round, and a
client that could not keep up (load above 0.8) is flagged: a client that falls behind
batches its work and counts fewer instructions. The clients run at the same time, not
pinned to a core: the counts do not depend on where they run.

Instruction counts are not time: a cache miss or a system call costs more than its
instructions say, and the kernel's share (the socket writes) is not counted at all. The
figure answers "does voiceagent do more work than the loop it is compared with", with a
spread of a fraction of a percent, where ``overhead.py`` answers "what does it cost on
this machine" with a spread of several percent.

Needs Valgrind (``apt-get install valgrind``); without it the script says so and exits 0.

Usage::

    python benchmarks/instructions.py                          # 60 s call, 1 at once
    python benchmarks/instructions.py --parallel 30 --speed 0.1   # 30 at once (10 min)
    python benchmarks/instructions.py --annotate 25            # also each client's top
                                                               # 25 functions (self cost)
    python benchmarks/instructions.py --smoke                  # a short one, no verdict
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio

from benchmarks._conversation import WeatherAgent, build_cycle, script_for
from benchmarks._harness import EmulatorProcess, Row, write_result

NAME = "instructions"
BASELINE = "competent"
CLIENTS = ("competent", "samples", "minimal", "voiceagent")
TARGET = 1.05
MAX_LOAD = 0.8
"""A client above this CPU load over its round may have fallen behind its conversation."""
PLACES = {
    "JSON encoding (json.dumps, string escaping)": (
        "encoder_",
        "py_encode_basestring",
        "escape_unicode",
    ),
    "JSON decoding (json.loads)": ("scanstring_", "scan_once_", "_parse_object", "py_scanstring"),
    "base64": ("binascii_",),
}
"""Places every client pays for, by the C functions callgrind names (prefixes)."""


# -- the measured process -----------------------------------------------------------------


def _worker(client: str, seconds: float, parallel: int, speed: float, endpoints: str) -> int:
    """Run under Valgrind: warm up, say so, wait; run the round, report it, wait; exit."""
    from benchmarks import overhead

    endpoint, warm_endpoint, api_key = endpoints.split(",")
    cycle = build_cycle(min_duration_ms=seconds * 1000)
    agent = WeatherAgent()

    def run(at: str, pace: float, n: int) -> overhead.Round:
        return anyio.run(
            functools.partial(overhead._round, speed=pace, conversations=n),
            client,
            agent,
            at,
            api_key,
            cycle,
        )

    run(warm_endpoint, 20.0, 1)
    print("warm", flush=True)
    sys.stdin.readline()
    done = run(endpoint, speed, parallel)
    shapes = sorted({o.shape() for o in done.outcomes})
    print(json.dumps({"cpu_s": done.cpu_s, "wall_s": done.wall_s, "shapes": shapes}), flush=True)
    sys.stdin.readline()
    return 0


# -- the orchestration --------------------------------------------------------------------


def _control(pid: int, *args: str) -> None:
    subprocess.run(
        ["callgrind_control", *args, str(pid)], check=True, capture_output=True, timeout=120
    )


def _read_line(stream: IO[str], what: str) -> str:
    line = stream.readline()
    if not line:
        raise RuntimeError(f"the {what} process ended early (see its Valgrind log)")
    return line


def _totals(path: Path) -> int:
    # callgrind writes "summary:" in the header (0 when counting starts off) and the
    # real figure as "totals:" at the end.
    found = [
        int(line.split()[1])
        for line in path.read_text().splitlines()
        if line.startswith(("summary:", "totals:"))
    ]
    if not found or max(found) == 0:
        raise RuntimeError(f"no instructions counted in {path}")
    return max(found)


def _self_costs(path: Path) -> dict[str, int]:
    """Instructions by function (self cost), from ``callgrind_annotate``."""
    out = subprocess.run(
        ["callgrind_annotate", "--inclusive=no", "--threshold=100", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    costs: dict[str, int] = {}
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) != 2 or not parts[0].replace(",", "").isdigit():
            continue
        count, rest = int(parts[0].replace(",", "")), parts[1]
        if rest.startswith("("):  # "(12.3%)  file:function [object]"
            rest = rest.split(None, 1)[1] if " " in rest else ""
        if "PROGRAM TOTALS" in rest:
            continue
        # "file:function'2 [object]": recursion levels (the 'N) are one function here.
        function = rest.split(" [")[0].split(":", 1)[-1].split("'")[0]
        costs[function] = costs.get(function, 0) + count
    return costs


def measure(
    *, clients: list[str], seconds: float, parallel: int, speed: float, keep: Path
) -> dict[str, Any]:
    """Count each client's instructions over one round of ``parallel`` conversations.

    Returns:
        The result document (without the machine and summary).

    Raises:
        RuntimeError: A client failed, or the clients had different conversations.
    """
    cycle = build_cycle(min_duration_ms=seconds * 1000)
    script = script_for(cycle, 1)
    procs: dict[str, subprocess.Popen[str]] = {}
    logs: dict[str, Path] = {}
    outs: dict[str, Path] = {}
    reports: dict[str, dict[str, Any]] = {}
    with (
        EmulatorProcess(script, speed=speed) as emu,
        EmulatorProcess(script, speed=20.0) as warm,
    ):
        endpoints = f"{emu.endpoint},{warm.endpoint},{emu.api_key}"
        try:
            for client in clients:
                outs[client] = keep / f"{client}.callgrind.out"
                logs[client] = keep / f"{client}.valgrind.log"
                procs[client] = subprocess.Popen(
                    [
                        "valgrind",
                        "--tool=callgrind",
                        "--instr-atstart=no",
                        f"--callgrind-out-file={outs[client]}",
                        f"--log-file={logs[client]}",
                        sys.executable,
                        __file__,
                        "--worker",
                        client,
                        "--seconds",
                        str(seconds),
                        "--parallel",
                        str(parallel),
                        "--speed",
                        str(speed),
                        "--endpoints",
                        endpoints,
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            for client, proc in procs.items():
                assert proc.stdout is not None
                _read_line(proc.stdout, client)  # warm
            for proc in procs.values():  # both start together
                assert proc.stdin is not None
                _control(proc.pid, "--instr=on")
                proc.stdin.write("go\n")
                proc.stdin.flush()
            print(f"  counting: {', '.join(clients)}, {parallel} at once", flush=True)
            for client, proc in procs.items():
                assert proc.stdout is not None
                assert proc.stdin is not None
                reports[client] = json.loads(_read_line(proc.stdout, client))
                _control(proc.pid, "--instr=off")
                proc.stdin.write("exit\n")
                proc.stdin.flush()
            for client, proc in procs.items():
                if proc.wait(timeout=300) != 0:
                    raise RuntimeError(f"the {client} process failed: see {logs[client]}")
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.kill()
    shapes = {client: tuple(map(tuple, r["shapes"])) for client, r in reports.items()}
    if len(set(shapes.values())) != 1 or len(next(iter(shapes.values()))) != 1:
        raise RuntimeError(f"the clients had different conversations: {shapes}")
    ((answers, interrupted, calls),) = next(iter(shapes.values()))
    per: dict[str, dict[str, Any]] = {}
    for client in clients:
        total = _totals(outs[client])
        costs = _self_costs(outs[client])
        report = reports[client]
        per[client] = {
            "instructions_per_conversation": total // parallel,
            "cpu_load": round(report["cpu_s"] / report["wall_s"], 3),
            "places": {
                place: round(sum(n for f, n in costs.items() if f.startswith(prefixes)) / total, 4)
                for place, prefixes in PLACES.items()
            },
            "top": sorted(costs.items(), key=lambda kv: -kv[1])[:40],
        }
    return {
        "seconds_of_audio": round(cycle.duration_ms / 1000, 2),
        "parallel": parallel,
        "speed": speed,
        "conversation": {"answers": answers, "interrupted": interrupted, "tool_calls": calls},
        "clients": per,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a short one, no verdict")
    parser.add_argument("--seconds", type=float, default=60.0, help="call length (user audio)")
    parser.add_argument("--parallel", type=int, default=1, help="conversations at once")
    parser.add_argument(
        "--speed", type=float, default=0.25, help="conversation speed (1.0: real time)"
    )
    parser.add_argument(
        "--clients",
        default=f"{BASELINE},voiceagent",
        help=f"clients to count (of {', '.join(CLIENTS)}; the first is the baseline)",
    )
    parser.add_argument("--annotate", type=int, default=0, help="print each client's top N")
    parser.add_argument("--keep", metavar="DIR", help="keep callgrind's files in DIR")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--endpoints", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        return _worker(args.worker, args.seconds, args.parallel, args.speed, args.endpoints)
    clients = [c.strip() for c in args.clients.split(",")]
    if unknown := set(clients) - set(CLIENTS):
        parser.error(f"unknown clients: {', '.join(sorted(unknown))}")
    if len(clients) < 2:
        parser.error("name at least two clients: a baseline and the client compared with it")
    tools = ("valgrind", "callgrind_control", "callgrind_annotate")
    missing = [tool for tool in tools if not shutil.which(tool)]
    if missing:
        print(f"skipped: {', '.join(missing)} not found (install Valgrind to count instructions)")
        return 0
    if args.smoke:
        args.seconds, args.parallel, args.speed = 0.0, 1, 1.0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        keep = Path(args.keep) if args.keep else Path(tmp)
        keep.mkdir(parents=True, exist_ok=True)
        result = measure(
            clients=clients,
            seconds=args.seconds,
            parallel=args.parallel,
            speed=args.speed,
            keep=keep,
        )
        if args.annotate:
            for client in clients:
                print(f"\n{client}: top {args.annotate} functions by own instructions")
                total = result["clients"][client]["instructions_per_conversation"]
                for function, count in result["clients"][client]["top"][: args.annotate]:
                    share = count / (total * args.parallel)
                    print(f"  {share:6.1%}  {function}")
    base = clients[0]
    what = f"{result['seconds_of_audio']:.0f} s calls, {args.parallel} at once"
    summary: list[Row] = []
    for client in clients:
        figures = result["clients"][client]
        load = figures["cpu_load"]
        late = f" (LOAD {load:.2f}: may have fallen behind)" if load > MAX_LOAD else ""
        print(
            f"{client}: {figures['instructions_per_conversation'] / 1e6:.1f} M instructions per "
            f"conversation, load {load:.2f}{late}; "
            + ", ".join(f"{p} {s:.1%}" for p, s in figures["places"].items())
        )
        summary.append(
            Row(
                benchmark=NAME,
                metric=f"{client} instructions / conversation, {what}{late}",
                value=f"{figures['instructions_per_conversation'] / 1e6:.1f} M",
            )
        )
    for client in clients[1:]:
        ratio = (
            result["clients"][client]["instructions_per_conversation"]
            / result["clients"][base]["instructions_per_conversation"]
        )
        result[f"ratio_{client}_{base}"] = round(ratio, 4)
        target = client == "voiceagent" and base == BASELINE
        verdict = " [smoke: no verdict]" if args.smoke else ""
        print(f"ratio {client} / {base}: {ratio:.3f}{verdict}")
        summary.append(
            Row(
                benchmark=NAME,
                metric=f"instruction ratio {client} / {base}, {what}",
                value=f"{ratio:.3f}",
                target=f"<= {TARGET:.2f}" if target else "",
                met=ratio <= TARGET if target else None,
            )
        )
    result["wall_s"] = round(time.perf_counter() - started, 1)
    path = write_result(NAME, result, summary, smoke=args.smoke)
    print(f"wrote {path} ({result['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
