"""A small parser for Google-style docstrings: tool and parameter descriptions.

voiceagent reads a tool's description and its parameters' descriptions from the function's
docstring, and field descriptions from a class's ``Attributes:`` section. A runtime dependency
(griffe, docstring_parser) would be more than this needs: the format is small and regular.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from typing import Final

import attrs

__all__ = ["Docstring", "class_docstring", "parse_docstring"]

# Section names as Google style and napoleon define them, lower-cased.
_PARAM_SECTIONS: Final = frozenset(
    {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments"}
    | {"other parameters"}
)
_ATTRIBUTE_SECTIONS: Final = frozenset({"attributes"})
_OTHER_SECTIONS: Final = frozenset(
    {"returns", "return", "yields", "yield", "raises", "raise", "exceptions", "warns"}
    | {"examples", "example", "note", "notes", "warning", "warnings", "see also", "todo"}
    | {"references", "methods", "attention", "caution", "danger", "hint", "important", "tip"}
)
_SECTION_RE: Final = re.compile(r"^([A-Za-z][A-Za-z ]*):\s*$")
_ENTRY_RE: Final = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_LIST_ITEM_RE: Final = re.compile(r"^([-*+•]|\d+[.)])\s")


@attrs.frozen
class Docstring:
    """The parts of a Google-style docstring that voiceagent uses.

    Attributes:
        description: The text before the first section, hard-wrapped lines joined.
        params: Descriptions from ``Args:`` (and its synonyms), by parameter name.
        attributes: Descriptions from ``Attributes:``, by attribute name.
    """

    description: str = ""
    params: dict[str, str] = attrs.Factory(dict)
    attributes: dict[str, str] = attrs.Factory(dict)


def _unwrap_lines(lines: typing.Sequence[str]) -> str:
    """Join hard-wrapped lines into paragraphs; keep list items on their own lines."""
    paragraphs: list[str] = []
    current = ""
    for raw in lines:
        line = raw.strip()
        if not line:
            if current:
                paragraphs.append(current)
            current = ""
        elif not current:
            current = line
        elif _LIST_ITEM_RE.match(line):
            current += "\n" + line
        else:
            current += " " + line
    if current:
        paragraphs.append(current)
    return "\n\n".join(paragraphs)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _parse_entries(lines: typing.Sequence[str]) -> dict[str, str]:
    entries: dict[str, list[str]] = {}
    base: int | None = None
    current: list[str] | None = None
    for line in lines:
        if not line.strip():
            if current is not None:
                current.append("")
            continue
        if base is None:
            base = _indent(line)
        match = _ENTRY_RE.match(line.strip()) if _indent(line) <= base else None
        if match:
            current = entries.setdefault(match.group(1), [])
            current.append(match.group(2))
        elif current is not None:
            current.append(line)
    return {name: _unwrap_lines(text) for name, text in entries.items()}


def parse_docstring(doc: str | None) -> Docstring:
    """Parse a Google-style docstring.

    Sections are recognised by a line of their own such as ``Args:`` at the docstring's base
    indentation. ``Args``, ``Arguments``, ``Parameters``, ``Params``, ``Keyword Args`` and
    ``Other Parameters`` give parameter descriptions; ``Attributes`` gives field descriptions;
    ``Returns``, ``Raises``, ``Examples``, ``Note`` and the other standard sections are skipped.
    An entry is ``name: text`` or ``name (type): text``; more-indented lines continue it.

    Args:
        doc: The docstring, or ``None``.

    Returns:
        The description and the documented parameters and attributes.
    """
    if not doc:
        return Docstring()
    lines = inspect.cleandoc(doc).splitlines()
    description: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for line in lines:
        match = _SECTION_RE.match(line)
        name = match.group(1).strip().lower() if match else ""
        if match and name in _PARAM_SECTIONS | _ATTRIBUTE_SECTIONS | _OTHER_SECTIONS:
            sections.append((name, []))
        elif sections:
            sections[-1][1].append(line)
        else:
            description.append(line)
    params: dict[str, str] = {}
    attributes: dict[str, str] = {}
    for name, body in sections:
        if name in _PARAM_SECTIONS:
            params.update(_parse_entries(body))
        elif name in _ATTRIBUTE_SECTIONS:
            attributes.update(_parse_entries(body))
    return Docstring(_unwrap_lines(description), params, attributes)


def class_docstring(cls: type) -> Docstring:
    """Parse a class's own docstring, ignoring the signature dataclasses put there.

    Args:
        cls: The class.

    Returns:
        Its parsed docstring (empty when it has none).
    """
    doc = cls.__dict__.get("__doc__")
    if not isinstance(doc, str):
        return Docstring()
    if dataclasses.is_dataclass(cls) and doc.startswith(f"{cls.__name__}("):
        return Docstring()
    return parse_docstring(doc)
