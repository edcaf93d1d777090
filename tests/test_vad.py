"""The emulator's energy-based server VAD (``voiceagent.testing._vad``), fed synthetic audio."""

from __future__ import annotations

import array
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voiceagent.testing._vad import (
    EnergyVad,
    SpeechStarted,
    SpeechStopped,
    VadConfig,
    threshold_dbfs,
)

from .signals import (
    FORMATS,
    WireEncoding,
    bytes_per_ms,
    encode,
    level_dbfs,
    mix,
    noise,
    silence,
    speech_burst,
)

Event = SpeechStarted | SpeechStopped

SERVER_VAD = VadConfig.from_turn_detection({"type": "server_vad"})
TOLERANCE_MS = 20


def run(
    pcm: bytes,
    *,
    encoding: WireEncoding = "pcm16",
    rate: int = 24000,
    config: VadConfig = SERVER_VAD,
    start_ms: float = 0.0,
    chunk: int | None = None,
) -> list[Event]:
    """Encode ``pcm`` for the wire and feed it to a fresh VAD, in one piece or in chunks."""
    wire = encode(pcm, encoding)
    vad = EnergyVad(config, encoding=encoding, sample_rate=rate, start_ms=start_ms)
    size = chunk or len(wire) or 1
    events: list[Event] = []
    for offset in range(0, len(wire), size):
        events += vad.feed(wire[offset : offset + size])
    assert vad.position_ms == pytest.approx(start_ms + len(wire) / bytes_per_ms(encoding, rate))
    return events


def segment(events: list[Event]) -> tuple[SpeechStarted, SpeechStopped]:
    """The one speech segment ``events`` must hold."""
    assert len(events) == 2, events
    started, stopped = events
    assert isinstance(started, SpeechStarted)
    assert isinstance(stopped, SpeechStopped)
    return started, stopped


def assert_segment(
    started: SpeechStarted,
    stopped: SpeechStopped,
    onset_ms: float,
    end_ms: float,
    config: VadConfig = SERVER_VAD,
) -> None:
    """Edges within tolerance of the truth, and the padding semantics of §4.4 applied."""
    assert abs(started.onset_ms - onset_ms) <= TOLERANCE_MS, (started, onset_ms)
    assert started.audio_start_ms == max(0, started.onset_ms - config.prefix_padding_ms)
    assert abs(stopped.speech_end_ms - end_ms) <= TOLERANCE_MS, (stopped, end_ms)
    assert stopped.audio_end_ms == stopped.speech_end_ms + config.silence_duration_ms


# --------------------------------------------------------------------------- edges and padding


@pytest.mark.parametrize(("encoding", "rate"), FORMATS)
@pytest.mark.parametrize("lead_ms", [0, 150, 637])
def test_burst_edges_and_padding(encoding: WireEncoding, rate: int, lead_ms: int) -> None:
    speech_ms = 1234
    pcm = silence(lead_ms, rate=rate) + speech_burst(speech_ms, rate=rate) + silence(900, rate=rate)

    started, stopped = segment(run(pcm, encoding=encoding, rate=rate))

    assert_segment(started, stopped, lead_ms, lead_ms + speech_ms)


@pytest.mark.parametrize(("encoding", "rate"), FORMATS)
def test_speech_at_the_very_start_clamps_audio_start_at_zero(
    encoding: WireEncoding, rate: int
) -> None:
    pcm = speech_burst(700, rate=rate) + silence(600, rate=rate)

    started, _ = segment(run(pcm, encoding=encoding, rate=rate))

    assert started.onset_ms <= TOLERANCE_MS
    assert started.audio_start_ms == 0


@pytest.mark.parametrize("rate", [22050, 44100, 48000])
def test_other_pcm16_rates(rate: int) -> None:
    pcm = silence(520, rate=rate) + speech_burst(1000, rate=rate) + silence(800, rate=rate)

    started, stopped = segment(run(pcm, rate=rate))

    assert_segment(started, stopped, 520, 1520)


def test_a_burst_in_background_noise() -> None:
    rate = 16000
    speech = silence(800, rate=rate) + speech_burst(900, rate=rate) + silence(1500, rate=rate)
    pcm = mix(speech, noise(3200, rate=rate, level=-50.0, seed=7))

    started, stopped = segment(run(pcm, rate=rate))

    assert_segment(started, stopped, 800, 1700)


