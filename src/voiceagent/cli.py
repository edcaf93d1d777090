"""The ``voiceagent`` command (also ``python -m voiceagent``).

- ``voiceagent demo``: the bundled weather agent answers a recorded question, against the
  emulator (or Azure, when it is configured), with a live transcript.
- ``voiceagent run file.py:Agent``: any agent, with audio from a WAV file or the
  microphone, to a WAV file or the speaker, or as a text chat in the terminal.
- ``voiceagent emulator``: the Voice Live emulator as a standalone server.
- ``voiceagent serve file.py:Agent``: the agent as a web service (a browser page and the
  browser protocol over WebSocket, health, readiness and metrics), draining on SIGTERM.
- ``voiceagent transcribe FILE.wav|--mic``: speech to text, one line per turn.

Bad usage (a missing file, a bad target, a missing device or extra) gets a one-line error
and exit code 2; a conversation that fails (refused credential, lost connection) exit
code 1; Ctrl-C ends cleanly with exit code 130, leaving a valid output WAV.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

import anyio

from ._version import __version__

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .testing import Script

__all__ = ["main"]

_EPILOG_RUN = """\
examples:
  voiceagent run examples/weather.py:WeatherAgent --emulator --text
  voiceagent run examples/weather.py:WeatherAgent --input question.wav --output answer.wav
  voiceagent run my_package.agents:concierge --mic --speaker

