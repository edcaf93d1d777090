"""The router's typing is a feature: mistakes must fail to type-check.

``tests/typing/check_router.py`` holds what must type-check (mypy --strict runs over it in
CI); this test runs mypy on snippets that must not.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

mypy_api = pytest.importorskip("mypy.api")

HEADER = """\
from voiceagent import Agent, on
from voiceagent.events import AgentTranscript, UserTranscript

agent = Agent()
"""

MUST_FAIL = {
    "wrong_event_type": (
        """
        @agent.on(UserTranscript)
        def show(event: AgentTranscript) -> None:
            print(event.interrupted)
        """,
        "UserTranscript",
    ),
    "unknown_field_via_inference": (
        """
        agent.on(UserTranscript)(lambda event: print(event.interrupted))
        """,
        'has no attribute "interrupted"',
    ),
    "handler_returns_a_value": (
        """
        @agent.on(UserTranscript)
        def show(event: UserTranscript) -> int:
            return 1
        """,
        "",
    ),
    "override_of_the_wrong_type": (
        """
        agent.session(temperature="hot")
        """,
        "temperature",
    ),
    "unknown_override": (
        """
        agent.session(temprature=0.7)
        """,
        "temprature",
    ),
    "run_takes_the_same_arguments": (
        """
        async def go() -> None:
            await agent.run(sinks=None)
        """,
        "sinks",
    ),
    "session_handler_of_the_wrong_type": (
        """
        @agent.on(UserTranscript)
        def show(event: UserTranscript, session: int) -> None:
            print(session)
        """,
        "",
    ),
    "method_handler_wrong_type": (
        """
        class Desk(Agent):
            @on(UserTranscript)
            def heard(self, event: AgentTranscript) -> None:
                print(event.text)
        """,
        "",
    ),
}


@pytest.mark.parametrize("case", sorted(MUST_FAIL))
def test_mistakes_fail_to_type_check(case: str, tmp_path: Path) -> None:
    body, expected = MUST_FAIL[case]
    source = tmp_path / f"{case}.py"
    source.write_text(HEADER + textwrap.dedent(body))
    stdout, _, status = mypy_api.run(
        [
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(tmp_path.parent / ".mypy_cache_typing"),
            str(source),
        ]
    )
    assert status == 1, stdout
    errors = [line for line in stdout.splitlines() if f"{case}.py" in line and "error" in line]
    assert errors, stdout
    assert expected in "\n".join(errors)
