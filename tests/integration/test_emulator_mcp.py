"""MCP servers in a session: tool listing, calls run by the service, the approval flow and
failures, every event parsed by the real SDK into its model class."""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

import pytest
from azure.ai.voicelive.aio import VoiceLiveConnection, connect
from azure.ai.voicelive.models import (
    InputTextContentPart,
    MCPApprovalResponseRequestItem,
    MCPServer,
    RequestSession,
    ResponseMCPApprovalRequestItem,
    ResponseMCPApprovalResponseItem,
    ResponseMCPCallItem,
    ResponseMCPListToolItem,
    ServerEventConversationItemCreated,
    ServerEventMcpListToolsCompleted,
    ServerEventMcpListToolsFailed,
    ServerEventMcpListToolsInProgress,
    ServerEventResponseMcpCallArgumentsDelta,
    ServerEventResponseMcpCallArgumentsDone,
    ServerEventResponseMcpCallCompleted,
    ServerEventResponseMcpCallFailed,
    ServerEventResponseMcpCallInProgress,
    ServerEventResponseOutputItemAdded,
    ServerEventResponseOutputItemDone,
    UserMessageItem,
)

from voiceagent.testing import Emulator, McpCall, McpServer, McpTool, Script, Turn

from ..helpers import is_a, recv_until, type_of, types

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

DEEPWIKI = McpServer(
    "deepwiki",
    tools=[
        McpTool("ask_question", description="Ask a question", output="A voice framework."),
        McpTool("read_wiki_structure", output=lambda args: f"Topics of {args['repo']}"),
        McpTool("hidden"),
    ],
)
QUESTION = McpCall("deepwiki", "ask_question", {"question": "What is voiceagent?"})
ANSWER = Turn(mcp_calls=[QUESTION], says=lambda ctx: f"DeepWiki says: {ctx.output('ask_question')}")


def deepwiki(require_approval: Any = "never", **extra: Any) -> MCPServer:
    return MCPServer(
        server_label="deepwiki",
        server_url="https://mcp.deepwiki.com/mcp",
        require_approval=require_approval,
        **extra,
    )


@contextlib.asynccontextmanager
async def session(
    script: Script, tools: Sequence[MCPServer]
) -> AsyncIterator[tuple[VoiceLiveConnection, list[Any]]]:
    async with (
        Emulator(script=script, speed=None) as emu,
        connect(endpoint=emu.endpoint, credential=emu.credential, api_version="2026-07-15") as conn,
    ):
        await conn.recv()
        await conn.session.update(
            session=RequestSession(modalities=["text"], turn_detection=None, tools=list(tools))
        )
        events = await recv_until(conn, "session.updated")
        for _ in tools:
            events += await recv_until(
                conn, lambda e: type_of(e) in ("mcp_list_tools.completed", "mcp_list_tools.failed")
            )
        yield conn, events


async def ask(conn: VoiceLiveConnection, text: str) -> None:
    await conn.conversation.item.create(
        item=UserMessageItem(content=[InputTextContentPart(text=text)])
    )
    await recv_until(conn, "conversation.item.created")


async def answer(conn: VoiceLiveConnection) -> str:
    await conn.response.create()
    events = await recv_until(conn, "response.done")
    [text] = [e.text for e in events if type_of(e) == "response.text.done"]
    return str(text)


async def test_tools_are_listed_after_session_updated() -> None:
    tools = [deepwiki(allowed_tools=["ask_question", "read_wiki_structure"])]
    async with session(Script(mcp_servers=[DEEPWIKI]), tools) as (_conn, events):
        assert types(events) == [
            "session.updated",
            "conversation.item.created",
            "mcp_list_tools.in_progress",
            "mcp_list_tools.completed",
        ]
        created = is_a(events[1], ServerEventConversationItemCreated)
        item = is_a(created.item, ResponseMCPListToolItem)
        assert item.server_label == "deepwiki"
        assert [t.name for t in item.tools] == ["ask_question", "read_wiki_structure"]
        assert item.tools[0].description == "Ask a question"
        assert item.tools[0].input_schema == {"type": "object"}
        assert is_a(events[2], ServerEventMcpListToolsInProgress).item_id == item.id
        assert is_a(events[3], ServerEventMcpListToolsCompleted).item_id == item.id


