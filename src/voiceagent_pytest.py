"""voiceagent's pytest plugin (entry point ``pytest11``): fixtures for testing agents
against the Voice Live emulator.

- ``voiceagent_emulator``: a running :class:`voiceagent.testing.Emulator` (unpaced), closed
  after the test (an async fixture: it needs pytest-asyncio, which
  ``pip install "voiceagent[testing]"`` brings).
- ``voiceagent_conversation``: ``await voiceagent_conversation(agent, script, user=[...])``
  holds a scripted conversation (see :func:`voiceagent.testing.run_conversation`) and
  returns its record, with ``.expect`` assertions. A failing test's report shows every
  conversation it ran.

Installing voiceagent registers the plugin in every pytest run, so this module is light:
nothing of voiceagent (the SDK, aiohttp, numpy) is imported until a test asks for one of
its fixtures, and it adds no hook work to tests that do not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Generator

    from voiceagent.testing import Emulator
    from voiceagent.testing._pytest_plugin import ConversationRunner

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the testing extra brings it
    pytest_asyncio = None  # type: ignore[assignment]

__all__ = ["voiceagent_conversation", "voiceagent_emulator"]

_KEY = "voiceagent_conversation"

if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def voiceagent_emulator() -> AsyncIterator[Emulator]:
        """A running Voice Live emulator (unpaced, default brain; set ``.script``)."""
        from voiceagent.testing import Emulator

        async with Emulator(speed=None) as emu:
            yield emu

else:  # pragma: no cover - the testing extra brings pytest-asyncio

    @pytest.fixture
    def voiceagent_emulator() -> Any:
        """Needs pytest-asyncio."""
        pytest.fail(
            "the voiceagent_emulator fixture is async and needs pytest-asyncio: "
            'pip install "voiceagent[testing]"'
        )


@pytest.fixture
def voiceagent_conversation(request: pytest.FixtureRequest) -> ConversationRunner:
    """``await voiceagent_conversation(agent, script, user=[...])``: a scripted
    conversation against a fresh emulator, recorded (``result.expect...``)."""
    from voiceagent.testing._pytest_plugin import ConversationRunner

    runner = ConversationRunner()
    request.node.stash[_STASH] = runner
    return runner


_STASH: pytest.StashKey[ConversationRunner] = pytest.StashKey()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Show the test's conversations in the report of a failing test that ran some."""
    report = yield
    if report.failed and _KEY in getattr(item, "fixturenames", ()):
        runner = item.stash.get(_STASH, None)
        if runner is not None and runner.results:
            report.sections.append(("voiceagent conversations", runner.report()))
    return report
