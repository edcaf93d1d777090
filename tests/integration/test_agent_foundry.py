"""Foundry Agent Service mode end to end: the agent named in the connection's query
parameters, Entra ID only, the session configuring only what Voice Live does; the
emulator playing the Foundry agent; contradictory settings refused."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from azure.ai.voicelive.aio import connect
from azure.ai.voicelive.models import AgentConfig

from voiceagent import Agent, tool
from voiceagent._connect import ConnectionSettings
from voiceagent.errors import ConfigurationError
from voiceagent.events import AgentTranscript, SessionStarted
from voiceagent.options import (
    FoundryAgent,
    InputTranscription,
    LlmInterimResponse,
    McpServer,
    StaticInterimResponse,
)
from voiceagent.testing import Emulator, Script, Turn

from ..helpers import wait_closed

CONCIERGE = FoundryAgent("concierge", project="grand-hotel", version="3")


class Concierge(Agent):
    foundry_agent = CONCIERGE
    voice = "en-US-Ava:DragonHDLatestNeural"
    modalities = ("text",)
    interim_response = StaticInterimResponse(texts=["One moment, please."], triggers=["tool"])


async def test_the_foundry_agent_answers_through_voice_live() -> None:
    script = Script(Turn(says="Breakfast is served from seven."))
    async with Emulator(speed=None, script=script) as emu:
        credential = emu.token_credential
        agent = Concierge()
        seen: list[Any] = []
        agent.on(SessionStarted)(seen.append)
        async with agent.session(endpoint=emu.endpoint, credential=credential) as session:
            stream = session.events(AgentTranscript)
            await session.send_text("When is breakfast?")
            with anyio.fail_after(10):
                async for event in stream:
                    seen.append(event)
                    if isinstance(event, AgentTranscript):
                        break
        conn = emu.connections[0]
        await wait_closed(conn)
    started, answer = seen
    assert answer.text == "Breakfast is served from seven."
    # The service reports the agent it talks to (the SDK's AgentConfig).
    agent_config = started.session.agent
    assert isinstance(agent_config, AgentConfig)
    assert (agent_config.name, agent_config.agent_id) == ("concierge", "concierge:3")
    assert agent_config.thread_id.startswith("thread_")
    # The agent is named in the query, as the SDK's connect(agent_name=...) does; no model.
    assert conn.query["agent-name"] == "concierge"
    assert conn.query["agent-project-name"] == "grand-hotel"
    assert conn.query["agent-version"] == "3"
    assert "model" not in conn.query
    # Entra ID, with the Foundry scope.
    assert credential.scopes_requested == [("https://ai.azure.com/.default",)]
    # Only what Voice Live does is configured: no instructions, no tools.
    update = conn.received[0]["session"]
    assert "instructions" not in update
    assert "tools" not in update
    assert update["voice"]["name"] == "en-US-Ava:DragonHDLatestNeural"
    assert update["interim_response"]["type"] == "static_interim_response"
    assert update["input_audio_transcription"] == {"model": "azure-speech"}


async def test_a_conversation_is_continued_by_id() -> None:
    agent = Agent(
        foundry_agent=FoundryAgent("concierge", project="grand-hotel", conversation_id="conv_42"),
        modalities=["text"],
    )
    async with Emulator(speed=None) as emu:
        async with agent.session(endpoint=emu.endpoint, credential=emu.token_credential) as s:
            assert s.session_id is not None
        conn = emu.connections[0]
    assert conn.query["conversation-id"] == "conv_42"
    assert conn.session["agent"]["thread_id"] == "conv_42"


async def test_a_key_is_refused_before_connecting() -> None:
    async with Emulator(speed=None) as emu:
        with pytest.raises(ConfigurationError, match="needs Microsoft Entra ID"):
            async with Concierge().session(endpoint=emu.endpoint, credential=emu.credential):
                pass
        with pytest.raises(ConfigurationError, match="needs Microsoft Entra ID"):
            async with Concierge().session(endpoint=emu.endpoint, api_key=emu.api_key):
                pass
        assert emu.connections == []


async def test_the_environments_key_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_VOICELIVE_API_KEY", "a-key-for-models")
    settings = ConnectionSettings.resolve(endpoint="https://x.test", entra_id_only=True)
    try:
        assert settings.owns_credential
        assert type(settings.credential).__name__ == "DefaultAzureCredential"
    finally:
        await settings.aclose()


async def test_the_emulator_refuses_a_key_for_an_agent_as_the_service_does() -> None:
    async with Emulator(speed=None) as emu:
        with pytest.raises(Exception, match="401"):
            async with connect(
                endpoint=emu.endpoint,
                credential=emu.credential,
                agent_name="concierge",
                project_name="grand-hotel",
            ):
                pass
        with pytest.raises(Exception, match="400"):
            async with connect(
                endpoint=emu.endpoint,
                credential=emu.token_credential,
                query={"agent-name": "concierge"},
            ):
                pass
        assert [status for status, _ in emu.rejected] == [401, 400]
        # The SDK's own agent path, with Entra ID: accepted, the agent in session.created.
        async with connect(
            endpoint=emu.endpoint,
            credential=emu.token_credential,
            agent_name="concierge",
            project_name="grand-hotel",
        ) as conn:
            created: Any = await conn.recv()
            assert created.session.agent.name == "concierge"
            assert created.session.model == "gpt-4.1"
            assert created.session.input_audio_transcription.model == "azure-speech"


class WithTool(Agent):
    foundry_agent = CONCIERGE

    @tool
    def book(self, room: str) -> str:
        """Book a room."""
        return room


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Agent(foundry_agent=CONCIERGE, instructions="Be nice."), "instructions"),
        (lambda: Agent(foundry_agent=CONCIERGE, model="gpt-4.1"), "own model"),
        (lambda: Agent(foundry_agent=CONCIERGE, tool_choice="required"), "tool_choice"),
        (lambda: Agent(foundry_agent=CONCIERGE, parallel_tool_calls=False), "parallel_tool_calls"),
        (
            lambda: Agent(foundry_agent=CONCIERGE, mcp_servers=[McpServer("m", "https://m.test")]),
            "mcp_servers",
        ),
        (lambda: WithTool().session(), r"function tools \(book\)"),
        (lambda: FoundryAgent("concierge", project=""), "FoundryAgent.project"),
        (lambda: Agent(foundry_agent="concierge"), "FoundryAgent"),
        (
            lambda: Agent(interim_response=StaticInterimResponse(texts=["Hm."])),
            "realtime audio models do not support interim responses",
        ),
    ],
)
def test_contradictory_settings_fail_clearly(make: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        make()


def test_what_a_foundry_agent_allows() -> None:
    agent = Agent(
        foundry_agent=CONCIERGE,
        interim_response=LlmInterimResponse(triggers=["latency"]),
        input_transcription=InputTranscription(language="en-US"),
    )
    assert agent.options.connect_model is None
    assert agent.options.connect_query["agent-name"] == "concierge"
    assert Agent(model="gpt-4.1", interim_response=StaticInterimResponse(texts=["Hm."]))
