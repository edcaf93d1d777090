"""Converters: the JSON side of a supported annotation.

A :class:`Converter` knows the JSON Schema of one annotation and how to turn a decoded JSON
value into the Python value the annotation promises (an ``Enum`` member, a dataclass
instance, ...). It collects every problem with a path such as ``point.x`` or ``cities[2]`` so
that the model can be told exactly what was wrong. ``_schema.py`` builds converter trees from
type hints.

Strictness follows JSON types: ``true`` is not an integer, an integer is accepted for ``float``,
and a number with an integral value (``3.0``) is accepted for ``int``, as JSON Schema's
``integer`` type does. Union members are tried in declaration order.
"""

from __future__ import annotations

import abc
import json
import typing
from typing import Any, Final

import attrs

from .errors import ToolError

__all__ = [
    "INVALID",
    "BoolConverter",
    "ChoiceConverter",
    "Converter",
    "DescribedConverter",
    "DictConverter",
    "Field",
    "FloatConverter",
    "IntConverter",
    "ListConverter",
    "NullConverter",
    "ObjectConverter",
    "StrConverter",
    "ToolArgumentsError",
    "UnionConverter",
    "convert_object",
    "describe_value",
    "json_type",
    "object_schema",
]

INVALID: Final = object()
"""Returned by :meth:`Converter.convert` when the value was rejected (problems were recorded)."""

_MAX_VALUE_CHARS = 60


class ToolArgumentsError(ToolError):
    """The model's arguments for a tool call are invalid; the tool was not called.

    The message is written for the model: it names each bad argument, what was expected and
    what was given.

    Attributes:
        problems: One line per problem, each naming the argument's path.
    """

    def __init__(self, message: str, problems: typing.Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


# --------------------------------------------------------------------------------------------
# Describing values (for messages to the model)
# --------------------------------------------------------------------------------------------


def json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__  # pragma: no cover - json.loads produces nothing else


def describe_value(value: object) -> str:
    """Describe a decoded JSON value for an error message, shortening long values.

    Args:
        value: A value produced by ``json.loads``.

    Returns:
        For example ``string "kelvin"``, ``integer 3``, ``null`` or ``array of 3 items``.
    """
    kind = json_type(value)
    if value is None or isinstance(value, bool):
        return "true" if value is True else "false" if value is False else "null"
    if isinstance(value, list):
        return f"array of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, dict):
        return "object"
    text = json.dumps(value, ensure_ascii=False)
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 1] + "…"
    return f"{kind} {text}"


def _literal_text(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# Converters
# --------------------------------------------------------------------------------------------


class Converter(abc.ABC):
    """A compiled annotation: its JSON Schema and the JSON-to-Python conversion."""

    json_types: frozenset[str]
    """The JSON types this converter can accept (used to pick a union member to blame)."""

    @abc.abstractmethod
    def schema(self) -> dict[str, Any]:
        """Return a fresh JSON Schema dict for this annotation."""

    @abc.abstractmethod
    def expected(self) -> str:
        """Describe what is accepted, for messages (``integer``, ``one of "c", "f"``)."""

    @abc.abstractmethod
    def convert(self, value: object, path: str, problems: list[str]) -> Any:
        """Convert a decoded JSON value, or record problems and return :data:`INVALID`.

        Args:
            value: The decoded JSON value.
            path: Where the value sits in the arguments, for messages (``point.x``).
            problems: Problems found are appended here.

        Returns:
            The Python value, or :data:`INVALID`.
        """

    def _mismatch(self, value: object, path: str, problems: list[str]) -> Any:
        problems.append(f"'{path}': expected {self.expected()}, got {describe_value(value)}")
        return INVALID


class StrConverter(Converter):
    json_types = frozenset({"string"})

    def schema(self) -> dict[str, Any]:
        return {"type": "string"}

    def expected(self) -> str:
        return "string"

    def convert(self, value: object, path: str, problems: list[str]) -> Any:
        return value if isinstance(value, str) else self._mismatch(value, path, problems)


class IntConverter(Converter):
    json_types = frozenset({"integer", "number"})

    def schema(self) -> dict[str, Any]:
        return {"type": "integer"}

    def expected(self) -> str:
        return "integer"

    def convert(self, value: object, path: str, problems: list[str]) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return self._mismatch(value, path, problems)


class FloatConverter(Converter):
    json_types = frozenset({"integer", "number"})

    def schema(self) -> dict[str, Any]:
        return {"type": "number"}

    def expected(self) -> str:
        return "number"

    def convert(self, value: object, path: str, problems: list[str]) -> Any:
        if isinstance(value, float):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:
                problems.append(f"'{path}': the number is too large for a float")
                return INVALID
        return self._mismatch(value, path, problems)


class BoolConverter(Converter):
    json_types = frozenset({"boolean"})

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}

    def expected(self) -> str:
        return "boolean"

    def convert(self, value: object, path: str, problems: list[str]) -> Any:
        return value if isinstance(value, bool) else self._mismatch(value, path, problems)


