"""Transcription-only sessions: audio in, typed transcript events out, no agent.

Why a regular session, not ``transcription_session.update``: the SDK has a
``transcription_session`` resource, but Voice Live documents no such event (protocol
reference §3 marks it UNVERIFIED; an OpenAI-style transcription session is not part of
the 2026-04-10 or 2026-07-15 references). What Voice Live does document is enough: a
session whose turn detection does not create responses (``create_response: false``), with
input transcription on, segments the audio by voice activity and transcribes every turn
(``conversation.item.input_audio_transcription.*``) without the model ever answering,
because nothing sends ``response.create``. Output is text only, so no voice is set up.

The session's model still has to be named: by default a cascaded text model, whose input
is transcribed by Azure Speech (``azure-speech``), since the model itself never runs.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any, Final, Self

import anyio
import attrs

from ._connect import DEFAULT_SCOPE, ConnectionSettings, open_connection
from ._features import InputTranscription, NoiseReduction
from ._options import SessionOptions, to_request_session
from ._translate import Translator
from ._turn_detection import ServerVad, TurnDetection
from ._wire import RECEIVE_LIMIT, Wire
from .audio import AudioSource, converted, wire_format_for
from .errors import ConfigurationError, SessionStateError, VoiceAgentError
from .events import (
    Event,
    ServiceErrorReported,
    UserSpeechStarted,
    UserSpeechStopped,
    UserTranscript,
    UserTranscriptFailed,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from types import TracebackType

    from anyio.abc import TaskGroup
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
    from azure.core.credentials import AzureKeyCredential
    from azure.core.credentials_async import AsyncTokenCredential

    from ._translate import Raw
    from .audio import AudioFormat

__all__ = [
    "DEFAULT_TRANSCRIPTION_MODEL",
    "Transcriber",
    "TranscriptSegment",
    "TranscriptionResult",
    "TranscriptionSession",
]

log = logging.getLogger("voiceagent.transcriber")

DEFAULT_TRANSCRIPTION_MODEL: Final = "gpt-4.1-mini"
"""The session model a :class:`Transcriber` names by default: a cascaded model, so the
input is transcribed by Azure Speech and no realtime model runs."""
_CONFIGURE_TIMEOUT_S: Final = 15.0


@attrs.frozen(kw_only=True)
class TranscriptSegment:
    """One transcribed turn of the audio.

    Attributes:
        item_id: The service's item for the turn.
        text: The transcript ("" when it failed).
        start_ms: Where the speech started, in ms of the audio sent (None when the service
            did not say: manual turns).
        end_ms: Where it ended (the service's ``audio_end_ms``, which includes the
            silence that ended the turn), or None.
        error: Why the transcription failed, or None.
    """

    item_id: str
    text: str
    start_ms: int | None = None
    end_ms: int | None = None
    error: str | None = None


@attrs.frozen(kw_only=True)
class TranscriptionResult:
    """Everything a transcription session produced.

    Attributes:
        segments: The turns, in the order the service committed them.
    """

    segments: tuple[TranscriptSegment, ...]

    @property
    def text(self) -> str:
        """The transcripts of the turns that were transcribed, joined by spaces."""
        return " ".join(s.text for s in self.segments if s.error is None and s.text)


class Transcriber:
    """Speech to text over Voice Live: a source in, transcript events out.

    ::

        transcriber = Transcriber(transcription=InputTranscription(language="en-US"))
        async with transcriber.session(source=WavFileSource("call.wav")) as session:
            async for event in session:
                if isinstance(event, UserTranscript):
                    print(event.text)

    or ``result = await transcriber.run(source=...)`` for the whole
    :class:`TranscriptionResult`. A Transcriber is a definition (no connection): one serves
    any number of sessions.

    Args:
        transcription: The transcription model and language (default: the session model's,
            ``azure-speech`` for cascaded models).
        turn_detection: How the audio is cut into turns: a server VAD (default
            ``ServerVad()``), a semantic VAD, or None for one turn per source (committed
            when it ends). It never creates responses.
        noise_reduction: Input noise suppression, or None (off).
        model: The session's model (see :data:`DEFAULT_TRANSCRIPTION_MODEL`).
        buffer: Events held for a reader that falls behind; then the session waits for the
            reader (nothing is dropped: the service's socket buffers meanwhile).
        finish_timeout_s: After the source ends, how long to wait for the last turns'
            transcripts.
    """

    def __init__(
        self,
        *,
        transcription: InputTranscription | None = None,
        turn_detection: TurnDetection | None = ServerVad(),  # noqa: B008 - frozen value
        noise_reduction: NoiseReduction | None = None,
        model: str = DEFAULT_TRANSCRIPTION_MODEL,
        buffer: int = 1024,
        finish_timeout_s: float = 30.0,
    ) -> None:
        if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 1:
            raise ConfigurationError(
                f"Transcriber buffer must be a whole number >= 1, not {buffer!r}"
            )
        number = isinstance(finish_timeout_s, int | float) and not isinstance(
            finish_timeout_s, bool
        )
        if not (number and 0 < finish_timeout_s < float("inf")):
            raise ConfigurationError(
                f"Transcriber finish_timeout_s must be a number of seconds > 0, not "
                f"{finish_timeout_s!r}"
            )
        detection = turn_detection
        if detection is not None:
            if not hasattr(detection, "create_response"):
                raise ConfigurationError(
                    f"Transcriber turn_detection must be a ServerVad, AzureSemanticVad... or "
                    f"None, not {detection!r}"
                )
            if detection.create_response or detection.interrupt_response:
                raise ConfigurationError(
                    "a Transcriber's turn detection never creates or interrupts responses: "
                    "leave create_response and interrupt_response unset"
                )
            detection = attrs.evolve(
                detection,
                create_response=False,
                interrupt_response=False,
            )
        self.options = SessionOptions(
            model=model,
            modalities=("text",),
            turn_detection=detection,
            noise_reduction=noise_reduction,
            input_transcription=InputTranscription() if transcription is None else transcription,
        )
        """The session options a transcription session sends (responses never created)."""
        self.buffer = buffer
        self.finish_timeout_s = float(finish_timeout_s)

    def session(
        self,
        *,
        source: AudioSource,
        endpoint: str | None = None,
        credential: AzureKeyCredential | AsyncTokenCredential | None = None,
        api_key: str | None = None,
        scope: str | None = None,
    ) -> TranscriptionSession:
        """One transcription of ``source``, as an async context manager that is also an
        async iterator of its events.

        Args:
            source: The audio (any :class:`~voiceagent.audio.AudioSource`); the session
                closes it when it ends.
            endpoint: The Voice Live endpoint (default: from the environment).
            credential: An ``AzureKeyCredential`` or async token credential.
            api_key: A key (used when ``credential`` is None; default: the environment's).
            scope: The Entra ID token scope.

        Returns:
            The session: ``async with transcriber.session(source=...) as session:``.

        Raises:
            ConfigurationError: ``source`` is not an audio source.
        """
        if not isinstance(source, AudioSource):
            raise ConfigurationError(
                f"Transcriber.session(): source must be an AudioSource, not {source!r}"
            )
        fmt = wire_format_for(source.format)
        request = to_request_session(self.options, input_audio_format=fmt)
        return TranscriptionSession(
            self,
            source=source,
            wire_format=fmt,
            request=request.as_dict(),
            settings={
                "endpoint": endpoint,
                "credential": credential,
                "api_key": api_key,
                "scope": scope or DEFAULT_SCOPE,
            },
        )

    async def run(
        self,
        *,
        source: AudioSource,
        endpoint: str | None = None,
        credential: AzureKeyCredential | AsyncTokenCredential | None = None,
        api_key: str | None = None,
        scope: str | None = None,
    ) -> TranscriptionResult:
        """Transcribe ``source`` to its end (the arguments are those of :meth:`session`).

        Returns:
            The segments.

        Raises:
            ConnectError: The connection could not be opened.
            ConnectionLostError: The connection dropped before the end.
        """
        async with self.session(
            source=source, endpoint=endpoint, credential=credential, api_key=api_key, scope=scope
        ) as session:
            async for _ in session:
                pass
        return session.result()

    def __repr__(self) -> str:
        return f"Transcriber({self.options!r})"


class TranscriptionSession:
    """One running transcription (from :meth:`Transcriber.session`).

    Iterate it for its events: :class:`~voiceagent.events.UserSpeechStarted` and
    :class:`~voiceagent.events.UserSpeechStopped` (with VAD),
    :class:`~voiceagent.events.UserTranscriptDelta`,
    :class:`~voiceagent.events.UserTranscript` or
    :class:`~voiceagent.events.UserTranscriptFailed` for each turn, and
    :class:`~voiceagent.events.ServiceErrorReported` /
    :class:`~voiceagent.events.ServiceWarningReported`. The iteration ends once the source
    has ended and every turn has its transcript (or ``finish_timeout_s`` passed).
    """

    def __init__(
        self,
        transcriber: Transcriber,
        *,
        source: AudioSource,
        wire_format: AudioFormat,
        request: dict[str, Any],
        settings: dict[str, Any],
    ) -> None:
        self.transcriber = transcriber
        self.source = source
        self._format = wire_format
        self._request = request
        self._settings_args = settings
        self._translator = Translator(bytes_per_ms=1.0)
        self._send: MemoryObjectSendStream[Event] | None = None
        self._receive: MemoryObjectReceiveStream[Event] | None = None
        self._tg: TaskGroup | None = None
        self._loops: anyio.CancelScope | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._wire: Wire | None = None
        self._error: BaseException | None = None
        self._entered = False
        self.session_id: str | None = None
        """The service's session id, once connected."""
        self._segments: dict[str, TranscriptSegment] = {}
        self._pending: set[str] = set()  # committed, transcript not in yet
        self._speech: dict[str, tuple[int | None, int | None]] = {}
        self._speaking: str | None = None
        self._uncommitted = False
        self._source_done = False
        self._commit_sent = False  # our closing commit, after the source ended
        self._committed_after = False  # ...and the service's answer to it
        self._finished: anyio.Event | None = None

    # -- results -------------------------------------------------------------------------

    def result(self) -> TranscriptionResult:
        """The segments so far, in commit order."""
        return TranscriptionResult(segments=tuple(self._segments.values()))

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._entered:
            raise SessionStateError("a transcription session is entered once")
        self._entered = True
        stack = contextlib.AsyncExitStack()
        try:
            settings = ConnectionSettings.resolve(
                model=self.transcriber.options.model, **self._settings_args
            )
            stack.push_async_callback(settings.aclose)
            connection = await stack.enter_async_context(
                open_connection(
                    settings,
                    query=self.transcriber.options.connect_query,
                    connection_options={"max_msg_size": RECEIVE_LIMIT},
                )
            )
            self._wire = Wire(connection, settings)
            self._finished = anyio.Event()
            await self._configure(self._wire)
            self._send, self._receive = anyio.create_memory_object_stream[Event](
                self.transcriber.buffer
            )
            tg = anyio.create_task_group()
            await tg.__aenter__()
            self._tg = tg
            self._loops = anyio.CancelScope()
            tg.start_soon(self._run_loops, self._loops)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await stack.aclose()
                await self._close_source()
            raise
        self._stack = stack
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tg, self._tg = self._tg, None
        try:
            if tg is not None:
                tg.cancel_scope.cancel()
                await tg.__aexit__(None, None, None)
        finally:
            with anyio.CancelScope(shield=True):
                if self._stack is not None:
                    await self._stack.aclose()
                await self._close_source()
                if self._receive is not None:
                    self._receive.close()
        if self._error is not None and exc is None:
            raise self._error

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        if self._receive is None:
            raise SessionStateError(
                "the transcription has not started: use `async with transcriber.session(...) "
                "as session:`"
            )
        async for event in self._receive:
            yield event

    async def _close_source(self) -> None:
        aclose = getattr(self.source, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception), anyio.move_on_after(5):
                await aclose()

    async def _configure(self, wire: Wire) -> None:
        await wire.send({"type": "session.update", "session": self._request})
        with anyio.fail_after(_CONFIGURE_TIMEOUT_S):
            while True:
                raw = await wire.recv()
                session = raw.get("session")
                if isinstance(session, dict) and isinstance(session.get("id"), str):
                    self.session_id = session["id"]
                if raw["type"] == "session.updated":
                    return
                if raw["type"] == "error":
                    error = raw.get("error")
                    message = error.get("message", "") if isinstance(error, dict) else ""
                    raise ConfigurationError(
                        f"Voice Live rejected the transcription session: {message}"
                    )

    # -- loops -----------------------------------------------------------------------------

    async def _run_loops(self, scope: anyio.CancelScope) -> None:
        # The loops' own scope: ending them must not cancel the body of the `async with`
        # (which runs inside the task group's scope): its iteration just ends.
        assert self._wire is not None
        with scope:
            async with anyio.create_task_group() as loops:
                loops.start_soon(self._guard, self._wire.run)
                loops.start_soon(self._guard, self._receive_loop)
                loops.start_soon(self._guard, self._send_loop)

    async def _guard(self, loop: Any) -> None:
        try:
            await loop()
        except VoiceAgentError as exc:
            self._error = self._error or exc
            self._end()
        except Exception as exc:
            log.exception("transcription loop failed")
            self._error = self._error or exc
            self._end()

    def _end(self) -> None:
        if self._send is not None:
            self._send.close()
        if self._finished is not None:
            self._finished.set()
        if self._loops is not None:
            self._loops.cancel()

    async def _send_loop(self) -> None:
        wire = self._wire
        assert wire is not None
        async for frame in converted(self.source, self._format):
            self._uncommitted = True
            await wire.send_audio(frame)
        # A round trip: once its answer arrives, the service has processed (VAD
        # included) everything appended before it.
        await wire.send({"type": "session.update", "session": {}})
        self._source_done = True
        assert self._finished is not None
        await self._finished.wait()

    async def _receive_loop(self) -> None:
        wire = self._wire
        assert wire is not None
        barrier_seen = False
        timeout = self.transcriber.finish_timeout_s
        while True:
            with anyio.move_on_after(timeout if barrier_seen else None) as scope:
                raw = await wire.recv()
            if scope.cancelled_caught:
                log.warning(
                    "%d turn(s) got no transcript within %s s after the audio ended",
                    len(self._pending),
                    timeout,
                )
                self._end()
                return
            kind = raw["type"]
            if kind == "session.updated" and self._source_done and not barrier_seen:
                barrier_seen = True
                await self._input_ended(wire)
            else:
                await self._on_wire(raw)
            if barrier_seen and not self._pending and not self._awaiting_commit:
                self._end()
                return

    @property
    def _awaiting_commit(self) -> bool:
        return self._commit_sent and not self._committed_after

    async def _input_ended(self, wire: Wire) -> None:
        """The source ended: commit what the service has not turned into a turn yet."""
        manual = self.transcriber.options.turn_detection is None
        if self._speaking is not None or (manual and self._uncommitted):
            self._commit_sent = True
            await wire.send({"type": "input_audio_buffer.commit"})

    async def _on_wire(self, raw: Raw) -> None:
        kind = raw["type"]
        if kind == "input_audio_buffer.committed":
            item_id = str(raw.get("item_id") or "")
            self._uncommitted = False
            self._speaking = None
            if self._commit_sent:
                self._committed_after = True
            if item_id:
                self._pending.add(item_id)
                start, end = self._speech.pop(item_id, (None, None))
                self._segments[item_id] = TranscriptSegment(
                    item_id=item_id, text="", start_ms=start, end_ms=end
                )
        elif kind == "error" and self._commit_sent and not self._committed_after:
            # Our closing commit was refused (nothing left to commit): nothing is owed.
            self._committed_after = True
        for event in self._translator.translate(raw).events:
            self._note(event)
            assert self._send is not None
            await self._send.send(event)

    def _note(self, event: Event) -> None:
        if isinstance(event, UserSpeechStarted):
            self._speaking = event.item_id
            self._speech[event.item_id] = (event.audio_start_ms, None)
        elif isinstance(event, UserSpeechStopped):
            self._speaking = None
            start, _ = self._speech.get(event.item_id, (None, None))
            self._speech[event.item_id] = (start, event.audio_end_ms)
            segment = self._segments.get(event.item_id)
            if segment is not None:
                self._segments[event.item_id] = attrs.evolve(segment, end_ms=event.audio_end_ms)
        elif isinstance(event, UserTranscript | UserTranscriptFailed):
            self._pending.discard(event.item_id)
            old = self._segments.get(event.item_id) or TranscriptSegment(
                item_id=event.item_id, text=""
            )
            if isinstance(event, UserTranscript):
                self._segments[event.item_id] = attrs.evolve(old, text=event.text)
            else:
                self._segments[event.item_id] = attrs.evolve(old, error=event.message)
        elif isinstance(event, ServiceErrorReported):
            log.warning("Voice Live error %s: %s", event.code, event.message)
