"""``voiceagent transcribe``: a WAV file or the microphone to text, one line per turn."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import TYPE_CHECKING, Any

import anyio

from ..errors import ConfigurationError, MissingExtraError, VoiceAgentError
from ..events import UserTranscript, UserTranscriptFailed
from .conversation import open_input, open_microphone
from .targets import load_script
from .usage import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, UsageError

if TYPE_CHECKING:
    import argparse

    from .._transcriber import Transcriber, TranscriptSegment
    from ..audio import AudioSource
    from ..testing import Script

__all__ = ["transcribe_command"]


def _clock(ms: int | None) -> str:
    if ms is None:
        return "--:--.-"
    minutes, seconds = divmod(ms / 1000, 60)
    return f"{int(minutes):02d}:{seconds:04.1f}"


def _line(segment: TranscriptSegment, as_json: bool) -> str:
    if as_json:
        return json.dumps(
            {
                "item_id": segment.item_id,
                "start_ms": segment.start_ms,
                "end_ms": segment.end_ms,
                "text": segment.text,
                "error": segment.error,
            },
            ensure_ascii=False,
        )
    when = f"[{_clock(segment.start_ms)} - {_clock(segment.end_ms)}]"
    if segment.error is not None:
        return f"{when} (not transcribed: {segment.error})"
    return f"{when} {segment.text}"


def _setup(args: argparse.Namespace) -> tuple[Transcriber, AudioSource, Script | None]:
    from .. import Transcriber
    from ..options import InputTranscription, ServerVad
    from ..testing._service import azure_endpoint

    if bool(args.file) == bool(args.mic):
        raise UsageError("say what to transcribe: a FILE.wav or --mic (one of them)")
    if args.realtime and not args.file:
        raise UsageError("--realtime paces a FILE.wav: it needs one")
    if args.script and not args.emulator:
        raise UsageError("--script sets what the emulator hears: add --emulator")
    if not args.emulator and azure_endpoint() is None:
        raise UsageError(
            "no Voice Live endpoint: set AZURE_VOICELIVE_ENDPOINT (and AZURE_VOICELIVE_API_KEY, "
            "or sign in for Microsoft Entra ID), or use --emulator"
        )
    script = load_script(args.script)[1] if args.script else None
    source: AudioSource
    if args.mic:
        source = open_microphone(args.mic_device)
    else:
        source = open_input(args.file, realtime=args.realtime)
    try:
        transcription = InputTranscription(model=args.transcription_model, language=args.language)
        kwargs: dict[str, Any] = {"transcription": transcription}
        if args.model:
            kwargs["model"] = args.model
        kwargs["turn_detection"] = None if args.one_turn else ServerVad()
        transcriber = Transcriber(**kwargs)
    except ConfigurationError as exc:
        raise UsageError(str(exc)) from None
    return transcriber, source, script


async def _transcribe(
    args: argparse.Namespace, transcriber: Transcriber, source: AudioSource, script: Script | None
) -> int:
    from ..testing import Emulator

    async with contextlib.AsyncExitStack() as stack:
        connect: dict[str, Any] = {}
        if args.emulator:
            emu = await stack.enter_async_context(Emulator(script=script, speed=None))
            connect = {"endpoint": emu.endpoint, "credential": emu.credential}
            if script is None and not args.json:
                print(
                    "the emulator does not understand speech: each turn is transcribed as "
                    "'(speech, N seconds)' unless --script says what it hears",
                    file=sys.stderr,
                )
        count = 0
        async with transcriber.session(source=source, **connect) as session:
            async for event in session:
                if not isinstance(event, UserTranscript | UserTranscriptFailed):
                    continue
                for segment in session.result().segments:
                    if segment.item_id == event.item_id:
                        print(_line(segment, args.json), flush=True)
                        count += 1
    if not args.json:
        print(f"transcribed {count} turn{'s' if count != 1 else ''}", file=sys.stderr)
    return 0


def transcribe_command(args: argparse.Namespace) -> int:
    """Run ``voiceagent transcribe`` with parsed arguments.

    Returns:
        The exit code: 0, 1 when the transcription failed (a refused credential, a lost
        connection), 2 for bad usage, 130 after Ctrl-C.
    """
    prog = "voiceagent transcribe"
    try:
        transcriber, source, script = _setup(args)
    except (UsageError, MissingExtraError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return anyio.run(_transcribe, args, transcriber, source, script)
    except KeyboardInterrupt:
        print(f"\n{prog}: stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ConfigurationError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except VoiceAgentError as exc:
        print(f"{prog}: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_ERROR
