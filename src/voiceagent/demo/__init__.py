"""The bundled demo: the agent ``voiceagent demo`` runs, its recording, and the helper the
examples use to talk to Azure or to the emulator.

- :class:`WeatherAgent` and :data:`SCRIPT` come from ``voiceagent/demo/weather.py``, which
  is ``examples/weather.py`` (a test keeps the two files identical): read it there.
- :func:`question_wav` is the recording the demo plays: real speech, generated once with
  espeak-ng by ``examples/audio/generate.py``.
- :func:`service` is where the examples connect: Azure AI Voice Live when an endpoint is
  configured, else the emulator playing the example's script.
"""

from __future__ import annotations

# `service` and `question_wav` are imported before `weather`, which uses them.
from ._recording import question_wav as question_wav
from ._service import azure_endpoint as azure_endpoint
from ._service import service as service
from .weather import SCRIPT as SCRIPT
from .weather import WeatherAgent as WeatherAgent

__all__ = ["SCRIPT", "WeatherAgent", "azure_endpoint", "question_wav", "service"]