def test_audio_end_ms_matches_the_live_test_shape() -> None:
    # LIVE-TEST (§4.4): a ~1.2 s utterance at the start, then 2 s of silence, ServerVad()
    # defaults: audio_start_ms == 0 and audio_end_ms about 1680.
    pcm = speech_burst(1180, rate=24000) + silence(2000, rate=24000)

    started, stopped = segment(run(pcm))

    assert started.audio_start_ms == 0
    assert stopped.audio_end_ms == pytest.approx(1680, abs=50)


# --------------------------------------------------------------------------- when events come


def test_events_come_after_speech_duration_and_silence_duration() -> None:
    """SpeechStarted is returned once speech_duration_ms of speech is in, SpeechStopped once
    silence_duration_ms of silence is: the server sends them at those audio positions."""
    rate = 24000
    pcm = silence(300, rate=rate) + speech_burst(1000, rate=rate) + silence(1000, rate=rate)
    vad = EnergyVad(SERVER_VAD, encoding="pcm16", sample_rate=rate)
    seen: list[tuple[float, Event]] = []
    step = 480  # 10 ms
    for offset in range(0, len(pcm), step):
        seen.extend((vad.position_ms, e) for e in vad.feed(pcm[offset : offset + step]))

    (at_start, started), (at_stop, stopped) = seen
    assert isinstance(started, SpeechStarted)
    assert isinstance(stopped, SpeechStopped)
    assert at_start == pytest.approx(300 + SERVER_VAD.speech_duration_ms, abs=TOLERANCE_MS)
    assert at_stop == pytest.approx(stopped.audio_end_ms, abs=10)


def test_in_speech_follows_the_reported_segment() -> None:
    rate = 8000
    vad = EnergyVad(SERVER_VAD, encoding="pcm16", sample_rate=rate)

    assert vad.feed(silence(300, rate=rate) + speech_burst(100, rate=rate)) == []
    assert not vad.in_speech  # heard, but not yet for speech_duration_ms
    assert [type(e) for e in vad.feed(speech_burst(400, rate=rate))] == [SpeechStarted]
    assert vad.in_speech
    assert vad.feed(silence(300, rate=rate)) == []
    assert vad.in_speech  # a pause shorter than silence_duration_ms
    assert [type(e) for e in vad.feed(silence(300, rate=rate))] == [SpeechStopped]
    assert not vad.in_speech


# --------------------------------------------------------------------------- chunking


def two_segments(rate: int) -> bytes:
    """Speech 300-1000 and 1200-1600 (one segment), silence, speech 2500-2900."""
    return (
        silence(300, rate=rate)
        + speech_burst(700, rate=rate)
        + silence(200, rate=rate)
        + speech_burst(400, rate=rate)
        + silence(900, rate=rate)
        + speech_burst(400, rate=rate)
        + silence(600, rate=rate)
    )


@pytest.mark.parametrize(("encoding", "rate"), FORMATS)
@pytest.mark.parametrize("chunk", [1, 7, 333])
def test_chunking_does_not_change_events(encoding: WireEncoding, rate: int, chunk: int) -> None:
    pcm = two_segments(rate)
    whole = run(pcm, encoding=encoding, rate=rate)

    assert len(whole) == 4
    assert run(pcm, encoding=encoding, rate=rate, chunk=chunk) == whole


PCM16_24K = two_segments(24000)
ULAW = encode(two_segments(8000), "g711_ulaw")


@pytest.mark.parametrize(
    ("encoding", "rate", "wire"), [("pcm16", 24000, PCM16_24K), ("g711_ulaw", 8000, ULAW)]
)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_split_gives_the_same_events(
    encoding: WireEncoding, rate: int, wire: bytes, data: st.DataObject
) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=30), label="cuts"))
    whole = EnergyVad(SERVER_VAD, encoding=encoding, sample_rate=rate).feed(wire)
    vad = EnergyVad(SERVER_VAD, encoding=encoding, sample_rate=rate)
    events: list[Event] = []
    for begin, end in zip([0, *cuts], [*cuts, len(wire)], strict=True):
        events += vad.feed(wire[begin:end])

    assert events == whole
    assert vad.position_ms == pytest.approx(len(wire) / bytes_per_ms(encoding, rate))


def test_position_counts_an_odd_trailing_byte() -> None:
    vad = EnergyVad(SERVER_VAD, encoding="pcm16", sample_rate=24000, start_ms=100.0)

    assert vad.feed(b"\x00" * 3) == []
    assert vad.position_ms == pytest.approx(100 + 3 / 48)


