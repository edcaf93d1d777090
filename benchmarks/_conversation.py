"""The scripted conversation the benchmarks run, and a microphone that can run faster than
real time.

One *cycle* of the conversation, in audio time (server VAD decides the turns)::

    user: "What is the weather in Paris?"     -> a call to get_weather, then answer 1
    user: "Tell me a story please."           -> answer 2, a long story...
    user: "Stop please."  (during the story)  -> barge-in; answer 3: "Okay, I will stop."

so a cycle holds three agent answers with audio, one tool call and one barge-in. The
user's audio and the emulator's script are built together, so the barge-in lands in the
middle of the story whatever the speed-up, as long as the emulator's pacing and the
microphone's run at the same speed.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import attrs

from voiceagent import Agent, tool
from voiceagent.audio import AudioFormat
from voiceagent.testing import Script, ToolCall, Turn, synthesize

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = [
    "FRAME_MS",
    "GREETING",
    "PCM",
    "Cycle",
    "PacedSource",
    "WeatherAgent",
    "build_cycle",
    "get_weather",
    "replies",
    "script_for",
]

PCM = AudioFormat()
"""The wire format: 24 kHz mono pcm16, used end to end (no conversion)."""
FRAME_MS = 20
VAD_SILENCE_MS = 500
"""The server VAD's default ``silence_duration_ms``: a turn ends this long after speech."""

QUESTION = "What is the weather in Paris?"
ANSWER = "It is sunny and twenty one degrees in Paris today."
STORY_REQUEST = "Tell me a story please."
STORY = (
    "Once upon a time there was a lighthouse keeper who counted the waves every night "
    "and wrote each number in a small blue book that nobody ever read, until one winter "
    "a child found the book on the shore and read every page aloud to the sea."
)
STOP = "Stop please."
OKAY = "Okay, I will stop."
CITY = "Paris"
GREETING = "Hi."
"""What the model says when asked to answer before the user spoke. Only a peer client that
starts its conversation that way (pipecat) hears it; short, so that it costs little."""

_LEAD_IN_MS = 300
_MARGIN_MS = 1500
_BARGE_IN_AT = 0.4
"""How far into the story the user interrupts, as a fraction of its duration."""


def get_weather(city: str) -> dict[str, Any]:
    """The tool both clients run: the same work on each side."""
    return {"city": city, "temperature_c": 21, "sky": "sunny"}


class WeatherAgent(Agent):
    """The voiceagent side of the conversation: one tool, default options."""

    instructions = "You are a concise weather assistant."

    @tool
    async def get_weather(self, city: str) -> dict[str, Any]:
        """Current weather for a city.

        Args:
            city: City name, e.g. "Paris".
        """
        return get_weather(city)


@attrs.frozen(kw_only=True)
class Cycle:
    """One cycle of the conversation: the user's audio and where things happen in it.

    Attributes:
        audio: The user's audio (pcm16, 24 kHz mono), silence included.
        turns: The emulator's script for the cycle's three user turns.
        story_starts_ms: When the story's audio should start (audio time, from the cycle's
            start), for a server that answers at once.
        barge_in_ms: When the user starts talking over the story.
    """

    audio: bytes = attrs.field(repr=lambda a: f"<{len(a)} bytes>")
    turns: tuple[Turn, ...]
    story_starts_ms: float
    barge_in_ms: float

    @property
    def duration_ms(self) -> float:
        """The cycle's duration."""
        return PCM.ms_for_bytes(len(self.audio))


def _silence(ms: float) -> bytes:
    return bytes(PCM.bytes_for_ms(ms))


