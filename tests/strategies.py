"""Shared hypothesis strategies. Each area keeps its strategies in its own block."""

from __future__ import annotations

# --- audio (voiceagent.audio) ------------------------------------------------------------
import array
import itertools
import random
import sys

from hypothesis import strategies as st

from voiceagent.audio import AudioFormat, Encoding

AUDIO_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000)
"""Sample rates worth testing: every wire rate and the common device and file rates."""


@st.composite
def audio_formats(
    draw: st.DrawFn, *, encodings: tuple[Encoding, ...] = tuple(Encoding), max_channels: int = 2
) -> AudioFormat:
    """Any valid :class:`AudioFormat` (G.711 at 8 kHz, pcm16 at any of :data:`AUDIO_RATES`)."""
    encoding = draw(st.sampled_from(encodings))
    rate = 8000 if encoding is not Encoding.PCM16 else draw(st.sampled_from(AUDIO_RATES))
    channels = draw(st.integers(1, max_channels))
    return AudioFormat(encoding=encoding, sample_rate=rate, channels=channels)


def pcm16(samples: list[int]) -> bytes:
    """Signed 16-bit little-endian bytes of ``samples``."""
    data = array.array("h", samples)
    if sys.byteorder == "big":
        data.byteswap()
    return data.tobytes()


@st.composite
def pcm16_audio(
    draw: st.DrawFn, *, channels: int = 1, max_samples: int = 4000, amplitude: int = 20000
) -> bytes:
    """pcm16 audio of 0 to ``max_samples`` samples: a random walk, so it has real low
    frequencies as speech does, within +-``amplitude``."""
    n = draw(st.integers(0, max_samples))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = random.Random(seed)
    out: list[int] = []
    level = 0
    for _ in range(n * channels):
        level = max(-amplitude, min(amplitude, level + rng.randint(-2000, 2000)))
        out.append(level)
    return pcm16(out)


@st.composite
def splits(draw: st.DrawFn, data: bytes, *, max_chunks: int = 12) -> list[bytes]:
    """``data`` cut at arbitrary byte offsets (chunks may be empty or split samples)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=max_chunks - 1)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


# --- end audio ---------------------------------------------------------------------------
