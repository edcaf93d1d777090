"""Validators and converters for the option classes, raising :class:`ConfigurationError`.

attrs calls a validator as ``validator(instance, attribute, value)``; every validator here
raises :class:`~voiceagent.errors.ConfigurationError` with a message that names the field
(``ServerVad.threshold``), shows the bad value and says what is allowed, never attrs' own
``TypeError``/``ValueError``. Converters run before validators: they turn lists and sets
into tuples and mappings into read-only mappings, and pass anything else through unchanged
so that the validator can reject it with a clear message. :func:`model_family` classifies
model names for the checks that depend on the model.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Literal, TypeAlias, cast

import attrs

from .errors import ConfigurationError

__all__ = [
    "CompactRepr",
    "ModelFamily",
    "Validator",
    "as_tuple",
    "boolean",
    "fail",
    "instance_of",
    "integer",
    "model_family",
    "number",
    "one_of",
    "optional",
    "sequence",
    "show",
    "string_map",
    "text",
    "to_mapping",
    "to_pair",
    "to_tuple",
    "url",
]

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]
"""An attrs validator: ``(instance, attribute, value) -> None``, raising on a bad value."""

_URL = re.compile(r"https?://[^\s/]+\S*")


# --- models ---------------------------------------------------------------------------------

ModelFamily: TypeAlias = Literal["gpt-realtime", "azure-realtime", "other", "unknown"]


def model_family(model: str) -> ModelFamily:
    """Which family a model name belongs to, for the checks that depend on the model.

    Returns:
        ``"gpt-realtime"`` (``gpt-realtime*``, ``gpt-4o*-realtime*``), ``"azure-realtime"``,
        ``"other"`` for other known names (``gpt-4.1``, ``gpt-5``, ``phi4-*`` ...), and
        ``"unknown"`` otherwise: model-specific checks are then skipped.
    """
    name = model.lower()
    if name.startswith("azure-realtime"):
        return "azure-realtime"
    if name.startswith("gpt") and "realtime" in name:
        return "gpt-realtime"
    return "other" if name.startswith(("gpt-", "phi")) else "unknown"


# --- messages -------------------------------------------------------------------------------


def show(value: object) -> str:
    """A short, readable rendering of ``value`` for an error message."""
    text_ = repr(value)
    return text_ if len(text_) <= 80 else text_[:77] + "..."


def fail(owner: object, name: str, value: object, allowed: str) -> ConfigurationError:
    """The error for a bad value: names the field, shows the value, says what is allowed.

    Args:
        owner: The instance being built (its class names the field) or a class name.
        name: The field name.
        value: The rejected value (shown with ``repr``, shortened).
        allowed: What the field accepts, e.g. ``"a number from 0.6 to 1.2"``.

    Returns:
        A :class:`ConfigurationError` to raise.
    """
    where = owner if isinstance(owner, str) else type(owner).__name__
    return ConfigurationError(f"invalid {where}.{name}: {show(value)}; expected {allowed}")


def _described(value: object) -> str:
    return "a boolean" if isinstance(value, bool) else f"a {type(value).__name__}"


class CompactRepr:
    """Mixin: a ``repr`` that shows required fields first and only the optional fields that
    differ from their defaults; fields declared with ``repr=False`` (secrets) show as ``***``.

    Use with ``@attrs.frozen(repr=False)`` so that attrs keeps this ``__repr__``.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        fields = attrs.fields(cast("type[attrs.AttrsInstance]", type(self)))
        required = [f for f in fields if f.default is attrs.NOTHING]
        optional_ = [f for f in fields if f.default is not attrs.NOTHING]
        parts = []
        for field in required + optional_:
            value = getattr(self, field.name)
            if field.default is not attrs.NOTHING:
                default = field.default
                factory = getattr(default, "factory", None)
                if callable(factory):  # an attrs.Factory
                    default = factory()
                if value == default and type(value) is type(default):
                    continue
            shown = "***" if field.repr is False and value is not None else repr(value)
            if isinstance(value, MappingProxyType):
                shown = repr(dict(value))
            parts.append(f"{field.name}={shown}")
        return f"{type(self).__name__}({', '.join(parts)})"


# --- converters -----------------------------------------------------------------------------


def as_tuple(value: Any) -> Any:
    """Lists and tuples become tuples; sets become sorted tuples (a stable wire order).

    A string, a mapping or any other value is returned unchanged for the validator to reject.
    """
    if isinstance(value, list | tuple):
        return tuple(value)
    if isinstance(value, set | frozenset):
        return tuple(sorted(value, key=str))
    return value


def to_tuple(value: Iterable[str] | None) -> tuple[str, ...] | None:
    """:func:`as_tuple` for a collection of strings (typed for attrs' mypy plugin)."""
    result: tuple[str, ...] | None = as_tuple(value)
    return result


def to_pair(value: Iterable[int]) -> tuple[int, int]:
    """:func:`as_tuple` for an ``(x, y)`` point."""
    result: tuple[int, int] = as_tuple(value)
    return result


def to_mapping(value: Mapping[str, str] | None) -> Mapping[str, str] | None:
    """A mapping becomes a read-only copy; anything else is returned unchanged."""
    if isinstance(value, Mapping) and not isinstance(value, MappingProxyType):
        return MappingProxyType(dict(value))
    return value


# --- validators -----------------------------------------------------------------------------


