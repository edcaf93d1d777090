"""Type hints to JSON Schema, JSON values to Python values, docstrings, and results to JSON.

Covers ``_schema.py``, ``_converters.py`` and ``_docstrings.py``: the pure layer under the tools.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import typing
from typing import Annotated, Any, Literal, NewType, NotRequired, Optional, Required, TypedDict

import attrs
import pytest

from voiceagent._converters import INVALID, describe_value
from voiceagent._docstrings import class_docstring, parse_docstring
from voiceagent._schema import (
    UnserializableResultError,
    UnsupportedAnnotation,
    compile_annotation,
    to_json_value,
    type_name,
)

# --------------------------------------------------------------------------------------------
# Types used in annotations (module level: string annotations resolve against these globals)
# --------------------------------------------------------------------------------------------


class Unit(enum.Enum):
    CELSIUS = "c"
    FAHRENHEIT = "f"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Mixed(enum.Enum):
    A = "a"
    B = 2


class FloatValued(enum.Enum):
    A = 1.5


class Empty(enum.Enum):
    pass


class Perm(enum.Flag):
    R = 1
    W = 2


@dataclasses.dataclass
class Point:
    """A point on the map.

    Attributes:
        x: Metres east.
        y: Metres north.
    """

    x: int
    y: float = 0.0


@dataclasses.dataclass
class Route:
    start: Point
    stops: list[Point] = dataclasses.field(default_factory=list)
    label: Annotated[str, "Shown to the driver."] = "route"
    computed: int = dataclasses.field(default=0, init=False)


@attrs.define
class Window:
    """A time window.

    Attributes:
        start: Opening hour.
    """

    start: int
    _end: int = attrs.field(default=24)
    tags: list[str] = attrs.Factory(list)
    internal: str = attrs.field(default="x", init=False)


def _positive(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be positive, got {value}")


@attrs.frozen
class Quantity:
    amount: int = attrs.field(validator=_positive)


class Address(TypedDict):
    """A postal address."""

    street: str
    zip: NotRequired[str]


class Filters(TypedDict, total=False):
    city: Required[str]
    max_price: float


class MoreFilters(Filters):
    rooms: int


@dataclasses.dataclass
class Node:
    value: int
    children: list[Node]


@dataclasses.dataclass
class HasBytes:
    data: bytes


@dataclasses.dataclass
class Outer:
    inner: HasBytes


class Plain:
    pass


UserId = NewType("UserId", str)


def schema_of(annotation: object) -> dict[str, Any]:
    return compile_annotation(annotation).schema()


def convert(annotation: object, value: object) -> tuple[Any, list[str]]:
    problems: list[str] = []
    result = compile_annotation(annotation).convert(value, "arg", problems)
    return result, problems


# --------------------------------------------------------------------------------------------
# Schemas
# --------------------------------------------------------------------------------------------

POINT_SCHEMA = {
    "type": "object",
    "description": "A point on the map.",
    "properties": {
        "x": {"type": "integer", "description": "Metres east."},
        "y": {"type": "number", "description": "Metres north.", "default": 0.0},
    },
    "required": ["x"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("annotation", "schema"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (None, {"type": "null"}),
        (type(None), {"type": "null"}),
        (Literal["c", "f"], {"type": "string", "enum": ["c", "f"]}),
        (Literal[1, 2], {"type": "integer", "enum": [1, 2]}),
        (Literal[True], {"type": "boolean", "enum": [True]}),
        (Literal["a", 1], {"enum": ["a", 1]}),
        (Unit, {"type": "string", "enum": ["c", "f"]}),
        (Priority, {"type": "integer", "enum": [1, 2]}),
        (list[int], {"type": "array", "items": {"type": "integer"}}),
        (typing.List[str], {"type": "array", "items": {"type": "string"}}),  # noqa: UP006
        (collections.abc.Sequence[bool], {"type": "array", "items": {"type": "boolean"}}),
        (dict[str, float], {"type": "object", "additionalProperties": {"type": "number"}}),
        (
            collections.abc.Mapping[str, Unit],
            {"type": "object", "additionalProperties": {"type": "string", "enum": ["c", "f"]}},
        ),
        (int | None, {"anyOf": [{"type": "integer"}, {"type": "null"}]}),
        (Optional[str], {"anyOf": [{"type": "string"}, {"type": "null"}]}),  # noqa: UP045
        (int | str, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
        (Annotated[int, "How many."], {"type": "integer", "description": "How many."}),
        (
            Annotated[int, 42, "First string wins.", "ignored"],
            {"type": "integer", "description": "First string wins."},
        ),
        (Annotated[int, 42], {"type": "integer"}),
        (UserId, {"type": "string"}),
        (
            list[Annotated[str, "A tag."]],
            {"type": "array", "items": {"type": "string", "description": "A tag."}},
        ),
        (Point, POINT_SCHEMA),
    ],
    ids=repr,
)
def test_schema_of_each_supported_annotation(annotation: object, schema: dict[str, Any]) -> None:
    assert schema_of(annotation) == schema


def test_nested_dataclass_schema() -> None:
    assert schema_of(Route) == {
        "type": "object",
        "properties": {
            "start": POINT_SCHEMA,
            "stops": {"type": "array", "items": POINT_SCHEMA},
            "label": {"type": "string", "description": "Shown to the driver.", "default": "route"},
        },
        "required": ["start"],
        "additionalProperties": False,
    }


def test_attrs_class_schema_uses_init_names_and_skips_factories_and_init_false() -> None:
    assert schema_of(Window) == {
        "type": "object",
        "description": "A time window.",
        "properties": {
            "start": {"type": "integer", "description": "Opening hour."},
            "end": {"type": "integer", "default": 24},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["start"],
        "additionalProperties": False,
    }


def test_typeddict_schema_total_and_not_required() -> None:
    assert schema_of(Address) == {
        "type": "object",
        "description": "A postal address.",
        "properties": {"street": {"type": "string"}, "zip": {"type": "string"}},
        "required": ["street"],
        "additionalProperties": False,
    }


def test_typeddict_schema_required_in_non_total_and_inherited_totality() -> None:
    # Under `from __future__ import annotations` the stdlib's __required_keys__ gets these
    # wrong; the resolved hints are what count.
    assert schema_of(Filters)["required"] == ["city"]
    assert schema_of(MoreFilters) == {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "max_price": {"type": "number"},
            "rooms": {"type": "integer"},
        },
        "required": ["city", "rooms"],
        "additionalProperties": False,
    }


def test_schema_is_a_fresh_dict_each_time() -> None:
    converter = compile_annotation(Point)
    converter.schema()["properties"]["x"]["type"] = "string"
    assert converter.schema() == POINT_SCHEMA


# --------------------------------------------------------------------------------------------
# Rejections
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotation", "message"),
    [
        (bytes, "unsupported annotation bytes: bytes cannot be sent as JSON"),
        (bytearray, "unsupported annotation bytearray: bytes cannot be sent as JSON"),
        (Any, "unsupported annotation Any: Any has no schema; use a concrete type"),
        (object, "unsupported annotation object: object has no schema"),
        (list, "unsupported annotation list: a bare list has no item type; use list[T]"),
        (dict, "unsupported annotation dict: a bare dict has no value type; use dict[str, T]"),
        (set[int], "unsupported annotation set[int]: sets are not supported; use list[T]"),
        (frozenset[str], "unsupported annotation frozenset[str]: sets are not supported"),
        (tuple[int, ...], "unsupported annotation tuple[int, ...]: tuples are not supported"),
        (tuple, "unsupported annotation tuple: tuples are not supported; use list[T]"),
        (
            dict[int, str],
            "unsupported annotation dict[int, str]: JSON object keys are strings; use dict[str, T]",
        ),
        (complex, "unsupported annotation complex: complex numbers have no JSON form"),
        (
            collections.abc.Callable[[int], int],
            "unsupported annotation Callable[[int], int]: this kind of annotation has no JSON "
            "Schema",
        ),
        (
            Plain,
            "unsupported annotation Plain: classes must be an Enum, a TypedDict, an attrs class "
            "or a dataclass",
        ),
        (Perm, "unsupported annotation Perm: Flag enums are not supported; use list[SomeEnum]"),
        (Mixed, "unsupported annotation Mixed: Enum values must be all str or all int"),
        (FloatValued, "unsupported annotation FloatValued: Enum values must be all str or all int"),
        (Empty, "unsupported annotation Empty: the Enum has no members"),
        (
            Literal[1.5],
            "unsupported annotation Literal[1.5]: Literal values must be str, int, bool or None",
        ),
        (
            Node,
            "field 'Node.children': unsupported annotation Node: recursive types are not "
            "supported (Node -> Node)",
        ),
        (HasBytes, "field 'HasBytes.data': unsupported annotation bytes"),
        (Outer, "field 'Outer.inner (HasBytes.data)': unsupported annotation bytes"),
        (list[bytes], "unsupported annotation bytes"),
        (int | bytes, "unsupported annotation bytes"),
        ("Point", "unsupported annotation 'Point': unresolved forward reference"),
    ],
    ids=repr,
)
def test_unsupported_annotations_are_rejected_with_a_reason(
    annotation: object, message: str
) -> None:
    with pytest.raises(UnsupportedAnnotation) as info:
        compile_annotation(annotation)
    assert message in str(info.value)


def test_unresolvable_class_annotations_are_rejected() -> None:
    namespace: dict[str, Any] = {}
    exec(
        "from __future__ import annotations\n"
        "import dataclasses\n"
        "@dataclasses.dataclass\n"
        "class Late:\n"
        "    when: Missing\n",
        namespace,
    )
    with pytest.raises(UnsupportedAnnotation, match=r"cannot be resolved \(NameError"):
        compile_annotation(namespace["Late"])


@pytest.mark.parametrize(
    ("annotation", "name"),
    [
        (int, "int"),
        (None, "None"),
        (list[int] | None, "list[int] | None"),
        (Literal["a", 1], "Literal['a', 1]"),
        (Annotated[int, "x"], "Annotated[int, ...]"),
        (dict[str, Point], "dict[str, Point]"),
    ],
)
def test_type_name(annotation: object, name: str) -> None:
    assert type_name(annotation) == name


# --------------------------------------------------------------------------------------------
# Conversion: accepted values
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotation", "value", "expected"),
    [
        (str, "hi", "hi"),
        (int, 3, 3),
        (int, 3.0, 3),
        (int, 10**30, 10**30),
        (float, 2.5, 2.5),
        (bool, False, False),
        (None, None, None),
        (Literal["c", "f"], "f", "f"),
        (Literal[1, 2], 2.0, 2),
        (Literal[None, "x"], None, None),
        (Unit, "f", Unit.FAHRENHEIT),
        (Priority, 2, Priority.HIGH),
        (list[int], [1, 2.0], [1, 2]),
        (collections.abc.Sequence[str], ["a"], ["a"]),
        (dict[str, Unit], {"a": "c"}, {"a": Unit.CELSIUS}),
        (int | None, None, None),
        (int | str, "x", "x"),
        (float | int, 3, 3.0),
        (UserId, "u1", "u1"),
        (Annotated[int, "n"], 4, 4),
        (Point, {"x": 1}, Point(1, 0.0)),
        (Point | None, {"x": 1, "y": 2}, Point(1, 2.0)),
        (
            Route,
            {"start": {"x": 0}, "stops": [{"x": 1, "y": 1}]},
            Route(Point(0), [Point(1, 1.0)]),
        ),
        (Window, {"start": 8, "end": 18}, Window(8, 18)),
        (Address, {"street": "Main St"}, {"street": "Main St"}),
        (MoreFilters, {"city": "Oslo", "rooms": 2}, {"city": "Oslo", "rooms": 2}),
    ],
    ids=repr,
)
def test_conversion_of_valid_values(annotation: object, value: object, expected: object) -> None:
    result, problems = convert(annotation, value)
    assert problems == []
    assert result == expected
    assert type(result) is type(expected)


def test_float_conversion_returns_a_float_for_an_integer() -> None:
    result, _ = convert(float, 3)
    assert result == 3.0
    assert isinstance(result, float)


def test_enum_conversion_returns_the_member_itself() -> None:
    result, _ = convert(list[Unit], ["c", "f"])
    assert result[0] is Unit.CELSIUS
    assert result[1] is Unit.FAHRENHEIT


# --------------------------------------------------------------------------------------------
# Conversion: rejected values, and what the model is told
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotation", "value", "problems"),
    [
        (str, 1, ["'arg': expected string, got integer 1"]),
        (int, True, ["'arg': expected integer, got true"]),
        (int, 2.5, ["'arg': expected integer, got number 2.5"]),
        (int, "3", ["'arg': expected integer, got string \"3\""]),
        (float, False, ["'arg': expected number, got false"]),
        (float, 10**400, ["'arg': the number is too large for a float"]),
        (bool, 1, ["'arg': expected boolean, got integer 1"]),
        (bool, "true", ["'arg': expected boolean, got string \"true\""]),
        (None, 0, ["'arg': expected null, got integer 0"]),
        (str, None, ["'arg': expected string, got null"]),
        (Literal["c", "f"], "k", ['\'arg\': expected one of "c", "f", got string "k"']),
        (Literal["only"], "x", ['\'arg\': expected "only", got string "x"']),
        (Literal[True], 1, ["'arg': expected true, got integer 1"]),
        (Literal[1, 2], True, ["'arg': expected one of 1, 2, got true"]),
        (Unit, "CELSIUS", ['\'arg\': expected one of "c", "f", got string "CELSIUS"']),
        (Priority, "1", ["'arg': expected one of 1, 2, got string \"1\""]),
        (list[int], {"a": 1}, ["'arg': expected array of integer, got object"]),
        (
            list[int],
            [1, "x", None],
            [
                "'arg[1]': expected integer, got string \"x\"",
                "'arg[2]': expected integer, got null",
            ],
        ),
        (dict[str, int], [1], ["'arg': expected object with integer values, got array of 1 item"]),
        (dict[str, int], {"bob": "x"}, ['\'arg["bob"]\': expected integer, got string "x"']),
        (int | str, None, ["'arg': expected integer or string, got null"]),
        (int | str, [], ["'arg': expected integer or string, got array of 0 items"]),
        (
            Point | None,
            {"x": "1"},
            ["'arg.x': expected integer, got string \"1\""],
        ),
        (Point, "p", ["'arg': expected object (Point), got string \"p\""]),
        (
            Point,
            {"y": 1, "z": 2},
            [
                "'arg': unknown field 'z' (allowed: x, y)",
                "'arg': missing required field 'x' (integer)",
            ],
        ),
        (
            Route,
            {"start": {"x": 1.5}, "stops": [{"x": 1}, {}]},
            [
                "'arg.start.x': expected integer, got number 1.5",
                "'arg.stops[1]': missing required field 'x' (integer)",
            ],
        ),
        (
            Route,
            {"start": {"x": 1}, "computed": 3},
            ["'arg': unknown field 'computed' (allowed: start, stops, label)"],
        ),
        (Quantity, {"amount": -1}, ["'arg': invalid Quantity: amount must be positive, got -1"]),
        (
            Address,
            {"zip": 1},
            [
                "'arg.zip': expected string, got integer 1",
                "'arg': missing required field 'street' (string)",
            ],
        ),
        (
            Window,
            {"start": 1, "_end": 2},
            ["'arg': unknown field '_end' (allowed: start, end, tags)"],
        ),
    ],
    ids=repr,
)
def test_conversion_problems_name_the_path_the_expectation_and_the_value(
    annotation: object, value: object, problems: list[str]
) -> None:
    result, found = convert(annotation, value)
    assert result is INVALID
    assert sorted(found) == sorted(problems)


def test_every_problem_is_reported_not_only_the_first() -> None:
    _, problems = convert(list[Point], [{"x": "a"}, {"x": "b"}, {"x": 3}, {"x": None}])
    assert len(problems) == 3


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (7, "integer 7"),
        (1.5, "number 1.5"),
        ("é", 'string "é"'),
        ([1], "array of 1 item"),
        ([1, 2], "array of 2 items"),
        ({}, "object"),
        ("x" * 100, 'string "' + "x" * 58 + "…"),
    ],
)
def test_describe_value(value: object, text: str) -> None:
    assert describe_value(value) == text


# --------------------------------------------------------------------------------------------
# Docstrings
# --------------------------------------------------------------------------------------------


def test_google_docstring_is_parsed() -> None:
    doc = parse_docstring(
        """Current weather for a city,
        wrapped over two lines.

        Use it when the user asks about weather:
        - today's forecast
        - current temperature

        Args:
            city: City name, e.g. "Paris".
            unit (str, optional): Temperature unit,
                either Celsius or Fahrenheit.

                Defaults to Celsius.
            *args: Ignored.

        Returns:
            A dict.

        Raises:
            ToolError: Unknown city.
        """
    )
    assert doc.description == (
        "Current weather for a city, wrapped over two lines.\n\n"
        "Use it when the user asks about weather:\n- today's forecast\n- current temperature"
    )
    assert doc.params == {
        "city": 'City name, e.g. "Paris".',
        "unit": "Temperature unit, either Celsius or Fahrenheit.\n\nDefaults to Celsius.",
        "args": "Ignored.",
    }
    assert doc.attributes == {}


@pytest.mark.parametrize(
    "header", ["Args:", "Arguments:", "Parameters:", "Params:", "Keyword Args:", "ARGS:"]
)
def test_parameter_section_synonyms(header: str) -> None:
    doc = parse_docstring(f"Summary.\n\n{header}\n    a: The a.\n")
    assert doc.params == {"a": "The a."}


def test_sections_after_params_do_not_leak_into_them() -> None:
    doc = parse_docstring(
        "Summary.\n\nArgs:\n    a: The a.\n\nExamples:\n    b: not a parameter\n\n"
        "Attributes:\n    c: The c.\n"
    )
    assert doc.params == {"a": "The a."}
    assert doc.attributes == {"c": "The c."}


def test_unknown_headers_stay_in_the_description() -> None:
    doc = parse_docstring("Summary.\n\nDetails:\n    kept as text.\n")
    assert doc.description == "Summary.\n\nDetails: kept as text."


@pytest.mark.parametrize("doc", [None, "", "   "])
def test_empty_docstrings(doc: str | None) -> None:
    parsed = parse_docstring(doc)
    assert parsed.description == ""
    assert parsed.params == {}


def test_class_docstring_ignores_the_signature_dataclasses_generate() -> None:
    @dataclasses.dataclass
    class Undocumented:
        a: int

    assert Undocumented.__doc__
    assert class_docstring(Undocumented).description == ""
    assert class_docstring(Point).attributes == {"x": "Metres east.", "y": "Metres north."}


# --------------------------------------------------------------------------------------------
# Results to JSON
# --------------------------------------------------------------------------------------------


class Color(enum.StrEnum):
    RED = "red"


def test_results_are_converted_to_json_data() -> None:
    value = {
        "text": "hi",
        "n": 1,
        "x": 1.5,
        "ok": True,
        "none": None,
        "unit": Unit.CELSIUS,
        "color": Color.RED,
        "priority": Priority.HIGH,
        "points": (Point(1, 2.0), Point(3)),
        "window": Window(8),
        "nested": [[{"a": [Unit.FAHRENHEIT]}]],
        1: "int key",
        Unit.CELSIUS: "enum key",
    }
    assert to_json_value(value) == {
        "text": "hi",
        "n": 1,
        "x": 1.5,
        "ok": True,
        "none": None,
        "unit": "c",
        "color": "red",
        "priority": 2,
        "points": [{"x": 1, "y": 2.0}, {"x": 3, "y": 0.0}],
        "window": {"start": 8, "end": 24, "tags": [], "internal": "x"},
        "nested": [[{"a": ["f"]}]],
        "1": "int key",
        "c": "enum key",
    }
    assert type(to_json_value(Color.RED)) is str
    assert type(to_json_value(Priority.HIGH)) is int


def test_dataclass_results_include_init_false_fields() -> None:
    assert to_json_value(Route(Point(0))) == {
        "start": {"x": 0, "y": 0.0},
        "stops": [],
        "label": "route",
        "computed": 0,
    }


def _circular() -> list[Any]:
    value: list[Any] = []
    value.append(value)
    return value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"raw", "result is a builtins.bytes, not JSON"),
        ({"a": [1, {2}]}, "result['a'][1] is a builtins.set, not JSON"),
        (float("nan"), "result is a builtins.float (nan is not a finite number), not JSON"),
        ([float("inf")], "result[0] is a builtins.float (inf is not a finite number), not JSON"),
        (Plain(), "result is a tests.test_schema.Plain, not JSON"),
        (Point(1, object()), "result.y is a builtins.object, not JSON"),  # type: ignore[arg-type]
        (_circular(), "result[0] is a builtins.list (circular reference), not JSON"),
        ({(1, 2): 3}, "result has a key of type tuple; JSON object keys must be str or int"),
        ({True: 3}, "result has a key of type bool"),
        (Point, "result is a builtins.type, not JSON"),
    ],
    ids=lambda case: case if isinstance(case, str) else "",  # stable across processes
)
def test_unserializable_results_name_the_type_and_the_path(value: object, message: str) -> None:
    with pytest.raises(UnserializableResultError) as info:
        to_json_value(value)
    assert message in str(info.value)


def test_shared_but_not_circular_references_are_fine() -> None:
    shared = [1]
    assert to_json_value([shared, shared]) == [[1], [1]]
