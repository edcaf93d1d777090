"""voiceagent: real-time voice agents on Azure AI Voice Live.

The public API is re-exported here; everything in a module whose name starts
with an underscore is private.
"""

from ._version import __version__ as __version__
from .errors import VoiceAgentError as VoiceAgentError

__all__ = ["VoiceAgentError", "__version__"]
