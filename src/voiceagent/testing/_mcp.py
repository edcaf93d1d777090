"""Scripted MCP servers of the emulator (protocol reference §4.11).

A session that declares ``tools: [{"type": "mcp", "server_label": ..., "server_url": ...}]``
gets the service's MCP event family from the emulator, with no network: each server's tool
list and each call's result come from the script's :class:`McpServer` declarations, and the
model's calls from :attr:`Turn.mcp_calls <voiceagent.testing.Turn.mcp_calls>`::

    script = Script(
        Turn(
            hears="What is voiceagent?",
            mcp_calls=[McpCall("deepwiki", "ask_question", {"question": "voiceagent"})],
            says=lambda ctx: f"DeepWiki says: {ctx.output('ask_question')}",
        ),
        mcp_servers=[
            McpServer("deepwiki", tools=[McpTool("ask_question", output="A framework.")]),
        ],
    )

The event order, inferred from the SDK's ``async_mcp_sample.py`` and Microsoft Learn's
"Add an MCP server to Voice Live" (UNVERIFIED against the service):

* Listing, after ``session.updated`` for each newly declared server:
  ``conversation.item.created`` (an ``mcp_list_tools`` item), ``mcp_list_tools.in_progress``,
  then ``mcp_list_tools.completed`` (or ``.failed``).
* A call the server may run without approval: in the response, ``response.output_item.added``
  and ``conversation.item.created`` (an ``mcp_call`` item), ``response.mcp_call_arguments.delta``
  and ``.done``; after ``response.done`` the service runs it: ``response.mcp_call.in_progress``,
  ``response.mcp_call.completed`` (or ``.failed``), then ``response.output_item.done`` with the
  item's ``output`` (or ``error``). The client sends ``response.create`` for the answer.
* A call that needs approval (``require_approval`` "always", the default, or the tool listed
  under "always"): the response carries an ``mcp_approval_request`` item instead. The client
  answers with an ``mcp_approval_response`` item; approved, the service starts a response that
  makes the call (as above); denied, it starts a response that answers without it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

__all__ = ["McpCall", "McpServer", "McpTool", "approval_needed", "without_secrets"]

McpOutput = str | Callable[[Mapping[str, Any]], str]
"""A canned result: a text, or a callable computing it from the call's arguments."""


@attrs.frozen
class McpTool:
    """One tool of a scripted MCP server.

    Attributes:
        name: The tool's name.
        description: Its description, as listed.
        input_schema: Its JSON schema, as listed (``{"type": "object"}`` by default).
        output: What a call returns: a text, or a callable taking the parsed arguments.
            None: a short text naming the tool.
        error: Makes every call of the tool fail with this message.
    """

    name: str
    description: str = attrs.field(default="", kw_only=True)
    input_schema: Mapping[str, Any] = attrs.field(factory=lambda: {"type": "object"}, kw_only=True)
    output: McpOutput | None = attrs.field(default=None, kw_only=True)
    error: str | None = attrs.field(default=None, kw_only=True)

    def listed(self) -> dict[str, Any]:
        """The tool as an ``mcp_list_tools`` item lists it."""
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": dict(self.input_schema),
        }


def _as_tools(value: Sequence[McpTool]) -> tuple[McpTool, ...]:
    tools = tuple(value)
    for tool in tools:
        if not isinstance(tool, McpTool):
            raise TypeError(f"McpServer.tools takes McpTool objects, got {tool!r}")
    return tools


@attrs.frozen
class McpServer:
    """A scripted MCP server, matched to the session's ``mcp`` tools by ``server_label``.

    A server the session declares but the script does not lists the names of its
    ``allowed_tools`` (or nothing), and its calls return a short text.

    Attributes:
        label: The ``server_label`` it answers for.
        tools: Its tools (``allowed_tools`` in the session filters them).
        list_error: Makes listing its tools fail (``mcp_list_tools.failed``); calls to it
            then fail too.
    """

    label: str
    tools: tuple[McpTool, ...] = attrs.field(default=(), converter=_as_tools)
    list_error: str | None = attrs.field(default=None, kw_only=True)

    def tool(self, name: str) -> McpTool | None:
        """The tool named ``name``, or None."""
        return next((tool for tool in self.tools if tool.name == name), None)


