"""voiceagent: real-time voice agents on Azure AI Voice Live.

The public API is re-exported here; everything in a module whose name starts with an
underscore is private. Session options and their value classes (voices, turn detection,
audio features, avatars) live in :mod:`voiceagent.options`, audio in
:mod:`voiceagent.audio`, the library's events in :mod:`voiceagent.events`, exceptions in
:mod:`voiceagent.errors` and the emulator in :mod:`voiceagent.testing`.
"""

from ._agent import Agent as Agent
from ._agent import AgentSettings as AgentSettings
from ._agent import SessionArgs as SessionArgs
from ._fanout import EventStream as EventStream
from ._history import Message as Message
from ._history import SessionResult as SessionResult
from ._history import ToolCallRecord as ToolCallRecord
from ._mcp import McpApprovalRequest as McpApprovalRequest
from ._mcp import approve as approve
from ._reconnect import ReconnectPolicy as ReconnectPolicy
from ._router import on as on
from ._session import AgentSession as AgentSession
from ._session import SessionStatus as SessionStatus
from ._tools import ToolContext as ToolContext
from ._tools import tool as tool
from ._transcriber import Transcriber as Transcriber
from ._transcriber import TranscriptionResult as TranscriptionResult
from ._transcriber import TranscriptionSession as TranscriptionSession
from ._transcriber import TranscriptSegment as TranscriptSegment
from ._turns import TurnState as TurnState
from ._version import __version__ as __version__

__all__ = [
    "Agent",
    "AgentSession",
    "AgentSettings",
    "EventStream",
    "McpApprovalRequest",
    "Message",
    "ReconnectPolicy",
    "SessionArgs",
    "SessionResult",
    "SessionStatus",
    "ToolCallRecord",
    "ToolContext",
    "Transcriber",
    "TranscriptSegment",
    "TranscriptionResult",
    "TranscriptionSession",
    "TurnState",
    "__version__",
    "approve",
    "on",
    "tool",
]