def test_feed_accepts_any_bytes_like_object() -> None:
    pcm = two_segments(16000)
    as_bytes = run(pcm, rate=16000)

    vad = EnergyVad(SERVER_VAD, encoding="pcm16", sample_rate=16000)
    view = memoryview(pcm)
    as_views = vad.feed(view[:1001]) + vad.feed(bytearray(view[1001:5000])) + vad.feed(view[5000:])

    assert as_views == as_bytes


# --------------------------------------------------------------------------- what is not speech


@pytest.mark.parametrize(("encoding", "rate"), FORMATS)
def test_silence_gives_nothing(encoding: WireEncoding, rate: int) -> None:
    assert run(silence(3000, rate=rate), encoding=encoding, rate=rate) == []


@pytest.mark.parametrize(("encoding", "rate"), FORMATS)
@pytest.mark.parametrize("level", [-50.0, -60.0])
def test_quiet_noise_gives_nothing(encoding: WireEncoding, rate: int, level: float) -> None:
    pcm = noise(3000, rate=rate, level=level, seed=1)

    assert run(pcm, encoding=encoding, rate=rate) == []


@pytest.mark.parametrize(
    ("encoding", "rate", "byte"),
    [("g711_ulaw", 8000, 0x00), ("g711_alaw", 8000, 0x00), ("g711_ulaw", 8000, 0x80)],
)
def test_constant_g711_bytes_are_silence(encoding: WireEncoding, rate: int, byte: int) -> None:
    # Zero bytes decode to a constant -32124 (mu-law) / -5504 (A-law): loud, but no sound.
    vad = EnergyVad(SERVER_VAD, encoding=encoding, sample_rate=rate)
    assert vad.feed(bytes([byte]) * 8 * 3000) == []


@pytest.mark.parametrize(("encoding", "rate"), FORMATS)
@pytest.mark.parametrize("offset", [-20000, -3000, 3000, 32000])
def test_a_dc_offset_is_not_speech(encoding: WireEncoding, rate: int, offset: int) -> None:
    constant = array.array("h", [offset]) * (rate * 3)
    assert run(constant.tobytes(), encoding=encoding, rate=rate) == []


@pytest.mark.parametrize(("encoding", "rate"), FORMATS)
def test_speech_on_a_dc_offset_is_still_found(encoding: WireEncoding, rate: int) -> None:
    pcm = silence(500, rate=rate) + speech_burst(800, rate=rate) + silence(1000, rate=rate)
    shifted = array.array("h")
    shifted.frombytes(pcm)
    shifted = array.array("h", (max(-32768, min(32767, x + 4000)) for x in shifted))
    assert_segment(*segment(run(shifted.tobytes(), encoding=encoding, rate=rate)), 500, 1300)


def test_speech_shorter_than_speech_duration_gives_nothing() -> None:
    rate = 16000
    pcm = silence(400, rate=rate) + speech_burst(150, rate=rate) + silence(1000, rate=rate)

    assert run(pcm, rate=rate) == []
    shorter = attrs.evolve(SERVER_VAD, speech_duration_ms=100)
    assert_segment(*segment(run(pcm, rate=rate, config=shorter)), 400, 550, shorter)


def test_a_loud_click_gives_nothing() -> None:
    rate = 24000
    click = speech_burst(10, rate=rate, level=-6.0, f0=1000.0, syllable_hz=0.0)
    pcm = silence(500, rate=rate) + click + silence(1000, rate=rate)

    assert run(pcm, rate=rate) == []


def test_semantic_vad_needs_less_speech() -> None:
    rate = 16000
    semantic = VadConfig.from_turn_detection({"type": "azure_semantic_vad"})
    pcm = silence(400, rate=rate) + speech_burst(150, rate=rate) + silence(1000, rate=rate)

    assert_segment(*segment(run(pcm, rate=rate, config=semantic)), 400, 550, semantic)


# --------------------------------------------------------------------------- threshold


def test_threshold_mapping() -> None:
    assert threshold_dbfs(0.5) == pytest.approx(-40.0)
    assert threshold_dbfs(0.01) == pytest.approx(-69.4)
    levels = [threshold_dbfs(t / 100) for t in range(1, 100)]
    assert levels == sorted(levels)


@pytest.mark.parametrize("level", [-30.0, -20.0, -12.0])
def test_normal_speech_is_detected_at_the_default_threshold(level: float) -> None:
    rate = 16000
    pcm = silence(300, rate=rate) + speech_burst(800, rate=rate, level=level)
    pcm += silence(800, rate=rate)

    assert_segment(*segment(run(pcm, rate=rate)), 300, 1100)


