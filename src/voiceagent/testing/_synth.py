"""Deterministic speech synthesis for the emulator: the "TTS" of scripted replies.

The emulator cannot speak, but clients need audio that behaves like speech: a
duration proportional to the text, words at known offsets (for word timestamps and
for truncating to what was heard), visemes and blendshapes for avatars, and a sound
that a voice activity detector takes for speech. :func:`synthesize` makes exactly
that, deterministically: the same text and format always give the same bytes.

The sound is a voiced harmonic tone per word (a fundamental between 110 and 210 Hz
chosen from the word's letters, with two overtones), shaped by one raised-cosine
swell per syllable-sized group of letters and separated by short silences. Each
word is built from whole periods of its tone, scaled by an envelope that changes
once a period, so synthesis is a matter of joining pre-rendered periods: a
ten-second reply at 24 kHz takes a few milliseconds.

It is public as ``voiceagent.testing.synthesize``, so tests can also generate the
*user's* speech: feed it to the emulator and its VAD hears a turn.
"""

from __future__ import annotations

import array
import functools
import math
import sys
from typing import TYPE_CHECKING, Literal

import attrs

from .._g711 import alaw_encode, ulaw_encode

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["Speech", "WordTiming", "synthesize"]

Encoding = Literal["pcm16", "g711_ulaw", "g711_alaw"]

_PEAK = 16000  # about -6 dBFS
_LEVELS = 48  # envelope quantization steps
_LETTERS_PER_SYLLABLE = 3
_MIN_WORD_MS = 120
_BLENDSHAPES = 55
# Azure viseme ids (0 = silence) for letters, a rough grapheme-to-viseme map.
_VISEMES = {
    **dict.fromkeys("a", 2),
    **dict.fromkeys("e", 4),
    **dict.fromkeys("i", 6),
    **dict.fromkeys("o", 8),
    **dict.fromkeys("u", 7),
    **dict.fromkeys("y", 6),
    **dict.fromkeys("w", 7),
    **dict.fromkeys("r", 13),
    **dict.fromkeys("l", 14),
    **dict.fromkeys("sz", 15),
    **dict.fromkeys("cjx", 16),
    **dict.fromkeys("h", 12),
    **dict.fromkeys("dtn", 19),
    **dict.fromkeys("fv", 18),
    **dict.fromkeys("kgq", 20),
    **dict.fromkeys("bmp", 21),
}


@attrs.frozen
class WordTiming:
    """Where one word of the text sits in the audio.

    Attributes:
        text: The word as it appears in the text, with its punctuation.
        offset_ms: Start of the word, from the start of the audio.
        duration_ms: Length of the word's sound.
    """

    text: str
    offset_ms: int
    duration_ms: int


@attrs.frozen
class Speech:
    """A synthesized utterance in a Voice Live wire format.

    Attributes:
        text: What is said.
        encoding: ``pcm16`` (signed 16-bit little-endian mono), ``g711_ulaw`` or
            ``g711_alaw``.
        sample_rate: Samples per second.
        audio: The whole utterance in ``encoding``.
        words: The words in order, with their timings.
    """

    text: str
    encoding: Encoding
    sample_rate: int
    audio: bytes = attrs.field(repr=lambda a: f"<{len(a)} bytes>")
    words: tuple[WordTiming, ...]

    @property
    def _width(self) -> int:
        return 2 if self.encoding == "pcm16" else 1

    @property
    def duration_ms(self) -> int:
        """Length of the audio in whole milliseconds."""
        return len(self.audio) // self._width * 1000 // self.sample_rate

    def chunks(self, chunk_ms: int) -> Iterator[tuple[int, bytes]]:
        """Consecutive pieces of about ``chunk_ms`` each, as ``(offset_ms, bytes)``.

        Pieces are split on whole samples and cover the audio exactly, in order.

        Raises:
            ValueError: ``chunk_ms`` is not positive.
        """
        if chunk_ms <= 0:
            raise ValueError(f"chunk_ms must be positive, got {chunk_ms!r}")
        samples = max(1, self.sample_rate * chunk_ms // 1000)
        step = samples * self._width
        for start in range(0, len(self.audio), step):
            offset = start // self._width * 1000 // self.sample_rate
            yield offset, self.audio[start : start + step]

    def text_heard(self, audio_end_ms: float) -> str:
        """The text a listener heard when playback stopped at ``audio_end_ms``.

        That is the text up to the end of the last word that had started by then:
        ``""`` when none had, the whole text when the audio played to its end.
        """
        if audio_end_ms >= self.duration_ms:
            return self.text
        heard = [w for w in self.words if w.offset_ms < audio_end_ms]
        if not heard:
            return ""
        end = 0
        for word in heard:
            end = self.text.index(word.text, end) + len(word.text)
        return self.text[:end]

    def visemes(self) -> tuple[tuple[int, int], ...]:
        """``(audio_offset_ms, viseme_id)`` pairs: one per letter, silence (0) after words."""
        out: list[tuple[int, int]] = []
        for word in self.words:
            letters = [c for c in word.text.lower() if c.isalpha()] or ["a"]
            step = word.duration_ms / len(letters)
            for i, letter in enumerate(letters):
                out.append((word.offset_ms + int(i * step), _VISEMES.get(letter, 1)))
            out.append((word.offset_ms + word.duration_ms, 0))
        return tuple(out)

    def blendshape_frames(self, fps: int = 60) -> tuple[tuple[float, ...], ...]:
        """Facial blendshape frames (55 weights in [0, 1]) at ``fps`` over the audio.

        The mouth opens with the loudness of the speech; silence gives zeros.
        """
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps!r}")
        count = math.ceil(self.duration_ms * fps / 1000)
        frames: list[tuple[float, ...]] = []
        words = self.words
        for index in range(count):
            at = index * 1000 / fps
            open_ = 0.0
            for word in words:
                if word.offset_ms <= at < word.offset_ms + word.duration_ms:
                    phase = (at - word.offset_ms) / word.duration_ms
                    open_ = round(math.sin(math.pi * phase) ** 2, 4)
                    break
            frame = [0.0] * _BLENDSHAPES
            frame[17] = open_  # jawOpen
            frame[18] = round(open_ * 0.3, 4)  # mouthClose (counter-motion)
            frame[24] = round(open_ * 0.5, 4)  # mouthFunnel
            frames.append(tuple(frame))
        return tuple(frames)


