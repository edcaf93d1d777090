"""The emulator's conversation: ordered items and the rules for creating, deleting,
retrieving and truncating them (protocol reference §3, §4.9)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ._protocol import ProtocolError, new_id

if TYPE_CHECKING:
    from ._synth import Speech

__all__ = ["Conversation", "StoredItem", "validate_client_item"]

_USER_PARTS = frozenset({"input_text", "input_audio", "input_image"})
_ASSISTANT_PARTS = frozenset({"text", "output_text", "audio"})
_ITEM_TYPES = ("message", "function_call", "function_call_output", "mcp_approval_response")


@attrs.define(eq=False)
class StoredItem:
    """One conversation item as the service keeps it.

    Attributes:
        item: The item in its wire shape (as sent in ``conversation.item.created``), with
            no raw audio in it.
        speech: For assistant audio: the synthesized utterance it was streamed from.
        audio_ms: Duration of the item's audio: streamed so far for assistant audio (cut by
            truncation), committed for user audio.
        audio: The raw user audio, kept only when the emulator keeps audio.
    """

    item: dict[str, Any]
    speech: Speech | None = None
    audio_ms: float = 0.0
    audio: bytes | None = None

    @property
    def id(self) -> str:
        """The item's id."""
        return str(self.item["id"])

    @property
    def is_assistant_audio(self) -> bool:
        """Whether this is an assistant message with an audio content part."""
        item = self.item
        return (
            item.get("type") == "message"
            and item.get("role") == "assistant"
            and any(part.get("type") == "audio" for part in item.get("content", ()))
        )

    def retrieved(self, bytes_for_ms: Any = None) -> dict[str, Any]:
        """The item as ``conversation.item.retrieved`` shows it, audio included when known."""
        item = dict(self.item)
        content = [dict(part) for part in item.get("content", ())]
        for part in content:
            if part.get("type") == "audio" and self.speech is not None:
                end = self.speech.audio[: _bytes_for(self.speech, self.audio_ms)]
                part["audio"] = base64.b64encode(end).decode("ascii")
            elif part.get("type") == "input_audio" and self.audio is not None:
                part["audio"] = base64.b64encode(self.audio).decode("ascii")
        if "content" in item:
            item["content"] = content
        return item


def _bytes_for(speech: Speech, ms: float) -> int:
    bytes_per_sample = 2 if speech.encoding == "pcm16" else 1
    samples = int(ms * speech.sample_rate / 1000)
    return samples * bytes_per_sample


