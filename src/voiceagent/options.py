"""Session options and the value classes they take: voices, turn detection, audio
features, avatars and interim responses.

```python
from voiceagent import Agent
from voiceagent.options import AzureSemanticVad, NoiseReduction, SessionOptions

class Desk(Agent):
    voice = "en-US-Ava:DragonHDLatestNeural"
    turn_detection = AzureSemanticVad(remove_filler_words=True)
    noise_reduction = NoiseReduction()

agent = Desk(options=SessionOptions(instructions="You are a help desk."))
```

Every value is validated when it is built; a mistake raises
:class:`~voiceagent.errors.ConfigurationError` naming the field, the value and what is
allowed.
"""

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
from ._foundry import FoundryAgent as FoundryAgent
from ._mcp import McpServer as McpServer
from ._options import SERVICE_DEFAULT as SERVICE_DEFAULT
from ._options import ServiceDefault as ServiceDefault
from ._options import SessionOptions as SessionOptions
from ._turn_detection import AzureSemanticVad as AzureSemanticVad
from ._turn_detection import AzureSemanticVadEn as AzureSemanticVadEn
from ._turn_detection import AzureSemanticVadMultilingual as AzureSemanticVadMultilingual
from ._turn_detection import EndOfUtterance as EndOfUtterance
from ._turn_detection import SemanticVad as SemanticVad
from ._turn_detection import ServerVad as ServerVad
from ._voices import AzureCustomVoice as AzureCustomVoice
from ._voices import AzurePersonalVoice as AzurePersonalVoice
from ._voices import AzureRealtimeNativeVoice as AzureRealtimeNativeVoice
from ._voices import AzureStandardVoice as AzureStandardVoice
from ._voices import OpenAIVoice as OpenAIVoice
from ._voices import voice_from as voice_from

__all__ = [
    "SERVICE_DEFAULT",
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
    "FoundryAgent",
    "IceServer",
    "InputTranscription",
    "LlmInterimResponse",
    "McpServer",
    "NoiseReduction",
    "OpenAIVoice",
    "SemanticVad",
    "ServerVad",
    "ServiceDefault",
    "SessionOptions",
    "StaticInterimResponse",
    "VideoBackground",
    "VideoCrop",
    "VideoResolution",
    "voice_from",
]
