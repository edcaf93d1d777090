"""WAV files: :class:`WavFileSource` reads one, :class:`WavFileSink` writes one.

The RIFF parsing is voiceagent's own rather than the stdlib :mod:`wave`'s, so that every
bad file gets an error naming the file and the problem, WAVE_FORMAT_EXTENSIBLE and G.711
files work on every Python version, and a file whose writer crashed before fixing its
header still reads.
"""

from __future__ import annotations

import contextlib
import os
import struct
from typing import IO, TYPE_CHECKING, Final

import anyio
import anyio.lowlevel
import anyio.to_thread
import attrs

from ..errors import AudioError, ConfigurationError
from ._convert import Converter
from ._format import MAX_CHANNELS, AudioFormat, Encoding
from ._pacing import Pacer, check_frame_ms
from ._protocols import AudioSinkBase, AudioSourceBase

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["WavFileSink", "WavFileSource", "WavInfo", "read_wav_info"]

_PCM: Final = 0x0001
_FLOAT: Final = 0x0003
_ALAW: Final = 0x0006
_MULAW: Final = 0x0007
_EXTENSIBLE: Final = 0xFFFE
_TAGS: Final = {_PCM: Encoding.PCM16, _ALAW: Encoding.G711_ALAW, _MULAW: Encoding.G711_ULAW}
_UNKNOWN_SIZE: Final = 0xFFFFFFFF
_READ_BLOCK_MS: Final = 1000  # file reads happen in a worker thread, about a second at a time


@attrs.frozen(kw_only=True)
class WavInfo:
    """What a WAV file's header says, as :func:`read_wav_info` understood it.

    Attributes:
        format: The format of the samples.
        data_offset: Where the samples start in the file.
        data_bytes: Bytes of whole samples available (a truncated file counts what is there).
    """

    format: AudioFormat
    data_offset: int
    data_bytes: int

    @property
    def duration_ms(self) -> float:
        """The duration of the audio."""
        return self.format.ms_for_bytes(self.data_bytes)


def _bad(path: str | os.PathLike[str], problem: str) -> AudioError:
    return AudioError(f"WAV file {os.fspath(path)!r}: {problem}")


