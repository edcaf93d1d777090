"""Bad usage of the command: a one-line message and exit code 2, never a traceback."""

from __future__ import annotations

import traceback
from pathlib import Path

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_USAGE", "UsageError", "UserCodeError"]

EXIT_USAGE = 2
"""Bad usage: a missing file, a bad target, a missing device or extra (as argparse)."""
EXIT_ERROR = 1
"""The conversation failed: the service refused the credential, the connection dropped."""
EXIT_INTERRUPTED = 130
"""Ctrl-C, as for any program stopped by SIGINT."""


class UsageError(Exception):
    """The command was used wrongly; the message says how, on one line."""


_OURS = str(Path(__file__).resolve().parent.parent)


class UserCodeError(Exception):
    """The user's own module raised while it was imported.

    The message is one line saying so, then the traceback of the user's own frames only
    (voiceagent's and importlib's frames are left out: they are not where the bug is).

    Args:
        where: The target as written.
        exc: The exception the module raised.
    """

    def __init__(self, where: str, exc: BaseException) -> None:
        summary = traceback.TracebackException.from_exception(exc)
        frames = [
            frame
            for frame in summary.stack
            if not frame.filename.startswith(_OURS) and not frame.filename.startswith("<frozen")
        ]
        summary.stack = traceback.StackSummary.from_list(frames)
        lines = "".join(summary.format()).rstrip()
        super().__init__(f"importing {where} failed: {type(exc).__name__}: {exc}\n{lines}")