def test_a_higher_threshold_suppresses_quiet_speech() -> None:
    rate = 16000
    quiet = silence(300, rate=rate) + speech_burst(800, rate=rate, level=-34.0)
    quiet += silence(800, rate=rate)

    assert len(run(quiet, rate=rate)) == 2
    assert run(quiet, rate=rate, config=attrs.evolve(SERVER_VAD, threshold=0.8)) == []


def test_a_lower_threshold_detects_quieter_speech() -> None:
    rate = 16000
    whisper = silence(300, rate=rate) + speech_burst(800, rate=rate, level=-52.0)
    whisper += silence(800, rate=rate)
    sensitive = attrs.evolve(SERVER_VAD, threshold=0.2)

    assert run(whisper, rate=rate) == []
    assert_segment(*segment(run(whisper, rate=rate, config=sensitive)), 300, 1100, sensitive)


# --------------------------------------------------------------------------- segmentation


def test_a_gap_shorter_than_silence_duration_stays_in_one_segment() -> None:
    rate = 24000
    pcm = (
        silence(400, rate=rate)
        + speech_burst(600, rate=rate)
        + silence(350, rate=rate)
        + speech_burst(500, rate=rate)
        + silence(800, rate=rate)
    )

    assert_segment(*segment(run(pcm, rate=rate)), 400, 1850)


def test_a_gap_longer_than_silence_duration_splits_the_segments() -> None:
    rate = 24000
    pcm = (
        silence(400, rate=rate)
        + speech_burst(600, rate=rate)
        + silence(700, rate=rate)
        + speech_burst(500, rate=rate)
        + silence(800, rate=rate)
    )

    events = run(pcm, rate=rate)

    assert len(events) == 4
    assert_segment(*segment(events[:2]), 400, 1000)
    assert_segment(*segment(events[2:]), 1700, 2200)


def test_silence_duration_is_configurable() -> None:
    rate = 24000
    pcm = (
        silence(400, rate=rate)
        + speech_burst(600, rate=rate)
        + silence(350, rate=rate)
        + speech_burst(500, rate=rate)
        + silence(800, rate=rate)
    )
    quick = attrs.evolve(SERVER_VAD, silence_duration_ms=200)

    events = run(pcm, rate=rate, config=quick)

    assert len(events) == 4
    assert_segment(*segment(events[:2]), 400, 1000, quick)
    assert_segment(*segment(events[2:]), 1350, 1850, quick)


def test_syllable_dips_below_threshold_do_not_end_speech() -> None:
    rate = 16000
    # Full-depth swells at 3 Hz, four of them, ending on a swell.
    burst = speech_burst(1333, rate=rate, syllable_hz=3.0, depth=1.0)
    frame = 2 * rate // 100
    quiet = [
        level_dbfs(burst[i : i + frame]) < threshold_dbfs(SERVER_VAD.threshold)
        for i in range(0, len(burst) - frame + 1, frame)
    ]
    assert any(quiet[k : k + 4] == [True] * 4 for k in range(len(quiet)))  # >= 40 ms dips
    pcm = silence(300, rate=rate) + burst + silence(800, rate=rate)

    assert_segment(*segment(run(pcm, rate=rate)), 300, 1633)


# --------------------------------------------------------------------------- start_ms and reset


@pytest.mark.parametrize(("encoding", "rate"), [("pcm16", 24000), ("g711_alaw", 8000)])
def test_start_ms_offsets_every_timestamp(encoding: WireEncoding, rate: int) -> None:
    pcm = two_segments(rate)
    offset = 61_000

    plain = run(pcm, encoding=encoding, rate=rate)
    shifted = run(pcm, encoding=encoding, rate=rate, start_ms=float(offset))

    assert shifted == [
        # The first onset (300 ms) is clamped in `plain`; shifted, its padding fits.
        SpeechStarted(
            audio_start_ms=e.onset_ms + offset - SERVER_VAD.prefix_padding_ms,
            onset_ms=e.onset_ms + offset,
        )
        if isinstance(e, SpeechStarted)
        else SpeechStopped(
            audio_end_ms=e.audio_end_ms + offset, speech_end_ms=e.speech_end_ms + offset
        )
        for e in plain
    ]


def test_padding_is_clamped_at_session_start_not_vad_start() -> None:
    rate = 16000
    pcm = silence(150, rate=rate) + speech_burst(600, rate=rate) + silence(600, rate=rate)

    started, _ = segment(run(pcm, rate=rate, start_ms=2000.0))

    assert abs(started.onset_ms - 2150) <= TOLERANCE_MS
    assert started.audio_start_ms == started.onset_ms - SERVER_VAD.prefix_padding_ms


