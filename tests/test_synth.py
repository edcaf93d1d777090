"""The emulator's deterministic speech synthesis (``voiceagent.testing.synthesize``)."""

from __future__ import annotations

import array
import math
import sys

import pytest

from voiceagent._g711 import alaw_decode, ulaw_decode
from voiceagent.testing import Speech, synthesize
from voiceagent.testing._vad import EnergyVad, SpeechStarted, SpeechStopped, VadConfig

TEXT = "The weather in Paris is sunny, twenty one degrees."


def samples(speech: Speech) -> array.array[int]:
    pcm = speech.audio
    if speech.encoding == "g711_ulaw":
        pcm = ulaw_decode(pcm)
    elif speech.encoding == "g711_alaw":
        pcm = alaw_decode(pcm)
    out = array.array("h", pcm)
    if sys.byteorder == "big":
        out.byteswap()
    return out


def test_deterministic_and_cached() -> None:
    assert synthesize(TEXT).audio == synthesize(TEXT).audio
    synthesize.cache_clear()
    again = synthesize(TEXT)
    assert again.audio == synthesize(TEXT, ms_per_char=65.0).audio


def test_different_texts_sound_different() -> None:
    assert synthesize("hello there").audio != synthesize("hello where").audio


@pytest.mark.parametrize("rate", [8000, 16000, 24000, 44100, 48000])
def test_duration_follows_the_text_and_rate(rate: int) -> None:
    speech = synthesize(TEXT, sample_rate=rate)
    assert len(speech.audio) % 2 == 0
    assert speech.duration_ms == len(speech.audio) // 2 * 1000 // rate
    # About ms_per_char per character, give or take the rounding to whole periods.
    assert 0.8 * len(TEXT) * 65 <= speech.duration_ms <= 1.1 * len(TEXT) * 65


def test_pace_scales_duration() -> None:
    slow = synthesize(TEXT, ms_per_char=100.0)
    fast = synthesize(TEXT, ms_per_char=40.0)
    assert slow.duration_ms > 2 * fast.duration_ms


def test_words_are_in_order_inside_the_audio_and_separated() -> None:
    speech = synthesize(TEXT)
    assert [w.text for w in speech.words] == TEXT.split()
    previous_end = -1
    for word in speech.words:
        assert word.offset_ms > previous_end
        assert word.duration_ms >= 100
        previous_end = word.offset_ms + word.duration_ms
    assert previous_end <= speech.duration_ms


def test_silence_between_words_and_sound_inside() -> None:
    speech = synthesize("alpha beta")
    pcm = samples(speech)
    first, second = speech.words
    rate = speech.sample_rate
    gap = pcm[
        (first.offset_ms + first.duration_ms) * rate // 1000 + 2 : second.offset_ms * rate // 1000
    ]
    assert gap
    assert max(abs(v) for v in gap) == 0
    middle = first.offset_ms + first.duration_ms // 2
    window = pcm[middle * rate // 1000 : (middle + 20) * rate // 1000]
    rms = math.sqrt(sum(v * v for v in window) / len(window))
    assert rms > 1000
    assert max(abs(v) for v in pcm) <= 16000


def test_starts_and_ends_without_a_click() -> None:
    pcm = samples(synthesize("click"))
    assert abs(pcm[0]) < 500
    assert abs(pcm[-1]) < 500


@pytest.mark.parametrize(
    ("encoding", "decode"), [("g711_ulaw", ulaw_decode), ("g711_alaw", alaw_decode)]
)
def test_g711_is_the_encoded_pcm(encoding: str, decode: object) -> None:
    g711 = synthesize(TEXT, encoding=encoding, sample_rate=8000)
    pcm = synthesize(TEXT, sample_rate=8000)
    assert len(g711.audio) * 2 == len(pcm.audio)
    assert g711.words == pcm.words
    decoded = samples(g711)
    reference = samples(pcm)
    # G.711 keeps about 12 bits: each sample within 1/16 of its magnitude (+ a small step).
    for got, want in zip(decoded[::7], reference[::7], strict=True):
        assert abs(got - want) <= abs(want) / 16 + 16


def test_empty_text_gives_no_audio() -> None:
    speech = synthesize("   ")
    assert speech.audio == b""
    assert speech.words == ()
    assert speech.duration_ms == 0
    assert speech.text_heard(100) == "   "


def test_text_heard_cuts_at_started_words() -> None:
    speech = synthesize("one two three")
    one, two, three = speech.words
    assert speech.text_heard(0) == ""
    assert speech.text_heard(one.offset_ms + 1) == "one"
    assert speech.text_heard(two.offset_ms) == "one"
    assert speech.text_heard(two.offset_ms + 1) == "one two"
    assert speech.text_heard(three.offset_ms + three.duration_ms - 1) == "one two three"
    assert speech.text_heard(speech.duration_ms) == "one two three"


def test_chunks_cover_the_audio_exactly() -> None:
    speech = synthesize(TEXT, sample_rate=16000)
    chunks = list(speech.chunks(20))
    assert b"".join(data for _, data in chunks) == speech.audio
    assert [offset for offset, _ in chunks][:3] == [0, 20, 40]
    assert all(len(data) == 640 for _, data in chunks[:-1])
    with pytest.raises(ValueError, match="chunk_ms"):
        list(speech.chunks(0))


def test_visemes_and_blendshapes() -> None:
    speech = synthesize("mama papa")
    visemes = speech.visemes()
    offsets = [offset for offset, _ in visemes]
    assert offsets == sorted(offsets)
    assert {viseme for _, viseme in visemes} >= {0, 2, 21}
    frames = speech.blendshape_frames(fps=60)
    assert len(frames) == math.ceil(speech.duration_ms * 60 / 1000)
    assert all(len(frame) == 55 for frame in frames)
    assert all(0.0 <= value <= 1.0 for frame in frames for value in frame)
    assert max(frame[17] for frame in frames) > 0.9
    assert frames[0][17] == 0.0
    with pytest.raises(ValueError, match="fps"):
        speech.blendshape_frames(fps=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"encoding": "mp3"}, "encoding"),
        ({"encoding": "g711_ulaw", "sample_rate": 16000}, "8000"),
        ({"sample_rate": 4000}, "sample_rate"),
        ({"ms_per_char": 0}, "ms_per_char"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        synthesize("x", **kwargs)


def test_the_vad_hears_it_as_speech() -> None:
    speech = synthesize(TEXT)
    vad = EnergyVad(VadConfig.from_turn_detection({}), sample_rate=24000, encoding="pcm16")
    events = vad.feed(speech.audio + bytes(24000 * 2))
    assert isinstance(events[0], SpeechStarted)
    assert isinstance(events[-1], SpeechStopped)
    # Pauses between words are shorter than the silence needed to end the turn.
    assert len(events) == 2
