"""Memory of a long-running standalone emulator (``voiceagent emulator``), per connection.

A client connects, talks and disconnects, over and over: each connection appends 30 s of
input audio in 20 ms frames (a spoken question, then silence, so the emulator's VAD takes a
turn) and gets one spoken answer. The emulator runs as the command a user starts, in its own
process; its resident memory (``VmRSS``) is read after a warm-up and after the run, and the
growth is divided by the connections made in between.

The warm-up is long because the process's resident memory keeps growing for a while after
its Python heap is steady (the allocator's arenas settle; measured in-process with
tracemalloc: the traced heap is flat from the 100th connection on, the RSS from about the
200th).

Two emulators are measured in the same run: the default (bounded record: the last events
of each connection and the last closed connections) and ``--record-all`` (every event of
every connection kept, which is what the command did before it was bounded).

Usage::

    python benchmarks/emulator_memory.py             # 300 to warm up, 300 measured, 2 runs a mode
    python benchmarks/emulator_memory.py --smoke     # a few seconds, no verdict

Prints a table and writes ``benchmarks/results/emulator_memory.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import Row, write_result

NAME = "emulator_memory"
FRAME_MS = 20
TARGET_KIB_PER_CONNECTION = 16.0
"""What a bounded emulator may keep per closed connection, in KiB (noise included)."""


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/<pid>/status")


def _input_audio(seconds: float) -> list[str]:
    from voiceagent.testing import synthesize

    speech = synthesize("What is the weather like in Paris today?").audio
    total = int(seconds * 48000)
    audio = (speech + bytes(max(0, total - len(speech))))[:total]
    step = FRAME_MS * 48
    return [base64.b64encode(audio[i : i + step]).decode() for i in range(0, len(audio), step)]


async def _converse(session: aiohttp.ClientSession, url: str, frames: list[str]) -> None:
    async with session.ws_connect(url, headers={"api-key": "k"}, max_msg_size=0) as ws:
        for frame in frames:
            await ws.send_str(json.dumps({"type": "input_audio_buffer.append", "audio": frame}))
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            if json.loads(msg.data)["type"] == "response.done":
                break


async def _measure_mode(
    extra: list[str], connections: int, warm: int, frames: list[str]
) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voiceagent", "emulator", "--port", "0", "--api-key", "k",
        "--speed", "0", "--quiet", *extra,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert proc.stdout is not None
    banner = ""
    while "Ctrl-C" not in banner:
        line = await proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the emulator did not start:\n{banner}")
        banner += line.decode()
    found = re.search(r"AZURE_VOICELIVE_ENDPOINT=(\S+)", banner)
    assert found is not None
    url = found.group(1).replace("http://", "ws://") + "/voice-live/realtime"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(warm):
                await _converse(session, url, frames)
            await asyncio.sleep(0.2)
            warm_kib = _rss_kib(proc.pid)
            for _ in range(connections):
                await _converse(session, url, frames)
            await asyncio.sleep(0.2)
            end_kib = _rss_kib(proc.pid)
    finally:
        proc.terminate()
        await proc.wait()
    return {
        "warm_kib": warm_kib,
        "end_kib": end_kib,
        "kib_per_connection": (end_kib - warm_kib) / connections,
    }


def measure(*, connections: int, warm: int, runs: int, audio_s: float) -> dict[str, Any]:
    frames = _input_audio(audio_s)
    modes = {"bounded (default)": [], "--record-all": ["--record-all"]}
    result: dict[str, Any] = {
        "connections": connections, "warm_up": warm, "runs": runs, "audio_s": audio_s,
    }  # fmt: skip
    for label, extra in modes.items():
        samples = [
            asyncio.run(_measure_mode(extra, connections, warm, frames)) for _ in range(runs)
        ]
        per = [s["kib_per_connection"] for s in samples]
        result[label] = {
            "runs": samples,
            "kib_per_connection_median": statistics.median(per),
            "kib_per_connection_min": min(per),
            "kib_per_connection_max": max(per),
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds, no verdict")
    parser.add_argument("--connections", type=int, default=300, help="measured, per run")
    parser.add_argument("--warm", type=int, default=300, help="connections before measuring")
    parser.add_argument("--runs", type=int, default=2, help="runs per mode")
    parser.add_argument("--audio-s", type=float, default=30.0, help="input audio a connection")
    args = parser.parse_args(argv)
    if not Path("/proc/self/status").exists():
        print("needs /proc to read a process's memory: skipped")
        return 0
    if args.smoke:
        args.connections, args.warm, args.runs, args.audio_s = 10, 3, 1, 5.0
    result = measure(
        connections=args.connections, warm=args.warm, runs=args.runs, audio_s=args.audio_s
    )
    bounded = result["bounded (default)"]
    full = result["--record-all"]

    def spread(mode: dict[str, Any]) -> str:
        return (
            f"{mode['kib_per_connection_median']:.1f} KiB (min {mode['kib_per_connection_min']:.1f}"
            f", max {mode['kib_per_connection_max']:.1f})"
        )

    rows = [
        Row(benchmark=NAME, metric="RSS growth per connection, bounded (default)",
            value=spread(bounded), target=f"< {TARGET_KIB_PER_CONNECTION:g} KiB",
            met=bounded["kib_per_connection_median"] < TARGET_KIB_PER_CONNECTION),
        Row(benchmark=NAME, metric="RSS growth per connection, --record-all", value=spread(full)),
    ]  # fmt: skip
    path = write_result(NAME, result, rows, smoke=args.smoke)
    for row in rows:
        print(f"{row.metric}: {row.value}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
