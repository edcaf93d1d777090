"""Tools: the ``@tool`` decorator, tool specs, class tool collection and the registry.

A tool is a Python function the model can call. Its JSON Schema is built from its type hints
and its Google-style docstring when it is registered (at class creation for methods of an
``Agent`` subclass, at ``@agent.tool`` for plain functions), so every definition problem is a
:class:`~voiceagent.errors.ToolDefinitionError` naming the function, never a failure on the wire.

Running a call is :func:`~voiceagent._invoke.invoke`'s job (re-exported here, with
:class:`ToolOutcome`, :class:`ToolContext` and :func:`register_injectable`, so that this module
is the tool layer's one import).
"""

from __future__ import annotations

import copy
import enum
import inspect
import json
import math
import re
import types
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Final, Literal, TypeVar, overload

import attrs
from azure.ai.voicelive.models import FunctionTool

from ._converters import ToolArgumentsError, convert_object, describe_value, object_schema
from ._invoke import ToolOutcome, invoke
from ._signature import (
    Signature,
    ToolContext,
    default_name,
    is_async,
    qualname_of,
    read_signature,
    register_injectable,
    source_of,
)
from .errors import ToolDefinitionError

__all__ = [
    "DEFAULT_CANCEL_ON_INTERRUPT",
    "DEFAULT_TIMEOUT",
    "TOOL_NAME_PATTERN",
    "ToolArgumentsError",
    "ToolContext",
    "ToolMethod",
    "ToolOptions",
    "ToolOutcome",
    "ToolRegistry",
    "ToolSpec",
    "collect_tools",
    "get_tool_options",
    "invoke",
    "register_injectable",
    "tool",
]

TOOL_NAME_PATTERN: Final = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
"""Function names the Realtime API accepts: 1 to 64 letters, digits, ``_`` and ``-``."""

DEFAULT_TIMEOUT: Final = 30.0
"""Seconds a tool call may run before the model is told it timed out."""

DEFAULT_CANCEL_ON_INTERRUPT: Final = False
"""Running tools are not cancelled when the user interrupts: their result is still recorded.

A tool with side effects (booking, sending, paying) must not be stopped half-way, and a result
the conversation does not record is how peers end up running tools twice. Pure, slow lookups
whose result is worthless once the user has moved on can opt in with
``@tool(cancel_on_interrupt=True)``.
"""

_MARKER: Final = "__voiceagent_tool__"
_MAX_PROBLEMS: Final = 20

F = TypeVar("F", bound=Callable[..., Any])


class _Unset(enum.Enum):
    UNSET = "UNSET"


_UNSET: Final = _Unset.UNSET


# --------------------------------------------------------------------------------------------
# Declaring tools
# --------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ToolOptions:
    """What ``@tool(...)`` was given; stored on the decorated function.

    Attributes:
        name: The tool's name for the model; ``None`` means the function's name.
        description: The tool's description; ``None`` means the docstring's.
        timeout: Seconds a call may run, or ``None`` for no limit.
        cancel_on_interrupt: Whether a running call is cancelled when the user interrupts.
    """

    name: str | None = None
    description: str | None = None
    timeout: float | None = DEFAULT_TIMEOUT
    cancel_on_interrupt: bool = DEFAULT_CANCEL_ON_INTERRUPT


def _check_options(options: ToolOptions, qualname: str) -> None:
    where = f"@tool on {qualname}"
    if options.name is not None and (
        not isinstance(options.name, str) or not TOOL_NAME_PATTERN.match(options.name)
    ):
        raise ToolDefinitionError(f"{where}: {_bad_name(options.name)}")
    if options.description is not None and (
        not isinstance(options.description, str) or not options.description.strip()
    ):
        raise ToolDefinitionError(
            f"{where}: description must be a non-empty string, got {options.description!r}"
        )
    timeout = options.timeout
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise ToolDefinitionError(
            f"{where}: timeout must be a positive number of seconds or None, got {timeout!r}"
        )
    if not isinstance(options.cancel_on_interrupt, bool):
        raise ToolDefinitionError(
            f"{where}: cancel_on_interrupt must be True or False, "
            f"got {options.cancel_on_interrupt!r}"
        )


