"""The bundled demo: the agent ``voiceagent demo`` runs, and the recording it plays.

:class:`WeatherAgent`, :data:`SCRIPT` and :data:`QUESTION` come from
``voiceagent/demo/weather.py``, which is ``examples/weather.py`` (a test keeps the two
files identical): read it there. It uses only voiceagent's public API.
"""

from __future__ import annotations

from .weather import QUESTION as QUESTION
from .weather import SCRIPT as SCRIPT
from .weather import WeatherAgent as WeatherAgent

__all__ = ["QUESTION", "SCRIPT", "WeatherAgent"]
