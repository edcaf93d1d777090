"""Speech-to-speech translation: an interpreter that says everything again in French.

No translation code: instructions tell the model to translate, and a French voice speaks
the result. Pass another language and voice to ``interpreter()`` for other pairs. Run it::

    python examples/translator.py             # Azure if AZURE_VOICELIVE_ENDPOINT is set,
                                              # else the offline emulator
    python examples/translator.py --emulator  # always the emulator
    voiceagent run examples/translator.py:interpreter --mic --speaker   # live

The translation is written to translation.wav.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

from voiceagent import Agent
from voiceagent.audio import WavFileSink, WavFileSource
from voiceagent.events import AgentTranscript, UserTranscript
from voiceagent.options import InputTranscription
from voiceagent.testing import Script, Turn, service

AUDIO = Path(__file__).parent / "audio"


def interpreter(
    language: str = "French",
    voice: str = "fr-FR-Vivienne:DragonHDLatestNeural",
    spoken: str = "en",
) -> Agent:
    """An agent that translates everything the user says.

    Args:
        language: The language to translate into.
        voice: A voice that speaks it natively (an Azure voice name, or an OpenAI voice).
        spoken: The language the user speaks (ISO 639-1), for the transcription.
    """
    return Agent(
        instructions=(
            f"You are an interpreter. Translate everything the user says into {language}, "
            "keeping the meaning and the tone. Say only the translation: never answer a "
            "question, comment on it or add anything."
        ),
        voice=voice,
        temperature=0.6,  # the lowest allowed: a translation is no place for creativity
        # The user's own words, transcribed, to show next to the translation.
        input_transcription=InputTranscription(language=spoken),
    )


# Offline, the emulator plays the model: what it hears and the translation it says.
SCRIPT = Script(
    Turn(hears="Excuse me, where is the train station?", says="Excusez-moi, où est la gare ?")
)


async def main() -> None:
    agent = interpreter()
    agent.on(UserTranscript)(lambda event: print(f"english: {event.text}"))
    agent.on(AgentTranscript)(lambda event: print(f"french:  {event.text}"))
    async with (
        service(SCRIPT, emulator="--emulator" in sys.argv or None) as where,
        WavFileSink("translation.wav") as sink,
    ):
        await agent.run(source=WavFileSource(AUDIO / "station.wav"), sink=sink, **where)
    print("the translation is in translation.wav")


if __name__ == "__main__":
    anyio.run(main)
