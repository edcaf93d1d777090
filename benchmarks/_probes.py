"""Timing probes for voiceagent sessions: when an event arrived, and when the application
(or the sink) saw its effect.

- :class:`DeviceSink` simulates a playback device without storing audio. It timestamps
  every write and clear, and measures how late each frame reaches it against the real-time
  schedule of its utterance: a frame later than the jitter buffer is an *underrun*.
- :class:`SessionProbe` wraps a session's SDK connection (``recv`` and ``send``) to stamp
  arrivals and departures, and pairs them with what the sink, the tool and the handlers
  see. The SDK objects are real; only the benchmark adds a timing hook.
- :class:`Samples` collects the durations of all sessions of a run.

All stamps are :func:`time.perf_counter` seconds (the clock is injectable for tests).
Probes read SDK events through their mapping interface (``event["type"]``), which is
cheap, rather than their attributes, which decode the field on every read.
"""

from __future__ import annotations

import collections
import time
from typing import TYPE_CHECKING, Any

import attrs

from benchmarks._conversation import PCM, get_weather
from voiceagent import Agent, ToolContext, tool
from voiceagent.audio import AudioFormat, AudioSinkBase
from voiceagent.testing import synthesize

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from voiceagent import AgentSession

__all__ = [
    "DISPATCHED",
    "DeviceSink",
    "ProbedAgent",
    "Samples",
    "SessionProbe",
    "utterance_index",
]

DISPATCHED = (
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "conversation.item.input_audio_transcription.completed",
    "response.created",
    "response.audio_transcript.delta",
    "response.done",
)
"""The SDK events the probed application handles (for the event-dispatch lag)."""


@attrs.define
class Samples:
    """Durations (seconds) gathered from every probed session of a run.

    Samples are kept only while :attr:`recording` is true, so a benchmark can leave out
    its ramp-up. Counters (underruns, mismatches) count at all times they are recording.

    Attributes:
        recording: Whether to keep samples now.
        stopped: Whether the run is over (what fails from now on is its ending, not a
            failure).
        audio: ``response.audio.delta`` arrival to its bytes reaching the sink.
        barge_in: ``speech_started`` arrival to the sink being cleared.
        tool_start: ``function_call_arguments.done`` arrival to the tool starting.
        tool_output: The tool returning to its output being sent.
        dispatch: An SDK event's arrival to the application's handler seeing it.
        arrival_lag: How late audio deltas arrive against their response's real-time
            schedule (the emulator's and the network's lateness, not the client's).
        sink_lag: How late frames reach the sink against their utterance's real-time
            schedule (everything: emulator, network and client).
        loop_lag: How late a 10 ms sleep in the client's event loop wakes up (how busy
            the client's loop is, whatever the emulator does).
        underruns: Frames later than the jitter buffer.
        utterances: Utterances the sink played (started).
        unknown_utterances: Utterances the sink could not identify (lag not measured).
        mismatched: Sink writes that did not match the next arrived delta (probe error).
    """

    recording: bool = True
    stopped: bool = False
    audio: list[float] = attrs.Factory(list)
    barge_in: list[float] = attrs.Factory(list)
    tool_start: list[float] = attrs.Factory(list)
    tool_output: list[float] = attrs.Factory(list)
    dispatch: list[float] = attrs.Factory(list)
    arrival_lag: list[float] = attrs.Factory(list)
    sink_lag: list[float] = attrs.Factory(list)
    loop_lag: list[float] = attrs.Factory(list)
    underruns: int = 0
    utterances: int = 0
    unknown_utterances: int = 0
    mismatched: int = 0
    _arrivals: dict[str, float] = attrs.Factory(dict)

    def add(self, kind: str, seconds: float) -> None:
        """Keep one duration of ``kind`` (a list attribute's name), if recording."""
        if self.recording:
            getattr(self, kind).append(seconds)

    def count(self, kind: str, n: int = 1) -> None:
        """Add ``n`` to the counter ``kind``, if recording."""
        if self.recording:
            setattr(self, kind, getattr(self, kind) + n)

    def arrived(self, event: Any, at: float) -> None:
        """Note that ``event`` (a server event's JSON object) arrived at ``at``.

        The handler gets the SDK's object built from it later, so the two are matched by
        the server's ``event_id``.
        """
        event_id = event.get("event_id")
        if event_id is not None:
            self._arrivals[event_id] = at

    def handler(self, clock: Callable[[], float] = time.perf_counter) -> Callable[[Any], None]:
        """A handler for the :data:`DISPATCHED` events that measures their dispatch lag."""

        def handle(event: Any) -> None:
            at = self._arrivals.pop(event.get("event_id"), None)
            if at is not None:
                self.add("dispatch", clock() - at)

        return handle


