"""``voiceagent demo`` and ``voiceagent run`` from start to exit code: set up, converse,
summarize, and turn every expected failure into one line on stderr."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import anyio
from rich.text import Text

from ..errors import (
    ConfigurationError,
    MissingExtraError,
    ToolDefinitionError,
    VoiceAgentError,
)
from ..events import EndReason
from .commands import demo_conversation, run_conversation, summarize
from .conversation import Conversation, Outcome, converse
from .printer import Printer, console
from .usage import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, UsageError, UserCodeError

if TYPE_CHECKING:
    import argparse

__all__ = ["converse_command"]

_USAGE_ERRORS = (UsageError, ConfigurationError, MissingExtraError, ToolDefinitionError)
"""Failures that are the command line's or the agent definition's fault: exit code 2."""


def _leaf(exc: BaseException) -> BaseException:
    """The one exception inside nested exception groups, if there is exactly one."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text


def converse_command(args: argparse.Namespace) -> int:
    """Run ``voiceagent demo`` or ``voiceagent run`` with parsed arguments.

    Returns:
        The exit code.
    """
    prog = f"voiceagent {args.command}"
    for stream in (sys.stdout, sys.stderr):
        # Text from users, models and tools may hold any character; a console or pipe
        # whose encoding lacks one gets a replacement, not a crash.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
    out, err = console(), console(sys.stderr)
    printer = Printer(out, err, text_mode=bool(getattr(args, "text", False)))

    def fail(message: str, code: int) -> int:
        err.print(Text(f"{prog}: {message}", style="bold red"))
        return code

    outcome = Outcome()
    conversation: Conversation | None = None
    try:
        try:
            setup = demo_conversation if args.command == "demo" else run_conversation
            conversation = setup(args, printer)
            anyio.run(converse, conversation, printer, outcome)
        except BaseExceptionGroup as group:
            leaf = _leaf(group)
            if leaf is group:
                raise
            raise leaf from None
    except KeyboardInterrupt:
        if conversation is not None:
            summarize(conversation, outcome, printer, interrupted=True)
        return EXIT_INTERRUPTED
    except UserCodeError as exc:
        head, _, frames = str(exc).partition("\n")
        fail(head, EXIT_ERROR)
        err.print(Text(frames), highlight=False)
        return EXIT_ERROR
    except _USAGE_ERRORS as exc:
        return fail(_one_line(exc), EXIT_USAGE)
    except VoiceAgentError as exc:
        if conversation is not None:
            summarize(conversation, outcome, printer)
        return fail(_one_line(exc), EXIT_ERROR)
    assert conversation is not None
    summarize(conversation, outcome, printer)
    result = outcome.result
    if result is not None and result.reason in (EndReason.ERROR, EndReason.CONNECTION_LOST):
        return fail(_one_line(result.error or result.reason.value), EXIT_ERROR)
    return 0
