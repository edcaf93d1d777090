"""The tool layer: ``@tool``, ToolSpec, class tool collection, the registry, and invoke.

No socket is needed: tools are pure Python until a session sends their outputs. End-to-end
tool calls over the emulator live in ``tests/integration/``.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import logging
import math
import threading
from typing import Annotated, Any, Literal

import anyio
import anyio.to_thread
import attrs
import pytest
from azure.ai.voicelive.models import FunctionTool
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voiceagent._schema import to_json_value
from voiceagent._tools import (
    DEFAULT_CANCEL_ON_INTERRUPT,
    DEFAULT_TIMEOUT,
    ToolArgumentsError,
    ToolContext,
    ToolMethod,
    ToolOptions,
    ToolOutcome,
    ToolRegistry,
    ToolSpec,
    collect_tools,
    get_tool_options,
    invoke,
    register_injectable,
    tool,
)
from voiceagent.errors import ToolDefinitionError, ToolError

from .strategies import json_values, tool_types

# --------------------------------------------------------------------------------------------
# Module-level types (string annotations resolve against this module's globals)
# --------------------------------------------------------------------------------------------


class Unit(enum.Enum):
    CELSIUS = "c"
    FAHRENHEIT = "f"


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


@attrs.frozen
class Reading:
    city: str
    temp: float
    unit: Unit


class FakeSession:
    """Stands in for AgentSession: registered as injectable the way _session.py does it."""

    def __init__(self, name: str) -> None:
        self.name = name


register_injectable(FakeSession, lambda context: context.session)


def context(name: str = "t", arguments: str = "{}", session: object = None) -> ToolContext:
    fake: Any = session  # a FakeSession stands in for the AgentSession
    return ToolContext(session=fake, call_id="call_1", name=name, arguments=arguments)


async def run(spec: ToolSpec, arguments: str = "{}", session: object = None) -> ToolOutcome:
    return await invoke(spec, spec.name, arguments, context(spec.name, arguments, session))


def make(fn: Any, **options: Any) -> ToolSpec:
    return ToolSpec.from_function(fn, **options)


# --------------------------------------------------------------------------------------------
# @tool
# --------------------------------------------------------------------------------------------


def test_bare_tool_marks_the_function_and_returns_it_unchanged() -> None:
    def double(n: int) -> int:
        """Double a number."""
        return 2 * n

    assert tool(double) is double
    assert double(4) == 8
    assert get_tool_options(double) == ToolOptions()
    assert get_tool_options(double) == ToolOptions(
        name=None, description=None, timeout=DEFAULT_TIMEOUT, cancel_on_interrupt=False
    )
    assert DEFAULT_CANCEL_ON_INTERRUPT is False


def test_called_tool_stores_its_options() -> None:
    @tool(name="lookup-v2", description="Look it up.", timeout=None, cancel_on_interrupt=True)
    async def lookup(key: str) -> str:
        return key

    assert get_tool_options(lookup) == ToolOptions(
        name="lookup-v2", description="Look it up.", timeout=None, cancel_on_interrupt=True
    )


def test_unmarked_objects_have_no_tool_options() -> None:
    def plain() -> None: ...

    class Weird:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError("boom")

    assert get_tool_options(plain) is None
    assert get_tool_options(Weird()) is None
    assert get_tool_options(42) is None


def test_tool_marks_static_and_class_methods_in_either_decorator_order() -> None:
    class Tools:
        @tool
        @staticmethod
        def a() -> None:
            """A."""

        @staticmethod
        @tool
        def b() -> None:
            """B."""

        @tool
        @classmethod
        def c(cls) -> None:
            """C."""

        @classmethod
        @tool(timeout=1)
        def d(cls) -> None:
            """D."""

    assert list(collect_tools(Tools)) == ["a", "b", "c", "d"]
    assert collect_tools(Tools)["d"].spec.timeout == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"name": "has space"}, "invalid tool name 'has space': a tool name is 1 to 64 letters"),
        ({"name": "x" * 65}, "invalid tool name 'xxxx"),
        ({"name": ""}, "invalid tool name ''"),
        ({"name": "dé"}, "invalid tool name 'dé'"),
        ({"description": "  "}, "description must be a non-empty string, got '  '"),
        ({"timeout": 0}, "timeout must be a positive number of seconds or None, got 0"),
        ({"timeout": -1.5}, "got -1.5"),
        ({"timeout": math.inf}, "got inf"),
        ({"timeout": math.nan}, "got nan"),
        ({"timeout": True}, "got True"),
        ({"timeout": "5"}, "got '5'"),
        ({"cancel_on_interrupt": "yes"}, "cancel_on_interrupt must be True or False, got 'yes'"),
    ],
    ids=repr,
)
def test_invalid_options_fail_at_decoration_naming_the_function(
    options: dict[str, Any], message: str
) -> None:
    def f() -> None:
        """F."""

    with pytest.raises(ToolDefinitionError) as info:
        tool(**options)(f)
    assert str(info.value).startswith(f"@tool on {f.__qualname__}: ")
    assert message in str(info.value)


def test_a_64_character_name_is_fine() -> None:
    def f() -> None:
        """F."""

    assert make(tool(name="a" * 64)(f)).name == "a" * 64


def test_tool_given_a_string_positionally_explains_the_keyword() -> None:
    with pytest.raises(ToolDefinitionError, match=r"pass the name as @tool\(name='lookup'\)"):
        tool("lookup")  # type: ignore[call-overload]


def test_tool_given_a_non_callable_fails() -> None:
    with pytest.raises(ToolDefinitionError, match="@tool needs a function, got int"):
        tool(42)  # type: ignore[call-overload]


def test_tool_on_a_callable_without_attributes_fails() -> None:
    with pytest.raises(ToolDefinitionError, match="cannot mark len: it takes no attributes"):
        tool(len)


# --------------------------------------------------------------------------------------------
# ToolSpec.from_function: schemas
# --------------------------------------------------------------------------------------------


async def get_weather(
    city: str,
    unit: Literal["c", "f"] = "c",
    days: Annotated[int, "Days ahead, 0 for today."] = 0,
) -> dict[str, Any]:
    """Current weather for a city.

    Args:
        city: City name, e.g. "Paris".
        unit: Temperature unit.
        days: Overridden by the Annotated description.
    """
    return {"city": city, "temp": 21, "unit": unit, "days": days}


WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": 'City name, e.g. "Paris".'},
        "unit": {
            "type": "string",
            "enum": ["c", "f"],
            "description": "Temperature unit.",
            "default": "c",
        },
        "days": {"type": "integer", "description": "Days ahead, 0 for today.", "default": 0},
    },
    "required": ["city"],
    "additionalProperties": False,
}


def test_spec_from_signature_and_docstring() -> None:
    spec = make(get_weather)
    assert spec.name == "get_weather"
    assert spec.description == "Current weather for a city."
    assert spec.parameters == WEATHER_PARAMETERS
    assert spec.function is get_weather
    assert spec.qualname == "get_weather"
    assert spec.timeout == DEFAULT_TIMEOUT
    assert spec.cancel_on_interrupt is False
    assert spec.is_async is True
    assert spec.injected == ()


def test_a_tool_without_parameters_has_an_empty_object_schema() -> None:
    def now() -> str:
        """The time."""
        return "noon"

    assert make(now).parameters == {
        "type": "object",
        "properties": {},
        "additionalProperties": False,
    }
    assert make(now).is_async is False


def test_the_whole_description_before_the_first_section_is_sent() -> None:
    def book(room: str) -> None:
        """Book a meeting room.

        Only when the user confirmed the time.

        Args:
            room: Room name.
        """

    assert (
        make(book).description == "Book a meeting room.\n\nOnly when the user confirmed the time."
    )


def test_description_argument_wins_and_makes_a_docstring_optional() -> None:
    def undocumented(x: int) -> int:
        return x

    spec = make(undocumented, description="Echo a number.")
    assert spec.description == "Echo a number."
    assert spec.parameters["properties"] == {"x": {"type": "integer"}}


def test_options_come_from_the_marker_and_arguments_override_them() -> None:
    @tool(name="marked", timeout=3, cancel_on_interrupt=True, description="Marked.")
    def f() -> None: ...

    spec = make(f)
    assert (spec.name, spec.description, spec.timeout, spec.cancel_on_interrupt) == (
        "marked",
        "Marked.",
        3,
        True,
    )
    spec = make(f, name="other", description="Other.", timeout=None, cancel_on_interrupt=False)
    assert (spec.name, spec.description, spec.timeout, spec.cancel_on_interrupt) == (
        "other",
        "Other.",
        None,
        False,
    )


def test_partials_callable_objects_and_bound_methods() -> None:
    def scale(factor: int, value: float) -> float:
        """Scale a value.

        Args:
            factor: Bound by the partial.
            value: The value.
        """
        return factor * value

    class Counter:
        """Count things."""

        def __call__(self, step: int = 1) -> int:
            return step

    class Agentish:
        def greet(self, who: str) -> str:
            """Greet someone."""
            return f"hi {who} from {type(self).__name__}"

    partial = make(functools.partial(scale, 2), name="double")
    assert partial.parameters["properties"] == {
        "value": {"type": "number", "description": "The value."}
    }
    assert partial.description == "Scale a value."
    assert partial.qualname.startswith("partial(")

    counter = make(Counter())
    assert (counter.name, counter.description) == ("Counter", "Count things.")
    assert counter.parameters["properties"] == {"step": {"type": "integer", "default": 1}}

    bound = make(Agentish().greet)
    assert bound.parameters["properties"] == {"who": {"type": "string"}}
    assert bound.function("Ann") == "hi Ann from Agentish"


async def test_bound_to_skips_self_and_binds_the_instance() -> None:
    class Agentish:
        def __init__(self, greeting: str) -> None:
            self.greeting = greeting

        @tool
        def greet(self, who: str) -> str:
            """Greet someone."""
            return f"{self.greeting} {who}"

    spec = ToolSpec.from_function(Agentish.greet, bound_to=Agentish("Hello"))
    assert spec.parameters["properties"] == {"who": {"type": "string"}}
    assert (await run(spec, '{"who": "Ann"}')).output == "Hello Ann"


def test_a_classmethod_without_bound_to_is_an_error() -> None:
    class Tools:
        @classmethod
        def c(cls) -> None:
            """C."""

    with pytest.raises(ToolDefinitionError, match="a classmethod needs bound_to"):
        make(Tools.__dict__["c"])


async def test_injected_parameters_are_left_out_of_the_schema_and_filled_in() -> None:
    seen: dict[str, Any] = {}

    async def whoami(ctx: ToolContext, session: FakeSession, shout: bool = False) -> str:
        """Tell who is calling."""
        seen.update(call_id=ctx.call_id, name=ctx.name, arguments=ctx.arguments)
        return session.name.upper() if shout else session.name

    spec = make(whoami)
    assert spec.parameters == {
        "type": "object",
        "properties": {"shout": {"type": "boolean", "default": False}},
        "additionalProperties": False,
    }
    assert spec.injected == ("ctx", "session")
    outcome = await run(spec, '{"shout": true}', session=FakeSession("ann"))
    assert outcome.output == "ANN"
    assert seen == {"call_id": "call_1", "name": "whoami", "arguments": '{"shout": true}'}


def test_injectable_types_imported_only_for_type_checking_still_resolve() -> None:
    namespace: dict[str, Any] = {"tool": tool}
    exec(
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from voiceagent._tools import ToolContext\n"
        "def where(ctx: ToolContext, x: int) -> str:\n"
        "    '''Where.'''\n"
        "    return ctx.call_id\n",
        namespace,
    )
    assert "ToolContext" not in namespace
    spec = make(namespace["where"])
    assert spec.injected == ("ctx",)
    assert list(spec.parameters["properties"]) == ["x"]


def test_register_injectable_needs_a_class_and_a_callable() -> None:
    with pytest.raises(TypeError, match="needs a class"):
        register_injectable("AgentSession", lambda c: c)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs a callable getter"):
        register_injectable(FakeSession, "session")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# ToolSpec.from_function: definition errors
# --------------------------------------------------------------------------------------------


def _unannotated(city) -> None:  # type: ignore[no-untyped-def]
    """Doc."""


def _star_args(*cities: str) -> None:
    """Doc."""


def _star_kwargs(**options: str) -> None:
    """Doc."""


def _positional_only(city: str, /) -> None:
    """Doc."""


def _bytes_param(data: bytes) -> None:
    """Doc."""


def _nested_bytes(points: list[dict[str, set[int]]]) -> None:
    """Doc."""


def _documents_a_missing_parameter(city: str) -> None:
    """Doc.

    Args:
        city: The city.
        town: A parameter that was renamed.
    """


def _no_docstring(city: str) -> None:
    pass


def _generator(city: str) -> Any:
    """Doc."""
    yield city


async def _async_generator(city: str) -> Any:
    """Doc."""
    yield city


def _optional_context(ctx: ToolContext | None = None) -> None:
    """Doc."""


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (
            _unannotated,
            "tool _unannotated: parameter 'city' has no annotation; annotate it, for example "
            "`city: str`",
        ),
        (_star_args, "tool _star_args: parameter 'cities': *args is not supported"),
        (_star_kwargs, "tool _star_kwargs: parameter 'options': **kwargs is not supported"),
        (
            _positional_only,
            "tool _positional_only: parameter 'city': positional-only parameters are not "
            "supported (remove the '/')",
        ),
        (
            _bytes_param,
            "tool _bytes_param: parameter 'data': unsupported annotation bytes: bytes cannot be "
            "sent as JSON; take a str (for example base64) instead",
        ),
        (
            _nested_bytes,
            "tool _nested_bytes: parameter 'points': unsupported annotation set[int]: sets are "
            "not supported; use list[T]",
        ),
        (
            _documents_a_missing_parameter,
            "tool _documents_a_missing_parameter: the docstring documents 'town', which the "
            "function does not take (its parameters: city)",
        ),
        (
            _no_docstring,
            "tool _no_docstring has no description: give it a docstring (its text before the "
            "first section is sent to the model) or pass @tool(description=...)",
        ),
        (_generator, "tool _generator is a generator: a tool must return (or raise), not yield"),
        (_async_generator, "tool _async_generator is a generator"),
        (
            _optional_context,
            "tool _optional_context: parameter 'ctx': annotate an injected parameter exactly "
            "`ToolContext` (it is always provided), not ToolContext | None",
        ),
        (lambda: None, "tool <lambda>: invalid tool name '<lambda>'"),
    ],
    ids=lambda v: getattr(v, "__name__", "")[:30],
)
def test_definition_errors_name_the_function_and_the_problem(fn: Any, message: str) -> None:
    with pytest.raises(ToolDefinitionError) as info:
        make(fn)
    assert message in str(info.value)


def test_unresolvable_annotations_explain_runtime_imports() -> None:
    namespace: dict[str, Any] = {}
    exec(
        "from __future__ import annotations\ndef later(when: Missing) -> None:\n    '''Later.'''\n",
        namespace,
    )
    with pytest.raises(ToolDefinitionError) as info:
        make(namespace["later"])
    assert str(info.value) == (
        "tool later: its annotations cannot be resolved (NameError: name 'Missing' is not "
        "defined); types in a tool's signature are evaluated when it is registered, so import "
        "them at runtime, not under `if TYPE_CHECKING:`"
    )


def test_to_sdk_gives_a_function_tool_with_a_copy_of_the_schema() -> None:
    spec = make(get_weather)
    sdk = spec.to_sdk()
    assert isinstance(sdk, FunctionTool)
    assert sdk.as_dict() == {
        "type": "function",
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": WEATHER_PARAMETERS,
    }
    assert sdk.parameters is not None
    sdk.parameters["properties"].clear()
    assert spec.parameters == WEATHER_PARAMETERS


# --------------------------------------------------------------------------------------------
# parse_arguments
# --------------------------------------------------------------------------------------------

_SENTINEL = object()
_SHARED: list[int] = []


def book(
    room: str,
    attendees: list[str],
    point: Point | None = None,
    unit: Unit = Unit.CELSIUS,
    notes: list[int] = _SHARED,
    marker: str = _SENTINEL,  # type: ignore[assignment]
) -> None:
    """Book a room."""


def test_arguments_are_converted_and_defaults_filled_in_parameter_order() -> None:
    spec = make(book)
    kwargs = spec.parse_arguments('{"unit": "f", "attendees": ["a"], "room": "R1"}')
    assert list(kwargs) == ["room", "attendees", "point", "unit", "notes", "marker"]
    assert kwargs == {
        "room": "R1",
        "attendees": ["a"],
        "point": None,
        "unit": Unit.FAHRENHEIT,
        "notes": [],
        "marker": _SENTINEL,
    }
    assert kwargs["notes"] is _SHARED  # the default object itself, as Python would pass it
    assert spec.parse_arguments('{"room": "R", "attendees": [], "point": {"x": 1}}')[
        "point"
    ] == Point(1, 0)


def test_a_default_without_json_form_is_optional_with_no_default_shown() -> None:
    parameters = make(book).parameters
    assert parameters["properties"]["marker"] == {"type": "string"}
    assert parameters["properties"]["notes"] == {
        "type": "array",
        "items": {"type": "integer"},
        "default": [],
    }
    assert parameters["required"] == ["room", "attendees"]
    assert parameters["properties"]["unit"] == {
        "type": "string",
        "enum": ["c", "f"],
        "default": "c",
    }
    assert parameters["properties"]["point"]["default"] is None


@pytest.mark.parametrize("arguments", ["", "  ", "\n", "{}", " {} "])
def test_empty_arguments_mean_no_arguments(arguments: str) -> None:
    def now(tz: str = "UTC") -> str:
        """The time."""
        return tz

    assert make(now).parse_arguments(arguments) == {"tz": "UTC"}


@pytest.mark.parametrize(
    ("arguments", "problems"),
    [
        (
            "{",
            "the arguments are not valid JSON (Expecting property name enclosed in double "
            "quotes: line 1 column 2 (char 1)); send a JSON object",
        ),
        (
            "not json",
            "the arguments are not valid JSON (Expecting value: line 1 column 1 (char 0)); "
            "send a JSON object",
        ),
        (
            '{"room": NaN}',
            "the arguments are not valid JSON (NaN is not valid JSON); send a JSON object",
        ),
        (
            '{"room": "a", "room": "b"}',
            "the arguments are not valid JSON (duplicate key 'room'); send a JSON object",
        ),
        ("[1, 2]", "the arguments must be a JSON object, got array of 2 items"),
        ('"R1"', 'the arguments must be a JSON object, got string "R1"'),
        (
            "{}",
            "missing required argument 'room' (string); missing required argument "
            "'attendees' (array of string)",
        ),
        (
            '{"room": "R", "attendees": [], "floor": 3}',
            "unknown argument 'floor' (allowed: room, attendees, point, unit, notes, marker)",
        ),
        (
            '{"room": 1, "attendees": ["a", 2]}',
            "'room': expected string, got integer 1; "
            "'attendees[1]': expected string, got integer 2",
        ),
        (
            '{"room": "R", "attendees": [], "unit": "kelvin"}',
            '\'unit\': expected one of "c", "f", got string "kelvin"',
        ),
        (
            '{"room": "R", "attendees": [], "point": {"x": true, "z": 0}}',
            "'point': unknown field 'z' (allowed: x, y); 'point.x': expected integer, got true",
        ),
        ("[" * 100_000, "the arguments are not valid JSON (nested too deeply); send a JSON object"),
    ],
    ids=lambda v: v[:30],
)
def test_invalid_arguments_tell_the_model_what_was_wrong(arguments: str, problems: str) -> None:
    with pytest.raises(ToolArgumentsError) as info:
        make(book).parse_arguments(arguments)
    assert str(info.value) == (
        f"Error: invalid arguments for tool 'book': {problems}. "
        "The tool was not called; call it again with corrected arguments."
    )
    assert isinstance(info.value, ToolError)


def test_a_flood_of_problems_is_summarised_but_all_are_kept() -> None:
    def total(values: list[int]) -> int:
        """Sum."""
        return sum(values)

    with pytest.raises(ToolArgumentsError) as info:
        make(total).parse_arguments(json.dumps({"values": ["x"] * 25}))
    assert str(info.value).count("expected integer") == 20
    assert "; and 5 more problems." in str(info.value)
    assert len(info.value.problems) == 25


# --------------------------------------------------------------------------------------------
# collect_tools: class tools, inheritance, overrides
# --------------------------------------------------------------------------------------------


class BaseAgent:
    def __init__(self, prefix: str = "base") -> None:
        self.prefix = prefix

    @tool
    def alpha(self, x: int) -> str:
        """Alpha."""
        return f"{self.prefix}:alpha:{x}"

    @tool(timeout=1)
    def beta(self) -> str:
        """Beta."""
        return "beta"

    @tool
    def gamma(self) -> str:
        """Gamma."""
        return "gamma"

    @tool
    def delta(self) -> str:
        """Delta."""
        return "delta"

    def helper(self) -> None:
        """Not a tool."""


class ChildAgent(BaseAgent):
    @tool(timeout=5)
    def alpha(self, x: int, y: int = 0) -> str:
        """Alpha, overridden."""
        return f"{self.prefix}:child-alpha:{x + y}"

    beta = None  # type: ignore[assignment]

    def gamma(self) -> str:
        """An override without @tool is a plain method."""
        return "plain"

    @tool
    def epsilon(self) -> str:
        """Epsilon."""
        return "epsilon"

    @tool
    @staticmethod
    def zeta(n: int) -> int:
        """Zeta."""
        return n

    @tool
    @classmethod
    def eta(cls) -> str:
        """Eta."""
        return cls.__name__


def test_class_tools_are_collected_in_definition_order() -> None:
    tools = collect_tools(BaseAgent)
    assert list(tools) == ["alpha", "beta", "gamma", "delta"]
    assert tools["beta"].spec.timeout == 1
    assert tools["alpha"].owner is BaseAgent
    assert tools["alpha"].kind == "instance"
    assert tools["alpha"].attribute == "alpha"
    assert tools["alpha"].spec.parameters["properties"] == {"x": {"type": "integer"}}


def test_subclasses_inherit_override_and_remove_tools() -> None:
    tools = collect_tools(ChildAgent)
    assert list(tools) == ["alpha", "delta", "epsilon", "zeta", "eta"]
    alpha = tools["alpha"]
    assert alpha.owner is ChildAgent
    assert alpha.spec.description == "Alpha, overridden."
    assert alpha.spec.timeout == 5
    assert list(alpha.spec.parameters["properties"]) == ["x", "y"]
    assert tools["delta"].owner is BaseAgent
    assert (tools["zeta"].kind, tools["eta"].kind) == ("static", "class")
    assert list(collect_tools(BaseAgent)) == ["alpha", "beta", "gamma", "delta"]


async def test_bound_class_tools_call_the_instance() -> None:
    agent = ChildAgent(prefix="p")
    registry = ToolRegistry(method.bind(agent) for method in collect_tools(ChildAgent).values())
    assert (await registry.invoke("alpha", '{"x": 1, "y": 2}', context())).output == (
        "p:child-alpha:3"
    )
    assert (await registry.invoke("delta", "{}", context())).output == "delta"
    assert (await registry.invoke("zeta", '{"n": 7}', context())).output == "7"
    assert (await registry.invoke("eta", "{}", context())).output == "ChildAgent"


def test_binding_does_not_change_the_collected_method() -> None:
    method = collect_tools(BaseAgent)["alpha"]
    bound = method.bind(BaseAgent("one"))
    assert isinstance(method, ToolMethod)
    assert bound.function(1) == "one:alpha:1"
    assert method.spec.function is BaseAgent.alpha
    assert bound.parameters == method.spec.parameters


def test_duplicate_tool_names_on_a_class_name_both_functions() -> None:
    class Clash:
        @tool(name="lookup")
        def first(self) -> None:
            """First."""

        @tool(name="lookup")
        def second(self) -> None:
            """Second."""

    with pytest.raises(ToolDefinitionError) as info:
        collect_tools(Clash)
    qualname = Clash.__qualname__
    assert str(info.value) == (
        f"duplicate tool name 'lookup': {qualname}.first and {qualname}.second; give one of "
        "them another name with @tool(name=...)"
    )


def test_a_bad_method_tool_fails_at_collection_naming_it() -> None:
    class Bad:
        @tool
        def method(self, data: bytes) -> None:
            """Doc."""

    with pytest.raises(ToolDefinitionError, match=r"tool .*Bad\.method: parameter 'data'"):
        collect_tools(Bad)


def test_a_method_tool_without_self_fails() -> None:
    class NoSelf:
        @tool
        def method() -> None:  # type: ignore[misc]
            """Doc."""

    with pytest.raises(ToolDefinitionError, match="a method tool needs a first parameter"):
        collect_tools(NoSelf)


def test_a_class_without_tools_has_none() -> None:
    assert collect_tools(type("Empty", (), {})) == {}


# --------------------------------------------------------------------------------------------
# ToolRegistry
# --------------------------------------------------------------------------------------------


def _named(name: str) -> ToolSpec:
    def f() -> str:
        """F."""
        return name

    f.__qualname__ = f"module.{name}_impl"
    return make(f, name=name)


def test_registry_is_an_ordered_mapping() -> None:
    a, b = _named("a"), _named("b")
    registry = ToolRegistry([b, a])
    assert list(registry) == [b, a]
    assert registry.names() == ("b", "a")
    assert len(registry) == 2
    assert "a" in registry
    assert "missing" not in registry
    assert registry["a"] is a
    assert registry.get("a") is a
    assert registry.get("missing") is None
    assert repr(registry) == "ToolRegistry(['b', 'a'])"
    with pytest.raises(KeyError):
        registry["missing"]


def test_registry_add_rejects_duplicates_naming_both_functions() -> None:
    registry = ToolRegistry([_named("a")])
    other = make(_named("a").function, name="a")
    with pytest.raises(ToolDefinitionError) as info:
        registry.add(other)
    assert str(info.value).startswith(
        "duplicate tool name 'a': module.a_impl and module.a_impl; give one of them"
    )
    assert len(registry) == 1


def test_merged_puts_other_tools_after_and_changes_neither() -> None:
    class_tools = ToolRegistry([_named("a"), _named("b")])
    instance_tools = ToolRegistry([_named("c")])
    merged = class_tools.merged(instance_tools)
    assert merged.names() == ("a", "b", "c")
    assert class_tools.names() == ("a", "b")
    assert instance_tools.names() == ("c",)
    assert class_tools.merged([_named("d")]).names() == ("a", "b", "d")
    with pytest.raises(ToolDefinitionError, match="duplicate tool name 'b'"):
        class_tools.merged([_named("b")])


def test_registry_to_sdk() -> None:
    registry = ToolRegistry([_named("a"), make(get_weather)])
    tools = registry.to_sdk()
    assert [t.name for t in tools] == ["a", "get_weather"]
    assert all(isinstance(t, FunctionTool) for t in tools)


async def test_registry_invoke_of_an_unknown_name_lists_the_tools() -> None:
    registry = ToolRegistry([_named("a"), _named("b")])
    outcome = await registry.invoke("c", "{}", context("c"))
    assert outcome.output == "Error: there is no tool named 'c'. Available tools: a, b."
    assert (await registry.invoke("b", "{}", context("b"))).output == "b"


# --------------------------------------------------------------------------------------------
# invoke: results
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "output"),
    [
        ("plain text, sent as is", "plain text, sent as is"),
        ("", ""),
        ({"city": "Paris", "temp": 21}, '{"city":"Paris","temp":21}'),
        (["é", 1, 2.5, True, None], '["é",1,2.5,true,null]'),
        ((1, 2), "[1,2]"),
        (None, "null"),
        (3, "3"),
        (False, "false"),
        (Unit.FAHRENHEIT, '"f"'),
        (Point(1, 2), '{"x":1,"y":2}'),
        (Reading("Oslo", -3.5, Unit.CELSIUS), '{"city":"Oslo","temp":-3.5,"unit":"c"}'),
        (
            {"readings": [Reading("A", 1.0, Unit.FAHRENHEIT)]},
            '{"readings":[{"city":"A","temp":1.0,"unit":"f"}]}',
        ),
    ],
    ids=repr,
)
async def test_results_are_sent_as_json(result: object, output: str) -> None:
    async def produce() -> object:
        """Produce."""
        return result

    outcome = await run(make(produce))
    assert outcome == ToolOutcome(output=output, result=result)
    assert outcome.ok


async def test_async_tool_with_validated_arguments() -> None:
    outcome = await run(make(get_weather), '{"city": "Paris", "unit": "f"}')
    assert outcome.output == '{"city":"Paris","temp":21,"unit":"f","days":0}'
    assert outcome.result == {"city": "Paris", "temp": 21, "unit": "f", "days": 0}
    assert outcome.error is None
    assert outcome.exception is None


async def test_sync_tools_run_in_a_worker_thread_and_async_tools_in_the_loop() -> None:
    threads: dict[str, int] = {}

    def sync_tool() -> None:
        """Sync."""
        threads["sync"] = threading.get_ident()

    async def async_tool() -> None:
        """Async."""
        threads["async"] = threading.get_ident()

    await run(make(sync_tool))
    await run(make(async_tool))
    assert threads["sync"] != threading.get_ident()
    assert threads["async"] == threading.get_ident()


async def test_a_sync_callable_returning_a_coroutine_is_awaited() -> None:
    async def fetch(key: str) -> str:
        return f"value of {key}"

    def undecorated_wrapper(key: str) -> Any:
        """Fetch a value."""
        return fetch(key)

    spec = make(undecorated_wrapper)
    assert spec.is_async is False
    assert (await run(spec, '{"key": "k"}')).output == "value of k"


def test_partials_and_callable_objects_on_a_class_get_no_self() -> None:
    def scale(factor: int, value: int) -> int:
        """Scale a value."""
        return factor * value

    class WithPartial:
        double = tool(name="double")(functools.partial(scale, 2))

    [method] = collect_tools(WithPartial).values()
    assert method.kind == "static"
    assert method.spec.parameters["properties"] == {"value": {"type": "integer"}}
    assert method.bind(WithPartial()).function(value=4) == 8


@pytest.mark.parametrize(
    "arguments",
    [
        '{"city": 1}',
        "{}",
        '{"city": "Paris", "country": "FR"}',
        '{"city": "Paris", "unit": "kelvin"}',
        "not json",
        "[]",
    ],
)
async def test_invalid_arguments_never_call_the_tool(arguments: str) -> None:
    calls = 0

    def weather(city: str, unit: Literal["c", "f"] = "c") -> str:
        """Weather."""
        nonlocal calls
        calls += 1
        return city

    outcome = await run(make(weather), arguments)
    assert calls == 0
    assert isinstance(outcome.exception, ToolArgumentsError)
    assert outcome.error is not None
    assert outcome.error.startswith("Error: invalid arguments for tool 'weather': ")
    assert outcome.output == outcome.error
    assert outcome.result is None
    assert not outcome.ok
    # ...and the same call with valid arguments does call it: the counter can move.
    await run(make(weather), '{"city": "Paris"}')
    assert calls == 1


async def test_unknown_tool_gives_an_error_output() -> None:
    outcome = await invoke(None, "nope", "{}", context("nope"))
    assert outcome == ToolOutcome.failure("Error: there is no tool named 'nope'.")


# --------------------------------------------------------------------------------------------
# invoke: errors
# --------------------------------------------------------------------------------------------


class CityNotFound(ToolError):
    pass


async def test_tool_error_messages_go_to_the_model_as_is() -> None:
    error = CityNotFound("No city called Atlantis; ask the user to spell it.")

    async def lookup(city: str) -> str:
        """Look up."""
        raise error

    outcome = await run(make(lookup), '{"city": "Atlantis"}')
    assert outcome.output == "No city called Atlantis; ask the user to spell it."
    assert outcome.error == outcome.output
    assert outcome.exception is error


async def test_an_empty_tool_error_still_says_something() -> None:
    def quiet() -> None:
        """Quiet."""
        raise ToolError()

    assert (await run(make(quiet))).output == "Error: tool 'quiet' failed."


async def test_other_exceptions_are_logged_and_the_model_gets_a_safe_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    error = RuntimeError("connect failed: password=hunter2")

    def boom(api_key: str) -> None:
        """Boom."""
        raise error

    with caplog.at_level(logging.ERROR, logger="voiceagent.tools"):
        outcome = await run(make(boom), '{"api_key": "sk-argument-secret"}')
    assert outcome.output == "Error: tool 'boom' failed because of an internal error."
    assert "hunter2" not in outcome.output
    assert "Traceback" not in outcome.output
    assert outcome.exception is error
    [record] = [r for r in caplog.records if r.name == "voiceagent.tools"]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "Tool 'boom' (call_id=call_1) raised RuntimeError"
    assert record.exc_info is not None
    assert record.exc_info[1] is error
    assert "Traceback" in caplog.text
    assert "sk-argument-secret" not in caplog.text


async def test_a_failing_injection_getter_is_an_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        pass

    def explode(context: ToolContext) -> Any:
        raise LookupError("no session")

    register_injectable(Broken, explode)

    def needs(b: Broken) -> None:
        """Needs."""

    needs.__annotations__ = {"b": Broken, "return": None}
    with caplog.at_level(logging.ERROR, logger="voiceagent.tools"):
        outcome = await run(make(needs))
    assert outcome.output == "Error: tool 'needs' failed because of an internal error."
    assert isinstance(outcome.exception, LookupError)


async def test_unserializable_results_are_a_clear_error(caplog: pytest.LogCaptureFixture) -> None:
    def raw() -> bytes:
        """Raw."""
        return b"\x00\x01"

    with caplog.at_level(logging.ERROR, logger="voiceagent.tools"):
        outcome = await run(make(raw))
    assert outcome.output == (
        "Error: tool 'raw' failed: its result could not be converted to JSON."
    )
    assert outcome.result is None
    assert "builtins.bytes" in str(outcome.exception)
    [record] = [r for r in caplog.records if r.name == "voiceagent.tools"]
    assert record.getMessage() == (
        "Tool 'raw' (call_id=call_1) returned a value that cannot be sent to the model: "
        "result is a builtins.bytes, not JSON"
    )


# --------------------------------------------------------------------------------------------
# invoke: timeouts
# --------------------------------------------------------------------------------------------


async def test_an_async_tool_that_times_out_is_cancelled_and_reported() -> None:
    cancelled = False

    @tool(timeout=0.05)
    async def slow() -> str:
        """Slow."""
        nonlocal cancelled
        try:
            await anyio.sleep(60)
        except anyio.get_cancelled_exc_class():
            cancelled = True
            raise
        return "done"

    outcome = await run(make(slow))
    assert outcome.output == (
        "Error: tool 'slow' did not finish within 0.05 seconds, so it has no result."
    )
    assert isinstance(outcome.exception, TimeoutError)
    assert cancelled


async def test_a_sync_tool_that_times_out_is_abandoned_and_reported() -> None:
    release = threading.Event()
    finished = threading.Event()

    @tool(timeout=0.05)
    def blocking() -> str:
        """Blocking."""
        try:
            release.wait(30)
            return "late"
        finally:
            finished.set()

    outcome = await run(make(blocking))
    assert outcome.error == (
        "Error: tool 'blocking' did not finish within 0.05 seconds, so it has no result."
    )
    assert not finished.is_set()  # abandoned, still running in its thread
    release.set()
    assert await anyio.to_thread.run_sync(finished.wait, 10)


class _Collect(logging.Handler):
    """Collects records from any thread and signals the first one."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.arrived = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.arrived.set()


