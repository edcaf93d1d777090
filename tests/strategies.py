"""Shared hypothesis strategies. Each area keeps its strategies in its own block."""

from __future__ import annotations

# --- audio (voiceagent.audio) ------------------------------------------------------------
import array
import itertools
import random
import sys

from hypothesis import strategies as st

from voiceagent.audio import AudioFormat, Encoding

AUDIO_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000)
"""Sample rates worth testing: every wire rate and the common device and file rates."""


@st.composite
def audio_formats(
    draw: st.DrawFn, *, encodings: tuple[Encoding, ...] = tuple(Encoding), max_channels: int = 2
) -> AudioFormat:
    """Any valid :class:`AudioFormat` (G.711 at 8 kHz, pcm16 at any of :data:`AUDIO_RATES`)."""
    encoding = draw(st.sampled_from(encodings))
    rate = 8000 if encoding is not Encoding.PCM16 else draw(st.sampled_from(AUDIO_RATES))
    channels = draw(st.integers(1, max_channels))
    return AudioFormat(encoding=encoding, sample_rate=rate, channels=channels)


def pcm16(samples: list[int]) -> bytes:
    """Signed 16-bit little-endian bytes of ``samples``."""
    data = array.array("h", samples)
    if sys.byteorder == "big":
        data.byteswap()
    return data.tobytes()


@st.composite
def pcm16_audio(
    draw: st.DrawFn, *, channels: int = 1, max_samples: int = 4000, amplitude: int = 20000
) -> bytes:
    """pcm16 audio of 0 to ``max_samples`` samples: a random walk, so it has real low
    frequencies as speech does, within +-``amplitude``."""
    n = draw(st.integers(0, max_samples))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = random.Random(seed)
    out: list[int] = []
    level = 0
    for _ in range(n * channels):
        level = max(-amplitude, min(amplitude, level + rng.randint(-2000, 2000)))
        out.append(level)
    return pcm16(out)


@st.composite
def splits(draw: st.DrawFn, data: bytes, *, max_chunks: int = 12) -> list[bytes]:
    """``data`` cut at arbitrary byte offsets (chunks may be empty or split samples)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=max_chunks - 1)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


# --- end audio ---------------------------------------------------------------------------


# --- tools (voiceagent._tools): supported tool-parameter annotations with values ---------
import dataclasses as _dataclasses  # noqa: E402
import enum as _enum  # noqa: E402
from typing import Any as _Any  # noqa: E402
from typing import Literal as _Literal  # noqa: E402
from typing import TypedDict as _TypedDict  # noqa: E402

import attrs as _attrs  # noqa: E402


class ToolColor(_enum.Enum):
    """A str-valued Enum for generated tool annotations."""

    RED = "red"
    GREEN = "green"


class ToolLevel(_enum.IntEnum):
    """An int-valued Enum for generated tool annotations."""

    LOW = 1
    HIGH = 2


@_attrs.frozen
class Typed:
    """A supported tool-parameter annotation and a strategy drawing Python values of it.

    Attributes:
        annotation: The annotation (a real type object, never a string).
        values: Draws values of that annotation, as a tool would receive them.
    """

    annotation: _Any
    values: st.SearchStrategy[_Any]


_TOOL_FIELD_NAMES = ("alpha", "beta", "gamma")
_tool_class_counter = itertools.count()

_TOOL_LEAVES: list[Typed] = [
    Typed(str, st.text(max_size=20)),
    Typed(int, st.integers()),
    Typed(float, st.floats(allow_nan=False, allow_infinity=False)),
    Typed(bool, st.booleans()),
    Typed(type(None), st.none()),
    Typed(_Literal["c", "f"], st.sampled_from(["c", "f"])),
    Typed(_Literal[1, 2, 3], st.sampled_from([1, 2, 3])),
    Typed(ToolColor, st.sampled_from(ToolColor)),
    Typed(ToolLevel, st.sampled_from(ToolLevel)),
]

# Subscripted at run time with drawn annotations: typed Any so mypy reads no type expression.
_LIST: _Any = list
_DICT: _Any = dict


def _tool_fields(children: st.SearchStrategy[Typed]) -> st.SearchStrategy[list[tuple[str, Typed]]]:
    return st.lists(children, min_size=1, max_size=3).map(
        lambda typed: list(zip(_TOOL_FIELD_NAMES, typed, strict=False))
    )


def _tool_dataclass(fields: list[tuple[str, Typed]]) -> Typed:
    cls = _dataclasses.make_dataclass(
        f"GeneratedDataclass{next(_tool_class_counter)}",
        [(name, t.annotation) for name, t in fields],
    )
    return Typed(cls, st.builds(cls, **{name: t.values for name, t in fields}))


def _tool_attrs_class(fields: list[tuple[str, Typed]]) -> Typed:
    cls = _attrs.make_class(
        f"GeneratedAttrs{next(_tool_class_counter)}",
        {name: _attrs.field(type=t.annotation) for name, t in fields},
    )
    return Typed(cls, st.builds(cls, **{name: t.values for name, t in fields}))


def _tool_typeddict(fields: list[tuple[str, Typed]], total: bool) -> Typed:
    annotations = {name: t.annotation for name, t in fields}
    name = f"GeneratedTypedDict{next(_tool_class_counter)}"
    cls = _TypedDict(name, annotations, total=total)  # type: ignore[misc]
    strategies = {name: t.values for name, t in fields}
    values = (
        st.fixed_dictionaries(strategies)
        if total
        else st.fixed_dictionaries({}, optional=strategies)
    )
    return Typed(cls, values)


def _tool_extend(children: st.SearchStrategy[Typed]) -> st.SearchStrategy[Typed]:
    return st.one_of(
        children.map(lambda t: Typed(_LIST[t.annotation], st.lists(t.values, max_size=3))),
        children.map(
            lambda t: Typed(
                _DICT[str, t.annotation], st.dictionaries(st.text(max_size=5), t.values, max_size=3)
            )
        ),
        children.map(lambda t: Typed(t.annotation | None, st.none() | t.values)),
        _tool_fields(children).map(_tool_dataclass),
        _tool_fields(children).map(_tool_attrs_class),
        st.builds(_tool_typeddict, _tool_fields(children), st.booleans()),
    )


def tool_types(max_leaves: int = 6) -> st.SearchStrategy[Typed]:
    """A supported tool-parameter annotation (nested: lists, dicts, optionals, dataclasses,
    attrs classes, TypedDicts), with a strategy for its values."""
    return st.recursive(st.sampled_from(_TOOL_LEAVES), _tool_extend, max_leaves=max_leaves)


json_values: st.SearchStrategy[_Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from([*_TOOL_FIELD_NAMES, "other"]), children, max_size=3)
    ),
    max_leaves=10,
)
"""Arbitrary decoded JSON, with object keys that sometimes match generated field names."""


# --- end tools ---------------------------------------------------------------------------
