"""Running one conversation from the command line: the service (Azure or the emulator),
the audio ends, a text chat on stdin, and what is left to report when it ends."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import TYPE_CHECKING, Any

import anyio
import anyio.from_thread
import attrs

from .._turns import TurnState
from ..audio import Converter, Microphone, Speaker, WavFileSink, WavFileSource
from ..errors import AudioError, ConfigurationError, MissingExtraError
from ..events import SessionEnded, TurnChanged
from .usage import UsageError

if TYPE_CHECKING:
    from pathlib import Path

    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from .. import Agent, AgentSession, EventStream, SessionResult
    from ..audio import AudioSink, AudioSource
    from ..testing import Script
    from .printer import Printer

__all__ = [
    "Backend",
    "Conversation",
    "Outcome",
    "converse",
    "open_input",
    "open_microphone",
    "open_output",
    "open_speaker",
]


@attrs.frozen(kw_only=True)
class Backend:
    """Which service to talk to.

    Attributes:
        emulator: True for the emulator, False for Azure (endpoint and credential from the
            environment, as the library resolves them).
        script: The emulator's script (None: its default brain).
        script_name: Where the script came from, for the transcript's heading.
        speed: The emulator's pacing of the agent's audio (None: unpaced).
    """

    emulator: bool
    script: Script | None = None
    script_name: str | None = None
    speed: float | None = 1.0


@attrs.define(kw_only=True)
class Conversation:
    """What to run, resolved from the command line.

    Attributes:
        agent: The agent.
        backend: The service.
        source: The user's audio (None for a text chat).
        sink: Where the agent's audio goes (None: nowhere).
        output_path: The WAV file ``sink`` writes, if it writes one.
        text: A text chat on stdin instead of audio.
        report_path: Where to write the conversation's report (``--report``), if anywhere.
    """

    agent: Agent
    backend: Backend
    source: AudioSource | None = None
    sink: AudioSink | None = None
    output_path: Path | None = None
    text: bool = False
    report_path: Path | None = None


@attrs.define
class Outcome:
    """What the conversation left, filled in as it runs (so Ctrl-C still has it).

    Attributes:
        session: The session, once created.
        started: Whether the session started (connected and configured).
        result: Its result, once it ended normally.
    """

    session: AgentSession | None = None
    started: bool = False
    result: SessionResult | None = None


# -- the audio ends -----------------------------------------------------------------------------


def open_input(path: str, *, realtime: bool) -> WavFileSource:
    """The user's audio from a WAV file.

    Raises:
        UsageError: The file is missing, unreadable or not a WAV voiceagent reads.
    """
    try:
        return WavFileSource(path, realtime=realtime)
    except AudioError as exc:
        raise UsageError(str(exc)) from None


def open_output(path: str) -> WavFileSink:
    """A WAV file for the agent's audio, pcm16 mono at 24 kHz (a wire format: no resampling).

    Raises:
        UsageError: The file cannot be created.
    """
    try:
        return WavFileSink(path)
    except AudioError as exc:
        raise UsageError(str(exc)) from None


def _device(device: str | None) -> int | str | None:
    return int(device) if device is not None and device.isdigit() else device


def open_microphone(device: str | None) -> Microphone:
    """The default (or the named) microphone.

    Raises:
        UsageError: The audio extra or PortAudio is missing, or there is no such device.
    """
    try:
        return Microphone(_device(device))
    except (MissingExtraError, AudioError, ConfigurationError) as exc:
        raise UsageError(f"--mic: {exc}") from None


def open_speaker(device: str | None) -> Speaker:
    """The default (or the named) speaker.

    Raises:
        UsageError: The audio extra or PortAudio is missing, or there is no such device.
    """
    try:
        return Speaker(_device(device))
    except (MissingExtraError, AudioError, ConfigurationError) as exc:
        raise UsageError(f"--speaker: {exc}") from None


def _check_conversions(session: AgentSession) -> None:
    """Fail now, not mid-conversation, when the audio needs the ``audio`` extra."""
    try:
        if session.source is not None and session.input_format is not None:
            Converter(session.source.format, session.input_format)
        if session.sink is not None and session.output_format is not None:
            Converter(session.output_format, session.sink.format)
    except MissingExtraError as exc:
        raise UsageError(
            f"{exc}; or give a WAV file Voice Live takes as it is (pcm16 mono at 8, 16 or "
            "24 kHz, or G.711 at 8 kHz)"
        ) from None


# -- running ------------------------------------------------------------------------------------


async def converse(conversation: Conversation, printer: Printer, outcome: Outcome) -> None:
    """Run the conversation to its end (or until cancelled), printing it as it goes.

    Raises:
        UsageError: Audio that needs a missing extra.
        VoiceAgentError: The session could not start, or an error ended it.
    """
    backend = conversation.backend
    agent = conversation.agent
    printer.attach(agent)
    async with contextlib.AsyncExitStack() as stack:
        connect: dict[str, Any] = {}
        if backend.emulator:
            from ..testing import Emulator

            emu = await stack.enter_async_context(
                Emulator(script=backend.script, speed=backend.speed)
            )
            connect = {"endpoint": emu.endpoint, "credential": emu.credential}
            pace = "unpaced" if backend.speed is None else f"speed {backend.speed:g}x"
            script = backend.script_name or "no script: the default brain"
            printer.note(f"the Voice Live emulator at {emu.endpoint} ({pace}; {script})")
        else:
            from ..testing._service import azure_endpoint

            printer.note(f"Azure AI Voice Live at {azure_endpoint() or '(no endpoint set)'}")
        sink = conversation.sink
        if sink is not None:
            stack.push_async_callback(_close, sink)
        overrides: dict[str, Any] = {"modalities": ["text"]} if conversation.text else {}
        session = agent.session(source=conversation.source, sink=sink, **connect, **overrides)
        outcome.session = session
        _check_conversions(session)
        async with session:
            outcome.started = True
            if conversation.text:
                await _chat(session, printer)
            else:
                await session.wait()
        outcome.result = session.result()


async def _close(sink: AudioSink) -> None:
    with anyio.CancelScope(shield=True):
        await sink.aclose()


# -- text chat ----------------------------------------------------------------------------------


def _read_stdin(
    portal: anyio.from_thread.BlockingPortal, send: MemoryObjectSendStream[str]
) -> None:
    """Hand stdin's lines to the event loop, from a daemon thread.

    It reads the file descriptor itself: a daemon thread blocked inside ``sys.stdin``
    would hold the buffer's lock and crash the interpreter's shutdown after Ctrl-C.
    """
    encoding = getattr(sys.stdin, "encoding", None) or "utf-8"
    pending = b""
    try:
        fd = sys.stdin.fileno()
        while chunk := os.read(fd, 65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                portal.call(send.send, line.decode(encoding, "replace").rstrip("\r"))
        if pending:
            portal.call(send.send, pending.decode(encoding, "replace"))
    except Exception:  # the conversation is over (the portal is gone), or stdin failed
        pass
    finally:
        with contextlib.suppress(Exception):
            portal.call(send.aclose)


async def _until_idle(stream: EventStream) -> bool:
    """Wait until the turn is back to idle; False when the session ended instead."""
    async for event in stream:
        if isinstance(event, SessionEnded):
            return False
        if isinstance(event, TurnChanged) and event.new is TurnState.IDLE:
            return True
    return False


async def _chat(session: AgentSession, printer: Printer) -> None:
    """Read lines from stdin and send each as a user message, one answer at a time; end
    the conversation at the end of the input (Ctrl-D)."""
    interactive = sys.stdin.isatty()
    stream = session.events()
    send, receive = anyio.create_memory_object_stream[str](16)
    async with anyio.from_thread.BlockingPortal() as portal:
        threading.Thread(
            target=_read_stdin, args=(portal, send), name="voiceagent stdin", daemon=True
        ).start()
        try:
            await _converse_lines(session, printer, stream, receive, interactive=interactive)
        finally:
            await portal.stop(cancel_remaining=True)
    session.end()
    await session.wait()


async def _converse_lines(
    session: AgentSession,
    printer: Printer,
    stream: EventStream,
    lines: MemoryObjectReceiveStream[str],
    *,
    interactive: bool,
) -> None:
    async with lines:
        while True:
            # Wait for the greeting or the last answer; stop if the agent ended the chat.
            if session.state is not TurnState.IDLE and not await _until_idle(stream):
                return
            if interactive:
                printer.out.print("you> ", end="", style="bold green")
            try:
                line = await lines.receive()
            except anyio.EndOfStream:
                if interactive:
                    printer.out.print()
                return
            text = line.strip()
            if not text:
                continue
            if not interactive:
                printer.line("user", "bold green", text)
            await session.send_text(text)