def _bad_name(name: object) -> str:
    return (
        f"invalid tool name {name!r}: a tool name is 1 to 64 letters, digits, '_' or '-' "
        "(pass a valid one with @tool(name=...))"
    )


@overload
def tool(fn: F, /) -> F: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    cancel_on_interrupt: bool = DEFAULT_CANCEL_ON_INTERRUPT,
) -> Callable[[F], F]: ...


def tool(
    fn: Any = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    cancel_on_interrupt: bool = DEFAULT_CANCEL_ON_INTERRUPT,
) -> Any:
    """Mark a function or method as a tool the model can call.

    Works bare (``@tool``) and called (``@tool(name=..., timeout=...)``). The function is
    returned unchanged, only marked, so an ``Agent`` subclass stays a normal class and the
    function can still be called directly. Its schema is built, and annotation or docstring
    problems raised, when the tool is registered: when the ``Agent`` subclass is created, or
    by ``@agent.tool``.

    Args:
        fn: The function (when used bare).
        name: The tool's name for the model (default: the function's name). 1 to 64 letters,
            digits, ``_`` or ``-``.
        description: What the tool does, for the model (default: the docstring's text before
            its first section).
        timeout: Seconds a call may run before it is given up and the model is told it timed
            out; ``None`` for no limit.
        cancel_on_interrupt: Cancel a running call when the user interrupts the agent. The
            default, ``False``, lets it finish and records its result (see
            :data:`DEFAULT_CANCEL_ON_INTERRUPT`).

    Returns:
        The function itself (bare form), or a decorator that marks and returns it.

    Raises:
        ToolDefinitionError: An option is invalid (name, description, timeout), or ``fn`` is
            not a function.
    """
    options = ToolOptions(
        name=name, description=description, timeout=timeout, cancel_on_interrupt=cancel_on_interrupt
    )

    def mark(target: F) -> F:
        func: Any = target.__func__ if isinstance(target, (staticmethod, classmethod)) else target
        if isinstance(func, str):
            raise ToolDefinitionError(f"@tool({func!r}): pass the name as @tool(name={func!r})")
        if not callable(func):
            raise ToolDefinitionError(f"@tool needs a function, got {type(func).__qualname__}")
        _check_options(options, qualname_of(func))
        try:
            setattr(func, _MARKER, options)
        except (AttributeError, TypeError):
            raise ToolDefinitionError(
                f"@tool cannot mark {qualname_of(func)}: it takes no attributes; wrap it in a def"
            ) from None
        return target

    return mark if fn is None else mark(fn)


def get_tool_options(obj: object) -> ToolOptions | None:
    """Return the options ``@tool`` stored on ``obj``, or ``None`` if it is not a tool.

    Args:
        obj: A function, method, ``staticmethod``/``classmethod`` object, or anything else.

    Returns:
        The options, or ``None``.
    """
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    try:
        options = getattr(obj, _MARKER, None)
    except Exception:  # an object whose __getattr__ misbehaves is simply not a tool
        return None
    return options if isinstance(options, ToolOptions) else None


# --------------------------------------------------------------------------------------------
# ToolSpec
# --------------------------------------------------------------------------------------------


def _json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


