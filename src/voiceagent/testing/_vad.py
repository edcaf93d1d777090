"""Energy-based server VAD of the emulator: sans-IO, fed wire audio, returns speech events.

The service segments the appended input audio into speech turns and reports
``input_audio_buffer.speech_started`` / ``speech_stopped`` (protocol reference §4.4, §4.7).
The emulator cannot run the service's neural detector, so :class:`EnergyVad` decides on
loudness alone. It does no I/O and reads no clock: time is *audio* time, bytes fed divided by
bytes per millisecond, counted from the session's first appended byte.

Detection, frame by frame:

* The audio is cut into analysis frames of 10 ms (``sample_rate // 100`` samples, so 9.98 ms at
  22 050 Hz). A frame is *voiced* when its RMS level reaches the level set by ``threshold``.
* A segment opens at the first voiced frame (its *onset*) and collects voiced frames. Once it
  holds ``speech_duration_ms`` of voiced frames it is reported as :class:`SpeechStarted`, stamped
  with the onset, not with the moment it was recognised. A click or a short noise never gets
  that far.
* Unvoiced frames do not end a segment until they have run for ``silence_duration_ms``, so the
  pauses between syllables and words stay inside one turn. This time hysteresis (enter after
  ``speech_duration_ms`` of speech, leave after ``silence_duration_ms`` of silence) is the only
  one: a lower level for staying in speech would let background noise just under the threshold
  hold a turn open for ever. A segment that goes silent before it was reported is dropped
  without an event; a reported one ends with :class:`SpeechStopped`.

Threshold mapping (:func:`threshold_dbfs`): ``threshold`` (0.01 to 1.0, the service's range)
maps linearly to an RMS level in dBFS, ``level = -70 + 60 * threshold``, where 0 dBFS is the RMS
of a full-scale square wave (a full-scale sine is -3 dBFS):

=========  ==========  ==============================================================
threshold  level       effect
=========  ==========  ==============================================================
0.01       -69.4 dBFS  almost anything but digital silence is speech
0.2        -58 dBFS    quiet, distant speech; a noisy room is speech too
0.5        -40 dBFS    default: normal speech (-30 to -12 dBFS RMS) is detected, quiet
                       background noise (-50 dBFS and below) is not
0.8        -22 dBFS    only loud, close speech
0.99       -10.6 dBFS  only near full-scale audio
=========  ==========  ==============================================================

Loudness is measured about each frame's mean (``sum(x*x) - sum(x)**2 / n``), so a constant
signal is silence whatever its value: G.711 zero bytes (a constant -32124 in mu-law, -5504 in
A-law) and a microphone's DC offset are not speech.

Cost: ``sum(frame)`` and one pass of ``sum(map(operator.mul, frame, frame))`` per frame over an
``array('h')``,
on every ``rate // 8000``-th sample (about 8000 samples a second, whatever the rate);
G.711 goes through the table-driven decoder in :mod:`voiceagent._g711`.
"""

from __future__ import annotations

import array
import math
import operator
import sys
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs

from voiceagent._g711 import alaw_decode, ulaw_decode

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["EnergyVad", "SpeechStarted", "SpeechStopped", "VadConfig", "threshold_dbfs"]

FRAME_MS: Final = 10
"""Nominal length of an analysis frame in milliseconds."""

_FLOOR_DBFS: Final = -70.0
_SPAN_DB: Final = 60.0
_FULL_SCALE: Final = 32768.0
_G711_RATE: Final = 8000

# (threshold, prefix_padding_ms, silence_duration_ms, speech_duration_ms), protocol §6.4.
_SERVER_VAD_DEFAULTS: Final = (0.5, 400, 500, 200)
_SEMANTIC_VAD_DEFAULTS: Final = (0.5, 420, 500, 80)


def threshold_dbfs(threshold: float) -> float:
    """The RMS level in dBFS that a 10 ms frame must reach to count as speech.

    The mapping is linear in decibels: ``-70 + 60 * threshold``, so the default 0.5 is
    -40 dBFS and each 0.1 of threshold asks for 6 dB (twice the amplitude) more.

    Args:
        threshold: The ``turn_detection.threshold`` value, 0.01 <= threshold < 1.0.

    Returns:
        The level in dBFS, 0 dBFS being the RMS of a full-scale square wave.
    """
    return _FLOOR_DBFS + _SPAN_DB * threshold


