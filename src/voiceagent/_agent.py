"""``Agent``: the definition of a voice agent (options, tools, handlers), free of any
connection or per-call state, so one instance serves any number of sessions."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, overload

import attrs

from . import _turns as t
from ._history import Message
from ._options import SessionOptions
from ._router import EventRouter, marked_handlers
from ._tools import ToolMethod, ToolRegistry, ToolSpec, collect_tools
from .errors import ConfigurationError

if TYPE_CHECKING:
    from azure.core.credentials import AzureKeyCredential
    from azure.core.credentials_async import AsyncTokenCredential

    from ._history import SessionResult
    from ._session import AgentSession
    from .audio import AudioSink, AudioSource

__all__ = ["Agent"]

F = TypeVar("F", bound=Callable[..., Any])
E = TypeVar("E")
R = TypeVar("R", bound="Awaitable[None] | None")

_OPTION_NAMES: frozenset[str] = frozenset(attrs.fields_dict(SessionOptions))
_AGENT_SETTINGS = ("greeting", "fatal_handler_errors", "confirm_interruption_ms", "min_turn_ms")


class Agent:
    """A voice agent definition: instructions, voice, session options, tools and handlers.

    Declare options as class attributes of a subclass, or pass them to the constructor
    (constructor arguments win)::

        class Concierge(Agent):
            instructions = "You are a hotel concierge."
            voice = "en-US-Ava:DragonHDLatestNeural"

            @tool
            async def book_table(self, restaurant: str, people: int) -> str:
                \"\"\"Book a table.\"\"\"
                ...

    Every :class:`~voiceagent.SessionOptions` field is accepted, plus ``greeting`` (a
    text the agent speaks when a session starts) and ``fatal_handler_errors`` (end the
    session when an event handler raises, instead of logging and going on). Invalid
    values raise :class:`~voiceagent.errors.ConfigurationError` when the class is
    defined or the instance created, never later on the wire.

    An ``Agent`` holds no connection: :meth:`run` and :meth:`session` create an
    :class:`~voiceagent.AgentSession` per conversation.
    """

    greeting: ClassVar[str | None] = None
    fatal_handler_errors: ClassVar[bool] = False
    confirm_interruption_ms: ClassVar[int | None] = None
    min_turn_ms: ClassVar[int] = 400

    _class_options: ClassVar[dict[str, Any]] = {}
    _class_tools: ClassVar[dict[str, ToolMethod]] = {}
    _class_handlers: ClassVar[list[tuple[str, type | str]]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if name in _OPTION_NAMES and not _is_descriptor(value):
                    declared[name] = value
        try:
            SessionOptions(**declared)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{cls.__qualname__}: {exc}") from None
        cls._class_options = declared
        # Schemas are built now, so a bad tool fails when the class is defined.
        cls._class_tools = collect_tools(cls)
        cls._class_handlers = marked_handlers(cls)

    def __init__(self, **options: Any) -> None:
        """Create an agent.

        Args:
            **options: Any :class:`~voiceagent.SessionOptions` field, ``greeting`` or
                ``fatal_handler_errors``; these override the class attributes.

        Raises:
            ConfigurationError: An unknown option name or an invalid value.
        """
        cls = type(self)
        unknown = set(options) - _OPTION_NAMES - set(_AGENT_SETTINGS)
        if unknown:
            allowed = ", ".join(sorted(_OPTION_NAMES | set(_AGENT_SETTINGS)))
            raise ConfigurationError(
                f"{cls.__qualname__}() got unknown option(s) {', '.join(sorted(unknown))}; "
                f"allowed: {allowed}"
            )
        session_options = {k: v for k, v in options.items() if k in _OPTION_NAMES}
        try:
            self.options: SessionOptions = SessionOptions(
                **{**cls._class_options, **session_options}
            )
        except ConfigurationError as exc:
            raise ConfigurationError(f"{cls.__qualname__}: {exc}") from None
        greeting = options.get("greeting", cls.greeting)
        if greeting is not None and (not isinstance(greeting, str) or not greeting.strip()):
            raise ConfigurationError(
                f"{cls.__qualname__}: greeting must be a non-empty str or None, got {greeting!r}"
            )
        self.greeting_text: str | None = greeting
        self.handler_errors_fatal: bool = bool(
            options.get("fatal_handler_errors", cls.fatal_handler_errors)
        )
        window = options.get("confirm_interruption_ms", cls.confirm_interruption_ms)
        min_turn = options.get("min_turn_ms", cls.min_turn_ms)
        try:
            # Validated now (not when a session starts) by building the machine's config.
            t.TurnConfig(
                server_detects_turns=True,
                server_cancels_on_speech=window is None,
                server_truncates=False,
                server_creates_response=window is None,
                confirm_window_ms=window,
                min_turn_ms=min_turn,
            )
        except ConfigurationError as exc:
            raise ConfigurationError(f"{cls.__qualname__}: {exc}") from None
        self.interruption_window_ms: int | None = window
        """The confirmation window in force (``confirm_interruption_ms``), or None."""
        self.shortest_turn_ms: int = min_turn
        """The shortest speech that counts as a turn within the window (``min_turn_ms``)."""
        self._tools = ToolRegistry()
        for method in cls._class_tools.values():
            self._tools.add(method.bind(self))
        self._router = EventRouter()
        for attr, key in cls._class_handlers:
            self._router.add(key, getattr(self, attr))

    # -- registration -------------------------------------------------------------

    @overload
    def tool(self, fn: F, /) -> F: ...
    @overload
    def tool(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = ...,
        cancel_on_interrupt: bool = ...,
    ) -> Callable[[F], F]: ...
    def tool(self, fn: F | None = None, /, **options: Any) -> F | Callable[[F], F]:
        """Register a plain function as a tool of this agent: ``@agent.tool`` or
        ``@agent.tool(name=..., description=..., timeout=..., cancel_on_interrupt=...)``.

        Args:
            fn: The function (when used bare).
            **options: ``name``, ``description``, ``timeout`` and ``cancel_on_interrupt``,
                as for :func:`~voiceagent.tool`.

        Returns:
            The function, unchanged.

        Raises:
            ToolDefinitionError: The function cannot be a tool (see :func:`voiceagent.tool`),
                or its name is taken.
        """

        def register(function: F) -> F:
            self._tools.add(ToolSpec.from_function(function, **options))
            return function

        return register(fn) if fn is not None else register

    @overload
    def on(self, event: type[E]) -> Callable[[Callable[[E], R]], Callable[[E], R]]: ...
    @overload
    def on(self, event: str) -> Callable[[Callable[[Any], R]], Callable[[Any], R]]: ...
    def on(self, event: type[Any] | str) -> Callable[[Callable[[Any], R]], Callable[[Any], R]]:
        """Register a handler: ``@agent.on(UserTranscript)`` or ``@agent.on("response.done")``.

        Handlers may be sync or async; several per event run in registration order. For a
        class, the handler's parameter is typed as that class.

        Args:
            event: A voiceagent event class (:mod:`voiceagent.events`), an SDK server event
                class, or a wire event type string.

        Returns:
            A decorator that registers the handler and returns it unchanged.
        """
        return self._router.on(event)

    @property
    def tools(self) -> ToolRegistry:
        """The agent's tools (class tools, then those added with :meth:`tool`)."""
        return self._tools

    @property
    def router(self) -> EventRouter:
        """The agent's event handlers."""
        return self._router

    # -- running -------------------------------------------------------------------

    def session(
        self,
        *,
        source: AudioSource | None = None,
        sink: AudioSink | None = None,
        endpoint: str | None = None,
        credential: AzureKeyCredential | AsyncTokenCredential | None = None,
        api_key: str | None = None,
        scope: str | None = None,
        history: Iterable[Message | tuple[str, str]] = (),
        **options: Any,
    ) -> AgentSession:
        """One conversation with this agent, as an async context manager.

        Args:
            source: The user's audio; None for a session driven by text or by the app.
            sink: Where the agent's audio goes; None to drop it.
            endpoint: The Voice Live endpoint; defaults to ``AZURE_VOICELIVE_ENDPOINT``, then
                ``AZURE_COGNITIVE_SERVICES_ENDPOINT``.
            credential: An ``AzureKeyCredential`` or async token credential.
            api_key: An API key (used when ``credential`` is None); defaults to
                ``AZURE_VOICELIVE_API_KEY``, then ``AZURE_COGNITIVE_SERVICES_KEY``; without
                any, ``DefaultAzureCredential`` is used.
            scope: The token scope for Entra ID credentials.
            history: Messages to add to the conversation before any audio is sent (a
                resumed call, a CRM summary): :class:`~voiceagent.Message` objects or
                ``(role, text)`` pairs with role ``"user"``, ``"assistant"`` or ``"system"``.
            **options: Session option overrides for this session only.

        Returns:
            The session; use ``async with agent.session(...) as session:``.

        Raises:
            ConfigurationError: An invalid option override.
        """
        from ._connect import DEFAULT_SCOPE
        from ._session import AgentSession

        try:
            session_options = self.options.evolve(**options) if options else self.options
        except ConfigurationError as exc:
            raise ConfigurationError(f"{type(self).__qualname__}.session(): {exc}") from None
        except TypeError as exc:
            raise ConfigurationError(f"{type(self).__qualname__}.session(): {exc}") from None
        return AgentSession(
            self,
            options=session_options,
            source=source,
            sink=sink,
            endpoint=endpoint,
            credential=credential,
            api_key=api_key,
            scope=scope or DEFAULT_SCOPE,
            history=_history_entries(history),
        )

    async def run(
        self,
        *,
        source: AudioSource | None = None,
        sink: AudioSink | None = None,
        endpoint: str | None = None,
        credential: AzureKeyCredential | AsyncTokenCredential | None = None,
        api_key: str | None = None,
        scope: str | None = None,
        history: Iterable[Message | tuple[str, str]] = (),
        **options: Any,
    ) -> SessionResult:
        """Run one conversation to its end and return its history and why it ended.

        The conversation ends when the source is exhausted and the agent has finished its
        last answer, when ``session.end()`` is called (from a tool or handler too), or on
        cancellation. The arguments are those of :meth:`session`.

        Returns:
            The session's result.
        """
        async with self.session(
            source=source,
            sink=sink,
            endpoint=endpoint,
            credential=credential,
            api_key=api_key,
            scope=scope,
            history=history,
            **options,
        ) as session:
            # The session cancels this block when it ends on its own; the result stays.
            await session.wait()
        return session.result()

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__} tools={list(self._tools.names())}>"


_ROLES: dict[str, Literal["user", "assistant", "system"]] = {
    "user": "user",
    "assistant": "assistant",
    "system": "system",
}


def _history_entries(history: Iterable[Message | tuple[str, str]]) -> tuple[Message, ...]:
    entries: list[Message] = []
    for entry in history:
        if isinstance(entry, Message):
            entries.append(entry)
            continue
        if not (isinstance(entry, tuple) and len(entry) == 2):
            raise ConfigurationError(
                f"history entries are Message objects or (role, text) pairs, not {entry!r}"
            )
        role, text = entry
        if role not in _ROLES or not isinstance(text, str):
            raise ConfigurationError(
                f"history entry {entry!r}: role must be 'user', 'assistant' or 'system' "
                "and text a str"
            )
        entries.append(Message(role=_ROLES[role], text=text))
    return tuple(entries)


def _is_descriptor(value: object) -> bool:
    return isinstance(value, property | classmethod | staticmethod) or inspect.isfunction(value)
