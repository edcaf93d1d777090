"""The agent the serve tests run, in process and as ``voiceagent serve`` targets."""

from __future__ import annotations

from voiceagent import Agent, tool
from voiceagent.testing import Script, ToolCall, Turn

QUESTION = "What's the weather in Paris today?"
ANSWER = (
    "Paris is sunny today with a light breeze from the west and a high of twenty one "
    "degrees, perfect for a walk along the river in the afternoon."
)
STOP = "Stop please"
OKAY = "Okay."


class WeatherAgent(Agent):
    """A weather agent with one tool."""

    instructions = "You are a concise weather assistant."

    @tool
    async def get_weather(self, city: str) -> dict[str, object]:
        """Current weather for a city.

        Args:
            city: City name.
        """
        return {"city": city, "temp": 21}


def weather_turn() -> Turn:
    """The user asks; the model calls the tool, then answers at length."""
    return Turn(hears=QUESTION, calls=[ToolCall("get_weather", {"city": "Paris"})], says=ANSWER)


SCRIPT = Script(weather_turn(), Turn(hears=STOP, says=OKAY), *[weather_turn()] * 20)
"""What the emulator says: the weather, then "Okay." (after a barge-in), then the weather."""
