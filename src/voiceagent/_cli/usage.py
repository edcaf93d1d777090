"""Bad usage of the command: a one-line message and exit code 2, never a traceback."""

from __future__ import annotations

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_USAGE", "UsageError"]

EXIT_USAGE = 2
"""Bad usage: a missing file, a bad target, a missing device or extra (as argparse)."""
EXIT_ERROR = 1
"""The conversation failed: the service refused the credential, the connection dropped."""
EXIT_INTERRUPTED = 130
"""Ctrl-C, as for any program stopped by SIGINT."""


class UsageError(Exception):
    """The command was used wrongly; the message says how, on one line."""
