"""The microphone's path alone: client CPU per 20 ms frame sent, voiceagent against the
competent raw-SDK loop, over a real socket.

A long call is mostly the user's audio: 50 appends a second, each a base64 string in a
JSON message through the SDK's ``conn.send`` and one socket write. This benchmark takes
everything else away to see what voiceagent adds to that path. Both clients connect to
the emulator (in its own process, pinned to CPU 0, no pacing, an empty script: silence
starts no turn), configure the session, and send the same ``--frames`` frames of silence
as fast as the socket takes them, from an unpaced source; this process is pinned to
CPU 1. The clients take turns, one after the other, ``--rounds`` times each:

- ``competent``: ``async for frame in source: await conn.send({... "audio": b64})`` (the
  baseline of ``overhead.py``);
- ``voiceagent``: ``agent.run(source=..., sink=NullSink())``, the whole session: its send
  loop (the source read through a ``FrameStream``, the uncommitted audio kept for a
  reconnection), and its receive loop, handlers and playback idle beside it.

Each round's CPU time (this process's) over its frames gives the CPU per frame, set-up
included (a few milliseconds against seconds of sending). Figures: the median per frame
of each client and the median of the ratios of consecutive rounds.

Usage::

    python benchmarks/send_path.py                   # 20,000 frames, 7 rounds of each
    python benchmarks/send_path.py --smoke           # seconds, no verdict
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio
from azure.ai.voicelive.aio import connect
from azure.ai.voicelive.models import InputAudioFormat, RequestSession
from azure.core.credentials import AzureKeyCredential

from benchmarks._conversation import PCM, PacedSource, WeatherAgent
from benchmarks._harness import (
    CLIENT_CPU,
    EmulatorProcess,
    Row,
    pin,
    process_cpu_seconds,
    write_result,
)
from voiceagent.audio import NullSink
from voiceagent.events import EndReason
from voiceagent.testing import Script

NAME = "send_path"
FRAMES = 20_000
ROUNDS = 7


async def competent(endpoint: str, api_key: str, frames: int) -> None:
    """Connect, configure, and send ``frames`` frames of silence as a competent loop does."""
    source = PacedSource(bytes(PCM.bytes_for_ms(20 * frames)), speed=None)
    async with connect(
        endpoint=endpoint, credential=AzureKeyCredential(api_key), model="gpt-realtime"
    ) as conn:
        await conn.session.update(
            session=RequestSession(
                instructions="You are a concise weather assistant.",
                input_audio_format=InputAudioFormat.PCM16,
                input_audio_sampling_rate=24000,
            )
        )
        while (await conn.recv()).type != "session.updated":
            pass
        async for frame in source:
            audio = base64.b64encode(frame).decode("ascii")
            await conn.send({"type": "input_audio_buffer.append", "audio": audio})


async def voiceagent(agent: WeatherAgent, endpoint: str, api_key: str, frames: int) -> None:
    """The same frames through a voiceagent session, until the source ends it.

    Raises:
        RuntimeError: The session ended otherwise.
    """
    source = PacedSource(bytes(PCM.bytes_for_ms(20 * frames)), speed=None)
    result = await agent.run(
        source=source,
        sink=NullSink(),
        endpoint=endpoint,
        credential=AzureKeyCredential(api_key),
    )
    if result.reason is not EndReason.INPUT_FINISHED:
        raise RuntimeError(f"the voiceagent session ended with {result.reason}: {result.error}")


def measure(*, frames: int, rounds: int) -> dict[str, Any]:
    """Alternate the two clients ``rounds`` times each (after a warm-up of each) and return
    the CPU per frame of each round and their ratios."""
    agent = WeatherAgent()
    per_frame: dict[str, list[float]] = {"competent": [], "voiceagent": []}
    with EmulatorProcess(Script(), speed=None) as emu:
        pinned = pin(CLIENT_CPU)

        def run(client: str, n: int) -> float:
            cpu0 = process_cpu_seconds()
            if client == "competent":
                anyio.run(competent, emu.endpoint, emu.api_key, n)
            else:
                anyio.run(voiceagent, agent, emu.endpoint, emu.api_key, n)
            return (process_cpu_seconds() - cpu0) / n

        for client in per_frame:
            run(client, min(frames, 2000))  # warm-up
        for _ in range(rounds):
            for client, figures in per_frame.items():
                figures.append(run(client, frames))
    ratios = [
        va / raw for raw, va in zip(per_frame["competent"], per_frame["voiceagent"], strict=True)
    ]
    return {
        "frames": frames,
        "rounds": rounds,
        "client_pinned": pinned,
        "competent_us_per_frame": [round(x * 1e6, 3) for x in per_frame["competent"]],
        "voiceagent_us_per_frame": [round(x * 1e6, 3) for x in per_frame["voiceagent"]],
        "competent_us": round(statistics.median(per_frame["competent"]) * 1e6, 2),
        "voiceagent_us": round(statistics.median(per_frame["voiceagent"]) * 1e6, 2),
        "ratio": round(statistics.median(ratios), 3),
        "ratio_min": round(min(ratios), 3),
        "ratio_max": round(max(ratios), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds, no verdict")
    parser.add_argument("--frames", type=int, default=FRAMES, help="frames per round")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds of each client")
    args = parser.parse_args(argv)
    if args.frames < 1 or args.rounds < 1:
        parser.error("--frames and --rounds must be at least 1")
    frames, rounds = (500, 1) if args.smoke else (args.frames, args.rounds)
    result = measure(frames=frames, rounds=rounds)
    rows = [
        Row(
            benchmark=NAME,
            metric="competent raw SDK CPU / frame sent",
            value=f"{result['competent_us']:.1f} us",
        ),
        Row(
            benchmark=NAME,
            metric="voiceagent CPU / frame sent",
            value=f"{result['voiceagent_us']:.1f} us",
        ),
        Row(
            benchmark=NAME,
            metric="CPU ratio voiceagent / competent, per frame sent",
            value=f"{result['ratio']:.3f} ({result['ratio_min']:.3f}-{result['ratio_max']:.3f})",
        ),
    ]
    print(
        f"per frame sent: competent {result['competent_us']:.1f} us, voiceagent "
        f"{result['voiceagent_us']:.1f} us, ratio {result['ratio']:.3f} (rounds "
        f"{result['ratio_min']:.3f}-{result['ratio_max']:.3f})"
        + (" [smoke: no verdict]" if args.smoke else "")
    )
    path = write_result(NAME, result, rows, smoke=args.smoke)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