@attrs.frozen
class McpCall:
    """An MCP tool call the scripted model makes.

    Attributes:
        server: The ``server_label`` of the session's MCP server.
        tool: The tool's name.
        arguments: The arguments (serialized to JSON), or a raw JSON string.
        output: This call's result, overriding the tool's.
        error: Makes this call fail with this message.
    """

    server: str
    tool: str
    arguments: Mapping[str, Any] | str = attrs.field(factory=dict)
    output: McpOutput | None = attrs.field(default=None, kw_only=True)
    error: str | None = attrs.field(default=None, kw_only=True)

    def arguments_json(self) -> str:
        """The arguments as the JSON string the service streams."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments), separators=(",", ":"))


def approval_needed(server: Mapping[str, Any], tool: str) -> bool:
    """Whether a call of ``tool`` on a session's ``mcp`` tool needs the client's approval.

    ``require_approval`` is "always" (the default) or "never", or a map listing tools under
    "always" and "never"; a tool the map does not list needs approval.
    """
    policy = server.get("require_approval")
    if policy is None or policy == "always":
        return True
    if policy == "never":
        return False
    if isinstance(policy, Mapping):
        return tool not in (policy.get("never") or ())
    return True


def run_call(
    call: McpCall, declared: McpServer | None, session_tool: Mapping[str, Any] | None
) -> tuple[str | None, str | None]:
    """The ``(output, error)`` of a call: the call's own result, else the tool's.

    A call fails when the session has no such MCP server, its listing failed, or the tool
    is not listed (or not in ``allowed_tools``).
    """
    if session_tool is None:
        return None, f"MCP server '{call.server}' is not configured in the session."
    if declared is not None and declared.list_error is not None:
        return None, f"MCP server '{call.server}' is unavailable: {declared.list_error}"
    tool = declared.tool(call.tool) if declared is not None else None
    allowed = session_tool.get("allowed_tools")
    if (declared is not None and declared.tools and tool is None) or (
        allowed is not None and call.tool not in allowed
    ):
        return None, f"Tool '{call.tool}' not found on MCP server '{call.server}'."
    error = call.error or (tool.error if tool is not None else None)
    if error is not None:
        return None, error
    output = call.output if call.output is not None else tool.output if tool else None
    if output is None:
        return f"Result of {call.tool} from {call.server}.", None
    if isinstance(output, str):
        return output, None
    try:
        arguments = json.loads(call.arguments_json())
    except ValueError:
        arguments = {}
    return output(arguments if isinstance(arguments, Mapping) else {}), None


def listed_tools(
    declared: McpServer | None, session_tool: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The tools an ``mcp_list_tools`` item lists for a session's MCP server."""
    allowed = session_tool.get("allowed_tools")
    if declared is None:
        return [McpTool(name).listed() for name in allowed or ()]
    return [t.listed() for t in declared.tools if allowed is None or t.name in allowed]


_SECRET_FIELDS = ("headers", "authorization")


def without_secrets(session: Mapping[str, Any]) -> dict[str, Any]:
    """The session as ``session.created``/``updated`` show it: the ``mcp`` tools without
    their ``headers`` and ``authorization``.

    A service does not send credentials back (UNVERIFIED for Voice Live, which documents
    no echo of them); the SDK logs every message it receives at DEBUG, so an echo would put
    them in the client's logs.
    """
    tools = session.get("tools")
    if not tools or not any(t.get("type") == "mcp" for t in tools):
        return dict(session)
    shown = [
        {k: v for k, v in tool.items() if k not in _SECRET_FIELDS}
        if tool.get("type") == "mcp"
        else tool
        for tool in tools
    ]
    return {**session, "tools": shown}