class NullConverter(Converter):
    json_types = frozenset({"null"})

    def schema(self) -> dict[str, Any]:
        return {"type": "null"}

    def expected(self) -> str:
        return "null"

    def convert(self, value: object, path: str, problems: list[str]) -> Any:
        return None if value is None else self._mismatch(value, path, problems)


def _same_json_value(given: object, allowed: object) -> bool:
    if json_type(allowed) == "integer" and isinstance(given, float) and given.is_integer():
        given = int(given)
    return json_type(given) == json_type(allowed) and given == allowed


def _enum_schema(values: typing.Sequence[object]) -> dict[str, Any]:
    kinds = {json_type(v) for v in values}
    schema: dict[str, Any] = {}
    if len(kinds) == 1:
        schema["type"] = kinds.pop()
    schema["enum"] = list(values)
    return schema


class ChoiceConverter(Converter):
    """``Literal[...]`` (Python values are the JSON values) or an ``Enum`` (members)."""

    def __init__(self, values: typing.Sequence[object], results: typing.Sequence[object]):
        self.values = list(values)
        self.results = list(results)
        self.json_types = frozenset(json_type(v) for v in values)
        if "integer" in self.json_types:
            self.json_types |= {"number"}

    def schema(self) -> dict[str, Any]:
        return _enum_schema(self.values)

    def expected(self) -> str:
        if len(self.values) == 1:
            return _literal_text(self.values[0])
        return "one of " + ", ".join(_literal_text(v) for v in self.values)

    def convert(self, value: object, path: str, problems: list[str]) -> Any:
        for allowed, result in zip(self.values, self.results, strict=True):
            if _same_json_value(value, allowed):
                return result
        return self._mismatch(value, path, problems)


class ListConverter(Converter):
    json_types = frozenset({"array"})

    def __init__(self, items: Converter):
        self.items = items

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "items": self.items.schema()}

    def expected(self) -> str:
        return f"array of {self.items.expected()}"

    def convert(self, value: object, path: str, problems: list[str]) -> Any:
        if not isinstance(value, list):
            return self._mismatch(value, path, problems)
        before = len(problems)
        result = [
            self.items.convert(item, f"{path}[{i}]", problems) for i, item in enumerate(value)
        ]
        return INVALID if len(problems) > before else result


class DictConverter(Converter):
    json_types = frozenset({"object"})

    def __init__(self, values: Converter):
        self.values = values

    def schema(self) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": self.values.schema()}

    def expected(self) -> str:
        return f"object with {self.values.expected()} values"

    def convert(self, value: object, path: str, problems: list[str]) -> Any:
        if not isinstance(value, dict):
            return self._mismatch(value, path, problems)
        before = len(problems)
        result = {
            key: self.values.convert(item, f"{path}[{_literal_text(key)}]", problems)
            for key, item in value.items()
        }
        return INVALID if len(problems) > before else result


class UnionConverter(Converter):
    """Members are tried in declaration order; the first that accepts the value wins."""

    def __init__(self, members: typing.Sequence[Converter]):
        self.members = list(members)
        self.json_types = frozenset().union(*(m.json_types for m in members))

    def schema(self) -> dict[str, Any]:
        return {"anyOf": [m.schema() for m in self.members]}

    def expected(self) -> str:
        return " or ".join(m.expected() for m in self.members)

    def convert(self, value: object, path: str, problems: list[str]) -> Any:
        attempts: list[list[str]] = []
        for member in self.members:
            member_problems: list[str] = []
            result = member.convert(value, path, member_problems)
            if result is not INVALID:
                return result
            if json_type(value) in member.json_types:
                attempts.append(member_problems)
        if len(attempts) == 1:
            # Only one member takes this JSON type: its own problems are the useful ones.
            problems.extend(attempts[0])
            return INVALID
        return self._mismatch(value, path, problems)


