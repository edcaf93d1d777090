"""The exceptions voiceagent raises, all rooted at :class:`VoiceAgentError`.

```
VoiceAgentError
├── ConfigurationError       a value given to voiceagent is invalid or missing
│   ├── ToolDefinitionError  a tool cannot be registered (bad annotation, duplicate name)
│   └── MissingExtraError    a feature needs an optional extra that is not installed
├── ConnectError             the connection to Voice Live could not be opened
│   └── AuthenticationError  the service refused the credential (HTTP 401/403)
├── ConnectionLostError      an open connection dropped
├── SessionStateError        a session was used in a state that does not allow it
│   └── SessionClosedError   ... after it ended
├── ServiceError             the service reported an error that ended the session
├── AudioError               an audio file, device or format problem
├── ToolError                raised by a tool: its message goes to the model as is
├── HandlerError             an event handler raised and handler errors are fatal
├── EmulatorError            the emulator could not start or was misused
├── serve.ConversationRefused  the server is at capacity or draining (serve extra)
├── serve.ProtocolError      a browser client broke the browser protocol (serve extra)
└── telephony.CarrierError   a carrier sent what a bridge cannot use, or call control
                             failed (telephony extra)
```

SDK and aiohttp exceptions are converted to these at one boundary; messages never
contain API keys or tokens.
"""

from __future__ import annotations

__all__ = [
    "AudioError",
    "AuthenticationError",
    "ConfigurationError",
    "ConnectError",
    "ConnectionLostError",
    "EmulatorError",
    "HandlerError",
    "MissingExtraError",
    "ServiceError",
    "SessionClosedError",
    "SessionStateError",
    "ToolDefinitionError",
    "ToolError",
    "VoiceAgentError",
]


class VoiceAgentError(Exception):
    """Root of every exception voiceagent raises on purpose."""


class ConfigurationError(VoiceAgentError):
    """A value given to voiceagent (an option, an endpoint, a tool) is invalid or missing."""


class ToolDefinitionError(ConfigurationError):
    """A tool cannot be registered: unsupported annotation, duplicate name, missing docs."""


class MissingExtraError(ConfigurationError):
    """A feature needs an optional dependency: the message names the extra to install."""


class ConnectError(VoiceAgentError):
    """The connection to Voice Live could not be opened (refused, unreachable, bad URL)."""


class AuthenticationError(ConnectError):
    """The service refused the credential (HTTP 401 or 403)."""


class ConnectionLostError(VoiceAgentError):
    """An open connection to Voice Live dropped before the session ended."""


class SessionStateError(VoiceAgentError):
    """A session was used in a state that does not allow it: before ``async with``
    entered it, while it is closing, after it ended, or entered twice."""


class SessionClosedError(SessionStateError):
    """The session has ended: it cannot send, speak or take input any more.

    Attributes:
        reason: Why it ended (a :class:`~voiceagent.events.EndReason` value's name, e.g.
            ``"connection_lost"``).
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ServiceError(VoiceAgentError):
    """The service reported an error that ended the session.

    Attributes:
        code: The service's error code (for example ``"invalid_value"``), if any.
    """

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class AudioError(VoiceAgentError):
    """An audio file, device or format problem."""


class ToolError(VoiceAgentError):
    """Raise from a tool to tell the model what went wrong.

    The message is sent to the model as the tool's output, as is. Any other exception
    raised by a tool is logged and the model gets a short generic message instead.
    """


class HandlerError(VoiceAgentError):
    """An event handler raised while the agent makes handler errors fatal.

    The handler's exception is chained as ``__cause__``.
    """


class EmulatorError(VoiceAgentError):
    """The Voice Live emulator could not start, or was used in a way it does not support."""
