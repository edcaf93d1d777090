"""``voiceagent demo`` and ``voiceagent run``: from parsed arguments to a conversation, and
the summary printed when it ends."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .._connect import ENDPOINT_VARIABLES, KEY_VARIABLES
from .._report import report_format
from ..audio import Speaker, WavFileSink
from ..errors import ConfigurationError
from ..events import EndReason
from .conversation import (
    Backend,
    Conversation,
    Outcome,
    open_input,
    open_microphone,
    open_output,
    open_speaker,
)
from .targets import load_agent, load_script, module_script
from .usage import UsageError

if TYPE_CHECKING:
    import argparse

    from .. import Agent, SessionResult
    from ..audio import AudioSink, AudioSource
    from ..testing import Script
    from .printer import Printer

__all__ = [
    "DEMO_OUTPUT",
    "demo_conversation",
    "report_path",
    "run_conversation",
    "summarize",
    "write_report",
]

DEMO_OUTPUT = "voiceagent-demo.wav"
LIVE_TURNS = 100
"""Turns the emulator answers with the weather when the demo listens to a microphone."""

_REASONS = {
    EndReason.INPUT_FINISHED: "the input ended and the agent answered",
    EndReason.ENDED: "the conversation ended",
    EndReason.CANCELLED: "stopped (Ctrl-C)",
    EndReason.CONNECTION_LOST: "the connection was lost",
    EndReason.ERROR: "an error ended the conversation",
}


def _no_endpoint(flag: str) -> UsageError:
    return UsageError(
        f"no Voice Live endpoint: set {' or '.join(ENDPOINT_VARIABLES)} (and "
        f"{KEY_VARIABLES[0]}, or sign in for Microsoft Entra ID), or use {flag}"
    )


def _exclusive(args: argparse.Namespace, *pairs: tuple[str, str]) -> None:
    for first, second in pairs:
        if getattr(args, first.lstrip("-").replace("-", "_")) and getattr(
            args, second.lstrip("-").replace("-", "_")
        ):
            raise UsageError(f"{first} and {second} cannot be used together: choose one")


def _audio_ends(
    args: argparse.Namespace, *, default_input: str | None, default_output: str | None
) -> tuple[AudioSource | None, AudioSink | None, Path | None]:
    """The source and sink the arguments ask for. The output file is created last, once
    everything else was found to be in order, so bad usage never truncates a file."""
    source: AudioSource | None = None
    input_path: str | None = args.input or default_input
    if args.mic:
        source = open_microphone(args.mic_device)
    elif input_path:
        source = open_input(input_path, realtime=args.realtime)
    sink: AudioSink | None = None
    output_path: str | None = args.output or default_output
    path: Path | None = None
    if args.speaker:
        sink = open_speaker(args.speaker_device)
    elif output_path:
        path = Path(output_path)
        sink = open_output(output_path)
    return source, sink, path


def report_path(args: argparse.Namespace, agent: Agent) -> Path | None:
    """Where ``--report`` asks for the report, checked before anything runs.

    Raises:
        UsageError: Not ``.json`` or ``.html``, a missing directory, or an agent that keeps
            no report.
    """
    given: str | None = getattr(args, "report", None)
    if not given:
        return None
    path = Path(given)
    try:
        report_format(path)
    except ConfigurationError as exc:
        raise UsageError(f"--report: {exc}") from None
    if not path.parent.is_dir():
        raise UsageError(f"--report: the directory {str(path.parent)!r} does not exist")
    if not agent.telemetry.report:
        raise UsageError("--report: this agent keeps no report (its telemetry has report=False)")
    return path


# -- demo ---------------------------------------------------------------------------------------


def _live_script() -> Script:
    """Every turn gets the weather: the emulator cannot understand the user's speech."""
    from ..demo.weather import forecast
    from ..testing import Script, ToolCall, Turn

    turn = Turn(calls=[ToolCall("get_weather", {"city": "Paris"})], says=forecast)
    return Script(*[turn] * LIVE_TURNS)


