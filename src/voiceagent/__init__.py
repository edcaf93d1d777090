"""voiceagent: real-time voice agents on Azure AI Voice Live.

The public API is re-exported here; everything in a module whose name starts
with an underscore is private. Audio lives in :mod:`voiceagent.audio`, the library's
events in :mod:`voiceagent.events`, exceptions in :mod:`voiceagent.errors` and the
emulator in :mod:`voiceagent.testing`.
"""

from ._agent import Agent as Agent
from ._avatar import Animation as Animation
from ._avatar import Avatar as Avatar
from ._avatar import AvatarScene as AvatarScene
from ._avatar import AvatarVideo as AvatarVideo
from ._avatar import IceServer as IceServer
from ._avatar import VideoBackground as VideoBackground
from ._avatar import VideoCrop as VideoCrop
from ._avatar import VideoResolution as VideoResolution
from ._features import EchoCancellation as EchoCancellation
from ._features import InputTranscription as InputTranscription
from ._features import LlmInterimResponse as LlmInterimResponse
from ._features import NoiseReduction as NoiseReduction
from ._features import StaticInterimResponse as StaticInterimResponse
from ._history import Message as Message
from ._history import SessionResult as SessionResult
from ._history import ToolCallRecord as ToolCallRecord
from ._options import SERVICE_DEFAULT as SERVICE_DEFAULT
from ._options import ServiceDefault as ServiceDefault
from ._options import SessionOptions as SessionOptions
from ._router import EventStream as EventStream
from ._router import on as on
from ._session import AgentSession as AgentSession
from ._tools import ToolContext as ToolContext
from ._tools import tool as tool
from ._turn_detection import AzureSemanticVad as AzureSemanticVad
from ._turn_detection import AzureSemanticVadEn as AzureSemanticVadEn
from ._turn_detection import AzureSemanticVadMultilingual as AzureSemanticVadMultilingual
from ._turn_detection import EndOfUtterance as EndOfUtterance
from ._turn_detection import SemanticVad as SemanticVad
from ._turn_detection import ServerVad as ServerVad
from ._turns import TurnState as TurnState
from ._version import __version__ as __version__
from ._voices import AzureCustomVoice as AzureCustomVoice
from ._voices import AzurePersonalVoice as AzurePersonalVoice
from ._voices import AzureRealtimeNativeVoice as AzureRealtimeNativeVoice
from ._voices import AzureStandardVoice as AzureStandardVoice
from ._voices import OpenAIVoice as OpenAIVoice
from ._voices import voice_from as voice_from
from .errors import ToolError as ToolError
from .errors import VoiceAgentError as VoiceAgentError

__all__ = [
    "SERVICE_DEFAULT",
    "Agent",
    "AgentSession",
    "Animation",
    "Avatar",
    "AvatarScene",
    "AvatarVideo",
    "AzureCustomVoice",
    "AzurePersonalVoice",
    "AzureRealtimeNativeVoice",
    "AzureSemanticVad",
    "AzureSemanticVadEn",
    "AzureSemanticVadMultilingual",
    "AzureStandardVoice",
    "EchoCancellation",
    "EndOfUtterance",
    "EventStream",
    "IceServer",
    "InputTranscription",
    "LlmInterimResponse",
    "Message",
    "NoiseReduction",
    "OpenAIVoice",
    "SemanticVad",
    "ServerVad",
    "ServiceDefault",
    "SessionOptions",
    "SessionResult",
    "StaticInterimResponse",
    "ToolCallRecord",
    "ToolContext",
    "ToolError",
    "TurnState",
    "VideoBackground",
    "VideoCrop",
    "VideoResolution",
    "VoiceAgentError",
    "__version__",
    "on",
    "tool",
    "voice_from",
]
