"""The session's side of the socket: ordered sends that never make the caller wait,
raw receives, and the only place where network failures become voiceagent errors.

:meth:`Wire.post` queues a client event and returns at once, so the executor runs a
whole list of actions without awaiting anything; the writer task sends what is posted,
in order. :meth:`Wire.send` (the microphone's appends) goes out after everything posted
before it. No lock is needed for that order (a lock costs two extra turns of the event
loop per audio frame): the SDK writes a frame to the socket synchronously, before its
first await, so taking an event from the queue and writing it is one step. Events are
sent as plain dicts, exactly as the SDK's own methods would write them (the SDK builds
and serializes a model per call otherwise).

The microphone's appends, 50 a second, take a shorter way (:meth:`Wire.send_audio`): the
message is assembled as bytes around the frame's base64 and written as one WebSocket text
frame on the SDK's own socket. Through ``conn.send`` every append would be a dict copied,
a JSON encoder built, its 1,280-character base64 string scanned for characters to escape
(there are none in base64) and the result encoded to UTF-8 again: about a sixth of a
competent raw-SDK client's instructions in a long call (``benchmarks/instructions.py``).
The bytes are the same JSON ``conn.send`` would write. The socket is the SDK connection's
``_connection`` (an ``aiohttp.ClientWebSocketResponse``); if a version of the SDK has
none, or something watches ``conn.send`` (the SDK's ``VoiceLiveInstrumentor``, which makes
a span and counts the audio bytes of each append, or a wrapper set on the connection),
the appends go through ``conn.send`` as before.

Receiving reads the raw message from the same socket and parses the JSON only (the SDK's
``recv_bytes`` would encode each text message to bytes for ``json.loads`` to decode it
again, and format a debug line for it); its end comes out as the SDK's
``ConnectionClosed``, exactly as ``recv_bytes`` raises it. The SDK's event objects are
built later, and only for consumers that asked for them. Without the socket, ``recv_bytes``
is used.
"""

from __future__ import annotations

import base64
import collections
import json
import logging
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import aiohttp
import anyio
from azure.ai.voicelive.aio import ConnectionClosed

from ._aio import event_factory
from ._connect import NETWORK_ERRORS, SDK_EOF_REASON, convert_error
from .errors import ConfigurationError, ConnectionLostError, VoiceAgentError

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from azure.ai.voicelive.aio import VoiceLiveConnection

    from ._connect import ConnectionSettings
    from ._translate import Raw

__all__ = ["RECEIVE_LIMIT", "Uplink", "Wire", "check_echo"]

log = logging.getLogger("voiceagent.session")

RECEIVE_LIMIT: Final = 4 * 1024 * 1024
"""The largest message the connection accepts from the service, in bytes (the SDK's
default, set explicitly on every connection voiceagent opens)."""
_ENVELOPE: Final = 1024
"""Room for what the service wraps around an item it echoes (ids, type, status)."""
_BACKLOG: Final = 10_000
"""Posted events not yet sent: beyond this the service has stopped reading."""
_APPEND_HEAD: Final = b'{"type": "input_audio_buffer.append", "audio": "'
_APPEND_TAIL: Final = b'"}'
"""An append's JSON around its base64 (which never needs escaping), as ``json.dumps``
writes it."""
_Outgoing: TypeAlias = "dict[str, Any] | bytes"
"""A client event to send: a dict for the SDK's ``send``, or an append already encoded
(only made when there is a socket to write it on)."""


def check_echo(item: dict[str, Any], what: str) -> None:
    """Refuse an item the service would echo back in a message too large to receive.

    The service answers every ``conversation.item.create`` with ``conversation.item.created``
    holding the whole item; a message over :data:`RECEIVE_LIMIT` ends the connection.

    Raises:
        ConfigurationError: The item is too large; the message says how large and why.
    """
    size = len(json.dumps(item)) + _ENVELOPE
    if size > RECEIVE_LIMIT:
        raise ConfigurationError(
            f"{what} is too large to send: {size / 1_048_576:.1f} MiB once encoded, and Voice "
            f"Live echoes every conversation item back in one message, which the connection "
            f"receives only up to {RECEIVE_LIMIT // 1_048_576} MiB"
        )