class Conversation:
    """The ordered items of one connection's conversation."""

    def __init__(self) -> None:
        self._items: list[StoredItem] = []
        self._by_id: dict[str, StoredItem] = {}

    def __iter__(self) -> Iterator[StoredItem]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._by_id

    @property
    def last_id(self) -> str | None:
        """The id of the last item, or None when the conversation is empty."""
        return self._items[-1].id if self._items else None

    def get(
        self, item_id: Any, *, param: str = "item_id", action: str = "retrieving"
    ) -> StoredItem:
        """The item with ``item_id``.

        Raises:
            ProtocolError: No such item (code ``item_not_found``).
        """
        if not isinstance(item_id, str) or not item_id:
            raise ProtocolError(
                f"Missing or invalid '{param}': expected an item id string, got {item_id!r}.",
                code="missing_required_parameter" if item_id is None else "invalid_type",
                param=param,
            )
        stored = self._by_id.get(item_id)
        if stored is None:
            raise ProtocolError(
                f"Error {action} item: the item with id '{item_id}' does not exist.",
                code="item_not_found",
                param=param,
            )
        return stored

    def insert(self, stored: StoredItem, previous_item_id: Any = ...) -> str | None:
        """Insert an item and return the id of the item now before it (None at the start).

        Args:
            stored: The item.
            previous_item_id: ``...`` (absent) or None appends; ``"root"`` inserts at the
                start; an item id inserts right after that item.

        Raises:
            ProtocolError: The item id is already in use, or ``previous_item_id`` is unknown.
        """
        if stored.id in self._by_id:
            raise ProtocolError(
                f"Item with id '{stored.id}' already exists in the conversation.",
                code="duplicate_item_id",
                param="item.id",
            )
        if previous_item_id is ... or previous_item_id is None:
            index = len(self._items)
        elif previous_item_id == "root":
            index = 0
        else:
            anchor = self.get(previous_item_id, param="previous_item_id", action="inserting")
            index = self._items.index(anchor) + 1
        self._items.insert(index, stored)
        self._by_id[stored.id] = stored
        return self._items[index - 1].id if index > 0 else None

    def delete(self, item_id: Any) -> StoredItem:
        """Remove the item and return it.

        Raises:
            ProtocolError: No such item.
        """
        stored = self.get(item_id, action="deleting")
        self._items.remove(stored)
        del self._by_id[stored.id]
        return stored

    def truncate(self, item_id: Any, content_index: Any, audio_end_ms: Any) -> StoredItem:
        """Cut an assistant audio item to ``audio_end_ms`` (protocol §4.9).

        Raises:
            ProtocolError: Unknown item, not an assistant audio message, a content index
                other than the audio part, or an end past the item's audio.
        """
        stored = self.get(item_id, action="truncating")
        if not stored.is_assistant_audio or stored.speech is None:
            raise ProtocolError(
                "Only model output audio messages can be truncated; "
                f"item '{stored.id}' is a {stored.item.get('role', '')} "
                f"{stored.item.get('type')} item without audio.".replace("  ", " "),
                code="invalid_value",
                param="item_id",
            )
        audio_index = next(
            i for i, part in enumerate(stored.item["content"]) if part.get("type") == "audio"
        )
        if content_index != audio_index or isinstance(content_index, bool):
            raise ProtocolError(
                f"Invalid 'content_index': {content_index!r}. The audio content part of item "
                f"'{stored.id}' is at index {audio_index}.",
                code="invalid_value",
                param="content_index",
            )
        if not isinstance(audio_end_ms, int) or isinstance(audio_end_ms, bool) or audio_end_ms < 0:
            raise ProtocolError(
                f"Invalid 'audio_end_ms': {audio_end_ms!r}. Expected a non-negative integer.",
                code="invalid_value",
                param="audio_end_ms",
            )
        duration = int(stored.audio_ms)
        if audio_end_ms > duration:
            raise ProtocolError(
                f"Audio content of {duration}ms is already shorter than {audio_end_ms}ms",
                code="invalid_value",
                param="audio_end_ms",
            )
        stored.audio_ms = float(audio_end_ms)
        heard = stored.speech.text_heard(audio_end_ms)
        part = stored.item["content"][audio_index]
        stored.item["content"][audio_index] = {**part, "transcript": heard}
        return stored

    def user_messages(self) -> list[StoredItem]:
        """The user message items, in order."""
        return [s for s in self._items if _is_user_message(s.item)]


def _is_user_message(item: Mapping[str, Any]) -> bool:
    return item.get("type") == "message" and item.get("role") == "user"


def _require_str(obj: Mapping[str, Any], key: str, param: str) -> str:
    value = obj.get(key)
    if value is None:
        raise ProtocolError(
            f"Missing required parameter: '{param}'.",
            code="missing_required_parameter",
            param=param,
        )
    if not isinstance(value, str):
        raise ProtocolError(
            f"Invalid type for '{param}': expected a string, but got {type(value).__name__}.",
            code="invalid_type",
            param=param,
        )
    return value


