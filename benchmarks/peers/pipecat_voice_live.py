"""The benchmark's conversation with pipecat on Azure Voice Live (``pipecat-ai`` 1.14.0,
``pipecat.services.azure.voice_live.AzureVoiceLiveLLMService``).

A pipecat pipeline as its documentation shows for a realtime service, without a network
transport: ``microphone -> user aggregator -> AzureVoiceLiveLLMService -> speaker ->
assistant aggregator`` run by a ``PipelineWorker`` and a ``WorkerRunner``, the tool a
direct function listed in the ``LLMContext``, the conversation started with
``LLMRunFrame``. The service speaks the protocol over its own ``websockets`` connection
(not the SDK), with the ``api-key`` header and ``api-version``/``model`` in the query.

What differs from the raw clients and voiceagent, and why:

- The URL: pipecat forces ``wss://`` onto any endpoint
  (``AzureVoiceLiveLLMService._build_base_url``), and the emulator serves plain
  ``ws://`` on loopback, so the client sets the service's public ``base_url`` attribute
  back to ``ws://`` after construction. Nothing else is patched.
- A greeting: the service answers its first context (the ``LLMRunFrame`` that starts a
  pipecat conversation) with a response, so the model speaks first. The microphone
  starts once that answer has ended, then the scripted conversation runs as for the
  others. The benchmark's emulator script makes the greeting short ("Hi.", about 0.4 s
  of audio); it is not counted in the outcome's answers, but its cost is in pipecat's
  CPU time.
- Session: pipecat's defaults: ``azure_semantic_vad`` turn detection (the others use the
  service default ``server_vad``), ``azure-speech`` transcription, noise suppression
  and a standard voice; the session is updated twice (at connection, then with the
  context's tools).
- Barge-in: pipecat's own handling: an interruption frame through the pipeline,
  ``conversation.item.truncate`` to the wall-clock time since the answer's audio started
  (capped at the audio received).
- Speaker: a processor that drops ``TTSAudioRawFrame`` and counts its bytes (plays
  instantly, like voiceagent's ``NullSink``); there is no output transport, so there are no
  ``BotStartedSpeaking``/``BotStoppedSpeaking`` frames.
- ``enable_rtvi=False``: RTVI reports to a client app over the transport, and there is no
  client; pipecat's log level is WARNING (its default is DEBUG, a line per event).
- Answers and interruptions are read from the service's ``on_conversation_item_updated``
  events (the assistant messages of each ``response.done``: an interrupted one is
  ``incomplete``). The assistant aggregator's ``on_assistant_turn_stopped`` cannot tell:
  its ``interrupted`` flag races the service's own ``response.done`` (the interruption
  frame goes round through the user aggregator while the cancelled response's end is
  pushed at once), and comes out either way.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import anyio
from loguru import logger
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    InputAudioRawFrame,
    LLMRunFrame,
    StartFrame,
    TTSAudioRawFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.task import PipelineParams
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.azure.voice_live.llm import AzureVoiceLiveLLMService
from pipecat.services.llm_service import FunctionCallParams  # noqa: TC002 (read at run time)
from pipecat.workers.runner import WorkerRunner

from benchmarks import _conversation
from benchmarks._conversation import PCM
from benchmarks.peers import PeerOutcome

if TYPE_CHECKING:
    from benchmarks._conversation import PacedSource

__all__ = ["conversation"]

_END_TIMEOUT_S = 30.0
"""How long the conversation may take to end once the microphone has finished."""

logger.remove()
logger.add(sys.stderr, level="WARNING")


class _Microphone(FrameProcessor):
    """Pushes the paced source's frames downstream once :attr:`start` is set."""

    def __init__(self, source: PacedSource) -> None:
        super().__init__()
        self._source = source
        self.start = anyio.Event()
        self.finished = anyio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, StartFrame):
            self.create_task(self._stream())

    async def _stream(self) -> None:
        await self.start.wait()
        async for chunk in self._source:
            await self.push_frame(
                InputAudioRawFrame(
                    audio=chunk, sample_rate=PCM.sample_rate, num_channels=PCM.channels
                )
            )
        self.finished.set()


class _NullSpeaker(FrameProcessor):
    """Drops the agent's audio (counting it); passes every other frame on."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSAudioRawFrame):
            self.bytes += len(frame.audio)
            return
        await self.push_frame(frame, direction)


async def conversation(endpoint: str, api_key: str, source: PacedSource) -> PeerOutcome:
    """One conversation with a pipecat pipeline (see the module's docstring).

    Args:
        endpoint: The emulator's endpoint.
        api_key: Its key.
        source: The user's audio.

    Returns:
        What the conversation did.

    Raises:
        RuntimeError: pipecat reported an error, or the conversation did not end.
    """
    calls = 0

    # pipecat reads the annotations at run time (its tool schema): FunctionCallParams is
    # imported for real above.
    async def get_weather(params: FunctionCallParams, city: str) -> None:
        """Current weather for a city.

        Args:
            params: pipecat's call parameters.
            city: City name, e.g. "Paris".
        """
        nonlocal calls
        calls += 1
        await params.result_callback(_conversation.get_weather(city))

    llm = AzureVoiceLiveLLMService(
        endpoint=endpoint,
        api_key=api_key,
        settings=AzureVoiceLiveLLMService.Settings(
            model="gpt-realtime", system_instruction="You are a concise weather assistant."
        ),
    )
    llm.base_url = llm.base_url.replace("wss://", "ws://", 1)  # see the module's docstring
    aggregators = LLMContextAggregatorPair(LLMContext(tools=[get_weather]))
    microphone, speaker = _Microphone(source), _NullSpeaker()
    messages: list[str] = []  # the status of each assistant message, in order
    errors: list[str] = []

    @llm.event_handler("on_conversation_item_updated")
    async def on_item(_service: Any, _item_id: str, item: Any) -> None:
        if item and item.get("type") == "message" and item.get("role") == "assistant":
            messages.append(str(item.get("status")))
            microphone.start.set()  # the greeting has ended

    worker = PipelineWorker(
        Pipeline([microphone, aggregators.user(), llm, speaker, aggregators.assistant()]),
        params=PipelineParams(
            audio_in_sample_rate=PCM.sample_rate, audio_out_sample_rate=PCM.sample_rate
        ),
        enable_rtvi=False,
    )

    @worker.event_handler("on_pipeline_error")
    async def on_error(_worker: Any, frame: Any) -> None:
        errors.append(str(frame.error))

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await worker.queue_frames([LLMRunFrame()])
    async with anyio.create_task_group() as tg:
        tg.start_soon(runner.run)
        with anyio.fail_after(source.duration_ms / 1000 + _END_TIMEOUT_S):
            await microphone.finished.wait()
        await worker.queue_frame(EndFrame())
    if errors:
        raise RuntimeError(f"pipecat reported an error: {errors[0]}")
    answers = messages[1:]  # the first is the greeting
    return PeerOutcome(
        answers=len(answers),
        interrupted=answers.count("incomplete"),
        tool_calls=calls,
        audio_bytes=speaker.bytes,
    )
