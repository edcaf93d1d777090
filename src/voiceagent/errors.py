"""The exceptions voiceagent raises, all rooted at :class:`VoiceAgentError`.

```
VoiceAgentError
└── EmulatorError          the emulator could not start or was misused
```
"""

from __future__ import annotations

__all__ = ["EmulatorError", "VoiceAgentError"]


class VoiceAgentError(Exception):
    """Root of every exception voiceagent raises on purpose."""


class EmulatorError(VoiceAgentError):
    """The Voice Live emulator could not start, or was used in a way it does not support."""