Without --emulator the agent talks to Azure AI Voice Live: set AZURE_VOICELIVE_ENDPOINT,
and AZURE_VOICELIVE_API_KEY or sign in for Microsoft Entra ID (az login).
With --emulator and no --script, a Script named `script` or `SCRIPT` in the agent's
module is used, if there is one.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voiceagent",
        description="Real-time voice agents on Azure AI Voice Live.",
    )
    parser.add_argument("--version", action="version", version=f"voiceagent {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_demo(commands)
    _add_run(commands)
    _add_emulator(commands)
    _add_serve(commands)
    _add_transcribe(commands)
    return parser


def _add_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser(
        "demo",
        help="hear the bundled weather agent answer a recorded question",
        description=(
            "Run the bundled weather agent (examples/weather.py): it hears a recorded "
            "question, calls its get_weather tool and answers. The transcript is printed "
            "live; the agent's audio goes to a WAV file. It runs against the built-in "
            "emulator, or against Azure AI Voice Live when AZURE_VOICELIVE_ENDPOINT (or "
            "AZURE_COGNITIVE_SERVICES_ENDPOINT) is set or --azure is given."
        ),
    )
    demo.add_argument(
        "--output",
        metavar="FILE.wav",
        help="where the agent's audio goes (default: voiceagent-demo.wav)",
    )
    where = demo.add_mutually_exclusive_group()
    where.add_argument("--azure", action="store_true", help="talk to Azure AI Voice Live")
    where.add_argument(
        "--emulator", action="store_true", help="talk to the emulator even if Azure is set up"
    )
    _add_devices(demo, what="instead of the recording")
    demo.add_argument(
        "--save-question",
        metavar="FILE.wav",
        help="write the demo's recorded question (real speech, asking about the weather in "
        "Paris) to a WAV file, and exit: a user for your own agents",
    )
    demo.add_argument(
        "--fast",
        action="store_true",
        help="no real-time pacing: send the recording at once and get the answer as fast "
        "as the emulator can stream it",
    )
    _add_report(demo)
    demo.set_defaults(input=None)


def _add_run(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser(
        "run",
        help="run any agent: audio files, microphone and speaker, or a text chat",
        description="Run an agent: a live transcript, the agent's audio to a file or the speaker.",
        epilog=_EPILOG_RUN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "target",
        metavar="TARGET",
        help="the agent: path/to/file.py:Name or package.module:Name, where Name is an "
        "Agent instance, an Agent subclass, or a function returning an Agent (':Name' may "
        "be left out when there is one agent)",
    )
    run.add_argument("--input", metavar="FILE.wav", help="the user's audio, from a WAV file")
    run.add_argument(
        "--realtime",
        action="store_true",
        help="send --input at real-time pace, as a microphone would (default: as fast as possible)",
    )
    run.add_argument("--output", metavar="FILE.wav", help="write the agent's audio to a WAV file")
    _add_devices(run, what="")
    run.add_argument(
        "--text",
        action="store_true",
        help="chat in text in the terminal instead (modalities text): one message a line, "
        "Ctrl-D ends",
    )
    run.add_argument(
        "--emulator", action="store_true", help="talk to the emulator instead of Azure"
    )
    run.add_argument(
        "--script",
        metavar="SCRIPT",
        help="the emulator's script: script.py or script.py:name, a file defining "
        "`script = Script(...)` (voiceagent.testing)",
    )
    run.add_argument(
        "--speed",
        type=_speed,
        default=argparse.SUPPRESS,
        help="the emulator's pace: 1 = real time (default), 10 = ten times faster, 0 = unpaced",
    )
    _add_report(run)


def _add_report(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--report",
        metavar="FILE.json|FILE.html",
        help="when the conversation ends, write its report: the turns on a timeline, "
        "latencies, tool calls, interruptions, reconnections and token usage (JSON, or a "
        "self-contained HTML page)",
    )


def _add_devices(parser: argparse.ArgumentParser, *, what: str) -> None:
    parser.add_argument(
        "--mic",
        action="store_true",
        help=f"the user speaks into the microphone {what} (needs the audio extra)".replace(
            "  ", " "
        ),
    )
    parser.add_argument(
        "--speaker",
        action="store_true",
        help="play the agent's audio on the speaker (needs the audio extra)",
    )
    parser.add_argument(
        "--mic-device", metavar="DEVICE", help="input device: index or part of its name"
    )
    parser.add_argument(
        "--speaker-device", metavar="DEVICE", help="output device: index or part of its name"
    )


def _add_emulator(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    emulator = commands.add_parser(
        "emulator",
        help="run the Voice Live emulator as a standalone server",
        description=(
            "Run the Voice Live emulator: a loopback WebSocket server that speaks the Azure AI "
            "Voice Live protocol, so any azure-ai-voicelive program runs against it offline. "
            "It prints the endpoint and the environment variables to export, then logs one "
            "line per event."
        ),
    )
    emulator.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: %(default)s)"
    )
    emulator.add_argument(
        "--port",
        type=int,
        default=8765,
        help="port to bind, 0 for any free one (default: %(default)s)",
    )
    emulator.add_argument(
        "--api-key", default=None, help="API key clients must send (default: a random key)"
    )
    emulator.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        help="response audio pacing: 1 = real time, 10 = ten times faster, 0 = unpaced "
        "(default: %(default)s)",
    )
    emulator.add_argument(
        "--script",
        metavar="SCRIPT",
        help="what the emulator hears and answers: script.py or script.py:name (or "
        "package.module:name), defining `script = Script(...)` (voiceagent.testing); "
        "default: echo text, acknowledge audio",
    )
    emulator.add_argument(
        "--session-max-s",
        type=float,
        default=None,
        metavar="SECONDS",
        help="end each session after this many emulated seconds, as the service does "
        "(error session_expired, close 1001); default: never",
    )
    emulator.add_argument(
        "--record-all",
        action="store_true",
        help=f"keep every event of every connection and every closed connection in memory "
        f"(default: the last {_CLI_RECORD_LIMIT} events of each connection and the last "
        f"{_CLI_KEEP_CLOSED} closed connections, so that memory stays flat)",
    )
    emulator.add_argument("--quiet", action="store_true", help="do not log events")


_CLI_RECORD_LIMIT = 200
"""Events of each direction a connection of the standalone emulator keeps (at least)."""
_CLI_KEEP_CLOSED = 20
"""Closed connections (and refused requests) the standalone emulator keeps."""


