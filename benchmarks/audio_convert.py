"""CPU cost of audio format conversion, as a fraction of real time on one core.

The two conversions every desktop session does: a 48 kHz stereo microphone to the
24 kHz mono wire format (input), and 24 kHz mono agent audio back to a 48 kHz stereo
speaker (output), each a stream of 20 ms frames through one streaming
:class:`voiceagent.audio.Converter`. A few other paths are measured for reference
(telephony G.711, the async ``converted()`` pipeline with re-framing). Cost is CPU time
(:func:`time.process_time`) divided by the duration of the audio converted; the best of
``--repeats`` runs is kept. A baseline, the identity converter over the same frames (a
bytes copy per frame), is measured in the same run, so the ratio says how much dearer a
real conversion is than merely passing frames along.

Usage::

    python benchmarks/audio_convert.py            # 60 s of audio a path, 5 repeats
    python benchmarks/audio_convert.py --smoke    # 2 s, 1 repeat, no verdict

Prints a table and writes ``benchmarks/results/audio_convert.json``. The target is below
0.5% of one core per direction.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import numpy as np

from voiceagent import _g711
from voiceagent.audio import AudioFormat, Converter, Encoding, MemorySource, converted

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parent
FRAME_MS = 20
TARGET = 0.005  # of one core, per direction

MIC = AudioFormat(sample_rate=48000, channels=2)
WIRE = AudioFormat()
ULAW = AudioFormat(encoding=Encoding.G711_ULAW, sample_rate=8000)
PCM8K = AudioFormat(sample_rate=8000)


def _audio(fmt: AudioFormat, seconds: float, seed: int = 7) -> bytes:
    """Speech-like test audio: a random walk (strong low frequencies) with a 220 Hz tone."""
    rng = np.random.default_rng(seed)
    n = int(fmt.sample_rate * seconds)
    walk = np.cumsum(rng.integers(-300, 301, n)).astype(np.float64)
    walk -= np.convolve(walk, np.ones(401) / 401, mode="same")  # keep it centred
    t = np.arange(n) / fmt.sample_rate
    mono = np.clip(walk + 6000 * np.sin(2 * np.pi * 220 * t), -32768, 32767).astype("<i2")
    pcm = np.repeat(mono, fmt.channels).astype("<i2").tobytes()
    if fmt.encoding is Encoding.G711_ULAW:
        return _g711.ulaw_encode(pcm)
    return pcm


def _frames(fmt: AudioFormat, seconds: float) -> list[bytes]:
    data = _audio(fmt, seconds)
    step = fmt.bytes_for_ms(FRAME_MS)
    return [data[i : i + step] for i in range(0, len(data), step)]


def _convert_all(src: AudioFormat, dst: AudioFormat, frames: list[bytes]) -> Callable[[], int]:
    def run() -> int:
        converter = Converter(src, dst)
        out = sum(len(converter.convert(frame)) for frame in frames)
        return out + len(converter.flush())

    return run


def _pipeline(src: AudioFormat, dst: AudioFormat, data: bytes) -> Callable[[], int]:
    def run() -> int:
        async def main() -> int:
            source = MemorySource(data, src, frame_ms=FRAME_MS)
            return sum([len(frame) async for frame in converted(source, dst)])

        return anyio.run(main)

    return run


def _measure(run: Callable[[], int], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="2 s of audio, 1 repeat")
    parser.add_argument("--seconds", type=float, default=60.0, help="audio per path")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    seconds = 2.0 if args.smoke else args.seconds
    repeats = 1 if args.smoke else args.repeats

    mic_frames = _frames(MIC, seconds)
    wire_frames = _frames(WIRE, seconds)
    ulaw_frames = _frames(ULAW, seconds)
    paths: list[tuple[str, str, Callable[[], int]]] = [
        ("baseline", "identity 48 kHz stereo (bytes copy)", _convert_all(MIC, MIC, mic_frames)),
        ("input", "48 kHz stereo -> 24 kHz mono", _convert_all(MIC, WIRE, mic_frames)),
        ("output", "24 kHz mono -> 48 kHz stereo", _convert_all(WIRE, MIC, wire_frames)),
        (
            "input-pipeline",
            "converted(): 48 kHz stereo -> 24 kHz mono, re-framed, async",
            _pipeline(MIC, WIRE, b"".join(mic_frames)),
        ),
        (
            "g711-decode",
            "8 kHz mu-law -> 8 kHz pcm16 (pure Python)",
            _convert_all(ULAW, PCM8K, ulaw_frames),
        ),
        (
            "g711-encode",
            "8 kHz pcm16 -> 8 kHz mu-law (pure Python)",
            _convert_all(PCM8K, ULAW, _frames(PCM8K, seconds)),
        ),
        (
            "g711-to-wire",
            "8 kHz mu-law -> 24 kHz mono (numpy + soxr)",
            _convert_all(ULAW, WIRE, ulaw_frames),
        ),
    ]
    rows: list[dict[str, Any]] = []
    baseline = None
    for key, label, run in paths:
        run()  # warm up: imports, tables, allocator
        cpu = _measure(run, repeats)
        fraction = cpu / seconds
        if key == "baseline":
            baseline = fraction
        ratio = fraction / baseline if baseline else float("nan")
        rows.append(
            {
                "path": key,
                "what": label,
                "cpu_seconds": round(cpu, 6),
                "fraction_of_real_time": fraction,
                "percent_of_one_core": round(100 * fraction, 4),
                "times_baseline": round(ratio, 1),
            }
        )
        print(
            f"{key:15s} {label:60s} {100 * fraction:8.4f}% of a core  ({ratio:7.1f}x baseline)",
            flush=True,
        )
    verdict = {
        row["path"]: row["fraction_of_real_time"] < TARGET
        for row in rows
        if row["path"] in ("input", "output")
    }
    result = {
        "benchmark": "audio_convert",
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "machine": f"{platform.machine()} {os.cpu_count()} cpus",
        "frame_ms": FRAME_MS,
        "seconds_of_audio": seconds,
        "repeats": repeats,
        "smoke": args.smoke,
        "target_fraction": TARGET,
        "paths": rows,
        "below_target": None if args.smoke else verdict,
    }
    out = ROOT / "results"
    out.mkdir(exist_ok=True)
    (out / "audio_convert.json").write_text(json.dumps(result, indent=2) + "\n")
    if not args.smoke:
        for direction, ok in verdict.items():
            print(f"{direction}: {'below' if ok else 'ABOVE'} the {100 * TARGET}% target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
