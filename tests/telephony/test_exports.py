"""``voiceagent.telephony``'s public API: ``__all__`` lists exactly what it exports."""

from __future__ import annotations

import types

import voiceagent.telephony


def test_all_matches_public_names() -> None:
    module = voiceagent.telephony
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and getattr(value, "__module__", module.__name__).startswith("voiceagent")
    }
    assert len(set(module.__all__)) == len(module.__all__)
    assert public <= set(module.__all__), public - set(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name), name