class Wire:
    """One open connection, for one session.

    Args:
        connection: The SDK connection.
        settings: Its settings (for error messages without secrets).
    """

    def __init__(self, connection: VoiceLiveConnection, settings: ConnectionSettings) -> None:
        self._connection = connection
        self._settings = settings
        socket = getattr(connection, "_connection", None)
        self._socket = socket if isinstance(socket, aiohttp.ClientWebSocketResponse) else None
        # Appends skip conn.send only when nothing watches it: the SDK's own
        # VoiceLiveInstrumentor (a span and the audio byte count per append) or a wrapper
        # set on the connection get every append, as they would without voiceagent.
        self._append_socket = None if _send_watched(connection) else self._socket
        # Events posted and not yet sent: dicts, and appends already encoded (bytes).
        self._posted: collections.deque[_Outgoing] = collections.deque()
        self._wake: anyio.Event | None = None
        self.expires_at: float | None = None
        """When the service ends this connection's session (Unix seconds), if it said."""

    # -- sending -----------------------------------------------------------------------

    def post(self, event: dict[str, Any]) -> None:
        """Queue ``event`` for sending, after everything queued before it. Never blocks.

        Raises:
            ConnectionLostError: Events have piled up unsent: the service stopped reading.
        """
        if len(self._posted) >= _BACKLOG:
            raise self._backlog_error()
        self._posted.append(event)
        if self._wake is not None:
            self._wake.set()

    def send(self, event: dict[str, Any]) -> Coroutine[Any, Any, None]:
        """Send ``event`` now, after everything posted before it: ``await wire.send(event)``.

        Not itself a coroutine function: it returns the coroutine that sends, so that the
        microphone's 50 frames a second go through one coroutine less.

        Raises:
            ConnectionLostError: The connection failed, or events have piled up unsent
                (when awaited).
        """
        return self._submit(event)

    def send_audio(self, frame: bytes) -> Coroutine[Any, Any, None]:
        """Send ``frame`` (audio in the session's input format) as an
        ``input_audio_buffer.append``, after everything posted before it: ``await
        wire.send_audio(frame)``. Not itself a coroutine function, as :meth:`send`.

        Raises:
            ConnectionLostError: The connection failed, or events have piled up unsent
                (when awaited).
        """
        if self._append_socket is None:
            return self._submit(
                {"type": "input_audio_buffer.append", "audio": base64.b64encode(frame).decode()}
            )
        return self._submit(_APPEND_HEAD + base64.b64encode(frame) + _APPEND_TAIL)

    def _submit(self, event: _Outgoing) -> Coroutine[Any, Any, None]:
        if self._posted:
            if len(self._posted) >= _BACKLOG:
                return self._raise(self._backlog_error())
            self._posted.append(event)  # after them, in order: the flush sends it too
            return self._flush()
        return self._send(event)

    async def flush(self) -> None:
        """Wait until everything posted so far has been sent."""
        await self._flush()

    async def run(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        """The writer: send what is posted, in order, until cancelled."""
        new_event = event_factory()
        task_status.started()
        while True:
            if not self._posted:
                self._wake = new_event()
                await self._wake.wait()
            await self._flush()

    async def _flush(self) -> None:
        # No lock: an event is taken from the queue and written to the socket in one step
        # (the SDK writes the frame before its first await), so however many tasks flush at
        # once, events reach the socket in the order they were posted.
        while self._posted:
            await self._send(self._posted.popleft())

    def _backlog_error(self) -> ConnectionLostError:
        return ConnectionLostError(
            f"the connection to {self._settings.endpoint} stopped taking events "
            f"({_BACKLOG} are waiting to be sent)"
        )

    @staticmethod
    async def _raise(error: VoiceAgentError) -> None:
        raise error

    async def _send(self, event: _Outgoing) -> None:
        error: VoiceAgentError | None = None
        try:
            if isinstance(event, bytes):  # an encoded append: one text frame on the socket
                assert self._append_socket is not None
                await self._append_socket.send_frame(event, aiohttp.WSMsgType.TEXT)
            else:
                await self._connection.send(event)
        except NETWORK_ERRORS as exc:
            error = convert_error(exc, self._settings, opening=False)
            if error is None:
                raise
        if error is not None:
            raise error  # outside the except clause: no chain back to the SDK's exception

    # -- receiving ---------------------------------------------------------------------

    async def recv(self) -> Raw:
        """The next event the service sent, as its JSON object.

        Raises:
            ConnectionLostError: The connection closed or failed.
        """
        socket = self._socket
        while True:
            error: VoiceAgentError | None = None
            try:
                frame: str | bytes
                if socket is None:
                    frame = await self._connection.recv_bytes()
                else:
                    message = await socket.receive()
                    frame = message.data if message.type in _DATA else _ended(socket, message)
                if not frame:
                    raise ConnectionClosed(1006, "empty frame")
            except NETWORK_ERRORS as exc:
                error = convert_error(exc, self._settings, opening=False)
                if error is None:
                    raise
            if error is not None:
                raise error
            try:
                raw = json.loads(frame)
            except ValueError as exc:
                log.warning("ignoring an unreadable message from the service: %s", exc)
                continue
            if isinstance(raw, dict) and isinstance(raw.get("type"), str):
                return raw
            log.warning("ignoring a message from the service without a type")


_DATA: Final = frozenset({aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY})


def _send_watched(connection: VoiceLiveConnection) -> bool:
    """Whether something wraps the SDK connection's ``send``: the SDK's
    ``VoiceLiveInstrumentor`` (its wrappers keep the original as ``_original``), or a
    wrapper set on this connection object itself."""
    return "send" in getattr(connection, "__dict__", {}) or hasattr(
        getattr(type(connection), "send", None), "_original"
    )


def _ended(socket: aiohttp.ClientWebSocketResponse, message: aiohttp.WSMessage) -> bytes:
    """What the SDK's ``recv_bytes`` raises for a message that is not data, read straight
    from its socket: the text is not encoded to bytes and decoded again, and no debug line
    is formatted for each of the 50 audio deltas a second."""
    kind = message.type
    if kind is aiohttp.WSMsgType.CLOSE:
        raise ConnectionClosed(socket.close_code or 1000, "")
    if kind is aiohttp.WSMsgType.ERROR:
        raise ConnectionClosed(1006, str(socket.exception()))
    if kind is aiohttp.WSMsgType.CLOSED:
        raise ConnectionClosed(1000, SDK_EOF_REASON)
    log.debug("unexpected WebSocket message type %s", kind)
    return b""  # taken as a closed connection, as the SDK's empty frame is


class Uplink:
    """The session's way to the service across connections.

    It holds the current :class:`Wire` (none while the session reconnects) and the user's
    audio the service has not committed yet, up to ``buffer_bytes`` (the newest kept): a
    new connection gets that audio again, so a turn cut by a drop is heard whole, and what
    the user says during an outage is not lost. While detached, posted events go nowhere:
    the session rebuilds the conversation on the next connection from its history.

    While connected and nobody is speaking, it keeps less (``idle_bytes``): with the
    service's VAD, audio from before a turn can matter only back to the turn's prefix
    padding, and a turn that has begun is known from ``speech_started``
    (:meth:`speech_started`) until its commit. Holding 5 s of silence per session instead
    costs the whole process's memory traffic: at 30 sessions in a process, 7 MB of frames
    cycled through the allocator and the caches, 4% of a long call's CPU.

    Args:
        buffer_bytes: The most uncommitted audio kept, in bytes of the wire format.
        idle_bytes: The most kept while connected and no turn has begun (None: as much as
            ``buffer_bytes``, for manual turns, where every uncommitted byte is the turn).
    """

    def __init__(self, buffer_bytes: int, idle_bytes: int | None = None) -> None:
        self.wire: Wire | None = None
        self._limit = buffer_bytes
        self._idle_limit = buffer_bytes if idle_bytes is None else min(idle_bytes, buffer_bytes)
        self._speaking = False
        self._audio: collections.deque[bytes] = collections.deque()
        self._audio_bytes = 0
        self._dropped_while_away = 0
        self._connected: anyio.Event | None = None

    def attach(self, wire: Wire) -> None:
        """Send through ``wire`` from now on."""
        self.wire = wire
        if self._dropped_while_away:
            log.warning(
                "the reconnection took longer than the audio buffer (reconnect.buffer_ms): "
                "%d bytes of the user's audio were dropped",
                self._dropped_while_away,
            )
            self._dropped_while_away = 0
        if self._connected is not None:
            self._connected.set()
            self._connected = None

    def detach(self) -> None:
        """No connection for now: posts go nowhere, audio is only kept."""
        self.wire = None

    async def wait_connected(self) -> None:
        """Return once a connection is attached."""
        while self.wire is None:
            if self._connected is None:
                self._connected = anyio.Event()
            await self._connected.wait()

    def post(self, event: dict[str, Any]) -> None:
        """Queue ``event`` on the current connection (dropped while there is none)."""
        if self.wire is not None:
            self.wire.post(event)
        else:
            log.debug("not connected: %s not sent", event.get("type"))

    def send_audio(self, frame: bytes) -> Coroutine[Any, Any, None] | None:
        """Keep ``frame`` for a next connection, and return the coroutine that sends it on
        the current one (None while there is none): ``await`` it, and take its
        :class:`~voiceagent.errors.ConnectionLostError` as the link's loops do (they notice
        the drop themselves).

        Not a coroutine function itself: this is the microphone's path, 50 frames a second,
        and the await goes straight to the wire's send.
        """
        self._audio.append(frame)
        self._audio_bytes += len(frame)
        wire = self.wire
        limit = self._limit if wire is None or self._speaking else self._idle_limit
        while self._audio_bytes > limit and self._audio:
            dropped = self._audio.popleft()
            self._audio_bytes -= len(dropped)
            if wire is None:
                self._dropped_while_away += len(dropped)
        if wire is None:
            return None
        return wire.send_audio(frame)

    def speech_started(self) -> None:
        """The service heard a turn begin: keep up to ``buffer_bytes`` until its commit."""
        self._speaking = True

    def committed(self) -> None:
        """The service committed the input audio: nothing kept needs sending again."""
        self._audio.clear()
        self._audio_bytes = 0
        self._speaking = False

    def resend_events(self) -> list[dict[str, Any]]:
        """The kept audio, as ``input_audio_buffer.append`` events for a new connection."""
        return [
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(frame).decode()}
            for frame in self._audio
        ]
