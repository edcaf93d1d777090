"""The turn machine's diagram in docs/turns.md is the one drawn from its transition table.

After changing the table, regenerate the guide's diagram with::

    UPDATE_TURN_DIAGRAM=1 pytest tests/test_turns_diagram.py
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from voiceagent._turns import TRANSITIONS, TurnState, mermaid_diagram

DOC = Path(__file__).resolve().parent.parent / "docs" / "turns.md"
REGENERATE = "UPDATE_TURN_DIAGRAM=1 pytest tests/test_turns_diagram.py"
FENCE = re.compile(r"(```mermaid\n)(.*?)(```)", re.DOTALL)


def documented_diagram(text: str) -> str:
    match = FENCE.search(text)
    assert match is not None, f"{DOC} has no ```mermaid block; add one, then run {REGENERATE}"
    return match.group(2)


def with_diagram(text: str, diagram: str) -> str:
    """``text`` with its first mermaid block replaced by ``diagram``."""
    documented_diagram(text)
    return FENCE.sub(lambda m: m.group(1) + diagram + m.group(3), text, count=1)


def test_the_guide_shows_the_diagram_of_the_transition_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    if os.environ.get("UPDATE_TURN_DIAGRAM"):
        DOC.write_text(with_diagram(text, mermaid_diagram()), encoding="utf-8")
        text = DOC.read_text(encoding="utf-8")
    assert documented_diagram(text) == mermaid_diagram(), (
        "docs/turns.md's state diagram differs from the transition table in "
        f"src/voiceagent/_turns.py; regenerate it with:\n    {REGENERATE}"
    )


def test_regenerating_replaces_only_the_diagram() -> None:
    stale = "# Turns\n\n```mermaid\nstateDiagram-v2\n    old --> stale\n```\n\n```py\nx\n```\n"
    assert with_diagram(stale, mermaid_diagram()) == (
        f"# Turns\n\n```mermaid\n{mermaid_diagram()}```\n\n```py\nx\n```\n"
    )
    with pytest.raises(AssertionError, match="has no ```mermaid block"):
        with_diagram("# Turns\n", mermaid_diagram())


def test_the_diagram_draws_every_state_and_every_transition() -> None:
    diagram = mermaid_diagram()
    assert diagram.startswith("stateDiagram-v2\n    [*] --> idle\n")
    assert diagram.endswith("\n")
    edges = re.findall(r"^    (\w+) --> (\w+): (.+)$", diagram, re.MULTILINE)
    labels = {(old, new): label.split(" / ") for old, new, label in edges}
    assert len(labels) == len(edges)  # one line per pair of states
    for old, row in TRANSITIONS.items():
        for trigger, targets in row.items():
            for new in targets:
                assert trigger.value in labels[old.value, new.value]
    listed = sum(len(targets) for row in TRANSITIONS.values() for targets in row.values())
    assert sum(len(triggers) for triggers in labels.values()) == listed
    assert {state for pair in labels for state in pair} == {state.value for state in TurnState}
