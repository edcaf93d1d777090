"""Reading a tool function: its parameters, type hints, docstring and injected parameters.

This turns a Python callable into the parts a tool is made of: one
:class:`~voiceagent._converters.Field` per parameter the model fills in, the Python defaults,
the parameters voiceagent injects itself (:class:`ToolContext`, and whatever
:func:`register_injectable` adds, such as ``AgentSession``), and the parsed docstring.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from typing import TYPE_CHECKING, Any, Final

import attrs

from ._converters import Field
from ._docstrings import Docstring, parse_docstring
from ._schema import (
    NO_DEFAULT,
    UnsupportedAnnotation,
    compile_annotation,
    default_keywords,
    split_annotated,
    type_name,
)
from .errors import ToolDefinitionError

if TYPE_CHECKING:
    from ._session import AgentSession

if typing.TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "Injection",
    "Signature",
    "ToolContext",
    "default_name",
    "injectable_getter",
    "is_async",
    "qualname_of",
    "read_signature",
    "register_injectable",
    "source_of",
]


@attrs.frozen(kw_only=True)
class ToolContext:
    """Facts about the current call, injected into a parameter annotated ``ToolContext``.

    Attributes:
        session: The ``AgentSession`` running the call.
        call_id: The call's ``call_id`` (ties the call to its output).
        name: The tool name the model called.
        arguments: The raw JSON arguments the model sent (left out of the repr: user data).
    """

    session: AgentSession
    call_id: str
    name: str
    arguments: str = attrs.field(repr=False)


_INJECTABLES: dict[type, Callable[[ToolContext], Any]] = {ToolContext: lambda context: context}


def register_injectable(annotation: type, getter: Callable[[ToolContext], Any]) -> None:
    """Make parameters annotated exactly ``annotation`` injected instead of asked of the model.

    Injected parameters are left out of the tool's schema; at each call their value is
    ``getter(context)``. ``ToolContext`` itself is registered already. Registering an
    annotation again replaces its getter.

    Args:
        annotation: The class a parameter must be annotated with (for example ``AgentSession``).
        getter: Computes the value from the call's :class:`ToolContext`.

    Raises:
        TypeError: ``annotation`` is not a class or ``getter`` is not callable.
    """
    if not isinstance(annotation, type):
        raise TypeError(f"register_injectable needs a class, got {annotation!r}")
    if not callable(getter):
        raise TypeError(f"register_injectable needs a callable getter, got {getter!r}")
    _INJECTABLES[annotation] = getter


def injectable_getter(annotation: object) -> Callable[[ToolContext], Any] | None:
    """Return the getter registered for ``annotation``, or ``None`` if it is not injected.

    Args:
        annotation: A parameter's annotation (without ``Annotated``).

    Returns:
        The getter, or ``None``.
    """
    if not isinstance(annotation, type):
        return None
    return _INJECTABLES.get(annotation)


def qualname_of(obj: object) -> str:
    """Name a callable for messages: its ``__qualname__``, or the best substitute.

    Args:
        obj: A function, method, partial or callable object.

    Returns:
        For example ``WeatherAgent.get_weather`` or ``partial(lookup)``.
    """
    if isinstance(obj, functools.partial):
        return f"partial({qualname_of(obj.func)})"
    for attr in ("__qualname__", "__name__"):
        value = getattr(obj, attr, None)
        if isinstance(value, str):
            return value
    return type(obj).__qualname__


def source_of(fn: Any) -> Any:
    """Find the plain function behind methods, partials, decorators and callable objects.

    Args:
        fn: Any callable.

    Returns:
        The function whose annotations, globals and docstring describe ``fn``.
    """
    while True:
        if isinstance(fn, functools.partial):
            fn = fn.func
        elif isinstance(fn, types.MethodType):
            fn = fn.__func__
        elif not inspect.isfunction(fn) and not inspect.isbuiltin(fn) and callable(fn):
            fn = type(fn).__call__
        else:
            return inspect.unwrap(fn)


def default_name(fn: Any) -> str:
    """Return the tool name a callable gets when none is given (its ``__name__``).

    Args:
        fn: Any callable.

    Returns:
        The name (not yet validated).
    """
    while isinstance(fn, functools.partial):
        fn = fn.func
    name = getattr(fn, "__name__", None)
    return name if isinstance(name, str) else type(fn).__name__


def is_async(fn: Any) -> bool:
    """Tell whether calling ``fn`` returns a coroutine (async functions, async ``__call__``).

    Args:
        fn: Any callable.

    Returns:
        ``True`` for async callables.
    """
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an object with an async __call__
    )


def _docstring(fn: Any, source: Any) -> Docstring:
    doc = inspect.getdoc(source)
    if not doc and not inspect.isfunction(fn) and not isinstance(fn, types.MethodType):
        doc = inspect.getdoc(fn)  # a callable object: its class's docstring
    return parse_docstring(doc)


def _type_hints(source: Any, qualname: str) -> dict[str, Any]:
    namespace = getattr(source, "__globals__", {})
    # Injectable types are often imported under TYPE_CHECKING (ruff's TC rules move them
    # there); resolve their names anyway so that `ctx: ToolContext` just works.
    fallback = {t.__name__: t for t in _INJECTABLES if t.__name__ not in namespace}
    try:
        return typing.get_type_hints(source, localns=fallback, include_extras=True)
    except Exception as exc:
        raise ToolDefinitionError(
            f"tool {qualname}: its annotations cannot be resolved ({type(exc).__name__}: {exc}); "
            "types in a tool's signature are evaluated when it is registered, so import them "
            "at runtime, not under `if TYPE_CHECKING:`"
        ) from exc


@attrs.frozen
class Injection:
    """A parameter voiceagent fills in itself.

    Attributes:
        name: The parameter's name.
        getter: Computes its value from the call's :class:`ToolContext`.
    """

    name: str
    getter: Callable[[ToolContext], Any]


@attrs.frozen
class Signature:
    """What a tool function takes.

    Attributes:
        fields: The parameters the model fills in, in order.
        defaults: The Python defaults of the optional ones.
        injections: The parameters voiceagent injects.
        doc: The parsed docstring.
    """

    fields: tuple[Field, ...]
    defaults: dict[str, Any]
    injections: tuple[Injection, ...]
    doc: Docstring


_KIND_PROBLEMS: Final = {
    inspect.Parameter.VAR_POSITIONAL: "*args is not supported: declare each argument",
    inspect.Parameter.VAR_KEYWORD: "**kwargs is not supported: declare each argument",
    inspect.Parameter.POSITIONAL_ONLY: "positional-only parameters are not supported "
    "(remove the '/')",
}


def read_signature(fn: Any, *, skip_first: bool, qualname: str) -> Signature:
    """Read a tool function's parameters, annotations and docstring.

    Args:
        fn: The callable.
        skip_first: Leave out the first parameter (``self`` or ``cls`` of an unbound method).
        qualname: The function's name for messages.

    Returns:
        The signature.

    Raises:
        ToolDefinitionError: A parameter cannot be a tool parameter (unsupported or missing
            annotation, ``*args``, ``**kwargs``, positional-only), annotations cannot be
            resolved, or the docstring documents a parameter the function does not take.
    """
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise ToolDefinitionError(f"tool {qualname}: cannot read its signature: {exc}") from exc
    params = list(signature.parameters.values())
    if skip_first:
        if not params or params[0].kind not in _FIRST_KINDS:
            raise ToolDefinitionError(
                f"tool {qualname}: a method tool needs a first parameter (self or cls)"
            )
        params = params[1:]
    source = source_of(fn)
    hints = _type_hints(source, qualname)
    doc = _docstring(fn, source)
    fields: list[Field] = []
    defaults: dict[str, Any] = {}
    injections: list[Injection] = []
    for param in params:
        where = f"tool {qualname}: parameter {param.name!r}"
        if param.kind in _KIND_PROBLEMS:
            raise ToolDefinitionError(f"{where}: {_KIND_PROBLEMS[param.kind]}")
        annotation = hints.get(param.name, param.annotation)
        if annotation is inspect.Parameter.empty:
            raise ToolDefinitionError(
                f"{where} has no annotation; annotate it, for example `{param.name}: str`"
            )
        bare, annotated = split_annotated(annotation)
        getter = injectable_getter(bare)
        if getter is not None:
            injections.append(Injection(param.name, getter))
            continue
        _check_not_optional_injectable(bare, where)
        try:
            converter = compile_annotation(bare)
        except UnsupportedAnnotation as exc:
            raise ToolDefinitionError(f"{where}: {exc}") from None
        has_default = param.default is not inspect.Parameter.empty
        if has_default:
            defaults[param.name] = param.default
        fields.append(
            Field(
                param.name,
                converter,
                required=not has_default,
                description=annotated or doc.params.get(param.name),
                **default_keywords(param.default if has_default else NO_DEFAULT),
            )
        )
    known = [p.name for p in params]
    # A partial's docstring documents the parameters it binds too: they exist, just not here.
    everything = set(known) | set(_parameter_names(source))
    unknown = [name for name in doc.params if name not in everything]
    if unknown:
        raise ToolDefinitionError(
            f"tool {qualname}: the docstring documents {', '.join(map(repr, unknown))}, which "
            f"the function does not take (its parameters: {', '.join(known) or 'none'})"
        )
    return Signature(tuple(fields), defaults, tuple(injections), doc)


def _parameter_names(fn: Any) -> list[str]:
    try:
        return list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return []


_FIRST_KINDS: Final = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _check_not_optional_injectable(annotation: object, where: str) -> None:
    for arg in typing.get_args(annotation):
        if injectable_getter(arg) is not None:
            raise ToolDefinitionError(
                f"{where}: annotate an injected parameter exactly `{type_name(arg)}` "
                f"(it is always provided), not {type_name(annotation)}"
            )
