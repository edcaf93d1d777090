"""The recording ``voiceagent demo`` plays, shipped as package data."""

from __future__ import annotations

from pathlib import Path

__all__ = ["question_wav"]


def question_wav() -> Path:
    """The bundled recording of a user asking "What's the weather like in Paris today?".

    Real speech (espeak-ng), pcm16 mono at 16 kHz, a format Voice Live takes as it is, so
    playing it needs no resampling (and no ``audio`` extra). A second of silence follows
    the speech, so that server VAD hears the end of the turn.

    Returns:
        The path of the WAV file inside the installed package.
    """
    return Path(__file__).with_name("question.wav")
