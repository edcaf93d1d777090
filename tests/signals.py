"""Deterministic synthetic test audio: speech-like bursts, silence and noise.

Everything is pure stdlib and reproducible: the same arguments give the same bytes. Signals
are built as signed 16-bit little-endian PCM (``pcm16``) at a given sample rate, then
:func:`encode` turns them into any input wire format the emulator accepts (:data:`FORMATS`).

Durations are whole milliseconds, so at every supported rate a signal is a whole number of
samples and the edges of concatenated pieces fall exactly at the sums of their durations::

    audio = silence(600, rate=8000) + speech_burst(800, rate=8000) + silence(1000, rate=8000)
    wire = encode(audio, "g711_ulaw")  # speech from 600 ms to 1400 ms

Levels are RMS in dBFS, where 0 dBFS is the RMS of a full-scale square wave (32768).
"""

from __future__ import annotations

import array
import math
import random
import sys
from typing import TYPE_CHECKING, Final, Literal

from voiceagent._g711 import alaw_encode, ulaw_encode

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "FORMATS",
    "WireEncoding",
    "bytes_per_ms",
    "encode",
    "level_dbfs",
    "mix",
    "noise",
    "silence",
    "speech_burst",
]

WireEncoding = Literal["pcm16", "g711_ulaw", "g711_alaw"]
"""An input audio encoding on the wire."""

FORMATS: Final[tuple[tuple[WireEncoding, int], ...]] = (
    ("pcm16", 8000),
    ("pcm16", 16000),
    ("pcm16", 24000),
    ("g711_ulaw", 8000),
    ("g711_alaw", 8000),
)
"""Every ``(encoding, sample_rate)`` pair worth testing input audio in."""

_FULL_SCALE: Final = 32768.0
_RAMP_MS: Final = 5.0


def _samples(duration_ms: int, rate: int) -> int:
    if duration_ms < 0:
        raise ValueError(f"duration must not be negative, got {duration_ms} ms")
    count, rest = divmod(duration_ms * rate, 1000)
    if rest:
        raise ValueError(f"{duration_ms} ms is not a whole number of samples at {rate} Hz")
    return count


def _array(pcm16: bytes) -> array.array[int]:
    samples = array.array("h")
    samples.frombytes(pcm16)
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _pcm16(values: Iterable[float]) -> bytes:
    """Round and clip floats (in sample units) to pcm16 little-endian bytes."""
    out = array.array("h", (max(-32768, min(32767, round(v))) for v in values))
    if sys.byteorder == "big":
        out.byteswap()
    return out.tobytes()


def _scaled(values: list[float], level: float) -> bytes:
    """Scale ``values`` so their RMS is ``level`` dBFS, then convert to pcm16."""
    rms = math.sqrt(math.fsum(v * v for v in values) / len(values)) if values else 0.0
    gain = _FULL_SCALE * 10 ** (level / 20) / rms if rms else 0.0
    return _pcm16(v * gain for v in values)


def silence(duration_ms: int, *, rate: int) -> bytes:
    """Digital silence.

    Args:
        duration_ms: Length in milliseconds.
        rate: Sample rate in Hz.

    Returns:
        ``duration_ms`` of zero pcm16 samples.
    """
    return bytes(2 * _samples(duration_ms, rate))


def noise(duration_ms: int, *, rate: int, level: float = -55.0, seed: int = 0) -> bytes:
    """Gaussian white noise, like the hiss of a quiet room through a microphone.

    Args:
        duration_ms: Length in milliseconds.
        rate: Sample rate in Hz.
        level: RMS level in dBFS.
        seed: Seed of the private random generator; the same seed gives the same noise.

    Returns:
        pcm16 bytes.
    """
    rng = random.Random(seed)
    return _scaled([rng.gauss(0.0, 1.0) for _ in range(_samples(duration_ms, rate))], level)


def speech_burst(
    duration_ms: int,
    *,
    rate: int,
    level: float = -20.0,
    f0: float = 140.0,
    harmonics: int = 6,
    syllable_hz: float = 4.0,
    depth: float = 0.5,
) -> bytes:
    """A voiced, speech-like sound: a harmonic tone with a syllable rhythm.

    The tone has a fundamental ``f0`` and ``harmonics`` partials falling off as 1/k (a crude
    glottal spectrum), kept below the Nyquist frequency. Its amplitude swells and dips
    ``syllable_hz`` times a second, from full to ``1 - depth`` of full, starting on a swell,
    and it fades in and out over 5 ms raised-cosine ramps, so the burst's edges are sharp
    and sit exactly at 0 and ``duration_ms``.

    Args:
        duration_ms: Length in milliseconds.
        rate: Sample rate in Hz.
        level: RMS level of the whole burst in dBFS; normal speech is about -30 to -12.
        f0: Fundamental frequency in Hz.
        harmonics: Number of partials, the fundamental included.
        syllable_hz: Rate of the amplitude swells.
        depth: How far the swells dip, 0 (steady tone) to 1 (down to silence).

    Returns:
        pcm16 bytes.
    """
    count = _samples(duration_ms, rate)
    partials = [
        (2 * math.pi * f0 * k / rate, 1.0 / k) for k in range(1, harmonics + 1) if f0 * k < rate / 2
    ]
    syllable = 2 * math.pi * syllable_hz / rate
    ramp = max(1, round(_RAMP_MS * rate / 1000))
    values: list[float] = []
    for n in range(count):
        envelope = 1.0 - depth * (1.0 - math.cos(syllable * n)) / 2
        edge = min(n + 1, count - n, ramp)
        if edge < ramp:
            envelope *= (1.0 - math.cos(math.pi * edge / ramp)) / 2
        values.append(envelope * math.fsum(a * math.sin(w * n) for w, a in partials))
    return _scaled(values, level)


def encode(pcm16: bytes, encoding: WireEncoding) -> bytes:
    """Encode pcm16 audio into an input wire format.

    Args:
        pcm16: Signed 16-bit little-endian samples (8000 Hz for the G.711 encodings).
        encoding: ``"pcm16"`` (returned unchanged), ``"g711_ulaw"`` or ``"g711_alaw"``.

    Returns:
        The wire bytes.
    """
    if encoding == "g711_ulaw":
        return ulaw_encode(pcm16)
    if encoding == "g711_alaw":
        return alaw_encode(pcm16)
    return pcm16


def bytes_per_ms(encoding: WireEncoding, rate: int) -> float:
    """Wire bytes per millisecond of audio: 2 bytes a sample for pcm16, 1 for G.711."""
    return rate * (2 if encoding == "pcm16" else 1) / 1000


def mix(first: bytes, *others: bytes) -> bytes:
    """Add pcm16 signals sample by sample, clipping at full scale.

    Args:
        first: pcm16 audio; the result has its length.
        *others: pcm16 audio of the same rate, each at most as long as ``first``; shorter
            ones are mixed in from the start.

    Returns:
        pcm16 bytes.

    Raises:
        ValueError: If a signal is longer than ``first``.
    """
    total = [float(s) for s in _array(first)]
    for other in others:
        samples = _array(other)
        if len(samples) > len(total):
            raise ValueError("a signal to mix in is longer than the first one")
        for i, s in enumerate(samples):
            total[i] += s
    return _pcm16(total)


def level_dbfs(pcm16: bytes) -> float:
    """RMS level of pcm16 audio in dBFS; ``-inf`` for silence or no audio."""
    samples = _array(pcm16)
    energy = math.fsum(float(s) * s for s in samples)
    if not energy:
        return -math.inf
    return 10 * math.log10(energy / len(samples) / _FULL_SCALE**2)
