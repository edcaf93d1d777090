"""Resolving a session's configuration (``voiceagent._resolve``): pure, once."""

from __future__ import annotations

import pytest

from voiceagent import Agent, tool
from voiceagent._resolve import resolve
from voiceagent.audio import AudioFormat, Encoding, MemorySink, MemorySource
from voiceagent.errors import ConfigurationError
from voiceagent.options import ServerVad

ULAW = AudioFormat(encoding=Encoding.G711_ULAW, sample_rate=8000)


class Tools(Agent):
    @tool(cancel_on_interrupt=True)
    async def stop_me(self) -> str:
        """Stop."""
        return ""

    @tool
    async def keep_me(self) -> str:
        """Keep."""
        return ""


def test_no_audio_ends_mean_default_formats_and_no_format_fields() -> None:
    plan = resolve(Agent(), source=None, sink=None, overrides={})
    assert plan.input_format is None
    assert plan.output_format == AudioFormat()
    assert plan.audio_out
    request = plan.request.as_dict()
    assert "input_audio_format" not in request
    assert "output_audio_format" not in request


def test_formats_follow_the_audio_ends() -> None:
    source = MemorySource(b"", AudioFormat(sample_rate=44100, channels=2))
    plan = resolve(Agent(), source=source, sink=MemorySink(ULAW), overrides={})
    assert plan.input_format == AudioFormat(sample_rate=24000)
    assert plan.output_format == ULAW
    request = plan.request.as_dict()
    assert request["input_audio_sampling_rate"] == 24000
    assert request["output_audio_format"] == "g711_ulaw"


def test_text_only_sends_no_output_format() -> None:
    plan = resolve(Agent(modalities=["text"]), source=None, sink=MemorySink(ULAW), overrides={})
    assert not plan.audio_out
    assert "output_audio_format" not in plan.request.as_dict()


def test_overrides_apply_to_one_session_and_are_validated() -> None:
    agent = Agent(instructions="A")
    plan = resolve(agent, source=None, sink=None, overrides={"instructions": "B"})
    assert plan.options.instructions == "B"
    assert agent.options.instructions == "A"
    with pytest.raises(ConfigurationError, match=r"Agent.session\(\): .*temperature"):
        resolve(agent, source=None, sink=None, overrides={"temperature": 9})


def test_a_confirmation_window_takes_the_interruption_decision_from_the_server() -> None:
    agent = Agent(turn_detection=ServerVad(auto_truncate=True), confirm_interruption_ms=800)
    plan = resolve(agent, source=None, sink=None, overrides={})
    detection = plan.request.as_dict()["turn_detection"]
    assert (detection["interrupt_response"], detection["create_response"]) == (False, False)
    assert detection["auto_truncate"] is False
    assert plan.turns.confirm_window_ms == 800
    assert not plan.turns.server_cancels_on_speech


def test_manual_turns_give_a_manual_machine() -> None:
    plan = resolve(Agent(turn_detection=None), source=None, sink=None, overrides={})
    assert not plan.turns.server_detects_turns
    assert plan.request.as_dict()["turn_detection"] is None


def test_tools_and_their_interrupt_policies() -> None:
    plan = resolve(Tools(), source=None, sink=None, overrides={})
    assert [t["name"] for t in plan.request.as_dict()["tools"]] == ["stop_me", "keep_me"]
    assert plan.cancel_on_interrupt == {"stop_me": True, "keep_me": False}


def test_a_configuration_too_large_to_echo_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="echoes it"):
        resolve(Agent(instructions="z" * 4_500_000), source=None, sink=None, overrides={})
