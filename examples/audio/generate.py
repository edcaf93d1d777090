"""Regenerates the recordings that ``voiceagent demo`` and the examples play (maintainers only).

The recordings are real speech, spoken by espeak-ng and committed to the repository, so
the demo and the examples need neither espeak-ng nor numpy. To regenerate them (after
changing a sentence below)::

    apt-get install espeak-ng            # or: brew install espeak-ng
    pip install -e ".[audio]"            # soxr resamples espeak-ng's 22.05 kHz output
    python examples/audio/generate.py

Each file is mono in a format Voice Live takes natively (pcm16 at 16 kHz, or G.711 μ-law
at 8 kHz for the phone line), with a little silence before the speech and a second after
it, so that server VAD hears the end of the turn.
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
from pathlib import Path

import anyio
import numpy as np
import soxr

from voiceagent.audio import AudioFormat, Converter, Encoding, WavFileSink

HERE = Path(__file__).resolve().parent
DEMO = HERE.parents[1] / "src" / "voiceagent" / "demo"
LEAD_MS, TRAIL_MS = 200, 1000

# (file, sentence, sample rate, encoding)
RECORDINGS = [
    (DEMO / "question.wav", "What's the weather like in Paris today?", 16000, Encoding.PCM16),
    (HERE / "pool.wav", "Is the pool open tonight?", 16000, Encoding.PCM16),
    (HERE / "breakfast.wav", "And when does breakfast start?", 16000, Encoding.PCM16),
    (HERE / "station.wav", "Excuse me, where is the train station?", 16000, Encoding.PCM16),
    (
        HERE / "ticket.wav",
        "Hi, it's Ana. Is my internet fixed yet? That's all I need.",
        16000,
        Encoding.PCM16,
    ),
    (
        HERE / "booking.ulaw.wav",
        "Hello, I'd like a table for two at eight tonight.",
        8000,
        Encoding.G711_ULAW,
    ),
    (HERE / "moon.wav", "Tell me something fun about the Moon.", 16000, Encoding.PCM16),
]


def speak(sentence: str, rate: int) -> bytes:
    """``sentence`` spoken by espeak-ng, as pcm16 mono at ``rate``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(out), sentence], check=True
        )
        with wave.open(str(out)) as wav:
            native = wav.getframerate()
            samples = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    resampled = soxr.resample(samples.astype(np.float32), native, rate, "HQ")
    pcm: bytes = np.clip(np.round(resampled), -32768, 32767).astype("<i2").tobytes()
    return bytes(rate * LEAD_MS // 1000 * 2) + pcm + bytes(rate * TRAIL_MS // 1000 * 2)


async def write(path: Path, sentence: str, rate: int, encoding: Encoding) -> None:
    fmt = AudioFormat(encoding=encoding, sample_rate=rate)
    audio = Converter(AudioFormat(sample_rate=rate), fmt).convert(speak(sentence, rate))
    async with WavFileSink(path, fmt) as sink:
        await sink.write(audio)
    size = len(audio) + 44
    print(f"{path.relative_to(HERE.parents[1])}: about {size} bytes  {sentence!r}")


async def main() -> None:
    for path, sentence, rate, encoding in RECORDINGS:
        await write(path, sentence, rate, encoding)


if __name__ == "__main__":
    anyio.run(main)
