"""Remote MCP servers on an agent: their declaration, the approval policy, and what the
session does with the service's MCP events.

Voice Live calls the tools of remote MCP servers itself (protocol reference §4.11): the
agent declares the servers in the session's ``tools``; the service lists each server's
tools, and when the model calls one, the service runs the call after the response that
made it, then the client asks for the answer that speaks the result. A call the server's
``require_approval`` covers is first put to the client as an ``mcp_approval_request``
item; the agent's approvers (:func:`approve`) decide and the session answers with an
``mcp_approval_response`` item (``_mcp_session.py``).
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias, TypeVar, overload

import anyio
import attrs
from azure.ai.voicelive import models as sdk

from ._checks import CompactRepr, fail, optional, sequence, text, to_tuple, url
from .errors import ConfigurationError

if TYPE_CHECKING:
    from ._session import AgentSession

__all__ = [
    "DEFAULT_APPROVAL_TIMEOUT_S",
    "ApprovalPolicy",
    "Approver",
    "McpApprovalRequest",
    "McpServer",
    "approve",
    "marked_approvers",
]

log = logging.getLogger("voiceagent.mcp")

F = TypeVar("F", bound=Callable[..., Any])

_LABEL: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TOOL_NAME: Final = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_MARK: Final = "__voiceagent_approver__"
DEFAULT_APPROVAL_TIMEOUT_S: Final = 30.0
"""How long an approver may take before the agent's default decision applies."""

ApprovalPolicyValue: TypeAlias = Literal["always", "never"] | Mapping[str, tuple[str, ...]]


# --- declaring servers ------------------------------------------------------------------------


def _approval_converter(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: to_tuple(tools) for key, tools in value.items()}
    return value


