"""Audio formats: encoding, sample rate and channels, and the Voice Live wire formats.

Voice Live accepts input and produces output in a small set of formats (protocol reference
§6.2, and the SDK's ``input_audio_sampling_rate`` / ``OutputAudioFormat`` docs): pcm16 mono
at 8, 16 or 24 kHz and G.711 μ-law or A-law mono at 8 kHz. :class:`AudioFormat` describes any
format an application's audio might be in; :func:`wire_format_for` picks the wire format a
session uses for it.
"""

from __future__ import annotations

import enum
import re
from typing import Any, Final

import attrs

from ..errors import AudioError

__all__ = ["AudioFormat", "Encoding", "wire_format_for"]


class Encoding(enum.Enum):
    """How samples are encoded."""

    PCM16 = "pcm16"
    """Signed 16-bit little-endian linear PCM."""
    G711_ULAW = "g711_ulaw"
    """ITU-T G.711 μ-law, one byte a sample."""
    G711_ALAW = "g711_alaw"
    """ITU-T G.711 A-law, one byte a sample."""


WIRE_PCM16_RATES: Final = (8000, 16000, 24000)
"""Sample rates Voice Live takes and produces for pcm16 (input and output)."""
G711_RATE: Final = 8000
MAX_CHANNELS: Final = 8
_PCM16_RATE_NAME: Final = re.compile(r"pcm16[_-](\d+)hz")
_SILENCE_BYTE: Final = {Encoding.PCM16: 0x00, Encoding.G711_ULAW: 0xFF, Encoding.G711_ALAW: 0xD5}


def _check_encoding(instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, Encoding):
        allowed = ", ".join(f"Encoding.{e.name}" for e in Encoding)
        raise AudioError(f"audio encoding must be one of {allowed}, got {value!r}")