async def test_an_abandoned_sync_tool_that_raises_later_is_logged() -> None:
    release = threading.Event()

    @tool(timeout=0.05)
    def blocking() -> None:
        """Blocking."""
        release.wait(30)
        raise ValueError("late failure")

    handler = _Collect()
    tools_logger = logging.getLogger("voiceagent.tools")
    tools_logger.addHandler(handler)
    try:
        outcome = await run(make(blocking))
        assert isinstance(outcome.exception, TimeoutError)
        [timeout_record] = handler.records
        assert (
            timeout_record.getMessage() == "Tool 'blocking' (call_id=call_1) timed out after 0.05 s"
        )
        handler.records.clear()
        handler.arrived.clear()
        release.set()
        assert await anyio.to_thread.run_sync(handler.arrived.wait, 10)
    finally:
        tools_logger.removeHandler(handler)
    [record] = handler.records
    assert record.getMessage() == (
        "Tool 'blocking' (call_id=call_1) raised after it was abandoned (timed out or cancelled)"
    )
    assert record.levelno == logging.WARNING
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)


async def test_a_timeout_error_raised_by_the_tool_itself_is_not_our_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def http() -> None:
        """HTTP."""
        raise TimeoutError("upstream timed out")

    with caplog.at_level(logging.ERROR, logger="voiceagent.tools"):
        outcome = await run(make(http))
    assert outcome.output == "Error: tool 'http' failed because of an internal error."


