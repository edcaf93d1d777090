"""A weather assistant: tools (async and sync) and typed event handlers.

This is the agent ``voiceagent demo`` runs. Run it yourself::

    python examples/weather.py             # Azure if AZURE_VOICELIVE_ENDPOINT is set, else
                                           # the offline emulator
    python examples/weather.py --emulator  # always the emulator

It plays a recorded question, prints the conversation and writes the agent's answer to
weather-answer.wav. Try it with your own voice: ``voiceagent run
examples/weather.py:WeatherAgent --mic --speaker``. (voiceagent ships this file, and
question.wav beside it, as ``voiceagent/demo/weather.py``.)
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio

from voiceagent import Agent, on, tool
from voiceagent.audio import WavFileSink, WavFileSource
from voiceagent.errors import ToolError
from voiceagent.events import AgentTranscript, ToolCallFinished, UserTranscript
from voiceagent.testing import ReplyContext, Script, ToolCall, Turn, service

log = logging.getLogger("weather")

# A recording of a user asking "What's the weather like in Paris today?": real speech
# (espeak-ng), pcm16 mono at 16 kHz, then a second of silence so that server VAD hears
# the end of the turn.
QUESTION = Path(__file__).with_name("question.wav")

# Stand-in data: a real agent would ask a weather service.
FORECASTS = {"paris": (21, "sunny"), "london": (16, "cloudy"), "tokyo": (27, "humid")}


class WeatherAgent(Agent):
    """Answers questions about the weather, using its tools rather than guessing."""

    instructions = (
        "You are a concise, friendly weather assistant. Answer in one or two short "
        "sentences. Use your tools for the weather and the time; never guess them."
    )
    voice = "en-US-Ava:DragonHDLatestNeural"

    # An async tool: the session awaits it while audio keeps flowing.
    @tool
    async def get_weather(self, city: str, unit: Literal["c", "f"] = "c") -> dict[str, object]:
        """Current weather for a city.

        Args:
            city: City name, e.g. "Paris".
            unit: Temperature unit: "c" for Celsius, "f" for Fahrenheit.
        """
        await anyio.sleep(0.05)  # stands in for the request to a weather service
        temp_c, sky = FORECASTS.get(city.lower(), (18, "clear"))
        temperature = temp_c if unit == "c" else round(temp_c * 9 / 5 + 32)
        return {"city": city, "temperature": temperature, "unit": unit, "sky": sky}

    # A sync tool: it runs in a worker thread, so it may block.
    @tool
    def local_time(self, timezone: str) -> str:
        """The current local time in a time zone.

        Args:
            timezone: An IANA time zone name, e.g. "Europe/Paris".
        """
        try:
            return datetime.now(ZoneInfo(timezone)).strftime("%H:%M")
        except (ZoneInfoNotFoundError, ValueError):
            # A ToolError's message goes to the model, which can try again.
            raise ToolError(
                f"unknown time zone {timezone!r}: use a name like Europe/Paris"
            ) from None

    # A typed handler: `event` is a ToolCallFinished, for mypy and at run time.
    @on(ToolCallFinished)
    def audit(self, event: ToolCallFinished) -> None:
        log.info("tool %s(%s) -> %s", event.name, event.arguments, event.error or event.output)


def forecast(ctx: ReplyContext) -> str:
    """The emulated model's answer, made from what get_weather returned."""
    weather = ctx.output("get_weather")
    return f"It's {weather['temperature']} degrees and {weather['sky']} in Paris right now."


# Offline, the emulator plays the model: it hears the recorded question, calls
# get_weather, then answers from the tool's result. Azure's real model ignores this.
SCRIPT = Script(
    Turn(
        hears="What's the weather like in Paris today?",
        calls=[ToolCall("get_weather", {"city": "Paris"})],
        says=forecast,
    )
)


async def main() -> None:
    agent = WeatherAgent()

    @agent.on(UserTranscript)
    def show_question(event: UserTranscript) -> None:
        print(f"user:  {event.text}")

    @agent.on(AgentTranscript)
    def show_answer(event: AgentTranscript) -> None:
        print(f"agent: {event.text}")

    async with service(SCRIPT, emulator="--emulator" in sys.argv or None) as where:
        # The session owns the source and the sink: it closes both when it ends.
        result = await agent.run(
            source=WavFileSource(QUESTION), sink=WavFileSink("weather-answer.wav"), **where
        )
    print(f"session ended ({result.reason.value}); the answer is in weather-answer.wav")


if __name__ == "__main__":
    logging.basicConfig(format="%(name)s: %(message)s")
    log.setLevel(logging.INFO)  # show the audit handler's lines
    anyio.run(main)
