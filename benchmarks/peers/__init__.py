"""Other frameworks' released Voice Live clients, run by ``benchmarks/overhead.py`` as
labelled reference clients (``--baselines competent,livekit,pipecat``).

Each peer performs the benchmark's scripted conversation (``benchmarks/_conversation.py``)
against the same emulator, written as that framework's documentation shows, with the least
configuration the conversation needs; its module's docstring says exactly what differs from
the raw clients and from voiceagent. The peers are optional: their packages are not
project dependencies. Install them into a separate virtualenv beside the project::

    python3 -m venv .venv-peers
    .venv-peers/bin/pip install -e . -r benchmarks/peers/requirements.txt
    .venv-peers/bin/python benchmarks/overhead.py --baselines competent,livekit,pipecat

Without them, ``overhead.py`` skips a requested peer with a one-line reason (see
:func:`unavailable`).

Peers that could not be run (reasons with file and line in ``docs/performance.md``,
"Peers"): ``openai-agents`` speaks OpenAI's GA realtime protocol, not Voice Live's.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from typing import TYPE_CHECKING, TypeAlias

import attrs

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from benchmarks._conversation import PacedSource

__all__ = ["PEERS", "PeerConversation", "PeerOutcome", "load", "unavailable", "versions"]


@attrs.frozen
class _Peer:
    module: str
    """The client's module in this package."""
    packages: tuple[str, ...]
    """The distributions it needs (as pinned in ``requirements.txt``)."""
    imports: tuple[str, ...]
    """Modules that must be importable."""


PEERS: dict[str, _Peer] = {
    "livekit": _Peer(
        module="benchmarks.peers.livekit_agents",
        packages=("livekit-agents", "livekit-plugins-azure"),
        imports=("livekit.agents", "livekit.plugins.azure"),
    ),
    "pipecat": _Peer(
        module="benchmarks.peers.pipecat_voice_live",
        packages=("pipecat-ai",),
        imports=("pipecat.services.azure.voice_live",),
    ),
}
"""The peers ``overhead.py`` can run, by the name ``--baselines`` takes."""


@attrs.frozen(kw_only=True)
class PeerOutcome:
    """What a peer's conversation did, in the terms both other clients report.

    Attributes:
        answers: Agent answers of the scripted conversation that were played (a peer's
            own extra answers, such as pipecat's greeting, are not counted).
        interrupted: Answers cut short by the barge-in.
        tool_calls: Tool calls run.
        audio_bytes: Agent audio written to the sink (extra answers included).
    """

    answers: int
    interrupted: int
    tool_calls: int
    audio_bytes: int


PeerConversation: TypeAlias = "Callable[[str, str, PacedSource], Awaitable[PeerOutcome]]"
"""A peer's client: ``(endpoint, api_key, source)`` to what the conversation did."""


def unavailable(name: str) -> str | None:
    """Why peer ``name`` cannot run here (one line), or None when it can.

    Only looks the packages up: nothing heavy is imported.
    """
    peer = PEERS[name]
    for module in peer.imports:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            return (
                f"{name}: {module} is not installed (pip install -r "
                "benchmarks/peers/requirements.txt, in a separate virtualenv)"
            )
    return None


def versions(name: str) -> dict[str, str]:
    """The installed versions of peer ``name``'s packages."""
    return {p: importlib.metadata.version(p) for p in PEERS[name].packages}


def load(name: str) -> PeerConversation:
    """Import peer ``name``'s client and return its ``conversation`` function.

    Raises:
        ImportError: Its packages are not installed.
    """
    module = importlib.import_module(PEERS[name].module)
    conversation: PeerConversation = module.conversation
    return conversation