async def test_no_timeout_means_no_limit() -> None:
    @tool(timeout=None)
    async def patient() -> str:
        """Patient."""
        await anyio.sleep(0.01)
        return "ok"

    assert (await run(make(patient))).output == "ok"


# --------------------------------------------------------------------------------------------
# invoke: cancellation
# --------------------------------------------------------------------------------------------


async def test_cancelling_invoke_cancels_an_async_tool_and_propagates() -> None:
    started = anyio.Event()
    tool_cancelled = False
    invoke_raised = False
    returned = False

    @tool(timeout=30)
    async def wait() -> None:
        """Wait."""
        nonlocal tool_cancelled
        started.set()
        try:
            await anyio.sleep(60)
        except anyio.get_cancelled_exc_class():
            tool_cancelled = True
            raise

    async def call() -> None:
        nonlocal invoke_raised, returned
        try:
            await run(make(wait))
        except anyio.get_cancelled_exc_class():
            invoke_raised = True
            raise
        returned = True

    async with anyio.create_task_group() as tg:
        tg.start_soon(call)
        await started.wait()
        tg.cancel_scope.cancel()
    assert tool_cancelled
    assert invoke_raised
    assert not returned


async def test_cancelling_invoke_abandons_a_sync_tool_and_propagates() -> None:
    started = threading.Event()
    release = threading.Event()
    finished = threading.Event()
    invoke_raised = False

    def blocking() -> None:
        """Blocking."""
        started.set()
        release.wait(30)
        finished.set()

    async def call() -> None:
        nonlocal invoke_raised
        try:
            await run(make(blocking))
        except anyio.get_cancelled_exc_class():
            invoke_raised = True
            raise

    async with anyio.create_task_group() as tg:
        tg.start_soon(call)
        await anyio.to_thread.run_sync(started.wait, 10)
        tg.cancel_scope.cancel()
    assert invoke_raised
    assert not finished.is_set()
    release.set()
    assert await anyio.to_thread.run_sync(finished.wait, 10)


