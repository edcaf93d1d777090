"""Conformance checks for audio sources and sinks, for users' own implementations.

```python
from voiceagent.testing import check_audio_sink, check_audio_source

async def test_my_sink() -> None:
    await check_audio_sink(lambda: MySink())

async def test_my_source() -> None:
    await check_audio_source(lambda: MySource("fixture.wav"))
```

Each check raises :class:`AssertionError` naming the broken rule; it never depends on
timing beyond generous timeouts that catch hangs.
"""

from __future__ import annotations

import array
import inspect
import math
import sys
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from .. import _g711
from ..audio._format import AudioFormat, Encoding
from ..audio._protocols import (
    AudioSink,
    AudioSource,
    NonBlockingSink,
    PausableSink,
    PositionReportingSink,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["check_audio_sink", "check_audio_source"]

T = TypeVar("T")
FRAME_MS = 20


def _fail(message: str) -> AssertionError:
    return AssertionError(message)


async def _make(factory: Callable[[], T | Awaitable[T]]) -> T:
    made = factory()
    if inspect.isawaitable(made):
        return await made
    return made


def _tone(fmt: AudioFormat, ms: float) -> bytes:
    """``ms`` of a 440 Hz tone in ``fmt`` (pure Python: no extra needed)."""
    n = fmt.samples_for_bytes(fmt.bytes_for_ms(ms))
    samples = array.array(
        "h",
        (
            int(8000 * math.sin(2 * math.pi * 440 * i / fmt.sample_rate))
            for i in range(n)
            for _ in range(fmt.channels)
        ),
    )
    if sys.byteorder == "big":
        samples.byteswap()
    pcm = samples.tobytes()
    if fmt.encoding is Encoding.G711_ULAW:
        return _g711.ulaw_encode(pcm)
    if fmt.encoding is Encoding.G711_ALAW:
        return _g711.alaw_encode(pcm)
    return pcm


async def _close(obj: Any) -> None:
    aclose = getattr(obj, "aclose", None)
    if aclose is not None:
        await aclose()


async def check_audio_source(
    factory: Callable[[], AudioSource | Awaitable[AudioSource]],
    *,
    max_ms: float = 2000,
    timeout: float = 30,  # noqa: ASYNC109 - a per-step hang limit, like Emulator.wait_for
) -> None:
    """Check that sources made by ``factory`` follow the :class:`~voiceagent.audio.AudioSource`
    contract.

    Checked: the protocol's members; :attr:`format` is an
    :class:`~voiceagent.audio.AudioFormat` and does not change while iterating; every frame
    is non-empty bytes of whole samples; the source ends (or is read up to ``max_ms`` of
    audio, for endless sources such as a microphone); and, if the source has ``aclose()``:
    closing mid-iteration stops the iteration (it ends or raises
    ``anyio.ClosedResourceError``), closing twice is fine, and iterating a closed source
    raises ``anyio.ClosedResourceError`` or yields nothing.

    Args:
        factory: Makes a fresh source each call (sync or async); called twice.
        max_ms: How much audio to read at most.
        timeout: Seconds any one step may take before the check calls it a hang.

    Raises:
        AssertionError: If the source breaks the contract.
    """
    source = await _make(factory)
    name = type(source).__name__
    try:
        if not isinstance(source, AudioSource):
            raise _fail(f"{name} is not an AudioSource: it needs `format` and `__aiter__`")
        fmt = source.format
        if not isinstance(fmt, AudioFormat):
            raise _fail(f"{name}.format is {fmt!r}, not an AudioFormat")
        total = 0
        iterator = source.__aiter__()
        try:
            with anyio.fail_after(timeout):
                async for frame in iterator:
                    if not isinstance(frame, bytes | bytearray | memoryview):
                        raise _fail(f"{name} yielded {type(frame).__name__}, not bytes")
                    if not frame:
                        raise _fail(f"{name} yielded an empty frame")
                    if len(frame) % fmt.block_align:
                        raise _fail(
                            f"{name} yielded {len(frame)} bytes, not whole {fmt} samples "
                            f"({fmt.block_align} bytes each)"
                        )
                    if source.format != fmt:
                        raise _fail(f"{name}.format changed while iterating: {source.format}")
                    total += len(frame)
                    if fmt.ms_for_bytes(total) >= max_ms:
                        break
        finally:
            await _close(iterator)
    finally:
        await _close(source)

    source = await _make(factory)
    if not callable(getattr(source, "aclose", None)):
        return
    iterator = source.__aiter__()
    try:
        with anyio.fail_after(timeout):
            await iterator.__anext__()
            await source.aclose()  # type: ignore[attr-defined]
            await source.aclose()  # type: ignore[attr-defined]
            try:
                async for _ in iterator:
                    raise _fail(f"{name} kept yielding audio after aclose()")
            except anyio.ClosedResourceError:
                pass
            try:
                async for _ in source:
                    raise _fail(f"{name} yielded audio after aclose()")
            except anyio.ClosedResourceError:
                pass
    except StopAsyncIteration:
        raise _fail(f"{name} (a fresh one from the factory) yielded no audio at all") from None
    except TimeoutError:
        raise _fail(f"{name}: closing mid-iteration hung for {timeout} s") from None
    finally:
        await _close(iterator)


async def check_audio_sink(
    factory: Callable[[], AudioSink | Awaitable[AudioSink]],
    *,
    tolerance_ms: float = 20,
    timeout: float = 30,  # noqa: ASYNC109 - a per-step hang limit, like Emulator.wait_for
) -> None:
    """Check that sinks made by ``factory`` follow the :class:`~voiceagent.audio.AudioSink`
    contract.

    Checked, each on a fresh sink: the protocol's members, with :meth:`clear` and
    :meth:`played_ms` synchronous; :meth:`played_ms` starts at 0 and never decreases;
    after writing 200 ms and :meth:`drain`, 200 ms were played; :meth:`clear`, called once
    100 ms have played and 200 ms more are written, drops what was queued (after clear and
    drain, at most what had played when clear was called, plus a fade); clear works on an
    empty sink and twice in a row, and the sink plays normally after it; :meth:`aclose` is
    idempotent, :meth:`played_ms` still works after it, and :meth:`write` then raises
    ``anyio.ClosedResourceError``.

    A clear that arrives while a :meth:`write` waits for buffer room (a bounded sink fed
    faster than real time, as the session feeds it) must drop that write's frame too: it
    is checked with 100 ms frames written as fast as the sink takes them. A
    :class:`~voiceagent.audio.PausableSink` must hold its position while paused and play
    everything after :meth:`resume`; a :class:`~voiceagent.audio.PositionReportingSink`
    must call its listener when its position moves; a
    :class:`~voiceagent.audio.NonBlockingSink`'s ``write_nowait`` must be synchronous,
    return a bool, account what it took like :meth:`write`, and refuse a closed sink.

    The audio written is a 440 Hz tone in the sink's format, 20 ms a frame.

    Args:
        factory: Makes a fresh sink each call (sync or async); called six times.
        tolerance_ms: How far a played position may be from the exact figure (a device
            block or a fade-out).
        timeout: Seconds any one step may take before the check calls it a hang.

    Raises:
        AssertionError: If the sink breaks the contract.
    """
    await _check_sink_accounting(await _make(factory), tolerance_ms, timeout)
    await _check_sink_clear(await _make(factory), tolerance_ms, timeout)
    await _check_sink_clear_during_write(await _make(factory), tolerance_ms, timeout)
    await _check_sink_close(await _make(factory), timeout)
    sink = await _make(factory)
    if isinstance(sink, PausableSink):
        await _check_sink_pause(sink, tolerance_ms, timeout)
    else:
        await _close(sink)
    sink = await _make(factory)
    if isinstance(sink, NonBlockingSink):
        await _check_sink_accounting(sink, tolerance_ms, timeout, nowait=True)
    else:
        await _close(sink)


class _Positions:
    """Reads ``played_ms()`` and checks it never decreases."""

    def __init__(self, sink: AudioSink) -> None:
        self._sink = sink
        self._name = type(sink).__name__
        self.last = 0.0

    def read(self, when: str) -> float:
        value = self._sink.played_ms()
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _fail(f"{self._name}.played_ms() returned {value!r}, not a number")
        if value < self.last:
            raise _fail(
                f"{self._name}.played_ms() went down {when}: {self.last} ms, then {value} ms"
            )
        self.last = float(value)
        return self.last


async def _write_tone(
    sink: AudioSink, ms: float, positions: _Positions, *, nowait: bool = False
) -> None:
    """Write ``ms`` of tone in 20 ms frames: with ``write()``, or (``nowait``) with
    ``write_nowait()`` first and ``write()`` when it has no room, as the session does."""
    fmt = sink.format
    step = fmt.bytes_for_ms(FRAME_MS)
    audio = _tone(fmt, ms)
    for i in range(0, len(audio), step):
        frame = audio[i : i + step]
        if nowait:
            assert isinstance(sink, NonBlockingSink)
            taken = sink.write_nowait(frame)
            if not isinstance(taken, bool):
                raise _fail(
                    f"{type(sink).__name__}.write_nowait() returned {taken!r}, not True or False"
                )
        if not nowait or not taken:
            await sink.write(frame)
        positions.read("while writing")


async def _check_sink_accounting(
    sink: AudioSink, tol: float, seconds: float, *, nowait: bool = False
) -> None:
    """Write 200 ms and drain: 200 ms played. With ``nowait``, write with
    ``write_nowait()`` (``write()`` when it has no room), and check that a closed sink
    refuses ``write_nowait()`` too."""
    name = type(sink).__name__
    how = "with write_nowait() (write() when it had no room) " if nowait else ""
    try:
        if not isinstance(sink, AudioSink):
            raise _fail(
                f"{name} is not an AudioSink: it needs format, write, clear, played_ms, "
                "drain and aclose"
            )
        for method in ("clear", "played_ms", *(["write_nowait"] if nowait else [])):
            if inspect.iscoroutinefunction(getattr(sink, method)):
                raise _fail(f"{name}.{method}() must be synchronous, not async")
        if not isinstance(sink.format, AudioFormat):
            raise _fail(f"{name}.format is {sink.format!r}, not an AudioFormat")
        positions = _Positions(sink)
        if positions.read("at start") != 0:
            raise _fail(f"{name}.played_ms() is {positions.last} before anything was written")
        with anyio.fail_after(seconds):
            await _write_tone(sink, 200, positions, nowait=nowait)
            await sink.drain()
        played = positions.read("after drain()")
        if abs(played - 200) > tol:
            raise _fail(
                f"{name}: wrote 200 ms {how}and drained, but played_ms() is {played} "
                f"(tolerance {tol} ms)"
            )
        if nowait:
            assert isinstance(sink, NonBlockingSink)
            await sink.aclose()
            try:
                sink.write_nowait(_tone(sink.format, FRAME_MS))
            except anyio.ClosedResourceError:
                pass
            else:
                raise _fail(f"{name}.write_nowait() after aclose() must raise ClosedResourceError")
    finally:
        await _close(sink)


async def _check_sink_clear(sink: AudioSink, tol: float, seconds: float) -> None:
    name = type(sink).__name__
    try:
        positions = _Positions(sink)
        if sink.clear() is not None:  # type: ignore[func-returns-value]
            raise _fail(f"{name}.clear() returned a value (a coroutine?); it must be sync")
        sink.clear()
        with anyio.fail_after(seconds):
            await _write_tone(sink, 100, positions)  # something played before the clear
            await sink.drain()
            await _write_tone(sink, 200, positions)
            at_clear = positions.read("before clear()")
            sink.clear()
            positions.read("after clear()")
            await sink.drain()
        after = positions.read("after clear() and drain()")
        if after > at_clear + tol:
            raise _fail(
                f"{name}: played_ms() was {at_clear} at clear() but {after} after drain(); "
                f"cleared audio must not count (tolerance {tol} ms)"
            )
        with anyio.fail_after(seconds):
            await _write_tone(sink, 100, positions)
            await sink.drain()
        resumed = positions.read("after writing again")
        if abs(resumed - after - 100) > tol:
            raise _fail(
                f"{name}: after clear(), wrote 100 ms and drained, but played_ms() went from "
                f"{after} to {resumed} (tolerance {tol} ms)"
            )
    finally:
        await _close(sink)


async def _check_sink_close(sink: AudioSink, seconds: float) -> None:
    name = type(sink).__name__
    positions = _Positions(sink)
    with anyio.fail_after(seconds):
        await _write_tone(sink, 40, positions)
        await sink.aclose()
        positions.read("after aclose()")
        await sink.aclose()
        positions.read("after a second aclose()")
    try:
        await sink.write(_tone(sink.format, FRAME_MS))
    except anyio.ClosedResourceError:
        pass
    else:
        raise _fail(f"{name}.write() after aclose() must raise anyio.ClosedResourceError")


async def _check_sink_clear_during_write(sink: AudioSink, tol: float, seconds: float) -> None:
    """A write blocked for room when clear() runs must not play its frame afterwards."""
    name = type(sink).__name__
    fmt = sink.format
    frame = _tone(fmt, 100)
    state = {"in_write": False, "since": 0.0, "stop": False, "done": False}

    async def writer() -> None:
        for _ in range(50):  # 5 s of audio, as fast as the sink takes it
            if state["stop"]:
                break
            state["in_write"], state["since"] = True, anyio.current_time()
            await sink.write(frame)
            state["in_write"] = False
        state["done"] = True

    try:
        positions = _Positions(sink)
        notified: list[float] = []
        if isinstance(sink, PositionReportingSink):
            sink.set_played_listener(lambda: notified.append(sink.played_ms()))
        with anyio.fail_after(seconds):
            async with anyio.create_task_group() as tg:
                tg.start_soon(writer)
                # Wait for a write that has been waiting for room for 50 ms (or for the
                # writer to finish: a sink that never blocks).
                while not state["done"] and not (  # noqa: ASYNC110 - polls the writer's state
                    state["in_write"] and anyio.current_time() - float(state["since"]) > 0.05
                ):
                    await anyio.sleep(0.005)
                at_clear = positions.read("before clear()")
                state["stop"] = True
                sink.clear()
            await sink.drain()
        after = positions.read("after clear() during a write and drain()")
        if after > at_clear + tol:
            raise _fail(
                f"{name}: clear() ran while write() waited for room, yet {after - at_clear:.0f} "
                f"ms played after it: the waiting frame must be dropped, not queued after "
                f"the clear (tolerance {tol} ms)"
            )
        if isinstance(sink, PositionReportingSink):
            sink.set_played_listener(None)
            if positions.last > 0 and not notified:
                raise _fail(
                    f"{name} is a PositionReportingSink but never called its played listener "
                    f"while its position moved to {positions.last} ms"
                )
    finally:
        await _close(sink)


async def _check_sink_pause(sink: PausableSink, tol: float, seconds: float) -> None:
    name = type(sink).__name__
    try:
        positions = _Positions(sink)
        with anyio.fail_after(seconds):
            await _write_tone(sink, 300, positions)
            await anyio.sleep(0.1)
            sink.pause()
            sink.pause()  # idempotent
            held = positions.read("after pause()")
            await anyio.sleep(0.15)
            later = positions.read("while paused")
            if later > held + tol:
                raise _fail(
                    f"{name}: played_ms() moved from {held} to {later} while paused "
                    f"(tolerance {tol} ms)"
                )
            sink.resume()
            sink.resume()
            await sink.drain()
        played = positions.read("after resume() and drain()")
        if abs(played - 300) > tol:
            raise _fail(
                f"{name}: wrote 300 ms, paused, resumed and drained, but played_ms() is "
                f"{played} (tolerance {tol} ms): pausing must keep the queue"
            )
    finally:
        await _close(sink)
