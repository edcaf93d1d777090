"""MCP servers: a research assistant that asks DeepWiki about GitHub repositories.

Voice Live calls the tools of remote MCP servers itself; the agent only declares the
server and decides which calls may run. Here reading the wiki's table of contents needs
no approval, and questions are approved by a small policy (only public repositories of
an allowed organisation). Run it::

    python examples/mcp_research.py             # Azure if AZURE_VOICELIVE_ENDPOINT is set,
                                                # else the offline emulator
    python examples/mcp_research.py --emulator  # always the emulator
    voiceagent run examples/mcp_research.py:Researcher --mic --speaker   # live
"""

from __future__ import annotations

import sys

import anyio

from voiceagent import Agent, McpApprovalRequest, approve
from voiceagent.events import AgentTranscript, McpApprovalDecided, McpCallCompleted
from voiceagent.options import McpServer
from voiceagent.testing import McpCall, McpTool, Script, Turn, service
from voiceagent.testing import McpServer as ScriptedMcpServer

ALLOWED = ("azure/", "microsoft/")


class Researcher(Agent):
    instructions = "You answer questions about GitHub repositories, using DeepWiki. Be brief."
    mcp_servers = (
        McpServer(
            "deepwiki",
            "https://mcp.deepwiki.com/mcp",
            allowed_tools=["read_wiki_structure", "ask_question"],
            require_approval={"never": ["read_wiki_structure"], "always": ["ask_question"]},
        ),
    )

    @approve(servers="deepwiki", timeout=10)
    def known_organisations(self, request: McpApprovalRequest) -> bool:
        """Questions only about the organisations we trust."""
        repo = str(request.args.get("repoName", "")).lower()
        return repo.startswith(ALLOWED)


# Offline, the emulator plays the model and DeepWiki.
QUESTION = {"repoName": "Azure/azure-sdk-for-python", "question": "What is azure-ai-voicelive?"}
SCRIPT = Script(
    Turn(
        mcp_calls=[McpCall("deepwiki", "ask_question", QUESTION)],
        says=lambda ctx: f"DeepWiki says: {ctx.output('ask_question')}",
    ),
    mcp_servers=[
        ScriptedMcpServer(
            "deepwiki",
            tools=[
                McpTool("read_wiki_structure", output="1. Overview 2. Samples"),
                McpTool("ask_question", output="the Python SDK for Azure AI Voice Live."),
            ],
        )
    ],
)


async def main() -> None:
    agent = Researcher(modalities=["text"])
    agent.on(McpApprovalDecided)(
        lambda e: print(f"        ({e.name} {'approved' if e.approved else 'denied'})")
    )
    agent.on(McpCallCompleted)(lambda e: print(f"        ({e.name} -> {e.output})"))
    agent.on(AgentTranscript)(lambda e: print(f"agent:  {e.text}"))
    question = "What is azure-ai-voicelive in the Azure Python SDK?"
    emulator = "--emulator" in sys.argv or None
    async with service(SCRIPT, emulator=emulator) as where, agent.session(**where) as session:
        print(f"user:   {question}")
        await session.send_text(question)
        session.end()  # once the answer is in
        await session.wait()


if __name__ == "__main__":
    anyio.run(main)
