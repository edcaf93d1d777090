"""Shared vocabulary of the emulator: ids, error events and the invalid-request exception."""

from __future__ import annotations

import secrets
import string
from typing import Any, Literal

__all__ = ["ProtocolError", "ServerEvent", "error_event", "new_id"]

ServerEvent = dict[str, Any]
"""A server event as it goes on the wire: a JSON object with a ``type``."""

_BASE62 = string.digits + string.ascii_letters


def new_id(prefix: str, length: int = 22) -> str:
    """A fresh id in the service's style: ``prefix`` + ``_`` + base62 characters.

    Examples are ``event_7VOMH1ALSp5A0Fa17nSZKM`` and ``sess_6Zxvf6tkDngFpn3CwcvbTE``.
    """
    return prefix + "_" + "".join(secrets.choice(_BASE62) for _ in range(length))


class ProtocolError(Exception):
    """A client request the service rejects with an ``error`` event.

    Raising it from an event handler sends ``{"type": "error", "error": {...}}``
    to the client and leaves the socket open, as the service does.

    Args:
        message: Human-readable description, as the service would word it.
        code: Machine-readable error code, for example ``"invalid_value"``.
        param: The offending parameter as a dotted path (``"session.turn_detection.threshold"``),
            or None.
        type: The error type: ``"invalid_request_error"`` or ``"server_error"``.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        param: str | None = None,
        type: Literal["invalid_request_error", "server_error"] = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.type = type

    def to_event(self, client_event_id: str | None = None) -> ServerEvent:
        """The ``error`` server event for this error (without its ``event_id``)."""
        return error_event(
            self.message,
            code=self.code,
            param=self.param,
            type=self.type,
            client_event_id=client_event_id,
        )


def error_event(
    message: str,
    *,
    code: str | None,
    param: str | None = None,
    type: str = "invalid_request_error",
    client_event_id: str | None = None,
) -> ServerEvent:
    """Build an ``error`` server event in the service's shape (protocol reference §5.1)."""
    return {
        "type": "error",
        "error": {
            "type": type,
            "code": code,
            "message": message,
            "param": param,
            "event_id": client_event_id,
        },
    }
