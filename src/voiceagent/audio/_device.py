"""Microphone and speaker on sounddevice (PortAudio), from the ``audio`` extra.

sounddevice is imported on first use, so ``voiceagent.audio`` imports without it. A
missing package becomes :class:`~voiceagent.errors.MissingExtraError`; a missing PortAudio
library, a missing device or a device that refuses the format becomes
:class:`~voiceagent.errors.AudioError` with what to do about it.
"""

from __future__ import annotations

import array
import importlib
import logging
import sys
import threading
from typing import TYPE_CHECKING, Any, Final

import anyio
import anyio.lowlevel
import anyio.to_thread
import attrs

from ..errors import AudioError, ConfigurationError, MissingExtraError
from ._format import AudioFormat, Encoding
from ._protocols import AudioSinkBase, AudioSourceBase

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["DeviceInfo", "Microphone", "Speaker", "list_devices"]

logger = logging.getLogger("voiceagent.audio")

_KINDS: Final = {"input": "max_input_channels", "output": "max_output_channels"}


def _sounddevice() -> Any:
    """The sounddevice module, or an error that says what is missing."""
    try:
        return importlib.import_module("sounddevice")
    except ImportError as exc:
        raise MissingExtraError(
            'Microphone and Speaker need sounddevice: pip install "voiceagent[audio]"'
        ) from exc
    except OSError as exc:  # sounddevice raises OSError when it cannot load PortAudio
        raise AudioError(
            f"the PortAudio library could not be loaded ({exc}); install it (Debian/Ubuntu: "
            "apt-get install libportaudio2, Fedora: dnf install portaudio, macOS: brew "
            "install portaudio)"
        ) from exc


@attrs.frozen(kw_only=True)
class DeviceInfo:
    """An audio device PortAudio knows.

    Attributes:
        index: The device's index (pass it as ``device=``).
        name: The device's name (a unique part of it works as ``device=`` too).
        host_api: The host API's name (ALSA, Core Audio, WASAPI, ...).
        max_input_channels: Input channels; 0 for an output-only device.
        max_output_channels: Output channels; 0 for an input-only device.
        default_sample_rate: The device's preferred rate, in Hz.
    """

    index: int
    name: str
    host_api: str
    max_input_channels: int
    max_output_channels: int
    default_sample_rate: float


def list_devices() -> list[DeviceInfo]:
    """The audio devices PortAudio knows, in index order.

    Raises:
        MissingExtraError: If sounddevice is not installed.
        AudioError: If PortAudio cannot be loaded.
    """
    sd = _sounddevice()
    apis = sd.query_hostapis()
    return [
        DeviceInfo(
            index=d["index"],
            name=d["name"],
            host_api=apis[d["hostapi"]]["name"],
            max_input_channels=d["max_input_channels"],
            max_output_channels=d["max_output_channels"],
            default_sample_rate=d["default_samplerate"],
        )
        for d in sd.query_devices()
    ]


def _available(sd: Any, kind: str) -> str:
    names = [f"{d['index']}: {d['name']!r}" for d in sd.query_devices() if d[_KINDS[kind]] > 0]
    return "; ".join(names) if names else "none"


def _resolve(sd: Any, device: int | str | None, kind: str) -> tuple[int, str]:
    """The index and name of the ``kind`` device chosen by index, name part, or default."""
    if device is not None and (isinstance(device, bool) or not isinstance(device, int | str)):
        raise ConfigurationError(f"device must be an index, a name or None, got {device!r}")
    try:
        info = sd.query_devices(device, kind=kind)
    except (ValueError, sd.PortAudioError) as exc:
        what = f"{kind} device {device!r}" if device is not None else f"default {kind} device"
        raise AudioError(f"no {what} ({exc}); {kind} devices: {_available(sd, kind)}") from exc
    if info[_KINDS[kind]] < 1:
        raise AudioError(
            f"device {info['index']} {info['name']!r} has no {kind} channels; {kind} devices: "
            f"{_available(sd, kind)}"
        )
    return int(info["index"]), str(info["name"])


def _check_pcm16(fmt: AudioFormat, what: str) -> None:
    if fmt.encoding is not Encoding.PCM16:
        raise AudioError(f"{what} plays and records pcm16, not {fmt}")


def _open_error(name: str, fmt: AudioFormat, exc: Exception) -> AudioError:
    return AudioError(f"cannot open audio device {name!r} for {fmt}: {exc}")