_EPILOG_SERVE = """\
examples:
  voiceagent serve examples/weather.py:WeatherAgent --emulator     (then open http://127.0.0.1:8000)
  voiceagent serve agents.py:Concierge --host 0.0.0.0 --port 8000 --workers 2

Each WebSocket connection to /ws is one conversation. /healthz answers 200 while the
process runs, /readyz 503 at capacity or while draining, /metrics in Prometheus form.
SIGTERM drains: new connections are refused, live conversations get --drain-timeout
seconds to end, then are stopped; the exit code is 0.
"""


def _add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve an agent over WebSocket: a browser page, health, readiness, metrics",
        description="Serve an agent as a web service on uvicorn (needs the serve extra).",
        epilog=_EPILOG_SERVE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "target",
        metavar="TARGET",
        help="the agent: path/to/file.py:Name or package.module:Name; an Agent subclass or "
        "function is called once per conversation, an instance is shared",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: %(default)s)"
    )
    serve.add_argument("--port", type=int, default=8000, help="port to bind (default: %(default)s)")
    serve.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="worker processes sharing the port, each with its own --max-sessions "
        "(default: %(default)s)",
    )
    serve.add_argument(
        "--max-sessions",
        type=_positive_int,
        default=50,
        help="conversations per process; the next connection is refused with close code "
        "1013 and /readyz answers 503 (default: %(default)s)",
    )
    serve.add_argument(
        "--drain-timeout",
        type=_seconds,
        default=60.0,
        help="on SIGTERM, seconds live conversations get to end before they are stopped "
        "(default: %(default)s)",
    )
    serve.add_argument(
        "--stop-timeout",
        type=_seconds,
        default=5.0,
        help="then, seconds stopped conversations get to close (default: %(default)s)",
    )
    serve.add_argument("--no-page", action="store_true", help="do not serve the browser page at /")
    serve.add_argument(
        "--emulator",
        action="store_true",
        help="talk to an in-process emulator instead of Azure (one per worker)",
    )
    serve.add_argument(
        "--script",
        metavar="SCRIPT",
        help="the emulator's script: script.py or script.py:name (default: `script` or "
        "`SCRIPT` in the agent's module)",
    )
    serve.add_argument(
        "--speed",
        type=_speed,
        default=argparse.SUPPRESS,
        help="the emulator's pace: 1 = real time (default), 0 = unpaced",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="log level (default: %(default)s)",
    )


_EPILOG_TRANSCRIBE = """\
examples:
  voiceagent transcribe call.wav --language en-US
  voiceagent transcribe --mic --json
  voiceagent transcribe call.wav --emulator --script script.py

One line per turn, as the service's voice activity detection cuts them (--one-turn: the
whole input as one turn). No agent answers: it is a Voice Live session whose turns never
create responses, with input transcription on.
"""


