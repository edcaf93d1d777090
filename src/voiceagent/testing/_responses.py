"""One model response of the emulator: its event lifecycle, pacing and cancellation
(protocol reference §4.2, §4.3, §4.5, §4.6, §4.10, §5.3)."""

from __future__ import annotations

import base64
import math
from typing import TYPE_CHECKING, Any, Literal, Protocol

import anyio
import anyio.lowlevel
import attrs

from ._conversation import StoredItem
from ._protocol import new_id
from ._script import Call, Fail, Mcp, Output, Say
from ._synth import synthesize

if TYPE_CHECKING:
    from ._config import WireFormat
    from ._conversation import Conversation
    from ._synth import Speech

__all__ = ["Response", "ResponseHost"]

Status = Literal["in_progress", "completed", "cancelled", "incomplete", "failed"]


class _Stopped(Exception):
    """The response was cancelled: its stream stops at the next send or pause."""


class ResponseHost(Protocol):
    """What a response needs from its connection."""

    conversation: Conversation
    conversation_id: str

    @property
    def speed(self) -> float | None:
        """Playback speed factor; None streams without pacing."""

    @property
    def audio_chunk_ms(self) -> int:
        """Duration of audio in one ``response.audio.delta``."""

    @property
    def response_delay(self) -> float:
        """Seconds to wait before the first output of a response."""

    def stall(self, audio_offset_ms: float) -> float:
        """Seconds to stall before sending audio at this offset (fault injection)."""

    async def emit(self, event: dict[str, Any]) -> None:
        """Send one server event."""

    def audio_started(self, stored: StoredItem, at: float) -> None:
        """Note that the first audio of an assistant item went out at time ``at``."""

    def output_emitted(self, output: Output) -> None:
        """Note that a planned output went out whole (the script moves past it)."""

    def approval_requested(self, request_id: str, mcp: Mcp) -> None:
        """Note an ``mcp_approval_request`` item, before the client can see it."""


@attrs.define(eq=False)
class _OpenMessage:
    item: dict[str, Any]
    stored: StoredItem | None
    output_index: int
    audio: bool
    text: str
    speech: Speech | None = None
    sent_text: str = ""
    audio_ms: float = 0.0