class Microphone(AudioSourceBase):
    """Captures audio from an input device. Never ends; stop by leaving the loop.

    The device is opened when iteration starts and closed when it ends. Frames are
    ``block_ms`` long. Input overflows (audio the device dropped because it was not read in
    time) are counted in :attr:`overflows` and logged.

    Args:
        device: The device's index, a unique part of its name, or ``None`` for the default
            input device (see :func:`list_devices`).
        format: The format to capture in (pcm16; PortAudio converts from the device's).
        block_ms: The duration of each frame.
        latency: PortAudio's suggested latency: ``"low"``, ``"high"`` or seconds.

    Raises:
        MissingExtraError: If sounddevice is not installed.
        AudioError: If PortAudio cannot be loaded, the device does not exist, or ``format``
            is not pcm16.
    """

    def __init__(
        self,
        device: int | str | None = None,
        format: AudioFormat = AudioFormat(),  # noqa: B008 - frozen value
        *,
        block_ms: float = 20,
        latency: str | float = "low",
    ) -> None:
        _check_pcm16(format, "Microphone")
        if not block_ms > 0:
            raise ConfigurationError(f"block_ms must be > 0, got {block_ms!r}")
        self._sd = _sounddevice()
        self._device, self._name = _resolve(self._sd, device, "input")
        self._format = format
        self._block_frames = max(1, format.samples_for_bytes(format.bytes_for_ms(block_ms)))
        self._latency = latency
        self.overflows = 0
        """How many reads reported an input overflow (audio lost at the device)."""

    @property
    def format(self) -> AudioFormat:
        """The format of every frame."""
        return self._format

    @property
    def device_name(self) -> str:
        """The name of the device in use."""
        return self._name

    def _open(self) -> Any:
        try:
            stream = self._sd.RawInputStream(
                samplerate=self._format.sample_rate,
                channels=self._format.channels,
                dtype="int16",
                blocksize=self._block_frames,
                device=self._device,
                latency=self._latency,
            )
            stream.start()
        except (self._sd.PortAudioError, ValueError) as exc:
            raise _open_error(self._name, self._format, exc) from exc
        return stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """Yield captured frames until the loop is left or the source closed."""
        self._check_open()
        stream = await anyio.to_thread.run_sync(self._open)
        try:
            while True:
                try:
                    data, overflowed = await anyio.to_thread.run_sync(
                        stream.read, self._block_frames
                    )
                except self._sd.PortAudioError as exc:
                    raise AudioError(f"reading from {self._name!r} failed: {exc}") from exc
                if overflowed:
                    self.overflows += 1
                    logger.warning("microphone %r overflowed: audio was lost", self._name)
                self._check_open()
                yield bytes(data)
        finally:
            stream.close(ignore_errors=True)