def _add_transcribe(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    transcribe = commands.add_parser(
        "transcribe",
        help="transcribe a WAV file or the microphone, one line per turn",
        description="Transcribe speech with Voice Live (no agent answers).",
        epilog=_EPILOG_TRANSCRIBE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    transcribe.add_argument("file", metavar="FILE.wav", nargs="?", help="the audio to transcribe")
    transcribe.add_argument(
        "--mic", action="store_true", help="transcribe the microphone (needs the audio extra)"
    )
    transcribe.add_argument(
        "--mic-device", metavar="DEVICE", help="input device: index or part of its name"
    )
    transcribe.add_argument(
        "--realtime", action="store_true", help="send FILE.wav at real-time pace"
    )
    transcribe.add_argument(
        "--language", help="the language: en-US, en, or a comma list to detect among"
    )
    transcribe.add_argument(
        "--transcription-model",
        metavar="MODEL",
        help="azure-speech (default for cascaded models), mai-transcribe, whisper-1, "
        "gpt-4o-transcribe... (the last ones with a gpt-realtime --model)",
    )
    transcribe.add_argument(
        "--model", help="the session's model (default: gpt-4.1-mini, a cascaded model)"
    )
    transcribe.add_argument(
        "--one-turn", action="store_true", help="no voice activity detection: one turn"
    )
    transcribe.add_argument("--json", action="store_true", help="one JSON object per line")
    transcribe.add_argument(
        "--emulator", action="store_true", help="talk to the emulator instead of Azure"
    )
    transcribe.add_argument(
        "--script",
        metavar="SCRIPT",
        help="what the emulator hears in each turn: script.py or script.py:name, defining "
        "`script = Script(Turn(hears=...), ...)`",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {text}")
    return value


def _speed(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 (unpaced) or a positive number, got {text}")
    return value or None


async def _run_emulator(args: argparse.Namespace, script: Script | None, where: str) -> None:
    from .errors import EmulatorError
    from .testing import Emulator, Faults

    bounded = not args.record_all
    emulator = Emulator(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        speed=args.speed,
        script=script,
        record_limit=_CLI_RECORD_LIMIT if bounded else None,
        keep_closed=_CLI_KEEP_CLOSED if bounded else None,
        faults=Faults(session_max_s=args.session_max_s),
    )
    try:
        await emulator.start()
    except EmulatorError as exc:
        print(f"voiceagent emulator: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    try:
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            print(f"warning: listening on {args.host}, not only on loopback", file=sys.stderr)
        print(f"Voice Live emulator listening on {emulator.endpoint}")
        if where:
            print(f"Playing the script {where}")
        print("Point your program at it with:")
        print(f"  export AZURE_VOICELIVE_ENDPOINT={emulator.endpoint}")
        print(f"  export AZURE_VOICELIVE_API_KEY={emulator.api_key}")
        print("Press Ctrl-C to stop.", flush=True)
        await anyio.sleep_forever()
    finally:
        with anyio.CancelScope(shield=True):
            await emulator.close()


def _emulator_command(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        print(f"voiceagent emulator: --port must be 0 to 65535, got {args.port}", file=sys.stderr)
        return 2
    if args.session_max_s is not None and not 0 < args.session_max_s < float("inf"):
        print(
            f"voiceagent emulator: --session-max-s must be a positive number of seconds, "
            f"got {args.session_max_s:g}",
            file=sys.stderr,
        )
        return 2
    script, where = None, ""
    if args.script is not None:
        from ._cli.targets import load_script
        from ._cli.usage import UsageError

        try:
            where, script = load_script(args.script)
        except UsageError as exc:
            print(f"voiceagent emulator: {exc}", file=sys.stderr)
            return 2
    if not args.quiet:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
        logging.getLogger("aiohttp").setLevel(logging.WARNING)
    try:
        anyio.run(_run_emulator, args, script, where)
    except KeyboardInterrupt:
        print("\nemulator stopped", file=sys.stderr)
    return 0


def _save_question(path: str) -> int:
    import shutil

    from .demo import QUESTION

    try:
        shutil.copyfile(QUESTION, path)
    except OSError as exc:
        print(f"voiceagent demo: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}: a recorded question (What's the weather like in Paris today?)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``voiceagent`` command.

    Args:
        argv: The arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit code: 0 on success (and after SIGTERM for ``serve``), 1 when a
        conversation failed, 2 for bad usage, 130 after Ctrl-C.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "emulator":
        return _emulator_command(args)
    if args.command == "transcribe":
        from ._cli.transcribe import transcribe_command

        return transcribe_command(args)
    if args.command == "demo" and args.save_question:
        return _save_question(args.save_question)
    args.speed_given = "speed" in vars(args)
    if not args.speed_given:
        args.speed = 1.0
    if args.command == "serve":
        from ._cli.serve import serve_command

        return serve_command(args)
    from ._cli.main import converse_command

    return converse_command(args)
