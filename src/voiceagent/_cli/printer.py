"""The live transcript ``voiceagent demo`` and ``voiceagent run`` print.

One line per thing that happened, as it happens: what the user said, what the agent
said, each tool call with its arguments and its result, each change of turn, and each
turn's latency (the user stopped speaking → the first agent audio). rich styles the
lines on a terminal; when the output is a pipe or a file the same lines come out plain,
one per line, never wrapped.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from .._turns import TurnState
from ..events import (
    AgentTranscript,
    Event,
    Interrupted,
    Reconnected,
    Reconnecting,
    ServiceErrorReported,
    SessionStarted,
    ToolCallFinished,
    ToolCallStarted,
    TurnChanged,
    TurnMetrics,
    UserTranscript,
)

if TYPE_CHECKING:
    from typing import TextIO

    from .. import Agent

__all__ = ["Printer", "console"]

_STATE_NAMES = {
    TurnState.IDLE: "idle",
    TurnState.USER_SPEAKING: "user speaking",
    TurnState.CONFIRMING: "confirming",
    TurnState.THINKING: "thinking",
    TurnState.TOOL_RUNNING: "tool running",
    TurnState.AGENT_SPEAKING: "agent speaking",
}
_LABEL_WIDTH = 8


def console(file: TextIO | None = None) -> Console:
    """A console for the command's output: styled on a terminal, plain lines otherwise.

    Lines are never wrapped (``soft_wrap``), and neither markup nor emoji codes are read
    from the text, since it comes from users, models and tools.
    """
    return Console(file=file, soft_wrap=True, highlight=False, markup=False, emoji=False)


def _format_arguments(arguments: str) -> str:
    """``city="Paris", unit="c"`` from the model's JSON arguments (as sent, if not JSON)."""
    try:
        parsed: Any = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return arguments
    if not isinstance(parsed, dict):
        return arguments
    return ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in parsed.items())


class Printer:
    """Prints a session's events as a transcript.

    Args:
        out: Where the transcript goes.
        err: Where notes and errors go.
        text_mode: The user types instead of speaking: turn changes are not shown (a
            text turn only goes to thinking and back), and latency is measured to the
            first text.
    """

    def __init__(self, out: Console, err: Console, *, text_mode: bool = False) -> None:
        self.out = out
        self.err = err
        self.text_mode = text_mode
        self._t0: float | None = None
        self.agent_messages = 0
        """Final agent transcripts printed (answers, greetings, prefaces)."""

    def attach(self, agent: Agent) -> None:
        """Print the events of every session of ``agent``."""
        agent.on(Event)(self.show)

    # -- lines -----------------------------------------------------------------------------

    def _clock(self) -> str:
        if self._t0 is None:
            return ""
        return f"{time.monotonic() - self._t0:6.2f}s "

    def line(self, label: str, style: str, body: Text | str) -> None:
        """Print one transcript line: time since the session started, a label, the text."""
        self.out.print(
            Text.assemble(
                (self._clock(), "dim"),
                (label.ljust(_LABEL_WIDTH) + " ", style),
                body if isinstance(body, Text) else Text(body),
            )
        )

    def note(self, text: str) -> None:
        """Print a remark about the run (not part of the conversation) to stderr."""
        self.err.print(Text(text, style="dim"))

    def heading(self, text: str) -> None:
        """Print a heading line to the transcript."""
        self.out.print(Text(text, style="bold"))

    # -- events ----------------------------------------------------------------------------

    def show(self, event: Event) -> None:
        """Print one event, if it is one the transcript shows."""
        if isinstance(event, SessionStarted):
            self._t0 = time.monotonic()
            model = f" · model {event.model}" if event.model else ""
            self.line("session", "cyan", f"connected · id {event.session_id}{model}")
        elif isinstance(event, UserTranscript):
            self.line("user", "bold green", event.text)
        elif isinstance(event, AgentTranscript):
            self.agent_messages += 1
            body = Text(event.text)
            if event.interrupted:
                body.append("  [interrupted]", style="yellow")
            self.line("agent", "bold blue", body)
        elif isinstance(event, ToolCallStarted):
            self.line("tool", "magenta", f"{event.name}({_format_arguments(event.arguments)})")
        elif isinstance(event, ToolCallFinished):
            took = f"  ({event.duration_s * 1000:.0f} ms)"
            if event.error is not None:
                body = Text(f"{event.name} failed: {event.error}", style="red")
            else:
                body = Text(f"{event.name} → {event.output}")
            body.append(took, style="dim")
            self.line("tool", "magenta", body)
        elif isinstance(event, TurnMetrics):
            what = (
                "your message → first agent text"
                if self.text_mode
                else "user stopped speaking → first agent audio"
            )
            self.line("latency", "yellow", Text.assemble(f"{event.latency_s:.3f} s", (
                f"  ({what})", "dim")))  # fmt: skip
        elif isinstance(event, TurnChanged) and not self.text_mode:
            old, new = _STATE_NAMES[event.old], _STATE_NAMES[event.new]
            self.line("turn", "dim", Text(f"{old} → {new}", style="dim"))
        elif isinstance(event, Interrupted):
            self.line("barge-in", "yellow", f"the user interrupted; {event.heard_ms / 1000:.2f} s "
                      "of the answer was heard")  # fmt: skip
        elif isinstance(event, Reconnecting):
            self.line(
                "network", "yellow", f"reconnecting (attempt {event.attempt}): {event.reason}"
            )
        elif isinstance(event, Reconnected):
            self.line("network", "green", f"reconnected after {event.gap_ms / 1000:.2f} s; "
                      f"{event.replayed_items} conversation items replayed")  # fmt: skip
        elif isinstance(event, ServiceErrorReported):
            code = f" {event.code}" if event.code else ""
            self.line("error", "bold red", Text(f"service error{code}: {event.message}", "red"))