async def test_a_call_without_approval_runs_after_the_response() -> None:
    async with session(Script(ANSWER, mcp_servers=[DEEPWIKI]), [deepwiki()]) as (conn, _):
        await ask(conn, "What is voiceagent?")
        await conn.response.create()
        events = await recv_until(conn, "response.done")
        assert types(events) == [
            "response.created",
            "response.output_item.added",
            "conversation.item.created",
            *["response.mcp_call_arguments.delta"] * 3,
            "response.mcp_call_arguments.done",
            "response.done",
        ]
        call = is_a(is_a(events[1], ServerEventResponseOutputItemAdded).item, ResponseMCPCallItem)
        assert (call.server_label, call.name, call.arguments) == ("deepwiki", "ask_question", "")
        is_a(is_a(events[2], ServerEventConversationItemCreated).item, ResponseMCPCallItem)
        deltas = [is_a(e, ServerEventResponseMcpCallArgumentsDelta).delta for e in events[3:6]]
        done = is_a(events[6], ServerEventResponseMcpCallArgumentsDone)
        assert "".join(deltas) == done.arguments == '{"question":"What is voiceagent?"}'
        assert done.item_id == call.id
        assert events[-1].response.status == "completed"
        is_a(events[-1].response.output[0], ResponseMCPCallItem)
        # The service runs the call once the response is done.
        ran = await recv_until(conn, "response.output_item.done")
        assert types(ran) == [
            "response.mcp_call.in_progress",
            "response.mcp_call.completed",
            "response.output_item.done",
        ]
        assert is_a(ran[0], ServerEventResponseMcpCallInProgress).item_id == call.id
        assert is_a(ran[1], ServerEventResponseMcpCallCompleted).output_index == 0
        item = is_a(is_a(ran[2], ServerEventResponseOutputItemDone).item, ResponseMCPCallItem)
        assert (item.id, item.output, item.error) == (call.id, "A voice framework.", None)
        assert await answer(conn) == "DeepWiki says: A voice framework."


async def test_approval_always_then_approved() -> None:
    async with session(Script(ANSWER, mcp_servers=[DEEPWIKI]), [deepwiki("always")]) as (conn, _):
        await ask(conn, "What is voiceagent?")
        await conn.response.create()
        events = await recv_until(conn, "response.done")
        assert "response.mcp_call_arguments.done" not in types(events)
        request: Any
        [request] = [
            e.item
            for e in events
            if type_of(e) == "conversation.item.created"
            and isinstance(e.item, ResponseMCPApprovalRequestItem)
        ]
        assert (request.server_label, request.name) == ("deepwiki", "ask_question")
        assert request.arguments == '{"question":"What is voiceagent?"}'
        await conn.conversation.item.create(
            item=MCPApprovalResponseRequestItem(approval_request_id=request.id, approve=True)
        )
        [created] = await recv_until(conn, "conversation.item.created")
        reply = is_a(created.item, ResponseMCPApprovalResponseItem)
        assert (reply.approval_request_id, reply.approve) == (request.id, True)
        # The service starts the response that makes the call by itself.
        events = await recv_until(conn, "response.output_item.done")
        assert types(events)[0] == "response.created"
        assert "response.done" in types(events)
        [call] = [e.item for e in events if type_of(e) == "response.output_item.added"]
        assert call.approval_request_id == request.id
        assert events[-1].item.output == "A voice framework."
        assert await answer(conn) == "DeepWiki says: A voice framework."


async def test_approval_denied_answers_without_the_call() -> None:
    script = Script(
        Turn(mcp_calls=[QUESTION], says="I could not look it up."), mcp_servers=[DEEPWIKI]
    )
    async with session(script, [deepwiki("always")]) as (conn, _):
        await ask(conn, "What is voiceagent?")
        await conn.response.create()
        events = await recv_until(conn, "response.done")
        [request] = [e.item for e in events if type_of(e) == "response.output_item.done"]
        await conn.conversation.item.create(
            item=MCPApprovalResponseRequestItem(approval_request_id=request.id, approve=False)
        )
        events = await recv_until(conn, "response.done")
        assert "response.mcp_call_arguments.done" not in types(events)
        [text] = [e.text for e in events if type_of(e) == "response.text.done"]
        assert text == "I could not look it up."