# --------------------------------------------------------------------------------------------
# ToolOutcome and ToolContext
# --------------------------------------------------------------------------------------------


def test_cancelled_outcomes() -> None:
    assert ToolOutcome.cancelled("book", started=True).output == (
        "Error: tool 'book' was cancelled before it finished because the user interrupted; "
        "it has no result."
    )
    not_run = ToolOutcome.cancelled("book", started=False)
    assert not_run.output == (
        "Error: tool 'book' was not run because the user interrupted; it has no result."
    )
    assert not_run.error == not_run.output
    assert not not_run.ok


def test_tool_context_repr_leaves_out_the_arguments() -> None:
    ctx = context("t", '{"card": "4111-secret"}')
    assert "4111-secret" not in repr(ctx)
    assert ctx.arguments == '{"card": "4111-secret"}'


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------


def _probe_for(annotation: Any) -> ToolSpec:
    def probe(x: object) -> None:
        """Probe."""

    probe.__annotations__ = {"x": annotation, "return": None}
    return make(probe)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_serialized_values_round_trip_through_parse_arguments(data: st.DataObject) -> None:
    typed = data.draw(tool_types(), label="annotation")
    value = data.draw(typed.values, label="value")
    spec = _probe_for(typed.annotation)
    arguments = json.dumps({"x": to_json_value(value)})
    parsed = spec.parse_arguments(arguments)
    assert parsed == {"x": value}
    assert to_json_value(parsed["x"]) == to_json_value(value)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_json_is_either_accepted_or_a_tool_arguments_error(data: st.DataObject) -> None:
    typed = data.draw(tool_types(), label="annotation")
    payload = data.draw(json_values, label="payload")
    spec = _probe_for(typed.annotation)
    arguments = json.dumps({"x": payload})
    error: ToolArgumentsError | None = None
    try:
        parsed = spec.parse_arguments(arguments)
    except ToolArgumentsError as exc:
        error = exc
    if error is None:
        # Whatever was accepted converts back to JSON.
        json.dumps(to_json_value(parsed["x"]))
    else:
        assert error.problems
        assert str(error).startswith("Error: invalid arguments for tool 'probe': ")