def _check_threshold(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.01 <= value < 1.0:
        raise ValueError(f"{attribute.name} must be a number in [0.01, 1.0), got {value!r}")


def _check_ms(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{attribute.name} must be a non-negative integer, got {value!r}")


@attrs.frozen(kw_only=True)
class VadConfig:
    """The part of a session's ``turn_detection`` that drives :class:`EnergyVad`.

    Raises:
        ValueError: If ``threshold`` is outside [0.01, 1.0) or a duration is not a
            non-negative integer.
    """

    threshold: float = attrs.field(validator=_check_threshold)
    """Loudness needed for speech, mapped to dBFS by :func:`threshold_dbfs`."""
    prefix_padding_ms: int = attrs.field(validator=_check_ms)
    """Audio kept before the onset: ``audio_start_ms`` is the onset minus this."""
    silence_duration_ms: int = attrs.field(validator=_check_ms)
    """Silence that ends a turn; ``audio_end_ms`` is the end of speech plus this."""
    speech_duration_ms: int = attrs.field(validator=_check_ms)
    """Voiced audio a segment needs before its start is reported."""

    @classmethod
    def from_turn_detection(cls, td: Mapping[str, Any]) -> VadConfig:
        """Build the configuration from a session's ``turn_detection`` object.

        Fields that are missing or ``null`` take the defaults of the detector type (protocol
        §6.4): ``server_vad`` 0.5 / 400 / 500 / 200 ms and ``azure_semantic_vad*`` 0.5 / 420 /
        500 / 80 ms (threshold, prefix padding, silence, speech duration). OpenAI's
        ``semantic_vad`` has none of these fields and gets the ``azure_semantic_vad`` defaults;
        its ``eagerness`` is ignored, as an energy detector has no sense of a finished
        sentence. A missing ``type`` means ``server_vad``. Other keys are ignored.

        Args:
            td: The ``turn_detection`` dict as it stands in the session.

        Returns:
            The configuration.

        Raises:
            ValueError: If the type is not a VAD type or a field value is invalid.
        """
        kind = td.get("type") or "server_vad"
        if kind == "server_vad":
            defaults = _SERVER_VAD_DEFAULTS
        elif kind == "semantic_vad" or (
            isinstance(kind, str) and kind.startswith("azure_semantic_vad")
        ):
            defaults = _SEMANTIC_VAD_DEFAULTS
        else:
            raise ValueError(f"turn_detection type {kind!r} is not a voice activity detector")
        names = ("threshold", "prefix_padding_ms", "silence_duration_ms", "speech_duration_ms")
        values: dict[str, Any] = {
            name: default if td.get(name) is None else td[name]
            for name, default in zip(names, defaults, strict=True)
        }
        return cls(**values)


@attrs.frozen
class SpeechStarted:
    """The detector heard speech begin: ``input_audio_buffer.speech_started``."""

    audio_start_ms: int
    """Session-cumulative ms of the onset minus ``prefix_padding_ms``, clamped at 0."""
    onset_ms: int
    """Session-cumulative ms of the onset itself, the start of the first voiced frame."""


@attrs.frozen
class SpeechStopped:
    """The detector heard speech end: ``input_audio_buffer.speech_stopped``."""

    audio_end_ms: int
    """Session-cumulative ms of the end of speech plus ``silence_duration_ms`` (§4.4)."""
    speech_end_ms: int
    """Session-cumulative ms of the end of speech, the end of the last voiced frame."""


class EnergyVad:
    """Server VAD over one input audio stream, deciding on frame loudness.

    Feed it every appended byte in order; it returns the speech events each chunk completes.
    Timestamps are session-cumulative milliseconds of audio.

    Args:
        config: Thresholds and durations, usually from
            :meth:`VadConfig.from_turn_detection`.
        encoding: Wire encoding of the input audio.
        sample_rate: Samples per second; G.711 is always 8000.
        start_ms: Session audio position when this detector starts (turn detection can be
            switched on, or reconfigured, mid-session).

    Raises:
        ValueError: If the encoding is unknown or the rate does not fit it.
    """

    def __init__(
        self,
        config: VadConfig,
        *,
        encoding: Literal["pcm16", "g711_ulaw", "g711_alaw"],
        sample_rate: int,
        start_ms: float = 0.0,
    ) -> None:
        decode: Callable[[bytes | bytearray | memoryview], bytes] | None
        if encoding == "pcm16":
            decode, width = None, 2
        elif encoding in ("g711_ulaw", "g711_alaw"):
            decode, width = (ulaw_decode if encoding == "g711_ulaw" else alaw_decode), 1
            if sample_rate != _G711_RATE:
                raise ValueError(f"G.711 audio is 8000 Hz, got sample_rate={sample_rate}")
        else:
            raise ValueError(f"unknown input audio encoding {encoding!r}")
        if sample_rate < 100:
            raise ValueError(f"sample_rate must be at least 100 Hz, got {sample_rate}")
        self._config = config
        self._decode = decode
        self._frame_samples = sample_rate * FRAME_MS // 1000
        self._frame_bytes = self._frame_samples * width
        self._bytes_per_ms = sample_rate * width / 1000
        self._ms_per_frame = self._frame_samples * 1000 / sample_rate
        level = threshold_dbfs(config.threshold)
        # Compare sums of squares, not RMS, so the hot loop needs no sqrt or division.
        # Energy is measured on every ``stride``-th sample, about 8000 a second whatever the
        # rate: plenty for a loudness estimate, and a third of the work at 24 kHz.
        self._stride = max(1, sample_rate // 8000)
        used = len(range(0, self._frame_samples, self._stride))
        self._used = used
        self._min_energy = used * _FULL_SCALE**2 * 10 ** (level / 10)
        self._start_frames = max(1, math.ceil(config.speech_duration_ms / self._ms_per_frame))
        self._stop_frames = max(1, math.ceil(config.silence_duration_ms / self._ms_per_frame))
        self._start_ms = start_ms
        self._bytes_fed = 0
        self._carry = b""  # bytes of an incomplete frame, analysed once it is complete
        self._frames = 0  # complete frames analysed
        self._onset: int | None = None  # first voiced frame of the open segment
        self._last_voiced = 0  # last voiced frame of the open segment
        self._voiced = 0  # voiced frames in the open segment, counted until it is reported
        self._started = False  # SpeechStarted reported for the open segment

    @property
    def position_ms(self) -> float:
        """Session-cumulative ms of audio fed so far, including an incomplete frame."""
        return self._start_ms + self._bytes_fed / self._bytes_per_ms

    @property
    def in_speech(self) -> bool:
        """Whether a :class:`SpeechStarted` was reported and its :class:`SpeechStopped` not yet."""
        return self._started

    def reset(self) -> None:
        """Forget the open segment, reported or not, without an event; keep the position.

        Call it when the client clears or commits the input buffer. Speech that goes on
        after the reset opens a new segment, with its own :class:`SpeechStarted`.
        """
        self._onset = None
        self._voiced = 0
        self._started = False

    def feed(self, data: bytes | bytearray | memoryview) -> list[SpeechStarted | SpeechStopped]:
        """Analyse the next chunk of input audio.

        Args:
            data: Wire bytes of any length (any bytes-like object); an incomplete frame (or an
                odd trailing pcm16 byte) is kept and completed by the next call.

        Returns:
            The events this chunk completes, in order; usually none.
        """
        self._bytes_fed += len(data)
        buffered = self._carry + data if self._carry else data
        whole = len(buffered) - len(buffered) % self._frame_bytes
        self._carry = bytes(buffered[whole:])
        if not whole:
            return []
        raw = buffered[:whole]
        samples = array.array("h")
        samples.frombytes(self._decode(raw) if self._decode else raw)
        if sys.byteorder == "big":
            samples.byteswap()
        events: list[SpeechStarted | SpeechStopped] = []
        step, min_energy, mul = self._frame_samples, self._min_energy, operator.mul
        stride, used = self._stride, self._used
        for offset in range(0, len(samples), step):
            frame = samples[offset : offset + step : stride]
            # Energy about the frame's mean: a constant (DC) signal carries no speech. G.711
            # zero bytes decode to a constant -32124 (mu-law) or -5504 (A-law), and a
            # microphone's DC offset would otherwise read as loud speech.
            total = sum(frame)
            energy = sum(map(mul, frame, frame)) - total * total / used
            self._advance(energy >= min_energy, events)
        return events

    def _advance(self, voiced: bool, events: list[SpeechStarted | SpeechStopped]) -> None:
        index = self._frames
        self._frames += 1
        if voiced:
            if self._onset is None:
                self._onset, self._voiced = index, 0
            self._last_voiced = index
            if not self._started:
                self._voiced += 1
                if self._voiced >= self._start_frames:
                    self._started = True
                    events.append(self._speech_started(self._onset))
        elif self._onset is not None and index - self._last_voiced >= self._stop_frames:
            if self._started:
                events.append(self._speech_stopped(self._last_voiced + 1))
            self.reset()

    def _frame_ms(self, index: int) -> int:
        return round(self._start_ms + index * self._ms_per_frame)

    def _speech_started(self, onset: int) -> SpeechStarted:
        onset_ms = self._frame_ms(onset)
        return SpeechStarted(
            audio_start_ms=max(0, onset_ms - self._config.prefix_padding_ms), onset_ms=onset_ms
        )

    def _speech_stopped(self, end: int) -> SpeechStopped:
        end_ms = self._frame_ms(end)
        return SpeechStopped(
            audio_end_ms=end_ms + self._config.silence_duration_ms, speech_end_ms=end_ms
        )