def demo_conversation(args: argparse.Namespace, printer: Printer) -> Conversation:
    """The demo: the bundled weather agent, its recorded question, the emulator (or Azure).

    Raises:
        UsageError: Conflicting options, a missing device or extra, an unwritable output.
    """
    from ..demo import QUESTION, SCRIPT, WeatherAgent
    from ..testing._service import azure_endpoint

    _exclusive(args, ("--azure", "--emulator"), ("--speaker", "--output"))
    azure = args.azure or (not args.emulator and azure_endpoint() is not None)
    if args.azure and azure_endpoint() is None:
        raise _no_endpoint("the emulator (leave out --azure)")
    # At real pace (the recording as a microphone would send it, the answer as a speaker
    # would play it), the transcript unfolds as the conversation would; --fast skips that.
    args.realtime = not args.fast
    speed = None if args.fast else 1.0
    agent = WeatherAgent()
    report = report_path(args, agent)
    source, sink, path = _audio_ends(
        args,
        default_input=str(QUESTION),
        default_output=None if args.speaker else DEMO_OUTPUT,
    )
    script, script_name = SCRIPT, "voiceagent/demo/weather.py:SCRIPT"
    if args.mic:
        script, script_name = _live_script(), "every turn gets the weather in Paris"
    printer.heading(
        "voiceagent demo: WeatherAgent, from voiceagent/demo/weather.py (examples/weather.py)"
    )
    you = "your microphone" if args.mic else f"a recorded question ({QUESTION.name})"
    agent_out = "your speaker" if args.speaker else str(path)
    printer.note(f"user: {you} · agent audio: {agent_out}")
    if args.mic and not azure:
        printer.note(
            "the emulator does not understand speech: it answers every turn with the "
            f"weather. Set {ENDPOINT_VARIABLES[0]} to talk to a real model. Ctrl-C ends."
        )
    return Conversation(
        agent=agent,
        backend=Backend(emulator=not azure, script=script, script_name=script_name, speed=speed),
        source=source,
        sink=sink,
        output_path=path,
        report_path=report,
    )


# -- run ----------------------------------------------------------------------------------------


def run_conversation(args: argparse.Namespace, printer: Printer) -> Conversation:
    """Any agent, from a ``file.py:Name`` or ``module:Name`` target.

    Raises:
        UsageError: A bad target or script, conflicting options, a missing device or extra,
            a missing input file, no endpoint without ``--emulator``.
    """
    _exclusive(
        args,
        ("--input", "--mic"),
        ("--output", "--speaker"),
        ("--text", "--input"),
        ("--text", "--mic"),
        ("--text", "--output"),
        ("--text", "--speaker"),
    )
    if not (args.text or args.input or args.mic):
        raise UsageError("say where the user's side comes from: --input FILE.wav, --mic or --text")
    if args.script and not args.emulator:
        raise UsageError("--script sets what the emulator says: add --emulator")
    if args.speed_given and not args.emulator:
        raise UsageError("--speed paces the emulator: add --emulator")
    if not args.emulator and _azure_endpoint() is None:
        raise _no_endpoint("--emulator")
    loaded = load_agent(args.target)
    report = report_path(args, loaded.agent)
    backend = Backend(emulator=False)
    if args.emulator:
        found = load_script(args.script) if args.script else None
        if found is None:
            in_module = module_script(loaded.module)
            if in_module is not None:
                name, script = in_module
                found = (f"{loaded.where.rpartition(':')[0]}:{name}", script)
        backend = Backend(
            emulator=True,
            script=found[1] if found else None,
            script_name=found[0] if found else None,
            speed=args.speed,
        )
    source, sink, path = (None, None, None)
    if not args.text:
        source, sink, path = _audio_ends(args, default_input=None, default_output=None)
    printer.heading(f"voiceagent run: {loaded.where}")
    if not args.text:
        you = "your microphone" if args.mic else args.input
        agent_out = "your speaker" if args.speaker else (str(path) if path else "not kept")
        printer.note(f"user: {you} · agent audio: {agent_out}")
    else:
        printer.note("text chat: type a message and press Enter; Ctrl-D ends")
    return Conversation(
        agent=loaded.agent,
        backend=backend,
        source=source,
        sink=sink,
        output_path=path,
        text=args.text,
        report_path=report,
    )


def _azure_endpoint() -> str | None:
    from ..testing._service import azure_endpoint

    return azure_endpoint()


# -- the end ------------------------------------------------------------------------------------


def summarize(
    conversation: Conversation, outcome: Outcome, printer: Printer, *, interrupted: bool = False
) -> None:
    """Print how the conversation ended and where the agent's audio is.

    Args:
        conversation: What ran.
        outcome: What it left.
        printer: Where to print.
        interrupted: Ctrl-C ended it (perhaps while the session was still starting, when
            the session itself has no reason yet).
    """
    session = outcome.session
    if session is None or not (outcome.started or interrupted):
        return  # it never started: the error says why
    result = outcome.result or session.result()
    parts = [_REASONS[EndReason.CANCELLED if interrupted else result.reason]]
    count = printer.agent_messages
    parts.append(f"{count} agent message{'s' if count != 1 else ''}")
    sink = conversation.sink
    if isinstance(sink, WavFileSink):
        seconds = sink.played_ms() / 1000
        parts.append(f"{seconds:.1f} s of agent audio in {conversation.output_path}")
    elif isinstance(sink, Speaker):
        parts.append(f"{sink.played_ms() / 1000:.1f} s of agent audio played")
    printer.heading("ended: " + " · ".join(parts))
    write_report(conversation, result, printer)


def write_report(conversation: Conversation, result: SessionResult, printer: Printer) -> None:
    """Write the conversation's report where ``--report`` asked (a failure is a note)."""
    path = conversation.report_path
    if path is None:
        return
    try:
        result.report().write(path)
    except (OSError, ConfigurationError) as exc:
        printer.note(f"the report could not be written to {path}: {exc}")
        return
    printer.note(f"report: {path}")
