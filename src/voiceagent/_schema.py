"""Type hints to converters (JSON Schema + argument conversion), and results to JSON.

A tool's annotations are compiled once, at registration, into a tree of
:class:`~voiceagent._converters.Converter` objects.

Supported annotations: ``str``, ``int``, ``float``, ``bool``, ``None``, ``Literal[...]``,
``Enum`` with all-``str`` or all-``int`` values, ``list[T]`` (and ``Sequence[T]``),
``dict[str, T]`` (and ``Mapping[str, T]``), unions (``X | None``, ``Optional[X]``,
``X | Y``), ``TypedDict``, attrs classes, dataclasses, ``NewType`` and
``Annotated[T, "description"]``. Anything else is rejected with a message that says why.

Results go the other way: :func:`to_json_value` turns what a tool returns into JSON data.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import math
import types
import typing
from typing import Any, Final, Literal, NoReturn, Union

import attrs

from ._converters import (
    BoolConverter,
    ChoiceConverter,
    Converter,
    DescribedConverter,
    DictConverter,
    Field,
    FloatConverter,
    IntConverter,
    ListConverter,
    NullConverter,
    ObjectConverter,
    StrConverter,
    UnionConverter,
    json_type,
)
from ._docstrings import Docstring, class_docstring

__all__ = [
    "NO_DEFAULT",
    "UnserializableResultError",
    "UnsupportedAnnotation",
    "compile_annotation",
    "default_keywords",
    "split_annotated",
    "to_json_value",
    "type_name",
]


class UnserializableResultError(TypeError):
    """A tool returned a value that cannot be converted to JSON.

    The message names the offending type and where it was found (``result["items"][2]``).
    """


# --------------------------------------------------------------------------------------------
# Compiling annotations
# --------------------------------------------------------------------------------------------


def type_name(annotation: object) -> str:
    """Name an annotation readably (``bytes``, ``list[int]``, ``Point | None``).

    Args:
        annotation: Any annotation.

    Returns:
        A short human-readable name, without module paths.
    """
    if annotation is None or annotation is types.NoneType:
        return "None"
    if annotation is Ellipsis:
        return "..."
    if isinstance(annotation, list):  # Callable's parameter list
        return f"[{', '.join(type_name(a) for a in annotation)}]"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is Literal:
        return f"Literal[{', '.join(map(repr, args))}]"
    if origin is typing.Annotated:
        return f"Annotated[{type_name(args[0])}, ...]"
    if origin is not None and args:
        return f"{type_name(origin)}[{', '.join(type_name(a) for a in args)}]"
    if isinstance(annotation, type):
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "")


class UnsupportedAnnotation(Exception):
    """An annotation cannot be compiled; the tool layer turns this into ToolDefinitionError.

    Attributes:
        annotation: The offending annotation (possibly nested in the parameter's annotation).
        reason: Why, and what to use instead.
        where: The field it sits in (``Point.z``), or ``""`` when it is the parameter's own.
    """

    def __init__(self, annotation: object, reason: str, where: str = "") -> None:
        super().__init__(reason)
        self.annotation = annotation
        self.reason = reason
        self.where = where

    def __str__(self) -> str:
        where = f"field '{self.where}': " if self.where else ""
        return f"{where}unsupported annotation {type_name(self.annotation)}: {self.reason}"


_HINTS: Final[dict[object, str]] = {
    bytes: "bytes cannot be sent as JSON; take a str (for example base64) instead",
    bytearray: "bytes cannot be sent as JSON; take a str (for example base64) instead",
    typing.Any: "Any has no schema; use a concrete type",
    object: "object has no schema; use a concrete type",
    list: "a bare list has no item type; use list[T], for example list[str]",
    dict: "a bare dict has no value type; use dict[str, T]",
    tuple: "tuples are not supported; use list[T]",
    set: "sets are not supported; use list[T]",
    frozenset: "sets are not supported; use list[T]",
    complex: "complex numbers have no JSON form; use two floats",
}
_SCALARS: Final[dict[object, type[Converter]]] = {
    str: StrConverter,
    int: IntConverter,
    float: FloatConverter,
    bool: BoolConverter,
    None: NullConverter,
    types.NoneType: NullConverter,
}
_LIST_ORIGINS: Final = (list, collections.abc.Sequence)
_DICT_ORIGINS: Final = (dict, collections.abc.Mapping)
_TYPEDDICT_WRAPPERS: Final = frozenset(
    w for w in (typing.Required, typing.NotRequired, getattr(typing, "ReadOnly", None)) if w
)


_V = typing.TypeVar("_V")


def _lookup(table: dict[object, _V], key: object) -> _V | None:
    try:
        return table.get(key)
    except TypeError:  # an unhashable annotation is in no table
        return None


def _annotated_description(metadata: typing.Iterable[object]) -> str | None:
    for item in metadata:
        if isinstance(item, str) and item.strip():
            return item.strip()
    return None


def split_annotated(annotation: object) -> tuple[object, str | None]:
    """Split ``Annotated[T, "description", ...]`` into ``T`` and the first string metadata.

    Args:
        annotation: Any annotation.

    Returns:
        The bare annotation and the description (``None`` when there is none).
    """
    if typing.get_origin(annotation) is typing.Annotated:
        return annotation.__origin__, _annotated_description(annotation.__metadata__)  # type: ignore[attr-defined]
    return annotation, None


class _Compiler:
    """Compiles annotations, tracking the classes being compiled to reject recursive types."""

    def __init__(self) -> None:
        self.stack: list[type] = []

    def compile(self, annotation: object) -> Converter:
        bare, description = split_annotated(annotation)
        converter = self._compile_bare(bare)
        return DescribedConverter(converter, description) if description else converter

    def _compile_bare(self, annotation: object) -> Converter:
        if isinstance(annotation, typing.NewType):
            return self.compile(annotation.__supertype__)
        if type(annotation).__name__ == "TypeAliasType":  # `type X = ...` (3.12+)
            return self.compile(annotation.__value__)  # type: ignore[attr-defined]
        if isinstance(annotation, (str, typing.ForwardRef)):
            raise UnsupportedAnnotation(annotation, "unresolved forward reference")
        scalar = _lookup(_SCALARS, annotation)
        if scalar is not None:
            return scalar()
        hint = _lookup(_HINTS, annotation)
        if hint is not None:
            raise UnsupportedAnnotation(annotation, hint)
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin is Literal:
            return self._literal(annotation, args)
        if origin in (Union, types.UnionType):
            return UnionConverter([self.compile(a) for a in args])
        if origin in _LIST_ORIGINS:
            return ListConverter(self.compile(args[0]))
        if origin in _DICT_ORIGINS:
            if split_annotated(args[0])[0] is not str:
                raise UnsupportedAnnotation(
                    annotation, "JSON object keys are strings; use dict[str, T]"
                )
            return DictConverter(self.compile(args[1]))
        hint = _lookup(_HINTS, origin)
        if hint is not None:
            raise UnsupportedAnnotation(annotation, hint)
        if isinstance(annotation, type):
            return self._class(annotation)
        raise UnsupportedAnnotation(annotation, "this kind of annotation has no JSON Schema")

    def _literal(self, annotation: object, args: tuple[object, ...]) -> Converter:
        for value in args:
            if value is not None and not isinstance(value, (str, int, bool)):
                raise UnsupportedAnnotation(
                    annotation, "Literal values must be str, int, bool or None"
                )
            if isinstance(value, enum.Enum):
                raise UnsupportedAnnotation(
                    annotation, "use the Enum itself instead of its members"
                )
        return ChoiceConverter(args, args)

    def _class(self, cls: type) -> Converter:
        if issubclass(cls, enum.Enum):
            return _enum(cls)
        if cls in self.stack:
            chain = " -> ".join(c.__name__ for c in [*self.stack, cls])
            raise UnsupportedAnnotation(cls, f"recursive types are not supported ({chain})")
        self.stack.append(cls)
        try:
            if typing.is_typeddict(cls):
                return self._typeddict(cls)
            if attrs.has(cls):
                return self._attrs(cls)
            if dataclasses.is_dataclass(cls):
                return self._dataclass(cls)
        finally:
            self.stack.pop()
        raise UnsupportedAnnotation(
            cls, "classes must be an Enum, a TypedDict, an attrs class or a dataclass"
        )

    def _field(self, cls: type, name: str, annotation: object, doc: Docstring, **kw: Any) -> Field:
        bare, annotated = split_annotated(annotation)
        try:
            converter = self.compile(bare)
        except UnsupportedAnnotation as exc:
            exc.where = f"{cls.__name__}.{name}" + (f" ({exc.where})" if exc.where else "")
            raise
        description = annotated or doc.attributes.get(name) or doc.params.get(name)
        return Field(name, converter, description=description, **kw)

    def _typeddict(self, cls: type) -> Converter:
        hints = _class_hints(cls)
        doc = class_docstring(cls)
        required_keys: frozenset[str] = cls.__required_keys__  # type: ignore[attr-defined]
        fields = []
        for name, hint in hints.items():
            required = name in required_keys
            # __required_keys__ misses Required/NotRequired under `from __future__ import
            # annotations` (they are strings when the class is made), so trust resolved hints.
            while typing.get_origin(hint) in _TYPEDDICT_WRAPPERS:
                if typing.get_origin(hint) is typing.Required:
                    required = True
                elif typing.get_origin(hint) is typing.NotRequired:
                    required = False
                hint = typing.get_args(hint)[0]
            fields.append(self._field(cls, name, hint, doc, required=required))
        return ObjectConverter(cls, fields, doc.description or None, dict)

    def _attrs(self, cls: type) -> Converter:
        hints = _class_hints(cls)
        doc = class_docstring(cls)
        fields = []
        for a in attrs.fields(cls):
            if not a.init:
                continue
            annotation = hints.get(a.name, a.type)
            if annotation is None:
                raise UnsupportedAnnotation(
                    None, "the field has no type", f"{cls.__name__}.{a.name}"
                )
            required = a.default is attrs.NOTHING
            has_default = not required and not isinstance(a.default, attrs.Factory)  # type: ignore[arg-type]
            fields.append(
                self._field(
                    cls,
                    a.alias or a.name,
                    annotation,
                    doc,
                    required=required,
                    **default_keywords(a.default if has_default else NO_DEFAULT),
                )
            )
        return ObjectConverter(cls, fields, doc.description or None, lambda kw: cls(**kw))

    def _dataclass(self, cls: type) -> Converter:
        hints = _class_hints(cls)
        doc = class_docstring(cls)
        fields = []
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            no_default = f.default is dataclasses.MISSING
            required = no_default and f.default_factory is dataclasses.MISSING
            fields.append(
                self._field(
                    cls,
                    f.name,
                    hints.get(f.name, f.type),
                    doc,
                    required=required,
                    **default_keywords(NO_DEFAULT if no_default else f.default),
                )
            )
        return ObjectConverter(cls, fields, doc.description or None, lambda kw: cls(**kw))


NO_DEFAULT: Final = object()


def default_keywords(value: object) -> dict[str, Any]:
    """The ``default=``/``has_default=`` keywords of a :class:`Field` for a Python default.

    Args:
        value: The default, or ``NO_DEFAULT``.

    Returns:
        Keywords for :class:`Field`: none when there is no default or when it has no JSON form
        (a sentinel object), in which case the schema shows no default.
    """
    if value is NO_DEFAULT:
        return {}
    try:
        return {"default": to_json_value(value), "has_default": True}
    except UnserializableResultError:
        return {}  # a sentinel or other object: the property is optional, with no default shown


def _class_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls, include_extras=True)
    except Exception as exc:  # NameError and friends from evaluating string annotations
        raise UnsupportedAnnotation(
            cls, f"its annotations cannot be resolved ({type(exc).__name__}: {exc})"
        ) from exc


def _enum(cls: type[enum.Enum]) -> Converter:
    members = list(cls)
    if issubclass(cls, enum.Flag):
        raise UnsupportedAnnotation(cls, "Flag enums are not supported; use list[SomeEnum]")
    if not members:
        raise UnsupportedAnnotation(cls, "the Enum has no members")
    values = [m.value for m in members]
    kinds = {json_type(v) for v in values}
    if kinds not in ({"string"}, {"integer"}):
        raise UnsupportedAnnotation(cls, "Enum values must be all str or all int")
    return ChoiceConverter(values, members)


def compile_annotation(annotation: object) -> Converter:
    """Compile an annotation into a :class:`Converter`.

    Args:
        annotation: A resolved annotation (not a string).

    Returns:
        The converter.

    Raises:
        UnsupportedAnnotation: The annotation, or one nested in it, is not supported.
    """
    return _Compiler().compile(annotation)


# --------------------------------------------------------------------------------------------
# Results to JSON
# --------------------------------------------------------------------------------------------


def _unserializable(value: object, path: str, why: str = "") -> NoReturn:
    message = f"{path} is a {type(value).__module__}.{type(value).__qualname__}"
    raise UnserializableResultError(message + (f" ({why})" if why else "") + ", not JSON")


def to_json_value(value: object, path: str = "result", _seen: frozenset[int] = frozenset()) -> Any:
    """Convert a tool's result to plain JSON data (dict, list, str, int, float, bool, None).

    ``dict`` (with ``str``, ``int`` or str/int ``Enum`` keys), ``list``, ``tuple``, ``str``,
    ``int``, ``float``, ``bool``, ``None``, attrs instances and dataclass instances (as objects
    of their ``__init__`` arguments' names), and enum members (as their value) are converted,
    nested to any depth.

    Args:
        value: The value.
        path: Where the value sits, for messages.

    Returns:
        The JSON data.

    Raises:
        UnserializableResultError: Anything else: ``bytes``, sets, non-finite floats, circular
            references, arbitrary objects. The message names the type and the path.
    """
    if value is None or isinstance(value, (str, bool, int)):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, float):
        if not math.isfinite(value):
            _unserializable(value, path, f"{value!r} is not a finite number")
        return value
    if isinstance(value, enum.Enum):
        return to_json_value(value.value, path, _seen)
    if id(value) in _seen:
        _unserializable(value, path, "circular reference")
    seen = _seen | {id(value)}
    if isinstance(value, dict):
        return {
            _json_key(k, path): to_json_value(v, f"{path}[{k!r}]", seen) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [to_json_value(v, f"{path}[{i}]", seen) for i, v in enumerate(value)]
    cls = type(value)
    if attrs.has(cls):
        return {
            (a.alias or a.name): to_json_value(getattr(value, a.name), f"{path}.{a.name}", seen)
            for a in attrs.fields(cls)
        }
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_json_value(getattr(value, f.name), f"{path}.{f.name}", seen)
            for f in dataclasses.fields(value)
        }
    _unserializable(value, path)


def _json_key(key: object, path: str) -> str:
    if isinstance(key, enum.Enum):
        key = key.value
    if isinstance(key, str):
        return key
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)
    raise UnserializableResultError(
        f"{path} has a key of type {type(key).__qualname__}; JSON object keys must be str or int"
    )