def optional(inner: Validator) -> Validator:
    """``None`` passes; anything else goes to ``inner``."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None:
            inner(instance, attribute, value)

    return check


def boolean(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A ``bool`` (not merely truthy)."""
    if not isinstance(value, bool):
        raise fail(instance, attribute.name, value, f"True or False, not {_described(value)}")


def integer(lo: int | None = None, hi: int | None = None) -> Validator:
    """An ``int`` (not a bool) within ``[lo, hi]`` (either bound may be open-ended)."""
    if lo is not None and hi is not None:
        what = f"an integer from {lo} to {hi}"
    elif lo is not None:
        what = f"an integer >= {lo}"
    else:
        what = "an integer" if hi is None else f"an integer <= {hi}"

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or (lo is not None and value < lo)
            or (hi is not None and value > hi)
        ):
            raise fail(instance, attribute.name, value, what)

    return check


def number(
    lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False, what: str = ""
) -> Validator:
    """A finite ``int`` or ``float`` (not a bool) between ``lo`` and ``hi``."""
    if not what:
        lower = f"> {lo}" if lo_open else f">= {lo}"
        upper = f"< {hi}" if hi_open else f"<= {hi}"
        what = (
            f"a number from {lo} to {hi}"
            if not (lo_open or hi_open)
            else f"a number {lower} and {upper}"
        )

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        ok = (
            not isinstance(value, bool)
            and isinstance(value, int | float)
            and math.isfinite(value)
            and (value > lo if lo_open else value >= lo)
            and (value < hi if hi_open else value <= hi)
        )
        if not ok:
            raise fail(instance, attribute.name, value, what)

    return check


def one_of(*allowed: object) -> Validator:
    """One of ``allowed`` (compared with ``==``, so str-valued enums match their strings)."""
    what = "one of " + ", ".join(repr(a) for a in allowed)

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or value not in allowed:
            raise fail(instance, attribute.name, value, what)

    return check


def text(
    *,
    non_empty: bool = True,
    pattern: re.Pattern[str] | None = None,
    hint: str = "",
    max_length: int | None = None,
    secret: bool = False,
) -> Validator:
    """A ``str``: non-empty (unless allowed), matching ``pattern`` (described by ``hint``).

    With ``secret=True`` the value is never shown in the message.
    """
    what = hint or ("a non-empty string" if non_empty else "a string")
    if max_length is not None:
        what += f" of at most {max_length} characters"

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        ok = (
            isinstance(value, str)
            and (value or not non_empty)
            and (pattern is None or pattern.fullmatch(value))
            and (max_length is None or len(value) <= max_length)
        )
        if not ok:
            shown = "<redacted>" if secret and isinstance(value, str) else value
            raise fail(instance, attribute.name, shown, what)

    return check


def url(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """An ``http://`` or ``https://`` URL."""
    if not isinstance(value, str) or not _URL.fullmatch(value):
        raise fail(instance, attribute.name, value, "an http:// or https:// URL")


def instance_of(*types: type, what: str) -> Validator:
    """An instance of one of ``types``; ``what`` describes them for the message."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, types):
            raise fail(instance, attribute.name, value, what)

    return check


def sequence(
    item: Validator,
    *,
    what: str,
    min_items: int = 0,
    max_items: int | None = None,
    unique: bool = False,
) -> Validator:
    """A tuple (after :func:`to_tuple`) whose items each pass ``item``.

    Args:
        item: Validates each item; its message names the item as ``field[i]``.
        what: Describes the whole value, e.g. ``"a list of locale names"``.
        min_items: Fewest items allowed.
        max_items: Most items allowed, or None for no limit.
        unique: Whether duplicates are rejected.
    """

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, tuple):
            raise fail(instance, attribute.name, value, what)
        if len(value) < min_items or (max_items is not None and len(value) > max_items):
            if max_items is None:
                count = f"at least {min_items} item(s)"
            elif max_items == min_items:
                count = f"exactly {min_items} item(s)"
            else:
                count = f"{min_items} to {max_items} items"
            raise fail(instance, attribute.name, value, f"{what} with {count}")
        for i, sub in enumerate(value):
            item(instance, _Indexed(attribute.name, i), sub)  # type: ignore[arg-type]
            if unique and sub in value[:i]:
                raise fail(instance, attribute.name, value, f"{what} without duplicates")

    return check


@attrs.frozen
class _Indexed:
    """Stands in for an attrs ``Attribute`` so item messages read ``field[i]``."""

    field: str
    index: int

    @property
    def name(self) -> str:
        return f"{self.field}[{self.index}]"


def string_map(
    *, max_entries: int | None = None, max_key: int | None = None, max_value: int | None = None
) -> Validator:
    """A mapping of non-empty ``str`` keys to ``str`` values, within the given limits."""
    limits = []
    if max_entries is not None:
        limits.append(f"at most {max_entries} entries")
    if max_key is not None:
        limits.append(f"keys of at most {max_key} characters")
    if max_value is not None:
        limits.append(f"values of at most {max_value} characters")
    what = "a mapping of strings to strings" + (" with " + ", ".join(limits) if limits else "")

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, Mapping):
            raise fail(instance, attribute.name, value, what)
        if max_entries is not None and len(value) > max_entries:
            raise fail(instance, attribute.name, f"{len(value)} entries", what)
        for key, sub in value.items():
            if not isinstance(key, str) or not key or (max_key is not None and len(key) > max_key):
                raise fail(instance, attribute.name, key, f"{what} (bad key)")
            if not isinstance(sub, str) or (max_value is not None and len(sub) > max_value):
                raise fail(instance, f"{attribute.name}[{key!r}]", sub, what)

    return check
