"""The Agent API: one name per setting, misspellings caught with a suggestion, options
given whole, and session()/run() sharing one typed definition of their arguments."""

from __future__ import annotations

import typing

import attrs
import pytest

from voiceagent import Agent, AgentSettings, ReconnectPolicy, SessionArgs
from voiceagent.errors import ConfigurationError
from voiceagent.options import ServerVad, SessionOptions
from voiceagent.telemetry import Telemetry


def test_a_misspelt_class_attribute_fails_when_the_class_is_defined() -> None:
    with pytest.raises(
        ConfigurationError, match=r"Typo: .*'instruction' \(did you mean 'instructions'\?\)"
    ):

        class Typo(Agent):
            instruction = "You are terse."


def test_a_misspelt_argument_fails_with_a_suggestion() -> None:
    with pytest.raises(ConfigurationError, match=r"'voicee' \(did you mean 'voice'\?\)"):
        Agent(voicee="alloy")
    with pytest.raises(ConfigurationError, match=r"'gretting' \(did you mean 'greeting'\?\)"):
        Agent(gretting="Hi")


def test_attributes_of_the_agents_own_are_not_settings() -> None:
    class Desk(Agent):
        instructions = "You run a desk."
        database_url = "sqlite://"
        opening_hours = (9, 17)

    assert Desk().options.instructions == "You run a desk."
    assert Desk.database_url == "sqlite://"


def test_each_setting_has_one_name_on_the_class_the_constructor_and_the_instance() -> None:
    class Greeter(Agent):
        greeting = "Hello!"
        confirm_interruption_ms = 800

    agent = Greeter(min_turn_ms=300, fatal_handler_errors=True, max_tool_output_chars=10)
    settings = {field.name: getattr(agent, field.name) for field in attrs.fields(AgentSettings)}
    assert settings == {
        "greeting": "Hello!",
        "fatal_handler_errors": True,
        "confirm_interruption_ms": 800,
        "min_turn_ms": 300,
        "max_tool_output_chars": 10,
        "event_buffer": 1024,
        "reconnect": ReconnectPolicy(),
        "telemetry": Telemetry(),
        "mcp_default_approval": False,
    }
    assert agent.settings == AgentSettings(**settings)
    for old in (
        "greeting_text",
        "handler_errors_fatal",
        "interruption_window_ms",
        "shortest_turn_ms",
    ):
        assert not hasattr(agent, old)


def test_options_can_be_given_whole_and_arguments_still_win() -> None:
    class Styled(Agent):
        instructions = "class instructions"
        temperature = 0.9

    options = SessionOptions(instructions="given", voice="alloy")
    agent = Styled(options=options, temperature=0.7)
    assert agent.options.instructions == "given"  # options= replaces the class's options
    assert agent.options.voice == options.voice
    assert agent.options.temperature == 0.7
    with pytest.raises(ConfigurationError, match="options must be a SessionOptions"):
        Agent(options={"instructions": "x"})  # type: ignore[arg-type]


def test_invalid_settings_fail_at_the_class_or_the_instance() -> None:
    with pytest.raises(ConfigurationError, match="Bad: greeting must be a non-empty str"):

        class Bad(Agent):
            greeting = ""

    with pytest.raises(ConfigurationError, match="event_buffer must be a whole number"):
        Agent(event_buffer=0)
    with pytest.raises(ConfigurationError, match="min_turn_ms"):
        Agent(confirm_interruption_ms=300, min_turn_ms=400)


def test_session_arguments_cover_every_option_with_its_type() -> None:
    hints = typing.get_type_hints(SessionArgs)
    options = {field.name for field in attrs.fields(SessionOptions)}
    session_only = {
        "source",
        "sink",
        "endpoint",
        "credential",
        "api_key",
        "scope",
        "history",
        "reconnect",
        "telemetry",
    }
    assert set(hints) == options | session_only
    assert hints["temperature"] == float | None


def test_session_overrides_are_checked_by_name() -> None:
    agent = Agent()
    with pytest.raises(ConfigurationError, match=r"'temprature' \(did you mean 'temperature'\?\)"):
        agent.session(temprature=0.7)  # type: ignore[call-arg]
    session = agent.session(turn_detection=ServerVad(), temperature=0.7)
    assert session.options.temperature == 0.7
    assert agent.options.temperature is None