@attrs.define(eq=False)
class Response:
    """A response in flight. :meth:`run` streams it; :meth:`cancel` stops it."""

    host: ResponseHost
    config: dict[str, Any]
    plan: list[Output]
    output_format: WireFormat
    timestamps: bool = False
    visemes: bool = False
    blendshapes: bool = False
    avatar: bool = False
    input_tokens: int = 0
    id: str = attrs.field(factory=lambda: new_id("resp"))
    status: Status = "in_progress"
    outputs: list[dict[str, Any]] = attrs.Factory(list)
    _open: _OpenMessage | None = None
    _scope: anyio.CancelScope = attrs.Factory(anyio.CancelScope)
    _finished: anyio.Event = attrs.Factory(anyio.Event)
    _cancel_reason: str | None = None
    _pausing: bool = False
    _failure: dict[str, Any] | None = None
    _output_chars: int = 0
    _output_audio_ms: float = 0.0
    mcp_calls: list[tuple[int, dict[str, Any], StoredItem | None, Mcp]] = attrs.Factory(list)
    """MCP calls this response made, for the service to run once it is done:
    (output index, item, stored item, planned call)."""
    ended: anyio.Event = attrs.Factory(anyio.Event)
    """Set once ``response.done`` went out."""

    @property
    def active(self) -> bool:
        """Whether the response has not finished yet."""
        return self.status == "in_progress"

    def _envelope(self, status: Status, details: dict[str, Any] | None) -> dict[str, Any]:
        cfg = self.config
        return {
            "id": self.id,
            "object": "realtime.response",
            "status": status,
            "status_details": details,
            "output": [dict(item) for item in self.outputs],
            "usage": self._usage() if status != "in_progress" else None,
            "conversation_id": self.host.conversation_id if cfg.get("commit", True) else None,
            "modalities": cfg.get("modalities"),
            "voice": cfg.get("voice"),
            "output_audio_format": cfg.get("output_audio_format"),
            "temperature": cfg.get("temperature"),
            "max_output_tokens": cfg.get("max_output_tokens"),
            "metadata": cfg.get("metadata"),
        }

    def _usage(self) -> dict[str, Any]:
        text_out = math.ceil(self._output_chars / 4)
        audio_out = math.ceil(self._output_audio_ms / 1000 * 20)
        return {
            "total_tokens": self.input_tokens + text_out + audio_out,
            "input_tokens": self.input_tokens,
            "output_tokens": text_out + audio_out,
            "input_token_details": {
                "cached_tokens": 0,
                "text_tokens": self.input_tokens,
                "audio_tokens": 0,
                "image_tokens": 0,
                "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
            },
            "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
        }

    async def _emit(self, event: dict[str, Any]) -> None:
        """Send an event of the stream; stop the stream instead once it was cancelled.

        Sends are never interrupted: cancellation takes effect only here and in
        :meth:`_pause`, so a frame is either sent and accounted for or not sent, and
        :meth:`cancel` closes exactly what was opened. (Shielding every send in a cancel
        scope would do the same at several times the cost on the hot path.)
        """
        if self._cancel_reason is not None:
            raise _Stopped
        await self.host.emit(event)

    async def _pause(self, delay: float = 0.0) -> None:
        """Wait ``delay`` seconds (or just yield); the one place a cancel interrupts."""
        if self._cancel_reason is not None:
            raise _Stopped
        self._pausing = True
        try:
            if delay > 0:
                await anyio.sleep(delay)
            else:
                await anyio.lowlevel.checkpoint()
        finally:
            self._pausing = False
        if self._cancel_reason is not None:
            raise _Stopped

    async def run(self) -> None:
        """Stream the response from ``response.created`` to ``response.done``."""
        await self.host.emit(
            {"type": "response.created", "response": self._envelope("in_progress", None)}
        )
        try:
            with self._scope:
                await self._pause(self.host.response_delay)
                for output_index, output in enumerate(self.plan):
                    if isinstance(output, Say):
                        await self._message(output_index, output.text)
                    elif isinstance(output, Call):
                        await self._call(output_index, output)
                    elif isinstance(output, Mcp):
                        await self._mcp(output_index, output)
                    elif isinstance(output, Fail):
                        self._failure = {
                            "type": output.failure.type,
                            "code": output.failure.code,
                            "message": output.failure.message,
                        }
                        self.host.output_emitted(output)
                        break
        except _Stopped:
            pass
        finally:
            self._finished.set()
        if self._cancel_reason is None:
            if self._failure is not None:
                await self._finish("failed", {"type": "failed", "error": self._failure})
            else:
                await self._finish("completed", None)

    async def cancel(self, reason: Literal["client_cancelled", "turn_detected"]) -> bool:
        """Stop the response: close what is open, then send ``response.done`` (cancelled).

        Returns:
            False when the response had already finished.
        """
        if not self.active or self._cancel_reason is not None:
            return False
        self._cancel_reason = reason
        if self._pausing:
            self._scope.cancel()
        await self._finished.wait()
        if self._open is not None:
            await self._close_message(self._open, "incomplete")
        await self._finish("cancelled", {"type": "cancelled", "reason": reason})
        return True

    async def _finish(self, status: Status, details: dict[str, Any] | None) -> None:
        self.status = status
        try:
            await self.host.emit(
                {"type": "response.done", "response": self._envelope(status, details)}
            )
        finally:
            self.ended.set()

    def _ids(self, output_index: int, item_id: str, part: bool = True) -> dict[str, Any]:
        ids: dict[str, Any] = {
            "response_id": self.id,
            "item_id": item_id,
            "output_index": output_index,
        }
        if part:
            ids["content_index"] = 0
        return ids

    async def _add_item(self, output_index: int, item: dict[str, Any]) -> StoredItem | None:
        await self._emit(
            {
                "type": "response.output_item.added",
                "response_id": self.id,
                "output_index": output_index,
                "item": dict(item),
            }
        )
        if not self.config.get("commit", True):
            return None
        stored = StoredItem(dict(item))
        previous = self.host.conversation.insert(stored)
        await self._emit(
            {"type": "conversation.item.created", "previous_item_id": previous, "item": dict(item)}
        )
        return stored

    async def _message(self, output_index: int, text: str) -> None:
        audio = "audio" in (self.config.get("modalities") or ())
        item: dict[str, Any] = {
            "id": new_id("item"),
            "object": "realtime.item",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        stored = await self._add_item(output_index, item)
        part = {"type": "audio", "transcript": ""} if audio else {"type": "text", "text": ""}
        if stored is not None:
            stored.item["content"] = [dict(part)]
        ids = self._ids(output_index, item["id"])
        await self._emit({"type": "response.content_part.added", **ids, "part": part})
        message = _OpenMessage(item, stored, output_index, audio, text)
        self._open = message
        if audio:
            await self._stream_audio(message, ids)
        else:
            for delta in _text_deltas(text):
                await self._pause()
                await self._emit({"type": "response.text.delta", **ids, "delta": delta})
                message.sent_text += delta
        await self._close_message(message, "completed")

    async def _stream_audio(self, message: _OpenMessage, ids: dict[str, Any]) -> None:
        fmt = self.output_format
        speech = synthesize(message.text, encoding=fmt.encoding, sample_rate=fmt.sample_rate)
        message.speech = speech
        if message.stored is not None:
            message.stored.speech = speech
        deltas = _word_deltas(message.text, [w.text for w in speech.words])
        words = list(zip(speech.words, deltas, strict=True))
        visemes = list(speech.visemes()) if self.visemes else []
        frames = list(speech.blendshape_frames()) if self.blendshapes else []
        frame_ms = 1000 / 60
        next_word = next_viseme = next_frame = 0
        speed = self.host.speed
        start = anyio.current_time()
        stalled = 0.0
        if self.avatar:
            await self._emit({"type": "session.avatar.switch_to_speaking", "turn_id": self.id})
        for offset, chunk in speech.chunks(self.host.audio_chunk_ms):
            stall = self.host.stall(offset)
            if stall > 0:
                await self._pause(stall)
                stalled += stall
            if speed is not None:
                await self._pause(start + stalled + offset / 1000 / speed - anyio.current_time())
            else:
                await self._pause()
            end = offset + fmt.duration_ms(len(chunk))
            while next_word < len(words) and words[next_word][0].offset_ms < end:
                word, delta = words[next_word]
                await self._emit({"type": "response.audio_transcript.delta", **ids, "delta": delta})
                message.sent_text += delta
                if self.timestamps:
                    await self._emit(
                        {
                            "type": "response.audio_timestamp.delta",
                            **ids,
                            "audio_offset_ms": word.offset_ms,
                            "audio_duration_ms": word.duration_ms,
                            "text": word.text,
                            "timestamp_type": "word",
                        }
                    )
                next_word += 1
            while next_viseme < len(visemes) and visemes[next_viseme][0] < end:
                at, viseme_id = visemes[next_viseme]
                await self._emit(
                    {
                        "type": "response.animation_viseme.delta",
                        **ids,
                        "audio_offset_ms": at,
                        "viseme_id": viseme_id,
                    }
                )
                next_viseme += 1
            first_frame = next_frame
            while next_frame < len(frames) and next_frame * frame_ms < end:
                next_frame += 1
            if next_frame > first_frame:
                await self._emit(
                    {
                        "type": "response.animation_blendshapes.delta",
                        **ids,
                        "frame_index": first_frame,
                        "frames": [list(f) for f in frames[first_frame:next_frame]],
                    }
                )
            await self._emit(
                {
                    "type": "response.audio.delta",
                    **ids,
                    "delta": base64.b64encode(chunk).decode("ascii"),
                }
            )
            if message.audio_ms == 0 and message.stored is not None:
                self.host.audio_started(message.stored, anyio.current_time())
            message.audio_ms = end
            self._output_audio_ms += fmt.duration_ms(len(chunk))
            if message.stored is not None:
                message.stored.audio_ms = end
        for _word, delta in words[next_word:]:
            await self._emit({"type": "response.audio_transcript.delta", **ids, "delta": delta})
            message.sent_text += delta

    async def _close_message(self, message: _OpenMessage, status: Status) -> None:
        self._open = None
        item_id = message.item["id"]
        ids = self._ids(message.output_index, item_id)
        self._output_chars += len(message.sent_text)
        if message.audio:
            part: dict[str, Any] = {"type": "audio", "transcript": message.sent_text}
            await self.host.emit({"type": "response.audio.done", **ids})
            await self.host.emit(
                {"type": "response.audio_transcript.done", **ids, "transcript": message.sent_text}
            )
            if self.timestamps:
                await self.host.emit({"type": "response.audio_timestamp.done", **ids})
            if self.visemes:
                await self.host.emit({"type": "response.animation_viseme.done", **ids})
            if self.blendshapes:
                await self.host.emit(
                    {
                        "type": "response.animation_blendshapes.done",
                        **self._ids(message.output_index, item_id, part=False),
                    }
                )
            if self.avatar:
                await self.host.emit({"type": "session.avatar.switch_to_idle", "turn_id": self.id})
        else:
            part = {"type": "text", "text": message.sent_text}
            await self.host.emit({"type": "response.text.done", **ids, "text": message.sent_text})
        await self.host.emit({"type": "response.content_part.done", **ids, "part": part})
        item = {**message.item, "status": status, "content": [part]}
        if message.stored is not None:
            message.stored.item.update(status=status, content=[dict(part)])
        self.outputs.append(item)
        await self.host.emit(
            {
                "type": "response.output_item.done",
                "response_id": self.id,
                "output_index": message.output_index,
                "item": item,
            }
        )

    async def _call(self, output_index: int, call: Call) -> None:
        item: dict[str, Any] = {
            "id": new_id("item"),
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": call.name,
            "call_id": call.call_id,
            "arguments": "",
        }
        stored = await self._add_item(output_index, item)
        ids = {**self._ids(output_index, item["id"], part=False), "call_id": call.call_id}
        for delta in _argument_deltas(call.arguments):
            await self._pause()
            await self._emit(
                {"type": "response.function_call_arguments.delta", **ids, "delta": delta}
            )
        await self._emit(
            {
                "type": "response.function_call_arguments.done",
                **ids,
                "name": call.name,
                "arguments": call.arguments,
            }
        )
        done = {**item, "status": "completed", "arguments": call.arguments}
        if stored is not None:
            stored.item.update(status="completed", arguments=call.arguments)
        self._output_chars += len(call.arguments)
        self.outputs.append(done)
        await self._emit(
            {
                "type": "response.output_item.done",
                "response_id": self.id,
                "output_index": output_index,
                "item": done,
            }
        )
        self.host.output_emitted(call)

    async def _mcp(self, output_index: int, mcp: Mcp) -> None:
        call = mcp.call
        arguments = call.arguments_json()
        if mcp.needs_approval:
            request: dict[str, Any] = {
                "id": new_id("item"),
                "object": "realtime.item",
                "type": "mcp_approval_request",
                "server_label": call.server,
                "name": call.tool,
                "arguments": arguments,
            }
            self.host.approval_requested(request["id"], mcp)
            await self._add_item(output_index, request)
            self.outputs.append(dict(request))
            await self._emit(
                {
                    "type": "response.output_item.done",
                    "response_id": self.id,
                    "output_index": output_index,
                    "item": dict(request),
                }
            )
            self.host.output_emitted(mcp)
            return
        item: dict[str, Any] = {
            "id": new_id("item"),
            "object": "realtime.item",
            "type": "mcp_call",
            "server_label": call.server,
            "name": call.tool,
            "arguments": "",
        }
        if mcp.approval_request_id is not None:
            item["approval_request_id"] = mcp.approval_request_id
        stored = await self._add_item(output_index, item)
        ids = self._ids(output_index, item["id"], part=False)
        for delta in _argument_deltas(arguments):
            await self._pause()
            await self._emit({"type": "response.mcp_call_arguments.delta", **ids, "delta": delta})
        await self._emit(
            {"type": "response.mcp_call_arguments.done", **ids, "arguments": arguments}
        )
        done = {**item, "arguments": arguments}
        if stored is not None:
            stored.item.update(arguments=arguments)
        self._output_chars += len(arguments)
        self.outputs.append(done)
        # Settled (output_emitted) by the connection once the call has run.
        self.mcp_calls.append((output_index, done, stored, mcp))


def _word_deltas(text: str, words: list[str]) -> list[str]:
    """Split ``text`` into one delta a word (with the whitespace after it), so that the
    deltas join back to ``text`` exactly; leading whitespace goes with the first."""
    deltas: list[str] = []
    position = 0
    for i, word in enumerate(words):
        found = text.find(word, position if i else 0)
        end = (found if found >= 0 else position) + len(word)
        nxt = text.find(words[i + 1], end) if i + 1 < len(words) else len(text)
        stop = nxt if nxt >= 0 else len(text)
        deltas.append(text[position:stop] if i else text[:stop])
        position = stop
    if deltas and position < len(text):
        deltas[-1] += text[position:]
    return deltas


def _text_deltas(text: str) -> list[str]:
    return _word_deltas(text, text.split()) or ([text] if text else [])


def _argument_deltas(arguments: str, pieces: int = 3) -> list[str]:
    if not arguments:
        return []
    size = max(1, math.ceil(len(arguments) / pieces))
    return [arguments[i : i + size] for i in range(0, len(arguments), size)]