def utterance_index(texts: Iterable[str], chunk_ms: int) -> dict[bytes, int]:
    """The first audio chunk of each text's synthesized speech, mapped to its length.

    A :class:`DeviceSink` recognizes an utterance by its first frame (the emulator's first
    ``response.audio.delta``, passed through unconverted) and so knows when it ends.

    Raises:
        ValueError: Two texts start with the same chunk.
    """
    index: dict[bytes, int] = {}
    for text in texts:
        audio = synthesize(text).audio
        first = audio[: PCM.bytes_for_ms(chunk_ms)]
        if first in index:
            raise ValueError(f"two utterances start with the same audio: {text!r}")
        index[first] = len(audio)
    return index


class DeviceSink(AudioSinkBase):
    """A playback device that keeps no audio: it plays at real time from the first write,
    pauses when it runs dry, and :meth:`clear` drops what is queued.

    Each write is checked against the real-time schedule of its utterance (recognized by
    its first frame, see :func:`utterance_index`): a frame due ``t`` after the utterance's
    first frame that arrives later than ``t + jitter_ms`` would have found the device
    empty, an underrun.

    Args:
        samples: Where lags and underruns go.
        utterances: First frame to utterance length (bytes).
        jitter_ms: The device's jitter buffer: how late a frame may be without an underrun.
        on_write: Called with the write's time and the frame, first thing.
        on_clear: Called with the clear's time, first thing.
        clock: The clock (seconds).
        speed: Play ``speed`` times faster than real time (to match a sped-up emulator).
    """

    def __init__(
        self,
        samples: Samples,
        *,
        utterances: Mapping[bytes, int] | None = None,
        jitter_ms: float = 100.0,
        speed: float = 1.0,
        on_write: Callable[[float, bytes], None] | None = None,
        on_clear: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._samples = samples
        self._utterances = dict(utterances or {})
        self._jitter = jitter_ms / 1000
        self._on_write = on_write
        self._on_clear = on_clear
        self._clock = clock
        self._bps = PCM.bytes_per_second * speed
        self._rate = PCM.sample_rate * speed
        self._queued = 0
        self._played = 0
        self._play_start: float | None = None
        self._utterance: list[Any] | None = None  # [first write time, length, bytes so far]
        self.writes = 0
        """Frames written."""
        self.clears = 0
        """Calls to :meth:`clear`."""

    @property
    def format(self) -> AudioFormat:
        """pcm16, 24 kHz, mono (the wire format: no conversion)."""
        return PCM

    async def _write(self, frame: bytes) -> None:
        self._take(frame)

    def write_nowait(self, frame: bytes) -> bool:
        """Take ``frame`` now (a device queue with room, like ``Speaker``'s): True."""
        if self._checked(frame):
            self._take(bytes(frame))
        return True

    def _take(self, frame: bytes) -> None:
        now = self._clock()
        if self._on_write is not None:
            self._on_write(now, frame)
        self.writes += 1
        self._advance(now)
        self._check_schedule(now, frame)
        self._queued += len(frame)
        if self._play_start is None:
            self._play_start = now

    def _check_schedule(self, now: float, frame: bytes) -> None:
        samples = self._samples
        utterance = self._utterance
        if utterance is None:
            length = self._utterances.get(frame)
            samples.count("utterances")
            if length is None:
                samples.count("unknown_utterances")
                self._utterance = None
                return
            utterance = self._utterance = [now, length, 0]
        start, length, done = utterance
        lag = now - (start + done / self._bps)
        samples.add("sink_lag", lag)
        if lag > self._jitter:
            samples.count("underruns")
        utterance[2] = done = done + len(frame)
        if done >= length:
            self._utterance = None

    def clear(self) -> None:
        """Drop everything queued; the utterance playing ends here."""
        now = self._clock()
        if self._on_clear is not None:
            self._on_clear(now)
        self.clears += 1
        self._advance(now)
        self._queued = 0
        self._play_start = None
        self._utterance = None

    def played_ms(self) -> float:
        """Milliseconds played since the sink opened."""
        self._advance(self._clock())
        return PCM.ms_for_bytes(self._played)

    def queued_ms(self) -> float:
        """Milliseconds written and not yet played."""
        self._advance(self._clock())
        return PCM.ms_for_bytes(self._queued)

    async def drain(self) -> None:
        """Wait until everything queued has played."""
        import anyio

        while True:
            self._advance(self._clock())
            if not self._queued:
                break
            await anyio.sleep(self._queued / self._bps)

    def _advance(self, now: float) -> None:
        start = self._play_start
        if start is None:
            return
        n = min(self._queued, int((now - start) * self._rate + 1e-6) * PCM.block_align)
        if n > 0:
            self._queued -= n
            self._played += n
            self._play_start = start + n / self._bps
        if not self._queued:
            self._play_start = None


class SessionProbe:
    """Stamps one session's arrivals and departures and pairs them with their effects.

    Create it, build the session's sink with :meth:`sink`, enter the session, then
    :meth:`attach` it. Its tool (:class:`ProbedAgent`) reports through
    :meth:`tool_started` and :meth:`tool_returned`.

    Args:
        samples: Where the durations go.
        clock: The clock (seconds).
        speed: The emulator's speed-up (for the audio's real-time schedule).
    """

    def __init__(
        self,
        samples: Samples,
        *,
        clock: Callable[[], float] = time.perf_counter,
        speed: float = 1.0,
    ) -> None:
        self.samples = samples
        self._clock = clock
        self._speed = speed
        self._bps = PCM.bytes_per_second * speed
        self._pending: collections.deque[tuple[float, int]] = collections.deque()
        """Arrival time and size of audio deltas not yet written to the sink, in order."""
        self._active: str | None = None
        self._dropped: set[str] = set()
        self._schedule: dict[str, list[float]] = {}  # response: [first arrival, bytes]
        self._speech_at: float | None = None
        self._calls: dict[str, float] = {}
        self._returned: dict[str, float] = {}

    def sink(self, **kwargs: Any) -> DeviceSink:
        """A :class:`DeviceSink` wired to this probe (keyword arguments go to it)."""
        return DeviceSink(
            self.samples,
            on_write=self.on_write,
            on_clear=self.on_clear,
            clock=self._clock,
            speed=self._speed,
            **kwargs,
        )

    def attach(self, session: AgentSession) -> None:
        """Wrap the session's connection (benchmark-only: reads private attributes).

        Arrivals are stamped where the session's wire hands a parsed server event over
        (the frame read and its JSON parsed once, as the session does it), sends where
        the SDK connection has written them.
        """
        wire = session._uplink.wire  # a benchmark's timing hook
        assert wire is not None, "attach the probe inside `async with agent.session(...)`"
        conn = wire._connection
        recv, send = wire.recv, conn.send

        async def timed_recv() -> Any:
            event = await recv()
            self.on_event(event, self._clock())
            return event

        async def timed_send(event: Any) -> None:
            await send(event)
            self.on_sent(event, self._clock())

        wire.recv = timed_recv  # type: ignore[method-assign]
        conn.send = timed_send  # type: ignore[method-assign]

    # -- arrivals ------------------------------------------------------------------------

    def on_event(self, event: Any, at: float) -> None:
        """Note a server event that arrived at ``at``."""
        kind = event["type"]
        if kind == "response.audio.delta":
            response = event["response_id"]
            if response not in self._dropped:
                size = len(event["delta"]) * 3 // 4 - event["delta"][-2:].count("=")
                self._pending.append((at, size))
                self._on_delta(response, size, at)
        elif kind == "input_audio_buffer.speech_started":
            self._speech_at = at
            if self._active is not None:
                # The server cancels the active response; voiceagent drops its audio.
                self._dropped.add(self._active)
        elif kind == "response.function_call_arguments.done":
            self._calls[event["call_id"]] = at
        elif kind == "response.created":
            self._active = event["response"]["id"]
        elif kind == "response.done":
            self._active = None
            self._schedule.pop(event["response"]["id"], None)
        if kind in DISPATCHED:
            self.samples.arrived(event, at)

    def _on_delta(self, response: str, size: int, at: float) -> None:
        schedule = self._schedule.get(response)
        if schedule is None:
            self._schedule[response] = [at, float(size)]
            return
        self.samples.add("arrival_lag", at - (schedule[0] + schedule[1] / self._bps))
        schedule[1] += size

    def on_sent(self, event: Any, at: float) -> None:
        """Note a client event sent at ``at``."""
        if event["type"] != "conversation.item.create":
            return
        item = event["item"]
        if item["type"] == "function_call_output":
            returned = self._returned.pop(item["call_id"], None)
            if returned is not None:
                self.samples.add("tool_output", at - returned)

    # -- effects -------------------------------------------------------------------------

    def on_write(self, at: float, frame: bytes) -> None:
        """The sink got ``frame`` at ``at``: pair it with the delta it came from."""
        if not self._pending:
            self.samples.count("mismatched")
            return
        arrived, size = self._pending.popleft()
        if size != len(frame):
            self.samples.count("mismatched")
            return
        self.samples.add("audio", at - arrived)

    def on_clear(self, at: float) -> None:
        """The sink was cleared at ``at``: its queued deltas are gone."""
        self._pending.clear()
        if self._speech_at is not None:
            self.samples.add("barge_in", at - self._speech_at)
            self._speech_at = None

    def tool_started(self, call_id: str) -> None:
        """The tool for ``call_id`` started now."""
        arrived = self._calls.pop(call_id, None)
        if arrived is not None:
            self.samples.add("tool_start", self._clock() - arrived)

    def tool_returned(self, call_id: str) -> None:
        """The tool for ``call_id`` returns now."""
        self._returned[call_id] = self._clock()


class ProbedAgent(Agent):
    """The benchmark's agent: its tool reports to its session's :class:`SessionProbe`, and
    it handles the :data:`DISPATCHED` events, measuring their dispatch lag.

    Args:
        samples: Where the dispatch lags go.
        probes: The probe of each session by ``id(session)`` (filled in by the benchmark
            as sessions start).
        **options: Agent options.
    """

    instructions = "You are a concise weather assistant."

    def __init__(self, samples: Samples, probes: dict[int, SessionProbe], **options: Any) -> None:
        super().__init__(**options)
        self.probes = probes
        handle = samples.handler()
        for kind in DISPATCHED:
            self.on(kind)(handle)

    @tool
    async def get_weather(self, city: str, ctx: ToolContext) -> dict[str, Any]:
        """Current weather for a city.

        Args:
            city: City name, e.g. "Paris".
        """
        probe = self.probes.get(id(ctx.session))
        if probe is not None:
            probe.tool_started(ctx.call_id)
        result = get_weather(city)
        if probe is not None:
            probe.tool_returned(ctx.call_id)
        return result
