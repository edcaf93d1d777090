"""Testing tools: the Voice Live emulator and its scripting API.

```python
from voiceagent.testing import Emulator, Script, ToolCall, Turn

script = Script(Turn(hears="What's the weather in Paris?",
                     calls=[ToolCall("get_weather", {"city": "Paris"})],
                     says="It is sunny in Paris."))
async with Emulator(script=script, speed=None) as emu:
    ...  # point any azure-ai-voicelive program at emu.endpoint with emu.credential
```
"""

from ._acs import AcsCall as AcsCall
from ._acs import AcsCallSimulator as AcsCallSimulator
from ._acs import CallAutomationFake as CallAutomationFake
from ._audio_checks import check_audio_sink as check_audio_sink
from ._audio_checks import check_audio_source as check_audio_source
from ._connection import EmulatorConnection as EmulatorConnection
from ._emulator import Emulator as Emulator
from ._emulator import EmulatorTokenCredential as EmulatorTokenCredential
from ._expect import Expect as Expect
from ._expect import ExpectationFailed as ExpectationFailed
from ._faults import Disconnect as Disconnect
from ._faults import Faults as Faults
from ._faults import ServerWarning as ServerWarning
from ._faults import TranscriptionFailure as TranscriptionFailure
from ._faults import Warn as Warn
from ._mcp import McpCall as McpCall
from ._mcp import McpServer as McpServer
from ._mcp import McpTool as McpTool
from ._runner import ConversationResult as ConversationResult
from ._runner import TurnRecord as TurnRecord
from ._runner import UserSays as UserSays
from ._runner import run_conversation as run_conversation
from ._script import ReplyContext as ReplyContext
from ._script import ResponseFailure as ResponseFailure
from ._script import Script as Script
from ._script import ToolCall as ToolCall
from ._script import Turn as Turn
from ._service import service as service
from ._synth import Speech as Speech
from ._synth import WordTiming as WordTiming
from ._synth import synthesize as synthesize
from ._twilio import TwilioCall as TwilioCall
from ._twilio import TwilioCallSimulator as TwilioCallSimulator

__all__ = [
    "AcsCall",
    "AcsCallSimulator",
    "CallAutomationFake",
    "ConversationResult",
    "Disconnect",
    "Emulator",
    "EmulatorConnection",
    "EmulatorTokenCredential",
    "Expect",
    "ExpectationFailed",
    "Faults",
    "McpCall",
    "McpServer",
    "McpTool",
    "ReplyContext",
    "ResponseFailure",
    "Script",
    "ServerWarning",
    "Speech",
    "ToolCall",
    "TranscriptionFailure",
    "Turn",
    "TurnRecord",
    "TwilioCall",
    "TwilioCallSimulator",
    "UserSays",
    "Warn",
    "WordTiming",
    "check_audio_sink",
    "check_audio_source",
    "run_conversation",
    "service",
    "synthesize",
]