def _parse_fmt(path: str | os.PathLike[str], body: bytes) -> AudioFormat:
    if len(body) < 16:
        raise _bad(path, f"the 'fmt ' chunk is {len(body)} bytes, shorter than 16")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == _EXTENSIBLE:
        if len(body) < 40:
            raise _bad(path, "WAVE_FORMAT_EXTENSIBLE header is shorter than 40 bytes")
        tag = struct.unpack("<H", body[24:26])[0]  # first two bytes of the sub-format GUID
    if tag == _FLOAT:
        raise _bad(
            path,
            f"{bits}-bit floating-point samples are not supported; voiceagent reads 16-bit "
            "PCM or 8-bit G.711 (convert with e.g. `sox in.wav -b 16 out.wav`)",
        )
    if tag not in _TAGS:
        raise _bad(
            path,
            f"compressed audio (format tag 0x{tag:04x}) is not supported; voiceagent reads "
            "16-bit PCM or 8-bit G.711 μ-law/A-law",
        )
    encoding = _TAGS[tag]
    want_bits = 16 if encoding is Encoding.PCM16 else 8
    if bits != want_bits:
        kind = "PCM" if encoding is Encoding.PCM16 else encoding.value
        raise _bad(
            path,
            f"{bits}-bit {kind} samples are not supported; voiceagent reads 16-bit PCM or "
            "8-bit G.711 (convert with e.g. `sox in.wav -b 16 out.wav`)",
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise _bad(path, f"{channels} channels are not supported (1 to {MAX_CHANNELS})")
    if encoding is not Encoding.PCM16 and rate != 8000:
        raise _bad(path, f"G.711 audio at {rate} Hz is not supported (only 8000 Hz)")
    if rate == 0:
        raise _bad(path, "the header gives a sample rate of 0 Hz")
    fmt = AudioFormat(encoding=encoding, sample_rate=rate, channels=channels)
    if block_align != fmt.block_align:
        raise _bad(
            path,
            f"inconsistent header: block align {block_align}, but {channels} channel(s) of "
            f"{bits} bits need {fmt.block_align}",
        )
    return fmt


def _parse(path: str | os.PathLike[str], f: IO[bytes]) -> WavInfo:
    f.seek(0, os.SEEK_END)
    size = f.tell()
    f.seek(0)
    head = f.read(12)
    if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in (b"RIFF", b"RF64"):
        raise _bad(path, "not a WAV file (no RIFF/WAVE header)")
    if head[:4] == b"RF64":
        raise _bad(path, "RF64 (WAV over 4 GiB) files are not supported")
    fmt: AudioFormat | None = None
    pos = 12
    while pos + 8 <= size:
        f.seek(pos)
        chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
        body_at = pos + 8
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(path, f.read(min(chunk_size, 64)))
        elif chunk_id == b"data":
            if fmt is None:
                raise _bad(path, "the 'data' chunk comes before the 'fmt ' chunk")
            available = size - body_at
            # Writers that crashed or stream leave the size at 0 or 0xFFFFFFFF, or too big.
            unknown = chunk_size in (0, _UNKNOWN_SIZE) or chunk_size > available
            nbytes = available if unknown else chunk_size
            return WavInfo(format=fmt, data_offset=body_at, data_bytes=fmt.align(nbytes))
        pos = body_at + chunk_size + (chunk_size & 1)
    if fmt is None:
        raise _bad(path, "no 'fmt ' chunk (truncated or not a WAV file)")
    raise _bad(path, "no 'data' chunk (truncated file?)")


def read_wav_info(path: str | os.PathLike[str]) -> WavInfo:
    """Read and check a WAV file's header.

    Supported: 16-bit PCM (plain or WAVE_FORMAT_EXTENSIBLE) at any rate with 1 to 8
    channels, and 8-bit G.711 μ-law/A-law at 8000 Hz.

    Args:
        path: The file.

    Returns:
        The format and where the samples are.

    Raises:
        AudioError: If the file cannot be opened, is not a WAV file, or holds audio voiceagent
            does not read; the message names the file and the problem.
    """
    try:
        with open(path, "rb") as f:
            return _parse(path, f)
    except OSError as exc:
        raise _bad(path, f"cannot be read: {exc.strerror or exc}") from exc
    except struct.error as exc:
        raise _bad(path, "truncated header") from exc


class WavFileSource(AudioSourceBase):
    """Audio from a WAV file (see :func:`read_wav_info` for what it reads).

    The header is read when the source is created, so a bad file fails early. Each
    iteration reads the file from the start; reading happens in a worker thread, about a
    second of audio at a time.

    Args:
        path: The WAV file.
        realtime: Deliver frames at real-time pace, as a microphone would.
        trailing_silence_ms: Silence appended after the file's audio, so that server VAD
            hears the end of speech.
        frame_ms: The duration of each frame (the last audio frame may be shorter).

    Raises:
        AudioError: If the file is missing, unreadable or unsupported.
        ConfigurationError: If ``frame_ms`` is not positive or ``trailing_silence_ms``
            negative.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        realtime: bool = False,
        trailing_silence_ms: float = 0,
        frame_ms: float = 20,
    ) -> None:
        if not trailing_silence_ms >= 0:
            raise ConfigurationError(
                f"trailing_silence_ms must be >= 0, got {trailing_silence_ms!r}"
            )
        self._path = path
        self._info = read_wav_info(path)
        fmt = self._info.format
        self._frame_bytes = max(fmt.bytes_for_ms(check_frame_ms(frame_ms)), fmt.block_align)
        self._silence_bytes = fmt.bytes_for_ms(trailing_silence_ms)
        self._realtime = realtime

    @property
    def format(self) -> AudioFormat:
        """The file's format."""
        return self._info.format

    @property
    def path(self) -> str | os.PathLike[str]:
        """The file."""
        return self._path

    @property
    def duration_ms(self) -> float:
        """The duration of the file's audio, without trailing silence."""
        return self._info.duration_ms

    def _open(self) -> IO[bytes]:
        try:
            f = open(self._path, "rb")  # noqa: SIM115 - closed by __aiter__
        except OSError as exc:
            raise _bad(self._path, f"cannot be read: {exc.strerror or exc}") from exc
        f.seek(self._info.data_offset)
        return f

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """Yield the file's audio, then the trailing silence, in frames."""
        self._check_open()
        fmt, size = self._info.format, self._frame_bytes
        pacer = Pacer(fmt, realtime=self._realtime)
        block = size * max(1, round(fmt.bytes_for_ms(_READ_BLOCK_MS) / size))
        f = await anyio.to_thread.run_sync(self._open)
        try:
            left = self._info.data_bytes
            while left > 0:
                chunk = await anyio.to_thread.run_sync(f.read, min(block, left))
                chunk = chunk[: fmt.align(len(chunk))]
                if not chunk:
                    break  # the file shrank since its header was read
                left -= len(chunk)
                for i in range(0, len(chunk), size):
                    frame = chunk[i : i + size]
                    await pacer.wait(len(frame))
                    self._check_open()
                    yield frame
        finally:
            f.close()
        silence = bytes([fmt.silence_byte]) * size
        left = self._silence_bytes
        while left > 0:
            frame = silence[:left]
            left -= len(frame)
            await pacer.wait(len(frame))
            self._check_open()
            yield frame


def _header(fmt: AudioFormat, data_bytes: int, *, padded: bool = False) -> bytes:
    """A canonical WAV header for ``data_bytes`` bytes of ``fmt`` audio.

    ``padded``: the odd-length data chunk is followed by its pad byte (written on close).
    """
    tag = {Encoding.PCM16: _PCM, Encoding.G711_ULAW: _MULAW, Encoding.G711_ALAW: _ALAW}
    fmt_body = struct.pack(
        "<HHIIHH",
        tag[fmt.encoding],
        fmt.channels,
        fmt.sample_rate,
        fmt.bytes_per_second,
        fmt.block_align,
        8 * fmt.sample_width,
    )
    if fmt.encoding is not Encoding.PCM16:
        # Non-PCM formats carry cbSize and a 'fact' chunk with the sample count.
        fmt_body += struct.pack("<H", 0)
        fact = b"fact" + struct.pack("<II", 4, fmt.samples_for_bytes(data_bytes))
    else:
        fact = b""
    chunks = b"fmt " + struct.pack("<I", len(fmt_body)) + fmt_body + fact
    data = b"data" + struct.pack("<I", data_bytes)
    pad = data_bytes & 1 if padded else 0
    riff_size = 4 + len(chunks) + len(data) + data_bytes + pad
    return b"RIFF" + struct.pack("<I", riff_size) + b"WAVE" + chunks + data


class WavFileSink(AudioSinkBase):
    """Writes the agent's audio to a WAV file; optionally both sides of the conversation.

    The file is a valid WAV at all times: its header is rewritten after every write (so
    even a killed process leaves a playable file), and fixed up on :meth:`aclose`, which
    ``async with`` calls on a normal exit, an exception or a cancellation. The sink
    consumes each frame the moment it is written: :meth:`played_ms` reports what was
    written (a file has no playback position), :meth:`clear` has nothing to drop and
    :meth:`drain` returns at once.

    **Both sides.** With ``record_input=True`` the file is pcm16 *stereo* at ``format``'s
    rate: the left channel is the user, the right the agent. The session passes each user
    frame it sends to :meth:`record_input`. Both sides are placed on one timeline that
    starts at the first write or recorded frame: a user frame goes at the later of the end
    of the previous user frame and now (:func:`anyio.current_time`); an agent frame goes at
    the latest of the end of the previous agent frame, the end of the user audio so far and
    now. Silence fills the gaps. With a real-time source (a microphone, or a file source
    with ``realtime=True``) this is what a listener would have heard, give or take a frame;
    a faster source is laid out as fast as it arrives, with the agent's replies after it.

    Args:
        path: The file to create (replaced if it exists).
        format: The format :meth:`write` takes. Mono only with ``record_input``.
        record_input: Record both sides to a stereo file (see above).

    Raises:
        AudioError: If the file cannot be created, or ``record_input`` is asked for with a
            ``format`` that is not mono.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        format: AudioFormat = AudioFormat(),  # noqa: B008 - frozen value
        *,
        record_input: bool = False,
    ) -> None:
        if record_input and format.channels != 1:
            raise AudioError(
                f"WavFileSink(record_input=True) records the agent in one channel of a stereo "
                f"file, so its format must be mono, not {format}"
            )
        self._path = path
        self._format = format
        self._record = record_input
        self._file_format = (
            AudioFormat(sample_rate=format.sample_rate, channels=2) if record_input else format
        )
        self._data_bytes = 0
        self._written = 0
        try:
            self._file: IO[bytes] = open(path, "wb+")  # noqa: SIM115 - closed by aclose()
            self._file.write(_header(self._file_format, 0))
            self._file.flush()
        except OSError as exc:
            raise _bad(path, f"cannot be written: {exc.strerror or exc}") from exc
        # Both-sides recording: pcm16 mono buffers from sample position `_base` on.
        self._t0: float | None = None
        self._base = 0
        self._user = bytearray()
        self._agent = bytearray()
        self._to_pcm = Converter(format, self._mono) if record_input else None
        self._input_converters: dict[AudioFormat, Converter] = {}

    @property
    def format(self) -> AudioFormat:
        """The format :meth:`write` takes (the agent's audio)."""
        return self._format

    @property
    def file_format(self) -> AudioFormat:
        """The format of the file: ``format``, or pcm16 stereo with ``record_input``."""
        return self._file_format

    @property
    def path(self) -> str | os.PathLike[str]:
        """The file."""
        return self._path

    @property
    def records_input(self) -> bool:
        """Whether the sink records the user too (the session then calls :meth:`record_input`)."""
        return self._record

    @property
    def _mono(self) -> AudioFormat:
        return AudioFormat(sample_rate=self._format.sample_rate)

    def record_input(self, frame: bytes, fmt: AudioFormat | None = None) -> None:
        """Record a frame of the user's audio in the left channel.

        Args:
            frame: The user's audio, as sent to the service.
            fmt: Its format (default: :attr:`format`); converted to the file's rate.

        Raises:
            ConfigurationError: If the sink was created without ``record_input=True``.
            anyio.ClosedResourceError: If the sink is closed.
            MissingExtraError: If converting ``fmt`` needs numpy/soxr and they are missing.
        """
        if not self._record:
            raise ConfigurationError("record_input() needs WavFileSink(..., record_input=True)")
        if self._closed:
            raise anyio.ClosedResourceError("WavFileSink is closed")
        fmt = self._format if fmt is None else fmt
        converter = self._input_converters.get(fmt)
        if converter is None:
            converter = self._input_converters[fmt] = Converter(fmt, self._mono)
        pcm = converter.convert(frame)
        now = self._now()
        user_end = self._base + len(self._user) // 2
        self._place(self._user, max(user_end, now), pcm)
        self._write_settled(now)

    async def _write(self, frame: bytes) -> None:
        self._take(frame)
        await anyio.lowlevel.checkpoint()

    def write_nowait(self, frame: bytes) -> bool:
        """Write ``frame`` to the file now (a :class:`~voiceagent.audio.NonBlockingSink`:
        a file never makes the session wait): always True."""
        if self._checked(frame):
            self._take(bytes(frame))
        return True

    def _take(self, frame: bytes) -> None:
        self._written += len(frame)
        if self._to_pcm is None:
            self._append(frame)
        else:
            pcm = self._to_pcm.convert(frame)
            now = self._now()
            user_end = self._base + len(self._user) // 2
            agent_end = self._base + len(self._agent) // 2
            self._place(self._agent, max(agent_end, user_end, now), pcm)
            self._write_settled(now)

    def clear(self) -> None:
        """Nothing is queued: every frame is in the file once written."""

    def played_ms(self) -> float:
        """Milliseconds of the agent's audio consumed (written to the file)."""
        return self._format.ms_for_bytes(self._written)

    async def drain(self) -> None:
        """Returns at once: every frame is in the file once written."""
        await anyio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        """Write what is pending, fix the header and close the file. Idempotent."""
        if self._closed:
            return
        await super().aclose()
        try:
            if self._record:
                self._flush_converters()
                end = max(len(self._user), len(self._agent)) // 2
                self._write_settled(None, upto=self._base + end)
            if self._data_bytes & 1:
                self._file.seek(0, os.SEEK_END)
                self._file.write(b"\0")  # RIFF pads odd chunks to an even length
            self._fix_header(padded=True)
        finally:
            self._file.close()

    def _flush_converters(self) -> None:
        """Place what the resamplers still hold (their last few milliseconds)."""
        for converter in self._input_converters.values():
            with contextlib.suppress(AudioError):  # a stray half sample at the very end
                pcm = converter.flush()
                self._place(self._user, self._base + len(self._user) // 2, pcm)
        if self._to_pcm is not None:
            with contextlib.suppress(AudioError):
                pcm = self._to_pcm.flush()
                self._place(self._agent, self._base + len(self._agent) // 2, pcm)

    def _now(self) -> int:
        """The timeline position of now, in samples (the timeline starts at the first call)."""
        t = anyio.current_time()
        if self._t0 is None:
            self._t0 = t
        return int((t - self._t0) * self._format.sample_rate)

    def _place(self, buffer: bytearray, at: int, pcm: bytes) -> None:
        gap = at - self._base - len(buffer) // 2
        if gap > 0:
            buffer += bytes(2 * gap)
        buffer += pcm

    def _write_settled(self, now: int | None, *, upto: int | None = None) -> None:
        """Write both channels up to where nothing new can land any more.

        New user audio goes at or after max(user end, now), new agent audio at or after
        that too, so everything before it is final.
        """
        if upto is None:
            assert now is not None
            upto = max(now, self._base + len(self._user) // 2)
        n = upto - self._base
        if n <= 0:
            return
        for buffer in (self._user, self._agent):
            if len(buffer) < 2 * n:
                buffer += bytes(2 * n - len(buffer))
        out = bytearray(4 * n)
        user, agent = memoryview(self._user)[: 2 * n], memoryview(self._agent)[: 2 * n]
        out[0::4], out[1::4] = user[0::2], user[1::2]
        out[2::4], out[3::4] = agent[0::2], agent[1::2]
        user.release()
        agent.release()
        del self._user[: 2 * n]
        del self._agent[: 2 * n]
        self._base = upto
        self._append(bytes(out))

    def _append(self, data: bytes) -> None:
        try:
            self._file.write(data)
            self._data_bytes += len(data)
            self._fix_header()
        except OSError as exc:
            raise _bad(self._path, f"write failed: {exc.strerror or exc}") from exc

    def _fix_header(self, *, padded: bool = False) -> None:
        f = self._file
        f.seek(0)
        f.write(_header(self._file_format, self._data_bytes, padded=padded))
        f.seek(0, os.SEEK_END)
        f.flush()