def _check(encoding: str, sample_rate: int) -> None:
    if encoding not in ("pcm16", "g711_ulaw", "g711_alaw"):
        raise ValueError(f"encoding must be 'pcm16', 'g711_ulaw' or 'g711_alaw', got {encoding!r}")
    if encoding != "pcm16" and sample_rate != 8000:
        raise ValueError(f"{encoding} audio is 8000 Hz; got sample_rate={sample_rate!r}")
    if not isinstance(sample_rate, int) or not 8000 <= sample_rate <= 48000:
        raise ValueError(f"sample_rate must be an integer from 8000 to 48000, got {sample_rate!r}")


@functools.lru_cache(maxsize=64)
def _periods(period: int) -> tuple[bytes, ...]:
    """One period of the voiced tone at each envelope level, as pcm16 bytes."""
    wave = [
        math.sin(2 * math.pi * n / period)
        + 0.5 * math.sin(4 * math.pi * n / period)
        + 0.25 * math.sin(6 * math.pi * n / period)
        for n in range(period)
    ]
    peak = max(abs(v) for v in wave) or 1.0
    levels: list[bytes] = []
    for level in range(_LEVELS + 1):
        gain = _PEAK * level / _LEVELS / peak
        samples = array.array("h", (round(v * gain) for v in wave))
        if sys.byteorder == "big":
            samples.byteswap()
        levels.append(samples.tobytes())
    return tuple(levels)


def _word_audio(word: str, duration_ms: int, rate: int) -> bytes:
    letters = sum(1 for c in word if c.isalnum()) or 1
    f0 = 110 + (sum(map(ord, word)) * 37) % 100
    period = max(2, round(rate / f0))
    count = max(1, rate * duration_ms // 1000 // period)
    syllables = max(1, math.ceil(letters / _LETTERS_PER_SYLLABLE))
    tones = _periods(period)
    pieces: list[bytes] = []
    for k in range(count):
        # One raised-cosine swell per syllable: zero at the word's edges and between
        # syllables dipping to a quarter, so the word never clicks and stays voiced.
        position = (k + 0.5) / count * syllables
        swell = math.sin(math.pi * (position % 1.0)) ** 2
        edge = math.sin(math.pi * (k + 0.5) / count)
        level = (0.25 + 0.75 * swell) * min(1.0, edge * 4)
        pieces.append(tones[round(level * _LEVELS)])
    return b"".join(pieces)


@functools.lru_cache(maxsize=256)
def synthesize(
    text: str,
    *,
    encoding: Encoding = "pcm16",
    sample_rate: int = 24000,
    ms_per_char: float = 65.0,
) -> Speech:
    """Synthesize ``text`` as deterministic speech-like audio.

    Args:
        text: What to say. Empty or whitespace-only text gives no audio.
        encoding: The wire encoding: ``pcm16``, ``g711_ulaw`` or ``g711_alaw``.
        sample_rate: Samples per second: 8000 to 48000 for pcm16, 8000 for G.711.
        ms_per_char: Speaking pace: about this many milliseconds per character,
            spaces included (65 ms is about 15 characters a second).

    Returns:
        The utterance, with word timings.

    Raises:
        ValueError: An unsupported encoding, sample rate or pace.
    """
    _check(encoding, sample_rate)
    if not ms_per_char > 0:
        raise ValueError(f"ms_per_char must be positive, got {ms_per_char!r}")
    gap_ms = round(ms_per_char)
    width_pcm = 2
    pcm: list[bytes] = []
    words: list[WordTiming] = []
    position_samples = 0
    for index, word in enumerate(text.split()):
        if index:
            gap = sample_rate * gap_ms // 1000
            pcm.append(bytes(gap * width_pcm))
            position_samples += gap
        wanted = max(_MIN_WORD_MS, round(len(word) * ms_per_char))
        audio = _word_audio(word, wanted, sample_rate)
        samples = len(audio) // width_pcm
        words.append(
            WordTiming(
                word,
                position_samples * 1000 // sample_rate,
                samples * 1000 // sample_rate,
            )
        )
        pcm.append(audio)
        position_samples += samples
    raw = b"".join(pcm)
    if encoding == "g711_ulaw":
        raw = ulaw_encode(raw)
    elif encoding == "g711_alaw":
        raw = alaw_encode(raw)
    return Speech(text, encoding, sample_rate, raw, tuple(words))