@attrs.frozen(kw_only=True, eq=False)
class ToolSpec:
    """One registered tool: its schema for the model and how to call it.

    Build one with :meth:`from_function`. Specs compare by identity.

    Attributes:
        name: The tool's name for the model.
        description: What the tool does, for the model.
        parameters: The JSON Schema of its arguments (``"type": "object"``).
        function: The callable invoked (a bound method for method tools).
        qualname: The function's qualified name, for messages and logs.
        timeout: Seconds a call may run, or ``None``.
        cancel_on_interrupt: Whether a running call is cancelled when the user interrupts.
        is_async: Whether the function is awaited (``True``) or run in a worker thread.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., Any]
    qualname: str
    timeout: float | None
    cancel_on_interrupt: bool
    is_async: bool
    _signature: Signature = attrs.field(alias="signature", repr=False)

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | _Unset | None = _UNSET,
        cancel_on_interrupt: bool | _Unset = _UNSET,
        bound_to: object | None = None,
    ) -> ToolSpec:
        """Build a tool from a function, reading its type hints and docstring.

        Options not given here come from ``@tool(...)`` if ``fn`` is marked, and otherwise
        from the defaults.

        Args:
            fn: A function, bound method, ``functools.partial``, callable object, or (with
                ``bound_to``) a method as found in a class (also ``staticmethod`` and
                ``classmethod`` objects).
            name: The tool's name (default: the function's name).
            description: The description (default: from the docstring).
            timeout: Seconds a call may run, or ``None`` for no limit (default 30).
            cancel_on_interrupt: Cancel a running call on interruption (default ``False``).
            bound_to: The instance a method tool belongs to: ``self`` is bound to it and left
                out of the schema.

        Returns:
            The spec.

        Raises:
            ToolDefinitionError: Naming the function's qualified name: an unsupported or
                missing annotation (also ``*args``, ``**kwargs`` and positional-only
                parameters), a missing description, a docstring entry for a parameter the
                function does not take, an invalid name or option, or a generator function.
        """
        raw: Any = fn.__func__ if isinstance(fn, (staticmethod, classmethod)) else fn
        if bound_to is not None and isinstance(raw, types.MethodType):
            raw = raw.__func__
        marked = get_tool_options(raw) or ToolOptions()
        options = ToolOptions(
            name=name if name is not None else marked.name,
            description=description if description is not None else marked.description,
            timeout=marked.timeout if timeout is _UNSET else timeout,
            cancel_on_interrupt=(
                marked.cancel_on_interrupt if cancel_on_interrupt is _UNSET else cancel_on_interrupt
            ),
        )
        if isinstance(fn, staticmethod):
            return _build(raw, raw, skip_first=False, options=options)
        if bound_to is None:
            if isinstance(fn, classmethod):
                raise ToolDefinitionError(
                    f"tool {qualname_of(raw)}: a classmethod needs bound_to (or pass it bound)"
                )
            return _build(raw, raw, skip_first=False, options=options)
        owner = type(bound_to) if isinstance(fn, classmethod) else bound_to
        return _build(types.MethodType(raw, owner), raw, skip_first=True, options=options)

    @property
    def injected(self) -> tuple[str, ...]:
        """The names of the parameters that are injected rather than asked of the model."""
        return tuple(i.name for i in self._signature.injections)

    def to_sdk(self) -> FunctionTool:
        """Return the tool as the SDK's ``FunctionTool`` (for ``RequestSession.tools``)."""
        return FunctionTool(
            name=self.name,
            description=self.description,
            parameters=copy.deepcopy(self.parameters),
        )

    def parse_arguments(self, arguments_json: str) -> dict[str, Any]:
        """Validate the model's JSON arguments and convert them to Python keyword arguments.

        Values are converted to what the annotations promise (``Enum`` members, dataclass and
        attrs instances, TypedDict dicts, lists), and defaults are filled in. An empty string
        counts as ``{}``. Injected parameters are not included.

        Args:
            arguments_json: The ``arguments`` string of the function call.

        Returns:
            Keyword arguments, in the order of the function's parameters.

        Raises:
            ToolArgumentsError: The arguments are not a JSON object, or are missing, unknown or
                of the wrong type. The message is for the model: it names every problem (each
                argument, what was expected, what was given).
        """
        fields = self._signature.fields
        text = arguments_json.strip()
        try:
            data = (
                json.loads(
                    text, parse_constant=_json_constant, object_pairs_hook=_no_duplicate_keys
                )
                if text
                else {}
            )
        except (ValueError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise self._arguments_error(
                [f"the arguments are not valid JSON ({reason}); send a JSON object"]
            ) from None
        if not isinstance(data, dict):
            raise self._arguments_error(
                [f"the arguments must be a JSON object, got {describe_value(data)}"]
            )
        problems: list[str] = []
        converted = convert_object(fields, data, None, problems, noun="argument")
        if converted is None:
            raise self._arguments_error(problems)
        defaults = self._signature.defaults
        return {
            f.name: converted[f.name] if f.name in converted else defaults[f.name]
            for f in fields
            if f.name in converted or f.name in defaults
        }

    def _arguments_error(self, problems: Sequence[str]) -> ToolArgumentsError:
        shown = list(problems[:_MAX_PROBLEMS])
        if len(problems) > _MAX_PROBLEMS:
            shown.append(f"and {len(problems) - _MAX_PROBLEMS} more problems")
        message = (
            f"Error: invalid arguments for tool {self.name!r}: {'; '.join(shown)}. "
            "The tool was not called; call it again with corrected arguments."
        )
        return ToolArgumentsError(message, problems)

    def injected_arguments(self, context: ToolContext) -> dict[str, Any]:
        """Compute the injected parameters' values for one call.

        Args:
            context: The call's context.

        Returns:
            Keyword arguments for the injected parameters.
        """
        return {i.name: i.getter(context) for i in self._signature.injections}


def _build(function: Any, raw: Any, *, skip_first: bool, options: ToolOptions) -> ToolSpec:
    qualname = qualname_of(raw)
    _check_options(options, qualname)
    name = options.name if options.name is not None else default_name(raw)
    if not TOOL_NAME_PATTERN.match(name):
        raise ToolDefinitionError(f"tool {qualname}: {_bad_name(name)}")
    source = source_of(raw)
    if inspect.isgeneratorfunction(source) or inspect.isasyncgenfunction(source):
        raise ToolDefinitionError(
            f"tool {qualname} is a generator: a tool must return (or raise), not yield"
        )
    signature = read_signature(raw, skip_first=skip_first, qualname=qualname)
    description = options.description or signature.doc.description
    if not description:
        raise ToolDefinitionError(
            f"tool {qualname} has no description: give it a docstring (its text before the "
            "first section is sent to the model) or pass @tool(description=...)"
        )
    return ToolSpec(
        name=name,
        description=description,
        parameters=object_schema(signature.fields),
        function=function,
        qualname=qualname,
        timeout=options.timeout,
        cancel_on_interrupt=options.cancel_on_interrupt,
        is_async=is_async(raw),
        signature=signature,
    )


# --------------------------------------------------------------------------------------------
# Class tools and the registry
# --------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True, eq=False)
class ToolMethod:
    """A ``@tool`` method found on a class, with its schema already built.

    Attributes:
        attribute: The attribute name on the class.
        owner: The class that defines it (the most derived one, after overrides).
        kind: ``"instance"`` (a function: gets ``self``), ``"class"`` (``classmethod``), or
            ``"static"`` (``staticmethod``, or a partial or callable object: no ``self``).
        spec: The spec, with the unbound function; use :meth:`bind` to get a callable one.
    """

    attribute: str
    owner: type
    kind: Literal["instance", "class", "static"]
    spec: ToolSpec

    def bind(self, instance: object) -> ToolSpec:
        """Return the spec with its function bound to ``instance`` (an ``Agent``).

        Args:
            instance: An instance of the class the tool was collected from.

        Returns:
            A spec whose ``function`` is the bound method.
        """
        raw = self.spec.function
        if self.kind == "static":
            return self.spec
        owner = type(instance) if self.kind == "class" else instance
        return attrs.evolve(self.spec, function=types.MethodType(raw, owner))


def collect_tools(cls: type) -> dict[str, ToolMethod]:
    """Find the ``@tool`` methods of a class and its bases, and build their schemas.

    Attribute lookup follows Python's: a subclass attribute of the same name replaces the
    base's. So an override decorated with ``@tool`` replaces the tool (with its own options:
    they are not inherited), an override without ``@tool`` is a plain method and no longer a
    tool, and ``name = None`` in a subclass removes the tool. Tools keep the order in which
    their attributes were first defined, bases first.

    Args:
        cls: The class (typically an ``Agent`` subclass, at class creation).

    Returns:
        The tools by tool name.

    Raises:
        ToolDefinitionError: A tool cannot be built (see :meth:`ToolSpec.from_function`), or
            two attributes declare the same tool name (the message names both).
    """
    resolved: dict[str, tuple[type, object]] = {}
    for klass in reversed(cls.__mro__):
        for attribute, value in vars(klass).items():
            resolved[attribute] = (klass, value)
    tools: dict[str, ToolMethod] = {}
    for attribute, (owner, value) in resolved.items():
        options = get_tool_options(value)
        if options is None:
            continue
        kind: Literal["instance", "class", "static"]
        if isinstance(value, classmethod):
            kind = "class"
        elif inspect.isfunction(value):
            kind = "instance"
        else:  # staticmethod, or a partial or callable object: Python binds no self to those
            kind = "static"
        raw: Any = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
        spec = _build(raw, raw, skip_first=kind != "static", options=options)
        if spec.name in tools:
            raise ToolDefinitionError(_duplicate(spec.name, tools[spec.name].spec, spec))
        tools[spec.name] = ToolMethod(attribute=attribute, owner=owner, kind=kind, spec=spec)
    return tools


def _duplicate(name: str, first: ToolSpec, second: ToolSpec) -> str:
    return (
        f"duplicate tool name {name!r}: {first.qualname} and {second.qualname}; "
        "give one of them another name with @tool(name=...)"
    )


class ToolRegistry:
    """The tools of one agent, in registration order, looked up by name.

    Iterating gives the :class:`ToolSpec` objects; :meth:`get`, ``registry[name]`` and
    ``name in registry`` look one up by name; :meth:`names` lists the names.

    Args:
        specs: Tools to add, in order.

    Raises:
        ToolDefinitionError: Two tools have the same name.
    """

    def __init__(self, specs: Iterable[ToolSpec] = ()) -> None:
        self._specs: dict[str, ToolSpec] = {}
        for spec in specs:
            self.add(spec)

    def add(self, spec: ToolSpec) -> None:
        """Register a tool.

        Args:
            spec: The tool.

        Raises:
            ToolDefinitionError: A tool of that name is registered already (the message names
                both functions).
        """
        existing = self._specs.get(spec.name)
        if existing is not None:
            raise ToolDefinitionError(_duplicate(spec.name, existing, spec))
        self._specs[spec.name] = spec

    def merged(self, other: Iterable[ToolSpec] | ToolRegistry) -> ToolRegistry:
        """Return a new registry with this one's tools, then ``other``'s.

        Args:
            other: More tools (for example an agent's instance tools on top of its class
                tools).

        Returns:
            The new registry; neither input changes.

        Raises:
            ToolDefinitionError: A name is in both.
        """
        return ToolRegistry([*self._specs.values(), *other])

    def to_sdk(self) -> list[FunctionTool]:
        """Return every tool as the SDK's ``FunctionTool``, in order."""
        return [spec.to_sdk() for spec in self._specs.values()]

    async def invoke(self, name: str, arguments_json: str, context: ToolContext) -> ToolOutcome:
        """Run one call of the tool ``name``; see :func:`invoke`.

        Args:
            name: The tool name the model called.
            arguments_json: The call's JSON arguments.
            context: The call's context.

        Returns:
            The outcome; an unknown name gives an error outcome listing the available tools.
        """
        return await invoke(self.get(name), name, arguments_json, context, available=self.names())

    def get(self, name: str) -> ToolSpec | None:
        """Return the tool called ``name``, or ``None``.

        Args:
            name: A tool name.

        Returns:
            The spec, or ``None``.
        """
        return self._specs.get(name)

    def names(self) -> tuple[str, ...]:
        """Return the tool names, in registration order."""
        return tuple(self._specs)

    def __getitem__(self, name: str) -> ToolSpec:
        return self._specs[name]

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[ToolSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def __repr__(self) -> str:
        return f"ToolRegistry({list(self._specs)!r})"
