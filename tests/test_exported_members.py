"""The public API: ``__all__`` lists exactly what each public module exports."""

from __future__ import annotations

import types

import pytest

import voiceagent
import voiceagent.audio
import voiceagent.demo
import voiceagent.errors
import voiceagent.events
import voiceagent.options
import voiceagent.serve
import voiceagent.telemetry
import voiceagent.telephony
import voiceagent.testing

PUBLIC_MODULES = [
    voiceagent,
    voiceagent.audio,
    voiceagent.demo,
    voiceagent.events,
    voiceagent.options,
    voiceagent.serve,
    voiceagent.telemetry,
    voiceagent.telephony,
    voiceagent.testing,
    voiceagent.errors,
]


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_all_matches_public_names(module: types.ModuleType) -> None:
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and getattr(value, "__module__", module.__name__).startswith("voiceagent")
        and name not in ("annotations", "TYPE_CHECKING")
    }
    exported = set(module.__all__)
    assert len(set(module.__all__)) == len(module.__all__)  # order: ruff's RUF022
    assert public <= exported | {"__version__"}, public - exported
    for name in exported:
        assert hasattr(module, name), name


def test_version() -> None:
    assert isinstance(voiceagent.__version__, str)
    assert "__version__" in voiceagent.__all__


def test_nothing_is_exported_twice() -> None:
    homes: dict[int, str] = {}
    twice = []
    for module in PUBLIC_MODULES:
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, str | int | float | bool):
                continue
            where = f"{module.__name__}.{name}"
            if id(value) in homes:
                twice.append((homes[id(value)], where))
            homes.setdefault(id(value), where)
    assert twice == []
