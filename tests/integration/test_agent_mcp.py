"""MCP servers on an agent, end to end: declared in the session, listed, called by the
(emulated) service, approved or denied by the agent's approvers, answered; typed events;
secrets in the headers kept out of reprs, logs and errors."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import pytest

from voiceagent import Agent, AgentSession, McpApprovalRequest, approve
from voiceagent.audio import AudioFormat, MemorySink, MemorySource
from voiceagent.errors import ConfigurationError
from voiceagent.events import (
    AgentTranscript,
    EndReason,
    Event,
    McpApprovalDecided,
    McpApprovalRequested,
    McpCallCompleted,
    McpCallFailed,
    McpCallStarted,
    McpToolsListed,
    McpToolsListFailed,
    SessionEnded,
)
from voiceagent.options import McpServer
from voiceagent.testing import Emulator, McpCall, McpTool, Script, Turn, synthesize
from voiceagent.testing import McpServer as ScriptedServer

from ..helpers import connect_args, secret_paths, wait_closed

if TYPE_CHECKING:
    from collections.abc import Sequence

TOKEN = "sk-mcp-very-secret-7f3a9"
DEEPWIKI = ScriptedServer(
    "deepwiki",
    tools=[
        McpTool("ask_question", output="A voice framework."),
        McpTool("read_wiki_structure", output=lambda args: f"Topics of {args['repo']}"),
    ],
)
QUESTION = McpCall("deepwiki", "ask_question", {"question": "What is voiceagent?"})
ANSWER = Turn(mcp_calls=[QUESTION], says=lambda ctx: f"DeepWiki says: {ctx.output('ask_question')}")
DENIED = Turn(mcp_calls=[QUESTION], says="I could not look it up.")


def server(require_approval: Any = "never", **extra: Any) -> McpServer:
    return McpServer(
        "deepwiki", "https://mcp.deepwiki.com/mcp", require_approval=require_approval, **extra
    )


async def converse(
    agent: Agent, script: Script, text: str = "What is voiceagent?", *, answers: int = 1
) -> tuple[list[Event], AgentSession, Emulator]:
    """One text turn; returns every voiceagent event up to the ``answers``-th transcript."""
    events: list[Event] = []
    async with Emulator(speed=None, script=script) as emu:
        async with agent.session(modalities=["text"], **connect_args(emu)) as session:
            stream = session.events(Event)
            await session.send_text(text)
            count = 0
            with anyio.fail_after(10):
                async for event in stream:
                    assert isinstance(event, Event)
                    events.append(event)
                    count += isinstance(event, AgentTranscript)
                    if count >= answers:
                        break
        await wait_closed(emu.connections[0])
    return events, session, emu


def of(events: Sequence[Event], cls: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


async def test_a_call_without_approval_runs_and_is_answered() -> None:
    agent = Agent(mcp_servers=[server(allowed_tools=["ask_question", "read_wiki_structure"])])
    events, _session, emu = await converse(agent, Script(ANSWER, mcp_servers=[DEEPWIKI]))
    [listed] = of(events, McpToolsListed)
    assert (listed.server_label, listed.tools) == (
        "deepwiki",
        ("ask_question", "read_wiki_structure"),
    )
    [started] = of(events, McpCallStarted)
    [completed] = of(events, McpCallCompleted)
    assert (started.server_label, started.name) == ("deepwiki", "ask_question")
    assert json.loads(started.arguments) == {"question": "What is voiceagent?"}
    assert completed.item_id == started.item_id
    assert completed.output == "A voice framework."
    assert completed.duration_s >= 0
    assert [t.text for t in of(events, AgentTranscript)] == ["DeepWiki says: A voice framework."]
    assert of(events, McpApprovalRequested) == []
    conn = emu.connections[0]
    # The preview feature flag the SDK's MCP sample sets, and the server in the session.
    assert conn.query["features"] == "mcp_preview:true"
    [declared] = conn.received[0]["session"]["tools"]
    assert declared["type"] == "mcp"
    assert declared["server_url"] == "https://mcp.deepwiki.com/mcp"
    assert declared["require_approval"] == "never"
    # Exactly two responses asked for: the turn's, and the one after the call's result.
    creates = [e for e in conn.received if e["type"] == "response.create"]
    assert len(creates) == 2
    assert not [e for e in conn.received if e["type"] == "conversation.item.create"
                and e["item"]["type"] == "mcp_approval_response"]  # fmt: skip


class Approving(Agent):
    mcp_servers = (server("always"),)
    asked: list[McpApprovalRequest]

    @approve
    def only_questions(self, request: McpApprovalRequest) -> bool | None:
        self.asked.append(request)
        return True if request.name == "ask_question" else None


async def test_an_approver_approves_and_the_call_runs() -> None:
    agent = Approving()
    agent.asked = []
    events, _session, emu = await converse(agent, Script(ANSWER, mcp_servers=[DEEPWIKI]))
    [request] = agent.asked
    assert (request.server_label, request.name) == ("deepwiki", "ask_question")
    assert request.args == {"question": "What is voiceagent?"}
    [requested] = of(events, McpApprovalRequested)
    [decided] = of(events, McpApprovalDecided)
    assert requested.item_id == decided.item_id == request.item_id
    assert (decided.approved, decided.decided_by) == (True, "approver")
    [completed] = of(events, McpCallCompleted)
    assert completed.output == "A voice framework."
    assert [t.text for t in of(events, AgentTranscript)] == ["DeepWiki says: A voice framework."]
    order = [type(e) for e in events if type(e).__name__.startswith("Mcp")]
    assert order == [McpToolsListed, McpApprovalRequested, McpApprovalDecided, McpCallStarted,
                     McpCallCompleted]  # fmt: skip
    [answer] = [e for e in emu.connections[0].received if e["type"] == "conversation.item.create"
                and e["item"]["type"] == "mcp_approval_response"]  # fmt: skip
    assert answer["item"] == {
        "type": "mcp_approval_response",
        "approval_request_id": request.item_id,
        "approve": True,
    }


async def test_without_an_approver_the_default_denies() -> None:
    agent = Agent(mcp_servers=[server("always")])
    events, *_ = await converse(agent, Script(DENIED, mcp_servers=[DEEPWIKI]))
    [decided] = of(events, McpApprovalDecided)
    assert (decided.approved, decided.decided_by) == (False, "default")
    assert of(events, McpCallStarted) == []
    assert [t.text for t in of(events, AgentTranscript)] == ["I could not look it up."]


async def test_the_default_can_approve() -> None:
    agent = Agent(mcp_servers=[server("always")], mcp_default_approval=True)
    events, *_ = await converse(agent, Script(ANSWER, mcp_servers=[DEEPWIKI]))
    [decided] = of(events, McpApprovalDecided)
    assert (decided.approved, decided.decided_by) == (True, "default")
    assert [t.text for t in of(events, AgentTranscript)] == ["DeepWiki says: A voice framework."]


async def test_an_async_instance_approver_with_the_session_and_a_server_filter() -> None:
    agent = Agent(mcp_servers=[server("always")])
    seen: list[tuple[str, object]] = []

    @agent.approve(servers="other")
    def never_asked(request: McpApprovalRequest) -> bool:
        raise AssertionError("asked about another server's call")

    @agent.approve(servers=["deepwiki"])
    async def deny(request: McpApprovalRequest, session: AgentSession) -> bool:
        await anyio.lowlevel.checkpoint()
        seen.append((request.name, session))
        return False

    events, session, _ = await converse(agent, Script(DENIED, mcp_servers=[DEEPWIKI]))
    assert seen == [("ask_question", session)]
    [decided] = of(events, McpApprovalDecided)
    assert (decided.approved, decided.decided_by) == (False, "approver")


async def test_a_slow_approver_times_out_to_the_default(caplog: pytest.LogCaptureFixture) -> None:
    agent = Agent(mcp_servers=[server("always")])

    @agent.approve(timeout=0.05)
    async def slow(request: McpApprovalRequest) -> bool:
        await anyio.sleep(5)
        return True

    with caplog.at_level(logging.WARNING, logger="voiceagent.mcp"):
        events, *_ = await converse(agent, Script(DENIED, mcp_servers=[DEEPWIKI]))
    [decided] = of(events, McpApprovalDecided)
    assert (decided.approved, decided.decided_by) == (False, "timeout")
    assert "took longer than 0.05 s for deepwiki.ask_question" in caplog.text


@pytest.mark.parametrize("answer", [RuntimeError("boom"), "yes"])
async def test_an_approver_that_fails_denies(
    answer: object, caplog: pytest.LogCaptureFixture
) -> None:
    agent = Agent(mcp_servers=[server("always")], mcp_default_approval=True)

    @agent.approve
    def broken(request: McpApprovalRequest) -> Any:
        if isinstance(answer, Exception):
            raise answer
        return answer

    with caplog.at_level(logging.ERROR, logger="voiceagent.mcp"):
        events, *_ = await converse(agent, Script(DENIED, mcp_servers=[DEEPWIKI]))
    [decided] = of(events, McpApprovalDecided)
    assert (decided.approved, decided.decided_by) == (False, "error")
    assert "broken" in caplog.text


async def test_a_failing_call_is_reported_and_answered() -> None:
    failing = McpCall("deepwiki", "ask_question", error="rate limited")
    script = Script(
        Turn(mcp_calls=[failing], says="Sorry, DeepWiki is busy."), mcp_servers=[DEEPWIKI]
    )
    events, *_ = await converse(Agent(mcp_servers=[server()]), script)
    [failed] = of(events, McpCallFailed)
    assert (failed.name, failed.error) == ("ask_question", "rate limited")
    assert of(events, McpCallCompleted) == []
    assert [t.text for t in of(events, AgentTranscript)] == ["Sorry, DeepWiki is busy."]


async def test_a_server_whose_listing_fails() -> None:
    broken = ScriptedServer("deepwiki", tools=[McpTool("ask_question")], list_error="HTTP 502")
    script = Script(Turn(says="No tools today."), mcp_servers=[broken])
    events, *_ = await converse(Agent(mcp_servers=[server()]), script)
    [failed] = of(events, McpToolsListFailed)
    assert failed.server_label == "deepwiki"
    assert of(events, McpToolsListed) == []


async def test_parallel_calls_get_one_answer_after_both_results() -> None:
    second = McpCall("deepwiki", "read_wiki_structure", {"repo": "x/y"})
    script = Script(
        Turn(mcp_calls=[QUESTION, second], says=lambda ctx: ctx.output("read_wiki_structure")),
        mcp_servers=[DEEPWIKI],
    )
    events, _, emu = await converse(Agent(mcp_servers=[server()]), script)
    assert [e.output for e in of(events, McpCallCompleted)] == [
        "A voice framework.",
        "Topics of x/y",
    ]
    assert [t.text for t in of(events, AgentTranscript)] == ["Topics of x/y"]
    assert len([e for e in emu.connections[0].received if e["type"] == "response.create"]) == 2


async def test_an_audio_conversation_waits_for_the_call_before_it_ends() -> None:
    """The source ends while the service runs the call: the session ends only after the
    answer that speaks the result was played."""
    question = "What is voiceagent?"
    script = Script(
        Turn(hears=question, mcp_calls=[QUESTION], says="It is a voice framework."),
        mcp_servers=[DEEPWIKI],
    )
    audio = synthesize(question).audio + bytes(24000 * 2)
    sink = MemorySink()
    async with Emulator(speed=None, script=script) as emu:
        with anyio.fail_after(30):
            result = await Agent(mcp_servers=[server()]).run(
                source=MemorySource(audio, AudioFormat()), sink=sink, **connect_args(emu)
            )
    assert result.reason is EndReason.INPUT_FINISHED
    assert [(m.role, m.text) for m in result.history] == [  # type: ignore[union-attr]
        ("user", question),
        ("assistant", "It is a voice framework."),
    ]
    assert sink.data == synthesize("It is a voice framework.").audio


async def test_secrets_in_headers_never_show(caplog: pytest.LogCaptureFixture) -> None:
    declared = server(headers={"Authorization": f"Bearer {TOKEN}"}, authorization=TOKEN)
    assert TOKEN not in repr(declared)
    assert "Authorization" not in repr(declared) or "***" in repr(declared)
    agent = Agent(mcp_servers=[declared])
    assert TOKEN not in repr(agent.options)
    with caplog.at_level(logging.DEBUG):
        events, session, emu = await converse(agent, Script(ANSWER, mcp_servers=[DEEPWIKI]))
        assert TOKEN not in repr(session.plan)
    assert TOKEN not in caplog.text
    assert all(TOKEN not in repr(e) for e in events if not isinstance(e, SessionEnded))
    # ...and the service did get them.
    [sent] = emu.connections[0].received[0]["session"]["tools"]
    assert sent["headers"] == {"Authorization": f"Bearer {TOKEN}"}
    assert sent["authorization"] == TOKEN


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: McpServer("deep wiki", "https://x.test/mcp"), "McpServer.label"),
        (lambda: McpServer("d", "ftp://x.test"), "McpServer.url"),
        (
            lambda: McpServer("d", "https://x.test", require_approval="sometimes"),
            "require_approval",
        ),
        (
            lambda: McpServer(
                "d", "https://x.test", require_approval={"always": ["a"], "never": ["a"]}
            ),
            "listed twice",
        ),
        (lambda: McpServer("d", "https://x.test", headers={"X-Key": 42}), "headers"),
        (lambda: McpServer("d", "https://x.test", allowed_tools=[]), "allowed_tools"),
        (lambda: Agent(mcp_servers=[server(), server()]), "not used before"),
        (lambda: Agent(mcp_servers=["https://x.test"]), "McpServer"),
    ],
)
def test_bad_declarations_fail_with_a_clear_error(make: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        make()


def test_a_bad_header_value_is_not_shown() -> None:
    with pytest.raises(ConfigurationError) as caught:
        McpServer("d", "https://x.test", headers={"Authorization": f"Bearer {TOKEN}\n"})
    assert secret_paths(caught.value, TOKEN) == []


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"timeout": 0}, "timeout"), ({"servers": "a b"}, "server labels")]
)
def test_bad_approver_options(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        approve(**kwargs)
