"""Transcription only: a hotel's voicemails to text, one line per turn, no agent.

A :class:`~voiceagent.Transcriber` is a Voice Live session whose turns never get an
answer: the service cuts the audio into turns and transcribes each. Here three recordings
play one after the other (a small source of our own joins them, with a pause between), as
one voicemail box would. Run it::

    python examples/transcribe_calls.py             # Azure if AZURE_VOICELIVE_ENDPOINT is set,
                                                    # else the offline emulator
    python examples/transcribe_calls.py --emulator  # always the emulator
    voiceagent transcribe examples/audio/pool.wav   # one file, from the command line
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from voiceagent import Transcriber
from voiceagent.audio import AudioFormat, AudioSourceBase, WavFileSource
from voiceagent.options import InputTranscription
from voiceagent.testing import Script, Turn, service

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

AUDIO = Path(__file__).parent / "audio"
MESSAGES = {
    "pool.wav": "Is the pool open tonight?",
    "breakfast.wav": "And when does breakfast start?",
    "station.wav": "Excuse me, where is the train station?",
}


class Voicemails(AudioSourceBase):
    """The recordings, one after the other, with a second of silence after each."""

    def __init__(self, paths: list[Path]) -> None:
        self._sources = [WavFileSource(path) for path in paths]

    @property
    def format(self) -> AudioFormat:
        return self._sources[0].format  # the recordings share one format

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self._check_open()
        pause = bytes(self.format.bytes_for_ms(1000))
        for source in self._sources:
            async with source:
                async for frame in source:
                    yield frame
            yield pause


# Offline, the emulator cannot understand speech: the script says what it hears.
SCRIPT = Script(*(Turn(hears=text) for text in MESSAGES.values()))


async def main() -> None:
    transcriber = Transcriber(transcription=InputTranscription(language="en-US"))
    source = Voicemails([AUDIO / name for name in MESSAGES])
    async with service(SCRIPT, emulator="--emulator" in sys.argv or None) as where:
        result = await transcriber.run(source=source, **where)
    for segment in result.segments:
        start = (segment.start_ms or 0) / 1000
        print(f"{start:5.1f} s  {segment.text}")
    print(f"{len(result.segments)} messages transcribed")


if __name__ == "__main__":
    anyio.run(main)
