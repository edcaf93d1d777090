"""Streaming format conversion: G.711 coding, channel mixing, resampling, re-framing.

A :class:`Converter` turns one stream from one format into another, chunk by chunk. It
keeps state across chunks (a partial sample, the soxr resampler's filter memory), so how
the stream is cut into chunks makes no click and no drift: the output of any split is the
output of one big chunk, to within rounding.

The identity conversion and G.711 ⇄ pcm16 at the same rate and channel count are pure
Python; resampling and channel mixing use numpy and soxr, from the ``audio`` extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

from .. import _g711
from ..errors import AudioError, ConfigurationError, MissingExtraError
from ._format import AudioFormat, Encoding

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from ._protocols import AudioSource

__all__ = ["Converter", "FrameStream", "Reframer", "converted"]

_DECODE: Final[dict[Encoding, Callable[[bytes], bytes]]] = {
    Encoding.G711_ULAW: _g711.ulaw_decode,
    Encoding.G711_ALAW: _g711.alaw_decode,
}
_ENCODE: Final[dict[Encoding, Callable[[bytes], bytes]]] = {
    Encoding.G711_ULAW: _g711.ulaw_encode,
    Encoding.G711_ALAW: _g711.alaw_encode,
}
RESAMPLER_QUALITY: Final = "HQ"
"""soxr quality recipe: high quality (20-bit precision, 95% bandwidth), ample for speech."""


def _import_extra(purpose: str) -> tuple[Any, Any]:
    """numpy and soxr, or a :class:`MissingExtraError` saying what needs them."""
    try:
        numpy = importlib.import_module("numpy")
        soxr = importlib.import_module("soxr")
    except ImportError as exc:
        raise MissingExtraError(
            f"{purpose} needs numpy and soxr, which voiceagent depends on, but {exc.name} "
            "cannot be imported: reinstall voiceagent (pip install --force-reinstall voiceagent)"
        ) from exc
    return numpy, soxr


class _NumpyCodec:
    """Vectorised G.711 tables for the numpy path (same bytes as :mod:`voiceagent._g711`)."""

    def __init__(self, np: Any) -> None:
        self.decode = {
            Encoding.G711_ULAW: np.frombuffer(_g711.ulaw_decode(bytes(range(256))), "<i2"),
            Encoding.G711_ALAW: np.frombuffer(_g711.alaw_decode(bytes(range(256))), "<i2"),
        }
        self.encode = {
            Encoding.G711_ULAW: np.frombuffer(_g711._ulaw_table(), np.uint8),
            Encoding.G711_ALAW: np.frombuffer(_g711._alaw_table(), np.uint8),
        }


class Converter:
    """Converts one stream of audio from ``src`` to ``dst`` format, chunk by chunk.

    Use one converter per stream and direction: it keeps the resampler's state and any
    partial sample between calls. Channels are mixed as follows: many to mono averages the
    channels; mono to many copies the channel; many to a different many averages to mono,
    then copies.

    Args:
        src: The format of the bytes given to :meth:`convert`.
        dst: The format of the bytes it returns.

    Raises:
        MissingExtraError: If the conversion changes the sample rate or the channel count
            and numpy or soxr cannot be imported (a broken install: both are dependencies).
    """

    def __init__(self, src: AudioFormat, dst: AudioFormat) -> None:
        self._src = src
        self._dst = dst
        self._pending = b""
        self._np: Any = None
        self._soxr: Any = None
        self._codec: _NumpyCodec | None = None
        self._stream: Any = None
        # Channels are resampled as they are, or mixed to mono first when the count changes.
        self._mix_channels = src.channels if src.channels == dst.channels else 1
        self._identity = src == dst
        if self.needs_extra:
            self._np, self._soxr = _import_extra(f"converting {src} to {dst}")
            self._codec = _NumpyCodec(self._np)

    @property
    def src(self) -> AudioFormat:
        """The input format."""
        return self._src

    @property
    def dst(self) -> AudioFormat:
        """The output format."""
        return self._dst

    @property
    def is_identity(self) -> bool:
        """Whether the formats are equal, so bytes pass through unchanged."""
        return self._identity

    @property
    def needs_extra(self) -> bool:
        """Whether this conversion resamples or mixes channels (numpy and soxr)."""
        return (
            self._src.sample_rate != self._dst.sample_rate
            or self._src.channels != self._dst.channels
        )

    def convert(self, data: bytes | bytearray | memoryview) -> bytes:
        """Convert the next chunk of the stream.

        Args:
            data: Any number of bytes in :attr:`src` format; a sample cut at the end is
                kept for the next call.

        Returns:
            The converted audio available so far (the resampler holds back a few
            milliseconds until :meth:`flush`).
        """
        if self._identity:
            return bytes(data)
        if self._pending:
            data = self._pending + bytes(data)
        cut = self._src.align(len(data))
        self._pending = bytes(data[cut:])
        whole = bytes(data[:cut])
        if not whole:
            return b""
        if self._np is None:
            return self._convert_pure(whole)
        return self._convert_numpy(whole, last=False)

    def flush(self) -> bytes:
        """End the stream: return what the resampler still holds, and reset.

        After a flush the converter is ready for a new stream.

        Returns:
            The last converted bytes (``b""`` if there are none).

        Raises:
            AudioError: If the stream ended in the middle of a sample.
        """
        pending, self._pending = self._pending, b""
        if pending:
            self._stream = None
            raise AudioError(
                f"the audio stream ended with {len(pending)} stray byte(s), not a whole "
                f"{self._src} sample ({self._src.block_align} bytes)"
            )
        if self._np is None or self._stream is None:
            return b""
        out = self._convert_numpy(b"", last=True)
        self._stream = None
        return out

    def _convert_pure(self, data: bytes) -> bytes:
        src, dst = self._src.encoding, self._dst.encoding
        pcm = data if src is Encoding.PCM16 else _DECODE[src](data)
        return pcm if dst is Encoding.PCM16 else _ENCODE[dst](pcm)

    def _convert_numpy(self, data: bytes, *, last: bool) -> bytes:
        np = self._np
        assert self._codec is not None
        src, dst = self._src, self._dst
        if src.encoding is Encoding.PCM16:
            samples = np.frombuffer(data, "<i2")
        else:
            samples = self._codec.decode[src.encoding][np.frombuffer(data, np.uint8)]
        x = samples.reshape(-1, src.channels).astype(np.float32)
        if x.shape[1] != self._mix_channels:
            x = x.mean(axis=1, dtype=np.float32, keepdims=True)
        if src.sample_rate != dst.sample_rate:
            if self._stream is None:
                self._stream = self._soxr.ResampleStream(
                    src.sample_rate,
                    dst.sample_rate,
                    x.shape[1],
                    dtype="float32",
                    quality=RESAMPLER_QUALITY,
                )
            x = self._stream.resample_chunk(np.ascontiguousarray(x), last=last)
        if x.shape[1] != dst.channels:
            x = np.repeat(x, dst.channels, axis=1)
        pcm = np.clip(np.rint(x), -32768, 32767).astype("<i2").reshape(-1)
        if dst.encoding is Encoding.PCM16:
            return bytes(pcm.tobytes())
        return bytes(self._codec.encode[dst.encoding][pcm.view(np.uint16)].tobytes())


class Reframer:
    """Re-chunks a byte stream into frames of exactly ``frame_bytes`` bytes.

    No byte is lost or added: the frames from every :meth:`push`, then :meth:`flush`,
    concatenate to exactly the bytes pushed.

    Args:
        frame_bytes: The size of each frame, ``> 0``.

    Raises:
        ConfigurationError: If ``frame_bytes`` is not a positive int.
    """

    def __init__(self, frame_bytes: int) -> None:
        if isinstance(frame_bytes, bool) or not isinstance(frame_bytes, int) or frame_bytes <= 0:
            raise ConfigurationError(f"frame_bytes must be a positive int, got {frame_bytes!r}")
        self._frame_bytes = frame_bytes
        self._buffer = bytearray()

    @property
    def frame_bytes(self) -> int:
        """The size of each frame."""
        return self._frame_bytes

    @property
    def buffered(self) -> int:
        """Bytes pushed but not yet returned."""
        return len(self._buffer)

    def push(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Add ``data``; return every complete frame now available, in order."""
        buffer = self._buffer
        size = self._frame_bytes
        if not buffer and len(data) == size:  # the common case: frames already that size
            return [data if isinstance(data, bytes) else bytes(data)]
        buffer += data
        if len(buffer) < size:
            return []
        end = len(buffer) - len(buffer) % size
        view = memoryview(buffer)
        try:
            frames = [bytes(view[i : i + size]) for i in range(0, end, size)]
        finally:
            view.release()
        del buffer[:end]
        return frames

    def flush(self) -> bytes:
        """Return the remainder (shorter than a frame; ``b""`` if none) and empty the buffer."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        return rest


class FrameStream:
    """A :class:`Converter` and a :class:`Reframer` together: chunks of one stream in,
    frames of exactly ``frame_ms`` in ``dst`` out (the last may be shorter).

    It is what :func:`converted` does, without the async iteration, for a caller that reads
    the source itself: a chunk already in ``dst`` and a frame long goes through as it is,
    with no copy and no buffering (the common case of a source that produces the wire's
    frames).

    Args:
        src: The format of the chunks given to :meth:`push`.
        dst: The format of the frames returned.
        frame_ms: The duration of each frame, ``> 0``.

    Raises:
        ConfigurationError: If ``frame_ms`` is not positive.
        MissingExtraError: If the conversion needs numpy/soxr and they are missing.
    """

    def __init__(self, src: AudioFormat, dst: AudioFormat, *, frame_ms: float = 20) -> None:
        if not frame_ms > 0:
            raise ConfigurationError(f"frame_ms must be > 0, got {frame_ms!r}")
        self._converter = Converter(src, dst)
        self._reframer = Reframer(max(dst.bytes_for_ms(frame_ms), dst.block_align))
        self._passthrough = self._converter.is_identity
        self._frame_bytes = self._reframer.frame_bytes

    def push(self, chunk: bytes | bytearray | memoryview) -> list[bytes]:
        """Add the next chunk; return every complete frame now available, in order."""
        if (
            self._passthrough
            and type(chunk) is bytes
            and len(chunk) == self._frame_bytes
            and not self._reframer.buffered
        ):
            return [chunk]
        return self._reframer.push(self._converter.convert(chunk))

    def end(self) -> list[bytes]:
        """End the stream: the frames still held, the last one possibly shorter.

        Raises:
            AudioError: If the stream ended in the middle of a sample.
        """
        frames = self._reframer.push(self._converter.flush())
        rest = self._reframer.flush()
        dst = self._converter.dst
        if not dst.is_aligned(len(rest)):  # only a pass-through lets a cut sample get here
            raise AudioError(
                f"the audio stream ended with {len(rest) % dst.block_align} stray byte(s), "
                f"not a whole {dst} sample ({dst.block_align} bytes)"
            )
        if rest:
            frames.append(rest)
        return frames


async def converted(
    source: AudioSource, dst: AudioFormat, *, frame_ms: float = 20
) -> AsyncIterator[bytes]:
    """The audio of ``source`` in format ``dst``, in frames of ``frame_ms`` milliseconds.

    Every frame but the last is exactly ``dst.bytes_for_ms(frame_ms)`` bytes; the last may
    be shorter. The source's iterator is closed when this generator ends or is closed.

    Args:
        source: Any :class:`~voiceagent.audio.AudioSource`.
        dst: The format to produce.
        frame_ms: The duration of each frame, ``> 0``.

    Yields:
        Frames of whole samples in ``dst``.

    Raises:
        ConfigurationError: If ``frame_ms`` is not positive.
        MissingExtraError: If the conversion needs numpy/soxr and they are missing.
        AudioError: If the source ends in the middle of a sample.
    """
    stream = FrameStream(source.format, dst, frame_ms=frame_ms)
    iterator = source.__aiter__()
    try:
        async for chunk in iterator:
            for frame in stream.push(chunk):
                yield frame
        for frame in stream.end():
            yield frame
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
