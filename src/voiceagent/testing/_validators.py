"""Validator combinators for the emulator's JSON requests.

A validator checks a JSON value found at a dotted path (``session.turn_detection.threshold``)
and returns the normalized value, or raises :class:`ProtocolError` with that path as
``param`` and a message naming the bad value and what is allowed.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ._protocol import ProtocolError

if TYPE_CHECKING:
    import re

Validator = Callable[[Any, str], Any]
"""Checks a JSON value found at a dotted path; returns the normalized value or raises."""


# --- errors ---------------------------------------------------------------------------------


def show(value: Any) -> str:
    text = json.dumps(value, default=repr)
    return text if len(text) <= 80 else text[:77] + "..."


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list | tuple) else "an object"


def type_error(value: Any, path: str, expected: str) -> ProtocolError:
    return ProtocolError(
        f"Invalid type for '{path}': expected {expected}, but got {json_type(value)} "
        f"({show(value)}).",
        code="invalid_type",
        param=path,
    )


def value_error(value: Any, path: str, allowed: str) -> ProtocolError:
    return ProtocolError(
        f"Invalid value for '{path}': {show(value)}. {allowed}", code="invalid_value", param=path
    )


def one_of(values: tuple[Any, ...]) -> str:
    return "Supported values are: " + ", ".join(show(v) for v in values) + "."


def missing(path: str) -> ProtocolError:
    return ProtocolError(
        f"Missing required parameter: '{path}'.", code="missing_required_parameter", param=path
    )


# --- validator combinators ------------------------------------------------------------------


def string(
    *, non_empty: bool = False, pattern: re.Pattern[str] | None = None, hint: str = ""
) -> Validator:
    def check(value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise type_error(value, path, "a string")
        if non_empty and not value:
            raise value_error(value, path, "Expected a non-empty string.")
        if pattern is not None and not pattern.fullmatch(value):
            raise value_error(value, path, hint)
        return value

    return check


def boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise type_error(value, path, "a boolean")
    return value


def integer(lo: int | None = None, hi: int | None = None) -> Validator:
    def check(value: Any, path: str) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise type_error(value, path, "an integer")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = f">= {lo}" if hi is None else f"between {lo} and {hi}"
            raise value_error(value, path, f"Expected an integer {bounds}.")
        return value

    return check


def number(lo: float, hi: float, *, hi_open: bool = False) -> Validator:
    def check(value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise type_error(value, path, "a number")
        if not math.isfinite(value) or value < lo or value > hi or (hi_open and value == hi):
            upper = f"< {hi}" if hi_open else f"<= {hi}"
            raise value_error(value, path, f"Expected a number >= {lo} and {upper}.")
        return value

    return check


def choice(*allowed: str) -> Validator:
    def check(value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise type_error(value, path, "a string")
        if value not in allowed:
            raise value_error(value, path, one_of(allowed))
        return value

    return check


def array(
    item: Validator, *, min_items: int = 0, max_items: int | None = None, unique: bool = False
) -> Validator:
    def check(value: Any, path: str) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise type_error(value, path, "an array")
        if len(value) < min_items or (max_items is not None and len(value) > max_items):
            if max_items is None:
                count = f"at least {min_items}"
            elif max_items == min_items:
                count = f"exactly {min_items}"
            else:
                count = f"{min_items} to {max_items}"
            raise value_error(value, path, f"Expected {count} item(s).")
        out = [item(v, f"{path}[{i}]") for i, v in enumerate(value)]
        for i, v in enumerate(out):
            if unique and v in out[:i]:
                raise value_error(v, f"{path}[{i}]", "Duplicate values are not allowed.")
        return out

    return check


def nullable(inner: Validator) -> Validator:
    def check(value: Any, path: str) -> Any:
        return None if value is None else inner(value, path)

    return check


def obj(
    fields: Mapping[str, Validator],
    *,
    required: tuple[str, ...] = (),
    defaults: Mapping[str, Any] | None = None,
) -> Validator:
    """An object: known ``fields`` are validated, unset ones take ``defaults``, others echo."""

    def check(value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise type_error(value, path, "an object")
        for name in required:
            if value.get(name) is None:
                raise missing(f"{path}.{name}")
        out = copy.deepcopy(dict(defaults or {}))
        for key, sub in value.items():
            known = fields.get(key)
            out[key] = copy.deepcopy(sub) if known is None else known(sub, f"{path}.{key}")
        return out

    return check


def tagged(
    tag: str,
    variants: Mapping[str, Validator],
    *,
    default: str | None = None,
    aliases: Mapping[str, str] | None = None,
) -> Validator:
    """An object whose ``tag`` field picks the variant that validates the rest."""

    def check(value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise type_error(value, path, "an object")
        kind = value.get(tag, default)
        if kind is None:
            raise missing(f"{path}.{tag}")
        if not isinstance(kind, str):
            raise type_error(kind, f"{path}.{tag}", "a string")
        kind = (aliases or {}).get(kind, kind)
        if kind not in variants:
            raise value_error(kind, f"{path}.{tag}", one_of(tuple(variants)))
        return {tag: kind, **variants[kind]({**value, tag: kind}, path)}

    return check


def string_map(
    *, max_entries: int = 10**6, max_key: int = 10**6, max_value: int = 10**9
) -> Validator:
    def check(value: Any, path: str) -> dict[str, str]:
        if not isinstance(value, Mapping):
            raise type_error(value, path, "an object")
        if len(value) > max_entries:
            raise value_error(value, path, f"Expected at most {max_entries} entries.")
        for key, sub in value.items():
            if len(key) > max_key:
                raise value_error(key, path, f"Keys must be at most {max_key} characters.")
            if not isinstance(sub, str):
                raise type_error(sub, f"{path}.{key}", "a string")
            if len(sub) > max_value:
                raise value_error(
                    sub, f"{path}.{key}", f"Values must be at most {max_value} characters."
                )
        return dict(value)

    return check
