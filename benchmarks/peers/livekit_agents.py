"""The benchmark's conversation with LiveKit Agents on Azure Voice Live
(``livekit-agents`` and ``livekit-plugins-azure[realtime]`` 1.8.9).

The whole LiveKit framework runs, as its documentation shows for a realtime model: an
``AgentSession`` with ``livekit.plugins.azure.realtime.RealtimeModel`` (the plugin connects
with the ``azure-ai-voicelive`` SDK, so ``endpoint`` points it at the emulator unchanged),
an ``Agent`` with one ``@function_tool``, and LiveKit's own turn handling, interruption
and tool execution. No LiveKit server or room is needed: ``AgentSession.start()`` takes
custom audio I/O (``session.input.audio`` / ``session.output.audio``), which is what
LiveKit's console mode uses.

What differs from the raw clients and voiceagent, and why:

- Microphone: the 20 ms frames go in as ``rtc.AudioFrame`` through an
  ``io.AudioInput``; the plugin regroups them and sends 100 ms appends (10 a second, not
  50; ``RealtimeSession.push_audio``).
- Speaker: an ``io.AudioOutput`` that plays instantly, like voiceagent's ``NullSink``
  (a segment is finished when it is flushed; nothing is left to clear at a barge-in).
- ``aec_warmup_duration=None``: by default LiveKit sends silence instead of the user's
  audio for the first 3 s (wall clock) of the agent's first answer, to wait for echo
  cancellation. The user audio here is synthetic, without echo (LiveKit turns the warm-up
  off itself for simulations); with it on, the sped-up ``--smoke`` run loses the barge-in.
- Barge-in: LiveKit stops the answer and sends ``response.cancel``; it does not truncate
  the item (the Azure plugin declares ``message_truncation=False`` and ``truncate()``
  only logs "not supported"), so the emulator receives no ``conversation.item.truncate``.
- Session set-up: LiveKit sends three ``session.update`` events (configuration, then
  instructions, then tools) and anchors the tool output with ``previous_item_id``; its
  follow-up ``response.create`` carries ``metadata`` that the service echoes back.
- Tool output: LiveKit sends ``str()`` of the returned dict (Python repr, not JSON).
- ``resume_false_interruption`` off: it needs a speaker that can pause (LiveKit ignores
  it with one that cannot, and warns each session).
- The session stays LiveKit's default otherwise (its default Silero VAD object is created
  but not run: server turn detection is on).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import anyio
from livekit import rtc
from livekit.agents import (
    Agent,
    AgentSession,
    ConversationItemAddedEvent,
    FunctionToolsExecutedEvent,
    function_tool,
)
from livekit.agents.voice import io
from livekit.plugins.azure.realtime import RealtimeModel

from benchmarks._conversation import PCM, get_weather
from benchmarks.peers import PeerOutcome

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from benchmarks._conversation import PacedSource

__all__ = ["conversation"]

_END_TIMEOUT_S = 30.0
"""How long the conversation may take to go quiet once the microphone has finished."""
_BUSY = ("thinking", "speaking")


class _Microphone(io.AudioInput):
    """The paced source as a LiveKit audio input; sets :attr:`finished` at its end."""

    def __init__(self, source: PacedSource) -> None:
        super().__init__(label="benchmark microphone")
        self._frames: AsyncIterator[bytes] = source.__aiter__()
        self.finished = anyio.Event()

    async def __anext__(self) -> rtc.AudioFrame:
        try:
            frame = await self._frames.__anext__()
        except StopAsyncIteration:
            self.finished.set()
            raise
        return rtc.AudioFrame(
            data=frame,
            sample_rate=PCM.sample_rate,
            num_channels=PCM.channels,
            samples_per_channel=len(frame) // 2,
        )


class _NullSpeaker(io.AudioOutput):
    """Plays instantly: a segment is finished when it is flushed."""

    def __init__(self) -> None:
        super().__init__(
            label="null speaker",
            capabilities=io.AudioOutputCapabilities(pause=False),
            sample_rate=PCM.sample_rate,
        )
        self.bytes = 0
        self._pushed_s = 0.0

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if not self._pushed_s:
            self.on_playback_started(created_at=time.time())
        self.bytes += frame.samples_per_channel * frame.num_channels * 2
        self._pushed_s += frame.duration

    def flush(self) -> None:
        super().flush()
        if self._pushed_s:
            played, self._pushed_s = self._pushed_s, 0.0
            self.on_playback_finished(playback_position=played, interrupted=False)

    def clear_buffer(self) -> None:
        """Nothing is ever queued."""


class _WeatherAgent(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You are a concise weather assistant.")

    @function_tool
    async def get_weather(self, city: str) -> dict[str, Any]:
        """Current weather for a city.

        Args:
            city: City name, e.g. "Paris".
        """
        return get_weather(city)


async def conversation(endpoint: str, api_key: str, source: PacedSource) -> PeerOutcome:
    """One conversation with a LiveKit ``AgentSession`` (see the module's docstring).

    Args:
        endpoint: The emulator's endpoint.
        api_key: Its key.
        source: The user's audio.

    Returns:
        What the conversation did.

    Raises:
        RuntimeError: LiveKit reported an unrecoverable error, or did not go quiet after
            the microphone finished.
    """
    model = RealtimeModel(endpoint=endpoint, api_key=api_key, model="gpt-realtime")
    session: AgentSession[None] = AgentSession(
        llm=model,
        aec_warmup_duration=None,
        # The null speaker cannot pause: say so rather than have LiveKit warn each session.
        turn_handling={"interruption": {"resume_false_interruption": False}},
    )
    microphone, speaker = _Microphone(source), _NullSpeaker()
    session.input.audio = microphone
    session.output.audio = speaker
    answers = interrupted = calls = 0
    errors: list[str] = []
    quiet = anyio.Event()  # replaced by each wait for the agent to stop thinking or speaking

    def on_item(event: ConversationItemAddedEvent) -> None:
        nonlocal answers, interrupted
        item = event.item
        if getattr(item, "role", None) == "assistant":
            answers += 1
            interrupted += bool(getattr(item, "interrupted", False))

    def on_tools(event: FunctionToolsExecutedEvent) -> None:
        nonlocal calls
        calls += len(event.function_calls)

    def on_error(event: Any) -> None:
        if not getattr(event.error, "recoverable", True):
            errors.append(repr(event.error))
            quiet.set()

    def on_state(event: Any) -> None:
        if event.new_state not in _BUSY:
            quiet.set()

    session.on("conversation_item_added", on_item)
    session.on("function_tools_executed", on_tools)
    session.on("error", on_error)
    session.on("agent_state_changed", on_state)
    try:
        await session.start(agent=_WeatherAgent(), record=False)
        await microphone.finished.wait()
        with anyio.fail_after(_END_TIMEOUT_S):
            while session.agent_state in _BUSY and not errors:
                quiet = anyio.Event()
                await quiet.wait()
    finally:
        await session.aclose()
        await model.aclose()
    if errors:
        raise RuntimeError(f"LiveKit reported an error: {errors[0]}")
    return PeerOutcome(
        answers=answers, interrupted=interrupted, tool_calls=calls, audio_bytes=speaker.bytes
    )
