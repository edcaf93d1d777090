"""Assertions about a recorded conversation: ``result.expect.tool_called(...)``.

Every assertion raises :class:`ExpectationFailed` (an ``AssertionError``, so pytest shows
it as a test failure) whose message says what was expected, what was found instead, and
then the whole conversation, one line per message, tool call, interruption and error::

    expected turn 1 to call tool 'get_weather' with city='Paris'; it called
    get_weather(city='Berlin')
    the conversation:
    turn 1
      user   What's the weather in Paris?
      tool   get_weather({"city":"Berlin"}) -> {"temp":21}
      agent  It is 21 degrees in Berlin.
    ...

Assertions chain (each returns the same ``Expect``), and ``expect.turn(n)`` narrows them
to one user turn.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Self

from ..errors import ConfigurationError
from ..events import (
    AgentTranscript,
    EndReason,
    Interrupted,
    McpCallCompleted,
    McpCallFailed,
    ServiceErrorReported,
    ToolCallFinished,
    TurnMetrics,
)
from ._runner import arguments_of

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..events import Event
    from ._runner import ConversationResult, TurnRecord

__all__ = ["Expect", "ExpectationFailed"]


class ExpectationFailed(AssertionError):
    """An expectation about a conversation did not hold; the message shows the
    conversation."""

    __module__ = "voiceagent.testing"  # how tracebacks name it: where users import it


def _call(name: str, arguments: dict[str, Any]) -> str:
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in arguments.items())})"


def _matches(text: str, pattern: str | re.Pattern[str]) -> bool:
    if isinstance(pattern, re.Pattern):
        return pattern.search(text) is not None
    return pattern.casefold() in text.casefold()


def _shown(pattern: str | re.Pattern[str]) -> str:
    return f"/{pattern.pattern}/" if isinstance(pattern, re.Pattern) else repr(pattern)


class Expect:
    """Assertions about a conversation, or one turn of it (``expect.turn(2)``).

    Args:
        result: The conversation.
        turns: The turns in scope.
        scope: How messages name the scope ("the conversation", "turn 2").
    """

    def __init__(
        self, result: ConversationResult, turns: Sequence[TurnRecord], *, scope: str
    ) -> None:
        self._result = result
        self._turns = tuple(turns)
        self._scope = scope
        whole = scope == "the conversation"
        self._events: tuple[Event, ...] = (
            result.events if whole else tuple(e for t in self._turns for e in t.events)
        )

    # -- scope ---------------------------------------------------------------------------

    def turn(self, number: int) -> Expect:
        """Assertions about user turn ``number`` (from 1) only.

        Raises:
            ExpectationFailed: There is no such turn.
        """
        turns = self._result.turns
        if isinstance(number, bool) or not isinstance(number, int) or not number >= 1:
            raise ConfigurationError(f"turn numbers start at 1, not {number!r}")
        if number > len(turns):
            self._fail(f"expected a turn {number}, but the conversation had {len(turns)}")
        return Expect(self._result, [turns[number - 1]], scope=f"turn {number}")

    def _of(self, cls: type[Any]) -> list[Any]:
        return [e for e in self._events if isinstance(e, cls)]

    def _fail(self, message: str) -> None:
        raise ExpectationFailed(f"{message}\nthe conversation:\n{self._result.render()}")

    # -- tools ---------------------------------------------------------------------------

    def tool_called(self, name: str, /, **arguments: Any) -> Self:
        """The agent called tool ``name`` (with at least these ``arguments``, compared
        after JSON parsing), at least once in scope."""
        calls = [e for e in self._of(ToolCallFinished) if e.name == name]
        if any(_subset(arguments, arguments_of(c)) for c in calls):
            return self
        wanted = _call(name, arguments) if arguments else f"tool {name!r}"
        found = [_call(c.name, arguments_of(c)) for c in self._of(ToolCallFinished)]
        self._fail(
            f"expected {self._scope} to call {wanted}; "
            + (f"it called {', '.join(found)}" if found else "it called no tool")
        )
        return self

    def tool_not_called(self, name: str, /) -> Self:
        """The agent did not call tool ``name`` in scope."""
        calls = [e for e in self._of(ToolCallFinished) if e.name == name]
        if calls:
            shown = ", ".join(_call(c.name, arguments_of(c)) for c in calls)
            self._fail(f"expected {self._scope} not to call tool {name!r}; it called {shown}")
        return self

    def mcp_called(self, server_label: str, tool: str, /, **arguments: Any) -> Self:
        """The service called ``tool`` of MCP server ``server_label`` (with at least these
        ``arguments``) in scope, and it returned or failed."""
        calls = self._of(McpCallCompleted) + self._of(McpCallFailed)
        if any(
            c.server_label == server_label
            and c.name == tool
            and _subset(arguments, arguments_of(c))
            for c in calls
        ):
            return self
        wanted = _call(f"{server_label}.{tool}", arguments)
        found = [_call(f"{c.server_label}.{c.name}", arguments_of(c)) for c in calls]
        self._fail(
            f"expected {self._scope} to call MCP tool {wanted}; "
            + (f"the calls were {', '.join(found)}" if found else "no MCP tool was called")
        )
        return self

    # -- what was said ---------------------------------------------------------------------

    def said(self, text: str | re.Pattern[str], /) -> Self:
        """One of the agent's messages in scope contains ``text`` (case-insensitive) or
        matches the regular expression."""
        said = [e.text for e in self._of(AgentTranscript)]
        if not any(_matches(s, text) for s in said):
            self._fail(
                f"expected the agent to say {_shown(text)} in {self._scope}; "
                + (f"it said {said!r}" if said else "it said nothing")
            )
        return self

    def did_not_say(self, text: str | re.Pattern[str], /) -> Self:
        """None of the agent's messages in scope contains (or matches) ``text``."""
        hits = [e.text for e in self._of(AgentTranscript) if _matches(e.text, text)]
        if hits:
            self._fail(f"expected the agent not to say {_shown(text)} in {self._scope}; it "
                       f"said {hits!r}")  # fmt: skip
        return self

    # -- interruptions -----------------------------------------------------------------------

    def interrupted(self, *, at_ms: float | None = None, tolerance_ms: float = 150) -> Self:
        """The user interrupted the agent in scope; with ``at_ms``, after about that much of
        its answer had been heard (``Interrupted.heard_ms`` within ``tolerance_ms``)."""
        cuts = self._of(Interrupted)
        if not cuts:
            self._fail(f"expected the agent to be interrupted in {self._scope}; it was not")
        if at_ms is not None and not any(abs(c.heard_ms - at_ms) <= tolerance_ms for c in cuts):
            heard = ", ".join(f"{c.heard_ms:.0f} ms" for c in cuts)
            self._fail(
                f"expected an interruption in {self._scope} after {at_ms:g} ms (+/- "
                f"{tolerance_ms:g}) of the answer; it came after {heard}"
            )
        return self

    def not_interrupted(self) -> Self:
        """The agent was not interrupted in scope."""
        cuts = self._of(Interrupted)
        if cuts:
            self._fail(f"expected no interruption in {self._scope}; the agent was interrupted "
                       f"after {cuts[0].heard_ms:.0f} ms")  # fmt: skip
        return self

    # -- latency ---------------------------------------------------------------------------

    def latency_within(self, max_s: float, /) -> Self:
        """Every answer in scope started within ``max_s`` seconds of the end of the user's
        turn (``TurnMetrics.latency_s``), and every turn in scope had one measured."""
        for turn in self._turns:
            metrics = turn.of(TurnMetrics)
            if not metrics:
                self._fail(f"expected turn {turn.index} to be answered within {max_s:g} s; "
                           "no answer latency was measured (no answer?)")  # fmt: skip
            slow = [m.latency_s for m in metrics if m.latency_s > max_s]
            if slow:
                self._fail(
                    f"expected turn {turn.index} to be answered within {max_s:g} s; it took "
                    + ", ".join(f"{s:.3f} s" for s in slow)
                )
        return self

    # -- errors ----------------------------------------------------------------------------

    def no_errors(self, *, tools: bool = True) -> Self:
        """No service error events, no failed tool or MCP calls (unless ``tools=False``),
        no dropped events, and the session did not end on an error or a lost connection."""
        problems = [f"service error {e.code}: {e.message}" for e in self._of(ServiceErrorReported)]
        if tools:
            problems += [
                f"tool {e.name} failed: {e.error}" for e in self._of(ToolCallFinished) if e.error
            ]
            problems += [f"MCP tool {e.server_label}.{e.name} failed: {e.error}"
                         for e in self._of(McpCallFailed)]  # fmt: skip
        if self._result.dropped:
            problems.append(f"{self._result.dropped} events were dropped")
        reason = self._result.result.reason
        if self._scope == "the conversation" and reason in (
            EndReason.ERROR,
            EndReason.CONNECTION_LOST,
        ):
            problems.append(f"the session ended with {reason.value}: {self._result.result.error}")
        if problems:
            self._fail(f"expected no errors in {self._scope}; found: " + "; ".join(problems))
        return self


def _subset(wanted: dict[str, Any], actual: dict[str, Any]) -> bool:
    return all(key in actual and actual[key] == value for key, value in wanted.items())