def _validate_part(part: Any, role: str, index: int) -> dict[str, Any]:
    param = f"item.content[{index}]"
    if not isinstance(part, Mapping):
        raise ProtocolError(
            f"Invalid type for '{param}': expected an object.", code="invalid_type", param=param
        )
    kind = _require_str(part, "type", f"{param}.type")
    allowed = _ASSISTANT_PARTS if role == "assistant" else _USER_PARTS
    if kind not in allowed:
        raise ProtocolError(
            f"Invalid value: '{kind}'. Supported values for {role} messages are: "
            + ", ".join(f"'{v}'" for v in sorted(allowed))
            + ".",
            code="invalid_value",
            param=f"{param}.type",
        )
    out = dict(part)
    if kind in ("input_text", "text", "output_text"):
        _require_str(part, "text", f"{param}.text")
    elif kind == "input_audio":
        audio = part.get("audio")
        if audio is not None:
            if not isinstance(audio, str):
                raise ProtocolError(
                    f"Invalid type for '{param}.audio': expected a base64 string.",
                    code="invalid_type",
                    param=f"{param}.audio",
                )
            try:
                base64.b64decode(audio, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ProtocolError(
                    f"Invalid '{param}.audio': not valid base64 ({exc}).",
                    code="invalid_value",
                    param=f"{param}.audio",
                ) from None
        out.setdefault("transcript", None)
    elif kind == "input_image":
        _require_str(part, "image_url", f"{param}.image_url")
    return out


def validate_client_item(item: Any) -> dict[str, Any]:
    """Validate the ``item`` of ``conversation.item.create`` and complete it.

    Returns the item as the service echoes it: with an ``id`` (a fresh one unless the client
    gave one), ``object: "realtime.item"`` and ``status: "completed"``.

    Raises:
        ProtocolError: The item is malformed (with the offending ``param``).
    """
    if item is None:
        raise ProtocolError(
            "Missing required parameter: 'item'.", code="missing_required_parameter", param="item"
        )
    if not isinstance(item, Mapping):
        raise ProtocolError(
            "Invalid type for 'item': expected an object.", code="invalid_type", param="item"
        )
    kind = _require_str(item, "type", "item.type")
    if kind not in _ITEM_TYPES:
        raise ProtocolError(
            f"Invalid value: '{kind}'. Supported values are: "
            + ", ".join(f"'{t}'" for t in _ITEM_TYPES)
            + ".",
            code="invalid_value",
            param="item.type",
        )
    out: dict[str, Any] = dict(item)
    item_id = item.get("id")
    if item_id is not None and (not isinstance(item_id, str) or not item_id):
        raise ProtocolError(
            "Invalid 'item.id': expected a non-empty string.", code="invalid_value", param="item.id"
        )
    out["id"] = item_id or new_id("item")
    out["object"] = "realtime.item"
    out["status"] = "completed"
    if kind == "message":
        role = _require_str(item, "role", "item.role")
        if role not in ("system", "user", "assistant"):
            raise ProtocolError(
                f"Invalid value: '{role}'. Supported values are: 'system', 'user', 'assistant'.",
                code="invalid_value",
                param="item.role",
            )
        content = item.get("content")
        if not isinstance(content, list) or not content:
            raise ProtocolError(
                "Invalid 'item.content': expected a non-empty array of content parts.",
                code="invalid_value" if isinstance(content, list) else "missing_required_parameter",
                param="item.content",
            )
        out["content"] = [_validate_part(p, role, i) for i, p in enumerate(content)]
    elif kind == "function_call":
        _require_str(item, "name", "item.name")
        _require_str(item, "call_id", "item.call_id")
        out.setdefault("arguments", "")
        if not isinstance(out["arguments"], str):
            raise ProtocolError(
                "Invalid type for 'item.arguments': expected a JSON string.",
                code="invalid_type",
                param="item.arguments",
            )
    elif kind == "function_call_output":
        _require_str(item, "call_id", "item.call_id")
        _require_str(item, "output", "item.output")
    else:  # mcp_approval_response
        _require_str(item, "approval_request_id", "item.approval_request_id")
        if not isinstance(item.get("approve"), bool):
            raise ProtocolError(
                "Missing or invalid 'item.approve': expected a boolean.",
                code="invalid_value",
                param="item.approve",
            )
    return out


def message_text(item: Mapping[str, Any]) -> str:
    """The text a message item carries: its text parts, or its audio transcripts."""
    texts: list[str] = []
    for part in item.get("content", ()):
        kind = part.get("type")
        if kind in ("input_text", "text", "output_text"):
            texts.append(str(part.get("text", "")))
        elif kind in ("input_audio", "audio") and part.get("transcript"):
            texts.append(str(part["transcript"]))
    return " ".join(t for t in texts if t)