def test_reset_drops_a_reported_segment() -> None:
    rate = 24000
    vad = EnergyVad(SERVER_VAD, encoding="pcm16", sample_rate=rate)
    assert [type(e) for e in vad.feed(silence(500, rate=rate) + speech_burst(600, rate=rate))] == [
        SpeechStarted
    ]
    position = vad.position_ms

    vad.reset()

    assert not vad.in_speech
    assert vad.position_ms == position
    assert vad.feed(silence(1500, rate=rate)) == []


def test_reset_drops_an_unreported_segment() -> None:
    rate = 24000
    vad = EnergyVad(SERVER_VAD, encoding="pcm16", sample_rate=rate)
    assert vad.feed(silence(500, rate=rate) + speech_burst(150, rate=rate)) == []

    vad.reset()

    # 150 + 120 ms would have been enough speech together; after the reset it is not.
    assert vad.feed(speech_burst(120, rate=rate) + silence(1000, rate=rate)) == []


def test_speech_going_on_after_reset_opens_a_new_segment() -> None:
    rate = 24000
    vad = EnergyVad(SERVER_VAD, encoding="pcm16", sample_rate=rate)
    burst = speech_burst(1600, rate=rate)
    first = vad.feed(silence(500, rate=rate) + burst[: 48 * 600])
    vad.reset()
    rest = vad.feed(burst[48 * 600 :] + silence(800, rate=rate))

    assert [type(e) for e in first] == [SpeechStarted]
    assert_segment(*segment(rest), 1100, 2100)


# --------------------------------------------------------------------------- configuration


SEMANTIC_DEFAULTS = VadConfig(
    threshold=0.5, prefix_padding_ms=420, silence_duration_ms=500, speech_duration_ms=80
)


@pytest.mark.parametrize(
    ("td", "expected"),
    [
        (
            {"type": "server_vad"},
            VadConfig(
                threshold=0.5,
                prefix_padding_ms=400,
                silence_duration_ms=500,
                speech_duration_ms=200,
            ),
        ),
        ({}, SERVER_VAD),
        ({"type": "azure_semantic_vad"}, SEMANTIC_DEFAULTS),
        ({"type": "azure_semantic_vad_en"}, SEMANTIC_DEFAULTS),
        ({"type": "azure_semantic_vad_multilingual"}, SEMANTIC_DEFAULTS),
        ({"type": "semantic_vad", "eagerness": "high"}, SEMANTIC_DEFAULTS),
        (
            {"type": "server_vad", "threshold": None, "silence_duration_ms": None},
            SERVER_VAD,
        ),
    ],
)
def test_from_turn_detection_defaults(td: dict[str, Any], expected: VadConfig) -> None:
    assert VadConfig.from_turn_detection(td) == expected


@pytest.mark.parametrize("kind", ["server_vad", "azure_semantic_vad_en"])
def test_from_turn_detection_custom_fields(kind: str) -> None:
    td = {
        "type": kind,
        "threshold": 0.7,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 800,
        "speech_duration_ms": 120,
        "create_response": False,
        "interrupt_response": True,
        "end_of_utterance_detection": None,
        "window_size": 3,
    }

    assert VadConfig.from_turn_detection(td) == VadConfig(
        threshold=0.7, prefix_padding_ms=300, silence_duration_ms=800, speech_duration_ms=120
    )


@pytest.mark.parametrize(
    "td",
    [
        {"type": "none"},
        {"type": 3},
        {"type": "server_vad", "threshold": 1.0},
        {"type": "server_vad", "threshold": 0.0},
        {"type": "server_vad", "threshold": "0.5"},
        {"type": "server_vad", "threshold": True},
        {"type": "server_vad", "prefix_padding_ms": -1},
        {"type": "server_vad", "silence_duration_ms": 300.5},
        {"type": "azure_semantic_vad", "speech_duration_ms": "80"},
    ],
)
def test_from_turn_detection_rejects_invalid_values(td: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"turn_detection|threshold|_ms"):
        VadConfig.from_turn_detection(td)


@pytest.mark.parametrize(
    ("encoding", "rate"),
    [("g711_ulaw", 24000), ("g711_alaw", 16000), ("pcm16", 50), ("opus", 48000)],
)
def test_rejects_formats_it_cannot_time(encoding: Any, rate: int) -> None:
    with pytest.raises(ValueError, match=r"G\.711|sample_rate|encoding"):
        EnergyVad(SERVER_VAD, encoding=encoding, sample_rate=rate)
