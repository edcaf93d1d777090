"""Which service errors the session treats as harmless."""

from __future__ import annotations

from typing import Any

from azure.ai.voicelive.models import ServerEvent

from voiceagent._session import _already_truncated


def error(**fields: Any) -> Any:
    details: dict[str, Any] = {"type": "invalid_request_error", **fields}
    payload = {"type": "error", "event_id": "e1", "error": details}
    event: Any = ServerEvent._deserialize(payload, [])  # type: ignore[no-untyped-call]
    return event.error


def test_truncating_an_already_shorter_item_is_harmless() -> None:
    assert _already_truncated(
        error(
            code="invalid_value",
            param="audio_end_ms",
            message="Audio content of 1200ms is already shorter than 1500ms",
        )
    )


def test_other_truncate_errors_are_not() -> None:
    assert not _already_truncated(
        error(code="invalid_value", param="content_index", message="Invalid 'content_index'")
    )
    assert not _already_truncated(error(code="item_not_found", message="no such item"))