def _check_rate(instance: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise AudioError(f"sample_rate must be a positive int (Hz), got {value!r}")


def _check_channels(instance: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CHANNELS:
        raise AudioError(f"channels must be an int from 1 to {MAX_CHANNELS}, got {value!r}")


@attrs.frozen(kw_only=True)
class AudioFormat:
    """The format of a stream of audio bytes.

    A *sample* here is one instant of audio across all channels (what WAV calls a block):
    :attr:`block_align` bytes. Frames passed between sources, sinks and the session always
    hold whole samples.

    Attributes:
        encoding: How each sample is encoded. G.711 is always 8000 Hz.
        sample_rate: Samples per second, in Hz.
        channels: Interleaved channels, 1 to 8.

    Raises:
        AudioError: If a field is out of range or G.711 is given a rate other than 8000 Hz.
    """

    encoding: Encoding = attrs.field(default=Encoding.PCM16, validator=_check_encoding)
    sample_rate: int = attrs.field(default=24000, validator=_check_rate)
    channels: int = attrs.field(default=1, validator=_check_channels)

    def __attrs_post_init__(self) -> None:
        if self.encoding is not Encoding.PCM16 and self.sample_rate != G711_RATE:
            raise AudioError(
                f"{self.encoding.value} audio is always {G711_RATE} Hz, got sample_rate="
                f"{self.sample_rate}"
            )

    def __str__(self) -> str:
        layout = {1: "mono", 2: "stereo"}.get(self.channels, f"{self.channels} channels")
        return f"{self.encoding.value} {self.sample_rate} Hz {layout}"

    @property
    def sample_width(self) -> int:
        """Bytes of one channel's sample: 2 for pcm16, 1 for G.711."""
        return 2 if self.encoding is Encoding.PCM16 else 1

    @property
    def block_align(self) -> int:
        """Bytes of one sample across all channels (``sample_width * channels``)."""
        return self.sample_width * self.channels

    @property
    def bytes_per_second(self) -> int:
        """Bytes of one second of audio."""
        return self.block_align * self.sample_rate

    @property
    def bytes_per_ms(self) -> float:
        """Bytes of one millisecond of audio (pcm16 24 kHz mono: 48.0; G.711: 8.0)."""
        return self.bytes_per_second / 1000

    @property
    def silence_byte(self) -> int:
        """The byte value that encodes silence (0 for pcm16, 0xFF μ-law, 0xD5 A-law)."""
        return _SILENCE_BYTE[self.encoding]

    def bytes_for_ms(self, ms: float) -> int:
        """Bytes of whole samples closest to ``ms`` milliseconds (half a sample rounds up).

        Args:
            ms: A duration in milliseconds, ``>= 0``.

        Returns:
            A multiple of :attr:`block_align`.

        Raises:
            AudioError: If ``ms`` is negative.
        """
        if ms < 0:
            raise AudioError(f"a duration cannot be negative, got {ms} ms")
        return int(ms * self.sample_rate / 1000 + 0.5) * self.block_align

    def ms_for_bytes(self, nbytes: int) -> float:
        """The duration of ``nbytes`` bytes of audio, in milliseconds."""
        return nbytes * 1000 / self.bytes_per_second

    def samples_for_bytes(self, nbytes: int) -> int:
        """Whole samples in ``nbytes`` bytes (a trailing partial sample is not counted)."""
        return nbytes // self.block_align

    def align(self, nbytes: int) -> int:
        """``nbytes`` rounded down to whole samples."""
        return nbytes - nbytes % self.block_align

    def is_aligned(self, nbytes: int) -> bool:
        """Whether ``nbytes`` bytes hold whole samples only."""
        return nbytes % self.block_align == 0

    def silence(self, ms: float) -> bytes:
        """``ms`` milliseconds of silence in this format."""
        return bytes([self.silence_byte]) * self.bytes_for_ms(ms)

    @property
    def is_wire_native(self) -> bool:
        """Whether Voice Live takes and produces this format as is (no conversion needed).

        That is pcm16 mono at 8000, 16000 or 24000 Hz, or G.711 μ-law/A-law mono (8000 Hz),
        for input (``input_audio_format`` + ``input_audio_sampling_rate``) and for output
        (``output_audio_format``) alike.
        """
        if self.channels != 1:
            return False
        return self.encoding is not Encoding.PCM16 or self.sample_rate in WIRE_PCM16_RATES

    def to_wire(self) -> tuple[str, int]:
        """The session's input settings for this format.

        Returns:
            ``(input_audio_format, input_audio_sampling_rate)``, e.g. ``("pcm16", 24000)``
            or ``("g711_ulaw", 8000)``.

        Raises:
            AudioError: If the format is not one Voice Live takes natively (see
                :attr:`is_wire_native`; convert with :func:`wire_format_for`).
        """
        self._require_native()
        return str(self.encoding.value), self.sample_rate

    def to_output_wire(self) -> str:
        """The session's ``output_audio_format`` for this format.

        Returns:
            ``"pcm16"`` (24 kHz), ``"pcm16_16000hz"``, ``"pcm16_8000hz"``, ``"g711_ulaw"``
            or ``"g711_alaw"``.

        Raises:
            AudioError: If the format is not one Voice Live produces natively.
        """
        self._require_native()
        if self.encoding is not Encoding.PCM16:
            return str(self.encoding.value)
        return "pcm16" if self.sample_rate == 24000 else f"pcm16_{self.sample_rate}hz"

    def _require_native(self) -> None:
        if not self.is_wire_native:
            raise AudioError(
                f"{self} is not a Voice Live wire format (pcm16 mono at 8000, 16000 or 24000 "
                "Hz, or g711_ulaw/g711_alaw mono at 8000 Hz); convert it first"
            )

    @classmethod
    def from_wire(cls, wire: str, sample_rate: int | None = None) -> AudioFormat:
        """The format named by a Voice Live audio format setting.

        Args:
            wire: An ``input_audio_format`` or ``output_audio_format`` value: ``"pcm16"``,
                ``"pcm16_16000hz"`` (also the legacy ``"pcm16-16000hz"``), ``"g711_ulaw"``,
                ``"g711_alaw"``; an SDK enum member works too.
            sample_rate: ``input_audio_sampling_rate``, if known. Default: the rate the
                name implies (24000 for ``"pcm16"``, 8000 for G.711).

        Returns:
            A mono format.

        Raises:
            AudioError: If the name is unknown or contradicts ``sample_rate``.
        """
        name = wire.value if isinstance(wire, enum.Enum) else wire
        if not isinstance(name, str):
            raise AudioError(f"an audio format name must be a string, got {wire!r}")
        match = _PCM16_RATE_NAME.fullmatch(name)
        if match:
            implied = int(match.group(1))
            if sample_rate is not None and sample_rate != implied:
                raise AudioError(
                    f"audio format {name!r} is {implied} Hz, but sample_rate={sample_rate}"
                )
            return cls(encoding=Encoding.PCM16, sample_rate=implied)
        try:
            encoding = Encoding(name)
        except ValueError:
            allowed = "'pcm16', 'pcm16_<rate>hz', 'g711_ulaw', 'g711_alaw'"
            raise AudioError(f"unknown audio format {name!r}; expected one of {allowed}") from None
        default = 24000 if encoding is Encoding.PCM16 else G711_RATE
        return cls(encoding=encoding, sample_rate=default if sample_rate is None else sample_rate)


def wire_format_for(fmt: AudioFormat) -> AudioFormat:
    """The wire format a session should use for a source or sink of format ``fmt``.

    ``fmt`` itself when Voice Live takes it natively, so no conversion happens. Otherwise
    pcm16 mono at the lowest wire rate that is at least ``fmt``'s rate (8000, 16000, or
    24000 for anything above 16 kHz): no detail is lost and as little as possible is
    resampled. A G.711 stream with several channels becomes pcm16 mono 8 kHz.

    Args:
        fmt: The format of the application's source or sink.

    Returns:
        A format for which :attr:`AudioFormat.is_wire_native` is true.
    """
    if fmt.is_wire_native:
        return fmt
    rate = next((r for r in WIRE_PCM16_RATES if r >= fmt.sample_rate), WIRE_PCM16_RATES[-1])
    return AudioFormat(encoding=Encoding.PCM16, sample_rate=rate, channels=1)
