"""What a session does with the service's MCP events.

:class:`McpTracker` reads the MCP wire events (sans-IO: no awaits, time passed in) and
says what they mean: typed events, approvals to decide, and when the follow-up answer is
due. :class:`McpRuntime` is its session-side owner: it runs the agent's approvers in the
session's task group and posts their answers. The servers and approvers are declared in
``_mcp.py``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs

from ._mcp import ApprovalPolicy, McpApprovalRequest, McpServer
from .events import (
    Event,
    McpApprovalDecided,
    McpApprovalRequested,
    McpCallCompleted,
    McpCallFailed,
    McpCallStarted,
    McpToolsListed,
    McpToolsListFailed,
)

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from ._session import AgentSession

__all__ = ["MCP_WIRE_TYPES", "McpRuntime", "McpStep", "McpTracker"]

log = logging.getLogger("voiceagent.mcp")


# --- the service's MCP events -----------------------------------------------------------------

MCP_WIRE_TYPES: Final = frozenset(
    {
        "conversation.item.created",
        "mcp_list_tools.completed",
        "mcp_list_tools.failed",
        "response.output_item.added",
        "response.mcp_call_arguments.done",
        "response.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.mcp_call.failed",
        "response.output_item.done",
        "input_audio_buffer.speech_started",
    }
)
"""The wire event types :class:`McpTracker` reads."""

_MCP_ITEMS: Final = frozenset({"mcp_call", "mcp_approval_request", "mcp_list_tools"})


@attrs.define
class _Call:
    item_id: str
    label: str = ""
    name: str = ""
    arguments: str = ""
    response_id: str | None = None
    started: float | None = None
    runs: bool = False  # its response completed: the service runs it


@attrs.frozen
class McpStep:
    """What one wire event means for the MCP servers.

    Attributes:
        events: Typed events to publish, in order.
        approvals: Approval requests to put to the approvers.
        follow_up: Ask for the answer now (every call of the episode has its result).
    """

    events: tuple[Event, ...] = ()
    approvals: tuple[McpApprovalRequest, ...] = ()
    follow_up: bool = False


_NOTHING: Final = McpStep()


def _str(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    return value if isinstance(value, str) else ""


def _map(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key)
    return value if isinstance(value, Mapping) else {}


def _error_text(item: Mapping[str, Any]) -> str | None:
    error = item.get("error")
    if error is None:
        return None
    if isinstance(error, Mapping):
        return _str(error, "message") or json.dumps(dict(error))
    return str(error)


class McpTracker:
    """Follows the MCP side of one conversation (sans-IO).

    An *episode* starts when a response carries an MCP call or approval request and ends
    when every call has its result and every approval its answer; then the follow-up
    answer is due, once, unless the user spoke in the meantime (their turn gets its own
    answer, which sees the results).
    """

    def __init__(self) -> None:
        self._lists: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._calls: dict[str, _Call] = {}
        self._active: set[str] = set()  # responses with MCP items, not done yet
        self._approvals: set[str] = set()  # requests put to the approvers, not answered
        self._finished_any = False
        self._stale = False

    @property
    def busy(self) -> bool:
        """Whether an episode is under way (a call runs, an approval is pending)."""
        return bool(self._active or self._approvals or any(c.runs for c in self._calls.values()))

    def answered(self, item_id: str) -> None:
        """The approval of ``item_id`` was sent (the service starts a response next)."""
        self._approvals.discard(item_id)

    def reset(self) -> None:
        """Forget what was in flight (the connection it ran on is gone)."""
        self._calls.clear()
        self._active.clear()
        self._approvals.clear()
        self._finished_any = self._stale = False

    def feed(self, raw: Mapping[str, Any], now: float) -> McpStep:
        """What ``raw`` (a wire event of a type in :data:`MCP_WIRE_TYPES`) means."""
        kind = _str(raw, "type")
        if kind == "conversation.item.created":
            return self._item_created(_map(raw, "item"))
        if kind in ("mcp_list_tools.completed", "mcp_list_tools.failed"):
            return self._listed(_str(raw, "item_id"), failed=kind.endswith("failed"))
        if kind == "response.output_item.added":
            item = _map(raw, "item")
            if item.get("type") in _MCP_ITEMS:
                self._active.add(_str(raw, "response_id"))
                if item.get("type") == "mcp_call":
                    call = self._call(item)
                    call.response_id = _str(raw, "response_id")
            return _NOTHING
        if kind == "response.mcp_call_arguments.done":
            known = self._calls.get(_str(raw, "item_id"))
            if known is not None:
                known.arguments = _str(raw, "arguments") or known.arguments
            return _NOTHING
        if kind == "response.done":
            return self._response_done(_map(raw, "response"))
        if kind == "response.mcp_call.in_progress":
            running = self._calls.get(_str(raw, "item_id"))
            if running is None:
                return _NOTHING
            running.started = now
            return McpStep(
                events=(
                    McpCallStarted(
                        item_id=running.item_id,
                        server_label=running.label,
                        name=running.name,
                        arguments=running.arguments,
                    ),
                )
            )
        if kind == "response.output_item.done":
            item = _map(raw, "item")
            if item.get("type") != "mcp_call":
                return _NOTHING
            return self._call_done(item, now)
        if kind == "input_audio_buffer.speech_started" and self.busy:
            self._stale = True
        return _NOTHING

    # -- per event -----------------------------------------------------------------------

    def _call(self, item: Mapping[str, Any]) -> _Call:
        item_id = _str(item, "id")
        call = self._calls.get(item_id)
        if call is None:
            call = self._calls[item_id] = _Call(item_id)
        call.label = _str(item, "server_label") or call.label
        call.name = _str(item, "name") or call.name
        call.arguments = _str(item, "arguments") or call.arguments
        return call

    def _item_created(self, item: Mapping[str, Any]) -> McpStep:
        kind = item.get("type")
        item_id = _str(item, "id")
        if kind == "mcp_list_tools":
            tools = tuple(
                _str(tool, "name") for tool in item.get("tools") or () if isinstance(tool, Mapping)
            )
            self._lists[item_id] = (_str(item, "server_label"), tools)
        elif kind == "mcp_call" and item_id:
            self._call(item)
        elif kind == "mcp_approval_request" and item_id:
            request = McpApprovalRequest(
                server_label=_str(item, "server_label"),
                name=_str(item, "name"),
                arguments=_str(item, "arguments"),
                item_id=item_id,
            )
            self._approvals.add(item_id)
            return McpStep(
                events=(
                    McpApprovalRequested(
                        item_id=item_id,
                        server_label=request.server_label,
                        name=request.name,
                        arguments=request.arguments,
                    ),
                ),
                approvals=(request,),
            )
        return _NOTHING

    def _listed(self, item_id: str, *, failed: bool) -> McpStep:
        label, tools = self._lists.get(item_id, ("", ()))
        if failed:
            return McpStep(events=(McpToolsListFailed(server_label=label, item_id=item_id),))
        return McpStep(events=(McpToolsListed(server_label=label, tools=tools, item_id=item_id),))

    def _response_done(self, response: Mapping[str, Any]) -> McpStep:
        response_id = _str(response, "id")
        completed = response.get("status") == "completed"
        for item in response.get("output") or ():
            if isinstance(item, Mapping) and item.get("type") == "mcp_call":
                call = self._call(item)
                call.response_id = response_id
        had_mcp = response_id in self._active
        self._active.discard(response_id)
        for call in list(self._calls.values()):
            if call.response_id != response_id:
                continue
            if completed:
                call.runs = True
            else:
                del self._calls[call.item_id]  # a cancelled or failed response's calls never run
        return self._settle() if had_mcp else _NOTHING

    def _call_done(self, item: Mapping[str, Any], now: float) -> McpStep:
        call = self._calls.get(_str(item, "id"))
        error = _error_text(item)
        output = item.get("output")
        if call is None or (call.started is None and error is None and output is None):
            return _NOTHING  # the call item closing inside its response: it has not run
        self._call(item)
        del self._calls[call.item_id]
        self._finished_any = True
        duration = 0.0 if call.started is None else now - call.started
        event: Event
        if error is not None:
            event = McpCallFailed(
                item_id=call.item_id,
                server_label=call.label,
                name=call.name,
                arguments=call.arguments,
                error=error,
                duration_s=duration,
            )
        else:
            event = McpCallCompleted(
                item_id=call.item_id,
                server_label=call.label,
                name=call.name,
                arguments=call.arguments,
                output=output if isinstance(output, str) else json.dumps(output),
                duration_s=duration,
            )
        settled = self._settle()
        return McpStep(events=(event,), follow_up=settled.follow_up)

    def _settle(self) -> McpStep:
        """The episode is over when nothing is in flight: the answer is due once."""
        if self.busy:
            return _NOTHING
        due = self._finished_any and not self._stale
        self._finished_any = self._stale = False
        return McpStep(follow_up=due)


# --- the session's side ------------------------------------------------------------------------


class McpRuntime:
    """One session's MCP servers: feeds the tracker, runs the approvers, answers them.

    Args:
        servers: The session's servers.
        policy: The agent's approvers.
        default: The decision when no approver has an opinion.
        session: The session (for approvers that take it).
        publish: Publishes an event.
        post: Posts a client event on the current connection.
        expect_response: The service will start a response by itself (after an approval).
        request_response: Ask for the answer that speaks the calls' results.
    """

    def __init__(
        self,
        servers: Sequence[McpServer],
        policy: ApprovalPolicy,
        *,
        default: bool,
        session: AgentSession | None,
        publish: Callable[[Event], None],
        post: Callable[[dict[str, Any]], None],
        expect_response: Callable[[], None],
        request_response: Callable[[], None],
    ) -> None:
        self._servers = {server.label: server for server in servers}
        self._policy = policy
        self._default = default
        self._session = session
        self._publish = publish
        self._post = post
        self._expect_response = expect_response
        self._request_response = request_response
        self.tracker = McpTracker()
        self.task_group: TaskGroup | None = None
        for server in servers:
            if (
                server.require_approval != "never"
                and not policy.covers(server.label)
                and not default
            ):
                log.info(
                    "MCP server %r needs approvals and the agent has no approver for it: its "
                    "calls that need approval are denied (register one with @approve, or set "
                    "mcp_default_approval=True)",
                    server.label,
                )

    @property
    def busy(self) -> bool:
        """Whether a call runs or an approval is pending (the session waits for them)."""
        return self.tracker.busy

    def on_wire(self, raw: Mapping[str, Any], now: float) -> None:
        """Act on one wire event of a type in :data:`MCP_WIRE_TYPES`."""
        step = self.tracker.feed(raw, now)
        for event in step.events:
            self._publish(event)
        for request in step.approvals:
            assert self.task_group is not None
            self.task_group.start_soon(self._decide, request)
        if step.follow_up:
            self._request_response()

    def reset(self) -> None:
        """A new connection: what ran on the old one is gone."""
        self.tracker.reset()

    async def _decide(self, request: McpApprovalRequest) -> None:
        approved, by = await self._policy.decide(request, self._session, default=self._default)
        if by == "default" and not approved:
            log.info(
                "MCP call %s.%s denied: no approver decided (mcp_default_approval is False)",
                request.server_label,
                request.name,
            )
        self.tracker.answered(request.item_id)
        self._post(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "mcp_approval_response",
                    "approval_request_id": request.item_id,
                    "approve": approved,
                },
            }
        )
        # The service answers an approval with a response of its own (the call, or an
        # answer without it): the turn machine expects it.
        self._expect_response()
        self._publish(
            McpApprovalDecided(
                item_id=request.item_id,
                server_label=request.server_label,
                name=request.name,
                arguments=request.arguments,
                approved=approved,
                decided_by=by,
            )
        )
