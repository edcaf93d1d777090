"""Foundry Agent Service mode: an agent whose brain is an agent of a Microsoft Foundry
project, reached through Voice Live.

The connection names the Foundry agent in its query parameters (``agent-name``,
``agent-project-name``, ...), exactly as the SDK's ``connect(agent_name=...,
project_name=...)`` and its ``agent_v2_sample.py`` do; Voice Live then hands each user
turn to that agent and speaks its answers. The Foundry agent owns the model, the
instructions and the tools, so a session in this mode sends none of them: it configures
only what Voice Live itself does (voice, audio, turn detection, noise and echo, input
transcription, interim responses). Agent Service needs Microsoft Entra ID: keys are
refused.
"""

from __future__ import annotations

import re
from typing import Any, Final

import attrs

from ._checks import CompactRepr, fail, optional, text
from .errors import ConfigurationError

__all__ = ["FOUNDRY_SCOPE", "FoundryAgent", "check_foundry_options"]

FOUNDRY_SCOPE: Final = "https://ai.azure.com/.default"
"""The Entra ID token scope of Foundry agents (the SDK's default scope)."""

_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")
_opt_text = optional(text())


@attrs.frozen(repr=False)
class FoundryAgent(CompactRepr):
    """The Foundry agent that answers: ``FoundryAgent("concierge", project="hotel")``.

    Attributes:
        name: The agent's name in the Foundry project.
        project: The Foundry project's name.
        version: A version of the agent (None: the latest).
        conversation_id: A Foundry conversation to continue (None: a new one).
        authentication_identity_client_id: The client id of the managed identity the
            service uses to call the agent, when it is not the default one.
        foundry_resource_override: Another Foundry resource that hosts the project.
    """

    name: str = attrs.field(validator=text(pattern=_NAME, hint="an agent name"))
    project: str = attrs.field(kw_only=True, validator=text(pattern=_NAME, hint="a project name"))
    version: str | None = attrs.field(default=None, kw_only=True, validator=_opt_text)
    conversation_id: str | None = attrs.field(default=None, kw_only=True, validator=_opt_text)
    authentication_identity_client_id: str | None = attrs.field(
        default=None, kw_only=True, validator=_opt_text
    )
    foundry_resource_override: str | None = attrs.field(
        default=None, kw_only=True, validator=_opt_text
    )

    def query(self) -> dict[str, str]:
        """The connection's query parameters, as the SDK's ``connect(agent_name=...)`` sets
        them."""
        params = {"agent-name": self.name, "agent-project-name": self.project}
        optional_params = {
            "agent-version": self.version,
            "conversation-id": self.conversation_id,
            "agent-authentication-identity-client-id": self.authentication_identity_client_id,
            "foundry-resource-override": self.foundry_resource_override,
        }
        params.update({key: value for key, value in optional_params.items() if value})
        return params


_OWNED_BY_THE_AGENT: Final = (
    ("instructions", "its instructions are the Foundry agent's (edit them in the project)"),
    ("tool_choice", "the Foundry agent decides which of its tools to call"),
    ("parallel_tool_calls", "the Foundry agent decides how it calls its tools"),
    ("mcp_servers", "give the Foundry agent its MCP tools in the project instead"),
)


def check_foundry_options(options: Any) -> None:
    """Reject session options that contradict a Foundry agent (``options.foundry_agent``).

    Raises:
        ConfigurationError: An option the Foundry agent owns is set.
    """
    agent = options.foundry_agent
    if agent is None:
        return
    if not isinstance(agent, FoundryAgent):
        raise fail(options, "foundry_agent", agent, "a FoundryAgent(name, project=...)")
    for name, why in _OWNED_BY_THE_AGENT:
        if getattr(options, name) is not None:
            raise ConfigurationError(
                f"invalid SessionOptions.{name} with foundry_agent={agent!r}: {why}; leave "
                f"{name} unset"
            )
    if options.model != "gpt-realtime":
        raise ConfigurationError(
            f"invalid SessionOptions.model {options.model!r} with foundry_agent={agent!r}: "
            "the Foundry agent's own model answers; leave model unset"
        )