def build_cycle(*, min_duration_ms: float = 0.0) -> Cycle:
    """Build one cycle of the conversation, padded with trailing silence to at least
    ``min_duration_ms``.

    Args:
        min_duration_ms: The shortest the cycle may be.

    Returns:
        The cycle.
    """
    question, request, stop = (synthesize(t).audio for t in (QUESTION, STORY_REQUEST, STOP))
    answer_ms = synthesize(ANSWER).duration_ms
    story_ms = synthesize(STORY).duration_ms
    okay_ms = synthesize(OKAY).duration_ms
    parts: list[bytes] = [_silence(_LEAD_IN_MS), question]
    # Answer 1 comes after the call's round trip; leave it time to finish.
    parts.append(_silence(VAD_SILENCE_MS + answer_ms + _MARGIN_MS))
    parts.append(request)
    story_starts_ms = PCM.ms_for_bytes(sum(map(len, parts))) + VAD_SILENCE_MS
    wait_ms = VAD_SILENCE_MS + _BARGE_IN_AT * story_ms
    parts.append(_silence(wait_ms))
    barge_in_ms = PCM.ms_for_bytes(sum(map(len, parts)))
    parts += [stop, _silence(VAD_SILENCE_MS + okay_ms + _MARGIN_MS)]
    audio = b"".join(parts)
    short = PCM.bytes_for_ms(min_duration_ms) - len(audio)
    if short > 0:
        audio += bytes(short)
    turns = (
        Turn(hears=QUESTION, calls=[ToolCall("get_weather", {"city": CITY})], says=ANSWER),
        Turn(hears=STORY_REQUEST, says=STORY),
        Turn(hears=STOP, says=OKAY),
    )
    return Cycle(audio=audio, turns=turns, story_starts_ms=story_starts_ms, barge_in_ms=barge_in_ms)


def script_for(cycle: Cycle, cycles: int) -> Script:
    """The emulator script for ``cycles`` repetitions of ``cycle`` (greeting: :data:`GREETING`)."""
    return Script(*(cycle.turns * cycles), greeting=GREETING)


def replies() -> dict[str, float]:
    """The agent's answers and their durations in ms, by text."""
    return {text: synthesize(text).duration_ms for text in (ANSWER, STORY, OKAY)}


class PacedSource:
    """A microphone stand-in: ``audio`` repeated ``repeat`` times, in 20 ms frames, paced
    at ``speed`` times real time (None: as fast as the reader takes them).

    A frame is released once all of it was "captured": the frame ending ``t`` ms into the
    audio is due ``t / speed`` ms after the first frame was asked for. Frames are slices of
    ``audio``, made as they go, so an hour of audio costs no more memory than one cycle.

    Args:
        audio: Whole pcm16 samples at 24 kHz, mono.
        repeat: How many times to play ``audio``.
        speed: Pacing factor (positive), or None for no pacing.
        frame_ms: Frame duration.

    Raises:
        ValueError: A bad ``repeat``, ``speed`` or ``frame_ms``, or ``audio`` not a whole
            number of frames' samples.
    """

    def __init__(
        self,
        audio: bytes,
        *,
        repeat: int = 1,
        speed: float | None = 1.0,
        frame_ms: int = FRAME_MS,
    ) -> None:
        if repeat < 1:
            raise ValueError(f"repeat must be at least 1, got {repeat!r}")
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be positive or None, got {speed!r}")
        if frame_ms <= 0:
            raise ValueError(f"frame_ms must be positive, got {frame_ms!r}")
        if not PCM.is_aligned(len(audio)):
            raise ValueError(f"audio must hold whole pcm16 samples, got {len(audio)} bytes")
        self._audio = audio
        self._repeat = repeat
        self._speed = speed
        self._frame = PCM.bytes_for_ms(frame_ms)
        self.sent_ms = 0.0
        """Audio released so far, in ms: where the conversation is, in audio time."""

    @property
    def format(self) -> AudioFormat:
        """pcm16, 24 kHz, mono."""
        return PCM

    @property
    def duration_ms(self) -> float:
        """The whole audio's duration (all repetitions)."""
        return PCM.ms_for_bytes(len(self._audio)) * self._repeat

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """Yield the frames, paced.

        On asyncio the pacing uses the loop's own clock and sleep: anyio's
        ``sleep_until`` finds the running backend on each call, which at 50 frames a second
        per session made this stand-in about a tenth of a loaded client's CPU, more than a
        real microphone's callbacks cost.
        """
        audio, step, speed = self._audio, self._frame, self._speed
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # trio
            loop = None
        start = anyio.current_time()
        sent = 0.0
        for _ in range(self._repeat):
            for i in range(0, len(audio), step):
                frame = audio[i : i + step]
                sent += PCM.ms_for_bytes(len(frame))
                if speed is None:
                    await anyio.lowlevel.checkpoint()
                elif loop is not None:
                    await asyncio.sleep(max(0.0, start + sent / 1000 / speed - loop.time()))
                else:
                    await anyio.sleep_until(start + sent / 1000 / speed)
                self.sent_ms = sent
                yield frame
