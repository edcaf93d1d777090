"""Foundry agents behind the emulator: the connection's agent query parameters.

A client names a Foundry agent with ``agent-name`` and ``agent-project-name`` (plus the
optional ``agent-version``, ``conversation-id``, ``agent-authentication-identity-client-id``
and ``foundry-resource-override``), as the SDK's ``connect(agent_name=..., project_name=...)``
writes them (protocol reference §1.1). The emulator then plays the Foundry agent: the
script answers as it does for a model, and the session reports the agent in its
``agent`` field (``AgentConfig``: ``type``, ``name``, ``agent_id``, ``thread_id``).

What the service does exactly is UNVERIFIED beyond the SDK's models; the emulator follows
the documented requirements: both names are needed, Agent Service needs Microsoft Entra
ID (a key is refused), and the agent's text model answers (cascaded defaults: an Azure
voice, ``azure-speech`` transcription).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ._protocol import new_id

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["AGENT_MODEL", "AGENT_PARAMS", "agent_config", "agent_refusal"]

AGENT_PARAMS: Final = (
    "agent-name",
    "agent-project-name",
    "agent-version",
    "conversation-id",
    "agent-authentication-identity-client-id",
    "foundry-resource-override",
)
"""The query parameters that name a Foundry agent."""

AGENT_MODEL: Final = "gpt-4.1"
"""The model the emulated Foundry agent reports (a cascaded text model) when the
connection names none."""


def agent_refusal(query: Mapping[str, str], *, bearer: bool) -> tuple[int, str] | None:
    """Why a connection naming a Foundry agent is refused (HTTP status, message), or None."""
    if not any(name in query for name in AGENT_PARAMS):
        return None
    if not query.get("agent-name") or not query.get("agent-project-name"):
        return 400, (
            "Both 'agent-name' and 'agent-project-name' are required to connect to an Azure "
            "AI Foundry agent."
        )
    if not bearer:
        return 401, (
            "Azure AI Foundry agents require Microsoft Entra ID authentication "
            "(Authorization: Bearer); API keys are not accepted."
        )
    return None


def agent_config(query: Mapping[str, str]) -> dict[str, Any] | None:
    """The session's ``agent`` field for a connection naming a Foundry agent, or None."""
    name = query.get("agent-name")
    if not name:
        return None
    version = query.get("agent-version") or "1"
    return {
        "type": "agent",
        "name": name,
        "description": f"Foundry agent {name} of project {query.get('agent-project-name')}",
        "agent_id": f"{name}:{version}",
        "thread_id": query.get("conversation-id") or new_id("thread"),
    }