class PlaybackBuffer:
    """The speaker's jitter buffer, shared by the event loop and the device callback.

    Thread-safe: :meth:`push`, :meth:`clear` and the counters are called from the event
    loop, :meth:`fill` from PortAudio's callback thread.

    Playback starts once ``jitter_bytes`` are queued, or once the queue has waited that
    long (so the tail of a response never sticks), or at once when draining. When the
    queue runs dry mid-play (an underrun) it primes again. :meth:`clear` keeps only the
    first ``fade_bytes`` of the queue, faded out linearly, which the next :meth:`fill` plays;
    that fade-out counts as played at once, so :attr:`played_bytes` does not move after a
    clear until new audio plays.

    Args:
        fmt: The pcm16 format of the audio.
        jitter_bytes: How much to queue before starting.
        fade_bytes: How much audio the fade-out on :meth:`clear` spans.
    """

    def __init__(self, fmt: AudioFormat, *, jitter_bytes: int, fade_bytes: int) -> None:
        self._fmt = fmt
        self._jitter = jitter_bytes
        self._fade_bytes = fade_bytes
        self._lock = threading.Lock()
        self._queue = bytearray()
        self._fade = b""
        self._priming = True
        self._waited = 0
        self.draining = False
        """When true the buffer plays what it holds without waiting for the jitter fill."""
        self.paused = False
        """When true the device gets silence and the queue is kept (a pending fade-out
        still plays)."""
        self.clears = 0
        """How many times :meth:`clear` ran."""
        self.played_bytes = 0
        """Bytes of audio (not silence) handed to the device, or faded out by a clear."""
        self.cleared_bytes = 0
        """Bytes dropped by :meth:`clear`."""
        self.underruns = 0
        """How often the queue ran dry in the middle of playback."""

    @property
    def queued_bytes(self) -> int:
        """Bytes not yet handed to the device (including a pending fade-out)."""
        with self._lock:
            return len(self._queue) + len(self._fade)

    def push(self, data: bytes) -> None:
        """Queue audio."""
        with self._lock:
            self._queue += data

    def clear(self) -> None:
        """Drop the queue, keeping a short faded-out head so the stop makes no click."""
        with self._lock:
            head = bytes(self._queue[: self._fmt.align(self._fade_bytes)])
            self.cleared_bytes += len(self._queue) - len(head)
            # The fade-out counts as played now, so played_bytes is final once clear()
            # returns: it grows again only with audio written after the clear.
            self.played_bytes += len(head)
            self._queue.clear()
            self._fade = self._fade_out(self._fade + head)
            self._priming = True
            self._waited = 0
            self.clears += 1

    def fill(self, out: Any, nbytes: int) -> None:
        """Write the next ``nbytes`` of output into the buffer ``out`` (callback thread)."""
        with self._lock:
            chunk = self._next(nbytes)
        out[:nbytes] = chunk

    def _next(self, nbytes: int) -> bytes:
        if self._fade:
            chunk, self._fade = self._fade[:nbytes], self._fade[nbytes:]
            return chunk + bytes(nbytes - len(chunk))
        queue = self._queue
        if self.paused:
            return bytes(nbytes)
        if self._priming:
            if not queue:
                return bytes(nbytes)
            if len(queue) < self._jitter and not self.draining and self._waited < self._jitter:
                self._waited += nbytes
                return bytes(nbytes)
            self._priming = False
            self._waited = 0
        n = min(len(queue), nbytes)
        chunk = bytes(queue[:n])
        del queue[:n]
        self.played_bytes += n
        if n < nbytes:
            if not self.draining:
                self.underruns += 1
            self._priming = True
            chunk += bytes(nbytes - n)
        return chunk

    def _fade_out(self, pcm: bytes) -> bytes:
        if not pcm:
            return b""
        samples = array.array("h")
        samples.frombytes(pcm)
        if sys.byteorder == "big":
            samples.byteswap()
        channels = self._fmt.channels
        frames = len(samples) // channels
        for i in range(len(samples)):
            samples[i] = int(samples[i] * (frames - i // channels - 1) / frames)
        if sys.byteorder == "big":
            samples.byteswap()
        return samples.tobytes()


class Speaker(AudioSinkBase):
    """Plays audio on an output device through a small jitter buffer.

    :meth:`played_ms` is the real playback position: the audio the device callback has
    handed to the device (the device's own output latency, a few ms to tens of ms, is not
    subtracted). :meth:`clear` stops playback within one device block with a
    ``fade_ms`` fade-out, so there is no click; the fade-out counts as played the moment
    :meth:`clear` is called, so :meth:`played_ms` read right after it is final for the
    cleared audio; a :meth:`write` waiting for room when :meth:`clear` runs drops its
    frame. It is a :class:`~voiceagent.audio.PausableSink`: :meth:`pause` plays silence
    and keeps the queue until :meth:`resume`. The device opens on the first write.

    Args:
        device: The device's index, a unique part of its name, or ``None`` for the default
            output device (see :func:`list_devices`).
        format: The format :meth:`write` takes (pcm16; PortAudio converts to the device's).
        block_ms: The device block: the callback's period, and the time :meth:`clear` takes
            at most to silence the device.
        jitter_ms: Audio queued before playback starts (or restarts after an underrun).
        fade_ms: The fade-out on :meth:`clear`.
        max_buffer_ms: :meth:`write` waits while more than this is queued; ``None``:
            unbounded.
        latency: PortAudio's suggested latency: ``"low"``, ``"high"`` or seconds.

    Raises:
        MissingExtraError: If sounddevice is not installed.
        AudioError: If PortAudio cannot be loaded, the device does not exist, or ``format``
            is not pcm16.
    """

    def __init__(
        self,
        device: int | str | None = None,
        format: AudioFormat = AudioFormat(),  # noqa: B008 - frozen value
        *,
        block_ms: float = 20,
        jitter_ms: float = 60,
        fade_ms: float = 5,
        max_buffer_ms: float | None = None,
        latency: str | float = "low",
    ) -> None:
        _check_pcm16(format, "Speaker")
        for name, value in (("block_ms", block_ms), ("fade_ms", fade_ms)):
            if not value > 0:
                raise ConfigurationError(f"{name} must be > 0, got {value!r}")
        if not jitter_ms >= 0:
            raise ConfigurationError(f"jitter_ms must be >= 0, got {jitter_ms!r}")
        if max_buffer_ms is not None and not max_buffer_ms > 0:
            raise ConfigurationError(f"max_buffer_ms must be > 0 or None, got {max_buffer_ms!r}")
        self._sd = _sounddevice()
        self._device, self._name = _resolve(self._sd, device, "output")
        self._format = format
        self._block_frames = max(1, format.samples_for_bytes(format.bytes_for_ms(block_ms)))
        self._block_s = self._block_frames / format.sample_rate
        self._max_buffer = None if max_buffer_ms is None else format.bytes_for_ms(max_buffer_ms)
        self._latency = latency
        self._buffer = PlaybackBuffer(
            format,
            jitter_bytes=format.bytes_for_ms(jitter_ms),
            fade_bytes=max(format.bytes_for_ms(fade_ms), format.block_align),
        )
        self._stream: Any = None
        self._opening = anyio.Lock()

    @property
    def format(self) -> AudioFormat:
        """The format :meth:`write` takes."""
        return self._format

    @property
    def device_name(self) -> str:
        """The name of the device in use."""
        return self._name

    @property
    def underruns(self) -> int:
        """How often playback ran out of audio mid-stream (the device played silence)."""
        return self._buffer.underruns

    def queued_ms(self) -> float:
        """Milliseconds written but not yet handed to the device."""
        return self._format.ms_for_bytes(self._buffer.queued_bytes)

    def _callback(self, outdata: Any, frames: int, time: Any, status: Any) -> None:
        self._buffer.fill(outdata, len(outdata))

    def _open(self) -> None:
        try:
            stream = self._sd.RawOutputStream(
                samplerate=self._format.sample_rate,
                channels=self._format.channels,
                dtype="int16",
                blocksize=self._block_frames,
                device=self._device,
                latency=self._latency,
                callback=self._callback,
            )
            stream.start()
        except (self._sd.PortAudioError, ValueError) as exc:
            raise _open_error(self._name, self._format, exc) from exc
        self._stream = stream

    def write_nowait(self, frame: bytes) -> bool:
        """Queue ``frame`` now if the device is open and its buffer has room (a
        :class:`~voiceagent.audio.NonBlockingSink`); False otherwise, nothing queued."""
        if not self._checked(frame):
            return True
        if self._stream is None:
            return False  # opening the device takes a worker thread: write() does it
        queued = self._buffer.queued_bytes
        if self._max_buffer is not None and queued and queued + len(frame) > self._max_buffer:
            return False
        self._buffer.push(bytes(frame))
        return True

    async def _write(self, frame: bytes) -> None:
        if self._stream is None:
            async with self._opening:
                if self._stream is None:
                    await anyio.to_thread.run_sync(self._open)
        if self._max_buffer is not None:
            clears = self._buffer.clears
            while (queued := self._buffer.queued_bytes) and queued + len(frame) > self._max_buffer:
                await anyio.sleep(self._block_s)
                self._check_alive()
                if self._buffer.clears != clears:
                    return  # cleared while waiting: this frame was part of what was dropped
        self._buffer.push(frame)

    @property
    def paused(self) -> bool:
        """Whether playback is paused (:meth:`pause`)."""
        return self._buffer.paused

    def pause(self) -> None:
        """Hold playback within one device block; the queue is kept. Idempotent."""
        self._buffer.paused = True

    def resume(self) -> None:
        """Play the queue again from where :meth:`pause` stopped. Idempotent."""
        self._buffer.paused = False

    def clear(self) -> None:
        """Drop the queue; the device goes silent within one block, with a short fade.

        The fade-out (``fade_ms``) counts as played at once: :meth:`played_ms` then grows
        only with audio written after this call.
        """
        self._buffer.clear()

    def played_ms(self) -> float:
        """Milliseconds of audio handed to the device since the speaker opened."""
        return self._format.ms_for_bytes(self._buffer.played_bytes)

    async def drain(self) -> None:
        """Wait until the queue is played out, plus the device's output latency."""
        if self._stream is None or self._closed:
            await anyio.lowlevel.checkpoint()
            return
        self._buffer.draining = True
        try:
            while self._buffer.queued_bytes:
                if self._buffer.paused:
                    await anyio.sleep(self._block_s)
                    self._check_alive()
                    continue
                await anyio.sleep(self._block_s / 2)
                self._check_alive()
            await anyio.sleep(float(self._stream.latency))
        finally:
            self._buffer.draining = False

    def _check_alive(self) -> None:
        if self._closed:
            raise anyio.ClosedResourceError("Speaker was closed")
        if self._stream is not None and not self._stream.active:
            raise AudioError(f"audio device {self._name!r} stopped playing")

    async def aclose(self) -> None:
        """Stop the device at once (unplayed audio is dropped) and release it."""
        if self._closed:
            return
        await super().aclose()
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close(ignore_errors=True)  # aborts at once; no await, so cancel-proof