def _approval(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    what = "'always', 'never', or a mapping of 'always'/'never' to lists of tool names"
    if value in ("always", "never"):
        return
    if not isinstance(value, Mapping) or not value or not set(value) <= {"always", "never"}:
        raise fail(instance, attribute.name, value, what)
    for key, tools in value.items():
        if not isinstance(tools, tuple) or not all(
            isinstance(tool, str) and tool for tool in tools
        ):
            raise fail(instance, f"{attribute.name}[{key!r}]", tools, "a list of tool names")
    both = set(value.get("always", ())) & set(value.get("never", ()))
    if both:
        raise fail(instance, attribute.name, value, f"{what}; {sorted(both)} are listed twice")


def _headers_converter(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else value


def _headers(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    # Never shows a header's value: it usually holds a token.
    if not isinstance(value, dict):
        raise ConfigurationError(
            f"invalid {type(instance).__name__}.headers: expected a mapping of header names to "
            f"str values, not a {type(value).__name__}"
        )
    for name, sub in value.items():
        if not isinstance(name, str) or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
            raise ConfigurationError(
                f"invalid {type(instance).__name__}.headers: {name!r} is not a header name"
            )
        if not isinstance(sub, str) or "\n" in sub or "\r" in sub:
            raise ConfigurationError(
                f"invalid {type(instance).__name__}.headers[{name!r}]: expected a str without "
                "line breaks (the value is not shown: it may be a secret)"
            )


@attrs.frozen(repr=False)
class McpServer(CompactRepr):
    """A remote MCP server whose tools the model may call; Voice Live calls them.

    ::

        McpServer(
            "deepwiki",
            "https://mcp.deepwiki.com/mcp",
            allowed_tools=["ask_question", "read_wiki_structure"],
            require_approval="never",
        )

    The header values and ``authorization`` are secrets: they go to the service in the
    session configuration and nowhere else (reprs, logs and errors show ``***``).

    Attributes:
        label: The server's ``server_label``: 1 to 64 letters, digits, ``_`` or ``-``,
            unique among the agent's servers.
        url: The server's URL (``https://...``), reached by the service, not by this
            process.
        headers: HTTP headers the service sends to the server (an API key, a bearer token).
        authorization: An OAuth access token the service presents to the server.
        allowed_tools: The only tools the model may call (None: every tool it lists).
        require_approval: Which calls the agent must approve first: ``"always"`` (the
            service's default when None), ``"never"``, or ``{"never": [...], "always":
            [...]}`` by tool name (a tool listed under neither needs approval). See
            :func:`voiceagent.approve`.
    """

    label: str = attrs.field(
        validator=text(pattern=_LABEL, hint="1 to 64 letters, digits, '_' or '-'")
    )
    url: str = attrs.field(validator=url)
    headers: Mapping[str, str] | None = attrs.field(
        default=None,
        converter=_headers_converter,
        validator=optional(_headers),
        repr=False,
        hash=False,
        kw_only=True,
    )
    authorization: str | None = attrs.field(
        default=None, validator=optional(text(secret=True)), repr=False, kw_only=True
    )
    allowed_tools: tuple[str, ...] | None = attrs.field(
        default=None,
        kw_only=True,
        converter=to_tuple,
        validator=optional(
            sequence(
                text(pattern=_TOOL_NAME, hint="a tool name"),
                what="a list of tool names",
                min_items=1,
                unique=True,
            )
        ),
    )
    require_approval: ApprovalPolicyValue | None = attrs.field(
        default=None,
        kw_only=True,
        converter=_approval_converter,
        validator=optional(_approval),
        hash=False,
    )

    def needs_approval(self, tool: str) -> bool:
        """Whether a call of ``tool`` needs the agent's approval."""
        policy = self.require_approval
        if policy is None or policy == "always":
            return True
        if policy == "never":
            return False
        assert isinstance(policy, Mapping)
        return tool not in policy.get("never", ())

    def to_sdk(self) -> sdk.MCPServer:
        """The SDK's ``MCPServer`` tool definition (holds the secrets: never log it)."""
        policy = self.require_approval
        return sdk.MCPServer(
            server_label=self.label,
            server_url=self.url,
            headers=None if self.headers is None else dict(self.headers),
            authorization=self.authorization,
            allowed_tools=None if self.allowed_tools is None else list(self.allowed_tools),
            require_approval=(
                {key: list(tools) for key, tools in policy.items()}
                if isinstance(policy, Mapping)
                else policy
            ),
        )

    def secrets(self) -> list[str]:
        """The secret strings of this declaration (header values, the token)."""
        found = [value for value in (self.headers or {}).values() if value]
        if self.authorization:
            found.append(self.authorization)
        return found


# --- approving calls ------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class McpApprovalRequest:
    """A call the model wants to make, waiting for the agent's approval.

    Attributes:
        server_label: The MCP server's label.
        name: The tool's name.
        arguments: The JSON arguments, as the model wrote them.
        item_id: The service's ``mcp_approval_request`` item.
    """

    server_label: str
    name: str
    arguments: str
    item_id: str

    @property
    def args(self) -> dict[str, Any]:
        """The arguments parsed (an empty dict when they are not a JSON object)."""
        try:
            value = json.loads(self.arguments or "{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


Approver: TypeAlias = Callable[..., Any]
"""An approver: takes the :class:`McpApprovalRequest` (and, optionally, the session) and
returns True (approve), False (deny) or None (no opinion), or an awaitable of one."""


@attrs.frozen
class _ApproverSpec:
    servers: frozenset[str] | None
    timeout: float | None


def _spec(servers: str | Sequence[str] | None, timeout: float | None) -> _ApproverSpec:
    if isinstance(servers, str):
        servers = (servers,)
    if servers is not None:
        servers = tuple(servers)
        if not servers or not all(isinstance(s, str) and _LABEL.fullmatch(s) for s in servers):
            raise ConfigurationError(
                f"approve(servers=...) takes server labels (1 to 64 letters, digits, '_' or "
                f"'-'), not {servers!r}"
            )
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise ConfigurationError(
            f"approve(timeout=...) must be a number of seconds > 0, or None, not {timeout!r}"
        )
    return _ApproverSpec(None if servers is None else frozenset(servers), timeout)


@overload
def approve(fn: F, /) -> F: ...
@overload
def approve(
    fn: None = None,
    /,
    *,
    servers: str | Sequence[str] | None = None,
    timeout: float | None = DEFAULT_APPROVAL_TIMEOUT_S,
) -> Callable[[F], F]: ...
def approve(
    fn: F | None = None,
    /,
    *,
    servers: str | Sequence[str] | None = None,
    timeout: float | None = DEFAULT_APPROVAL_TIMEOUT_S,
) -> F | Callable[[F], F]:
    """Mark a method of an ``Agent`` subclass as an approver of MCP tool calls.

    An approver gets each :class:`McpApprovalRequest` (and, if it takes a second argument,
    the :class:`~voiceagent.AgentSession`) and returns True to let the call run, False to
    refuse it, or None to leave it to the next approver and finally to the agent's
    ``mcp_default_approval`` (False: denied). Approvers may be async (ask a person, check
    a policy service); a sync approver runs in the event loop, so keep it quick.

    ::

        class Researcher(Agent):
            mcp_servers = [McpServer("deepwiki", "https://mcp.deepwiki.com/mcp")]

            @approve
            def read_only(self, request: McpApprovalRequest) -> bool | None:
                return True if request.name.startswith("read_") else None

    Args:
        fn: The method (when used bare).
        servers: Only requests for these server labels (default: every server).
        timeout: Seconds the approver may take; then the default decision applies (and a
            warning is logged). None for no limit: the model waits as long as it takes.

    Returns:
        The method, unchanged.

    Raises:
        ConfigurationError: A bad ``servers`` or ``timeout``.
    """
    spec = _spec(servers, timeout)

    def mark(function: F) -> F:
        if not callable(function):
            raise ConfigurationError(f"@approve marks a function or method, not {function!r}")
        setattr(function, _MARK, spec)
        return function

    return mark(fn) if fn is not None else mark


def marked_approvers(cls: type) -> list[tuple[str, _ApproverSpec]]:
    """The approver methods of ``cls`` (by attribute name), base classes first."""
    found: dict[str, _ApproverSpec] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            target = value.__func__ if isinstance(value, staticmethod | classmethod) else value
            spec = getattr(target, _MARK, None)
            if isinstance(spec, _ApproverSpec):
                found.pop(name, None)
                found[name] = spec
            elif name in found:
                del found[name]  # overridden without @approve
    return list(found.items())


def _takes_session(fn: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [
        p
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    return len(positional) >= 2


@attrs.frozen
class _Entry:
    fn: Callable[..., Any]
    spec: _ApproverSpec
    with_session: bool


class ApprovalPolicy:
    """An agent's approvers, asked in registration order (class approvers first)."""

    def __init__(self) -> None:
        self._entries: list[_Entry] = []

    def add(
        self,
        fn: Callable[..., Any],
        *,
        servers: str | Sequence[str] | None = None,
        timeout: float | None = DEFAULT_APPROVAL_TIMEOUT_S,
    ) -> None:
        """Register an approver (see :func:`approve`)."""
        self.add_spec(fn, _spec(servers, timeout))

    def add_spec(self, fn: Callable[..., Any], spec: _ApproverSpec) -> None:
        """Register an approver with its parsed options."""
        if not callable(fn):
            raise ConfigurationError(f"an approver must be callable, not {fn!r}")
        self._entries.append(_Entry(fn, spec, _takes_session(fn)))

    def __len__(self) -> int:
        return len(self._entries)

    def covers(self, label: str) -> bool:
        """Whether some approver is asked about ``label``'s calls."""
        return any(e.spec.servers is None or label in e.spec.servers for e in self._entries)

    async def decide(
        self, request: McpApprovalRequest, session: AgentSession | None, *, default: bool
    ) -> tuple[bool, str]:
        """Ask the approvers about ``request``: ``(approved, decided_by)``.

        ``decided_by`` is ``"approver"``, ``"default"`` (nobody had an opinion),
        ``"timeout"`` (the default applied) or ``"error"`` (an approver raised, or
        returned something other than True, False or None: denied).
        """
        where = f"{request.server_label}.{request.name}"
        for entry in self._entries:
            servers = entry.spec.servers
            if servers is not None and request.server_label not in servers:
                continue
            name = getattr(entry.fn, "__qualname__", repr(entry.fn))
            answer: Any = None
            try:
                with anyio.fail_after(entry.spec.timeout):
                    answer = entry.fn(request, session) if entry.with_session else entry.fn(request)
                    if inspect.isawaitable(answer):
                        answer = await answer
            except TimeoutError:
                log.warning(
                    "MCP approver %s took longer than %s s for %s: the default (%s) applies",
                    name,
                    entry.spec.timeout,
                    where,
                    "approve" if default else "deny",
                )
                return default, "timeout"
            except Exception:
                log.exception("MCP approver %s failed for %s: the call is denied", name, where)
                return False, "error"
            if answer is None:
                continue
            if isinstance(answer, bool):
                return answer, "approver"
            log.error(
                "MCP approver %s returned %s for %s (expected True, False or None): the call "
                "is denied",
                name,
                type(answer).__name__,
                where,
            )
            return False, "error"
        return default, "default"