async def test_per_tool_approval_map() -> None:
    script = Script(
        Turn(
            mcp_calls=[QUESTION, McpCall("deepwiki", "read_wiki_structure", {"repo": "x/y"})],
            says="Done.",
        ),
        mcp_servers=[DEEPWIKI],
    )
    tools = [deepwiki({"never": ["ask_question"], "always": ["read_wiki_structure"]})]
    async with session(script, tools) as (conn, _):
        await ask(conn, "Go.")
        await conn.response.create()
        events = await recv_until(conn, "response.done")
        kinds = [
            (e.item.type, e.item.name) for e in events if type_of(e) == "response.output_item.added"
        ]
        assert kinds == [
            ("mcp_call", "ask_question"),
            ("mcp_approval_request", "read_wiki_structure"),
        ]
        ran = await recv_until(conn, "response.output_item.done")
        assert ran[-1].item.output == "A voice framework."
        request: Any = events[-1].response.output[1]
        await conn.conversation.item.create(
            item=MCPApprovalResponseRequestItem(approval_request_id=request.id, approve=True)
        )
        events = await recv_until(
            conn,
            lambda e: type_of(e) == "response.output_item.done" and e.item.type == "mcp_call",  # type: ignore[attr-defined]
        )
        assert events[-1].item.output == "Topics of x/y"


async def test_a_failing_listing_and_the_calls_to_that_server() -> None:
    broken = McpServer("deepwiki", tools=[McpTool("ask_question")], list_error="HTTP 502")
    async with session(Script(ANSWER, mcp_servers=[broken]), [deepwiki()]) as (conn, events):
        assert types(events)[-1] == "mcp_list_tools.failed"
        is_a(events[-1], ServerEventMcpListToolsFailed)
        assert events[1].item.tools == []
        await ask(conn, "What is voiceagent?")
        await conn.response.create()
        await recv_until(conn, "response.done")
        ran = await recv_until(conn, "response.output_item.done")
        assert types(ran) == [
            "response.mcp_call.in_progress",
            "response.mcp_call.failed",
            "response.output_item.done",
        ]
        is_a(ran[1], ServerEventResponseMcpCallFailed)
        item = is_a(ran[2].item, ResponseMCPCallItem)
        assert item.output is None
        assert item.error == {
            "type": "tool_execution_error",
            "message": "MCP server 'deepwiki' is unavailable: HTTP 502",
        }


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (McpCall("deepwiki", "ask_question", error="rate limited"), "rate limited"),
        (McpCall("deepwiki", "nope"), "Tool 'nope' not found on MCP server 'deepwiki'."),
        (McpCall("other", "x"), "MCP server 'other' is not configured in the session."),
    ],
)
async def test_a_failing_call(call: McpCall, message: str) -> None:
    script = Script(Turn(mcp_calls=[call], says="Sorry."), mcp_servers=[DEEPWIKI])
    async with session(script, [deepwiki()]) as (conn, _):
        await ask(conn, "Go.")
        await conn.response.create()
        await recv_until(conn, "response.done")
        ran = await recv_until(conn, "response.output_item.done")
        assert types(ran)[1] == "response.mcp_call.failed"
        assert ran[-1].item.error["message"] == message
        assert await answer(conn) == "Sorry."


async def test_a_server_the_script_does_not_declare_lists_its_allowed_tools() -> None:
    async with session(Script(), [deepwiki(allowed_tools=["a", "b"])]) as (conn, events):
        assert [t.name for t in events[1].item.tools] == ["a", "b"]
        await conn.session.update(session={"instructions": "again"})
        assert types(await recv_until(conn, "session.updated")) == ["session.updated"]


async def test_an_approval_for_an_unknown_request_is_an_error() -> None:
    async with session(Script(), [deepwiki()]) as (conn, _):
        await conn.conversation.item.create(
            item=MCPApprovalResponseRequestItem(approval_request_id="item_nope", approve=True)
        )
        [error] = await recv_until(conn, "error")
        assert error.error.code == "item_not_found"
        assert error.error.param == "item.approval_request_id"


async def test_session_updated_does_not_echo_the_servers_credentials() -> None:
    secret = "tok-3b9f1"
    tools = [deepwiki(headers={"Authorization": f"Bearer {secret}"}, authorization=secret)]
    async with session(Script(), tools) as (_conn, events):
        updated = events[0]
        [tool] = updated.session.tools
        assert tool.server_label == "deepwiki"
        assert tool.headers is None
        assert tool.authorization is None
        assert secret not in json.dumps(updated.as_dict())
