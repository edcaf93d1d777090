"""What the pytest fixtures of voiceagent hand to tests (the plugin itself is the light
``voiceagent_pytest`` module, which imports this only when a test asks for a fixture)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._runner import DEFAULT_TURN_TIMEOUT_S, run_conversation

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._agent import Agent
    from ._emulator import Emulator
    from ._runner import ConversationResult, UserSays
    from ._script import Script

__all__ = ["ConversationRunner"]


class ConversationRunner:
    """The ``voiceagent_conversation`` fixture: ``await voiceagent_conversation(agent,
    script, user=[...])`` runs :func:`~voiceagent.testing.run_conversation` and keeps the
    result, so that a failing test shows the conversation in its report.

    Args:
        emulator: The emulator every run uses (None: a new one per run).
    """

    def __init__(self, emulator: Emulator | None = None) -> None:
        self.emulator = emulator
        self.results: list[ConversationResult] = []
        """Every conversation the test ran, in order."""

    async def __call__(
        self,
        agent: Agent,
        script: Script | None = None,
        *,
        user: Sequence[str | UserSays] = (),
        audio: bool = False,
        turn_timeout: float = DEFAULT_TURN_TIMEOUT_S,
        **session_args: Any,
    ) -> ConversationResult:
        """Run one conversation; the arguments are those of
        :func:`~voiceagent.testing.run_conversation`."""
        result = await run_conversation(
            agent,
            script,
            user=user,
            audio=audio,
            emulator=self.emulator,
            turn_timeout=turn_timeout,
            **session_args,
        )
        self.results.append(result)
        return result

    def report(self) -> str:
        """Every conversation of the test, rendered (for the failure report)."""
        return "\n\n".join(
            f"conversation {i}:\n{result.render()}" for i, result in enumerate(self.results, 1)
        )