class DescribedConverter(Converter):
    """Adds a description (from ``Annotated[T, "..."]``) to another converter's schema."""

    def __init__(self, inner: Converter, description: str):
        self.inner = inner
        self.description = description
        self.json_types = inner.json_types

    def schema(self) -> dict[str, Any]:
        return {**self.inner.schema(), "description": self.description}

    def expected(self) -> str:
        return self.inner.expected()

    def convert(self, value: object, path: str, problems: list[str]) -> Any:
        return self.inner.convert(value, path, problems)


@attrs.frozen
class Field:
    """One property of an object (a tool parameter, or a field of a class or TypedDict).

    Attributes:
        name: The JSON property name (the Python parameter name or ``__init__`` argument).
        converter: The compiled annotation.
        required: Whether the property must be given.
        default: The default value (JSON form) shown in the schema, or ``None`` for none.
        has_default: Whether ``default`` is shown in the schema.
        description: The description, or ``None``.
    """

    name: str
    converter: Converter
    required: bool
    default: Any = None
    has_default: bool = False
    description: str | None = None

    def schema(self) -> dict[str, Any]:
        """Return the property's JSON Schema."""
        schema = self.converter.schema()
        if self.description:
            schema["description"] = self.description
        if self.has_default:
            schema["default"] = self.default
        return schema


def object_schema(fields: typing.Sequence[Field], description: str | None = None) -> dict[str, Any]:
    """Build an object schema (``additionalProperties: false``) from fields.

    Args:
        fields: The properties, in order.
        description: The object's description, if any.

    Returns:
        The JSON Schema.
    """
    schema: dict[str, Any] = {"type": "object"}
    if description:
        schema["description"] = description
    schema["properties"] = {f.name: f.schema() for f in fields}
    required = [f.name for f in fields if f.required]
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema


def convert_object(
    fields: typing.Sequence[Field],
    value: dict[str, Any],
    path: str | None,
    problems: list[str],
    *,
    noun: str = "field",
) -> dict[str, Any] | None:
    """Convert each property of a decoded JSON object; record missing and unknown ones.

    Args:
        fields: The properties allowed.
        value: The decoded object.
        path: The object's path (``None`` at the top level of a call's arguments).
        problems: Problems found are appended here.
        noun: What a property is called in messages ("argument", "field").

    Returns:
        The converted properties (only those given), or ``None`` if any was invalid.
    """
    before = len(problems)
    by_name = {f.name: f for f in fields}
    where = f"'{path}': " if path is not None else ""
    for key in value:
        if key not in by_name:
            allowed = ", ".join(by_name) if by_name else "none"
            problems.append(f"{where}unknown {noun} '{key}' (allowed: {allowed})")
    result: dict[str, Any] = {}
    for f in fields:
        if f.name in value:
            sub = f.name if path is None else f"{path}.{f.name}"
            result[f.name] = f.converter.convert(value[f.name], sub, problems)
        elif f.required:
            problems.append(f"{where}missing required {noun} '{f.name}' ({f.converter.expected()})")
    return None if len(problems) > before else result


class ObjectConverter(Converter):
    """A TypedDict, attrs class or dataclass: a JSON object with known properties."""

    json_types = frozenset({"object"})

    def __init__(
        self,
        cls: type,
        fields: typing.Sequence[Field],
        description: str | None,
        build: typing.Callable[[dict[str, Any]], Any],
    ):
        self.cls = cls
        self.fields = list(fields)
        self.description = description
        self.build = build

    def schema(self) -> dict[str, Any]:
        return object_schema(self.fields, self.description)

    def expected(self) -> str:
        return f"object ({self.cls.__name__})"

    def convert(self, value: object, path: str, problems: list[str]) -> Any:
        if not isinstance(value, dict):
            return self._mismatch(value, path, problems)
        kwargs = convert_object(self.fields, value, path, problems)
        if kwargs is None:
            return INVALID
        try:
            return self.build(kwargs)
        except (TypeError, ValueError) as exc:
            # Raised by the class's own validators: about the value, so the model can fix it.
            problems.append(f"'{path}': invalid {self.cls.__name__}: {exc}")
            return INVALID
