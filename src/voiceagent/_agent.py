"""``Agent``: the definition of a voice agent (options, tools, handlers), free of any
connection or per-call state, so one instance serves any number of sessions."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, TypedDict, TypeVar, overload

import attrs

# SessionArgs' annotations are resolved at run time too (typing.get_type_hints), so the
# types it names are imported for real.
from azure.core.credentials import AzureKeyCredential  # noqa: TC002
from azure.core.credentials_async import AsyncTokenCredential  # noqa: TC002

from . import _turns as t
from ._avatar import Animation, Avatar  # noqa: TC001
from ._checks import CompactRepr
from ._fanout import DEFAULT_BUFFER
from ._features import (  # noqa: TC001
    EchoCancellation,
    InputTranscription,
    InterimResponse,
    NoiseReduction,
)
from ._foundry import FOUNDRY_SCOPE, FoundryAgent
from ._history import ROLES, Message
from ._mcp import DEFAULT_APPROVAL_TIMEOUT_S, ApprovalPolicy, McpServer, marked_approvers
from ._options import (
    ServiceDefault,
    SessionOptions,
)
from ._reconnect import ReconnectPolicy
from ._router import EventRouter, Registrar, marked_handlers
from ._telemetry import Telemetry
from ._tools import ToolMethod, ToolRegistry, ToolSpec, collect_tools
from ._turn_detection import TurnDetection  # noqa: TC001
from ._voices import Voice  # noqa: TC001
from .audio import AudioSink, AudioSource  # noqa: TC001
from .errors import ConfigurationError

if TYPE_CHECKING:
    from typing import Unpack

    from ._history import SessionResult
    from ._session import AgentSession

__all__ = ["Agent", "AgentSettings", "SessionArgs"]

F = TypeVar("F", bound=Callable[..., Any])
E = TypeVar("E")


def _optional_int(lo: int) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            raise ConfigurationError(
                f"{attribute.name} must be a whole number >= {lo}, not {value!r}"
            )

    return check


def _whole(lo: int) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    check = _optional_int(lo)

    def required(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            raise ConfigurationError(f"{attribute.name} must be a whole number >= {lo}, not None")
        check(instance, attribute, value)

    return required


def _greeting(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ConfigurationError(f"greeting must be a non-empty str or None, not {value!r}")


def _instance_of(cls: type) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, cls):
            raise ConfigurationError(
                f"{attribute.name} must be a {cls.__name__}(...), not {value!r}"
            )

    return check


def _flag(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{attribute.name} must be True or False, not {value!r}")


@attrs.frozen(kw_only=True, repr=False)
class AgentSettings(CompactRepr):
    """How an agent behaves beyond the service's session options. Each is also a class
    attribute and a constructor argument of :class:`~voiceagent.Agent`, under the same name.

    Attributes:
        greeting: A text the agent speaks as soon as a session starts, or None.
        fatal_handler_errors: End the session when an event handler raises (instead of
            logging the error and going on).
        confirm_interruption_ms: None for immediate barge-in (default). Otherwise speech
            heard while the agent speaks pauses it for up to this long while the session
            decides: speech shorter than ``min_turn_ms`` (a cough, an "mm-hm") resumes
            the agent; longer speech interrupts it.
        min_turn_ms: With ``confirm_interruption_ms``, the shortest speech that counts as
            a turn.
        max_tool_output_chars: The longest tool output sent to the model, in characters.
            A longer one is replaced by an error telling the model so (and logged); the
            application still gets the result in ``ToolCallFinished``.
        event_buffer: How many events wait for the event handlers when they fall behind
            before the oldest are discarded (with a warning); also the default buffer of
            ``session.events()``.
        reconnect: How a session survives a dropped connection and the service's session
            limit (:class:`~voiceagent.ReconnectPolicy`; ``ReconnectPolicy.off()`` ends
            the conversation at the first drop).
        telemetry: What a session records about itself: OpenTelemetry traces and metrics
            (through the API: nowhere until the application configures an SDK) and the
            timeline of ``SessionResult.report()``
            (:class:`~voiceagent.telemetry.Telemetry`; ``Telemetry.off()`` for nothing).
        mcp_default_approval: What an MCP tool call that needs approval gets when no
            approver (:func:`voiceagent.approve`) has an opinion, or its approver timed
            out: False (the default) denies it, True approves it.
    """

    greeting: str | None = attrs.field(default=None, validator=_greeting)
    fatal_handler_errors: bool = attrs.field(default=False, validator=_flag)
    confirm_interruption_ms: int | None = attrs.field(default=None, validator=_optional_int(1))
    min_turn_ms: int = attrs.field(default=400, validator=_whole(0))
    max_tool_output_chars: int = attrs.field(default=100_000, validator=_whole(1))
    event_buffer: int = attrs.field(default=DEFAULT_BUFFER, validator=_whole(1))
    reconnect: ReconnectPolicy = attrs.field(
        factory=ReconnectPolicy,
        validator=_instance_of(ReconnectPolicy),
    )
    telemetry: Telemetry = attrs.field(
        factory=Telemetry,
        validator=_instance_of(Telemetry),
    )
    mcp_default_approval: bool = attrs.field(default=False, validator=_flag)

    def __attrs_post_init__(self) -> None:
        window = self.confirm_interruption_ms
        # Validated now (not when a session starts) by building the machine's config.
        t.TurnConfig(
            server_detects_turns=True,
            server_cancels_on_speech=window is None,
            server_truncates=False,
            server_creates_response=window is None,
            confirm_window_ms=window,
            min_turn_ms=self.min_turn_ms,
        )


_OPTION_NAMES: Final = frozenset(attrs.fields_dict(SessionOptions))
_SETTING_NAMES: Final = frozenset(attrs.fields_dict(AgentSettings))
_KNOWN: Final = _OPTION_NAMES | _SETTING_NAMES


class SessionArgs(TypedDict, total=False):
    """The keyword arguments of :meth:`Agent.session` and :meth:`Agent.run` (one
    definition for both, so that mypy checks every call).

    Besides the ones below, every :class:`~voiceagent.options.SessionOptions` field
    overrides the agent's option for that one session.

    Attributes:
        source: The user's audio; None (default) for a session driven by text or by the app.
        sink: Where the agent's audio goes; None (default) drops it (a
            :class:`~voiceagent.audio.NullSink`).
        endpoint: The Voice Live endpoint; defaults to ``AZURE_VOICELIVE_ENDPOINT``, then
            ``AZURE_COGNITIVE_SERVICES_ENDPOINT``.
        credential: An ``AzureKeyCredential`` or async token credential.
        api_key: An API key (used when ``credential`` is None); defaults to
            ``AZURE_VOICELIVE_API_KEY``, then ``AZURE_COGNITIVE_SERVICES_KEY``; without any,
            ``DefaultAzureCredential`` is used.
        scope: The token scope for Entra ID credentials.
        history: Messages to add to the conversation before any audio is sent (a resumed
            call, a CRM summary): :class:`~voiceagent.Message` objects or ``(role, text)``
            pairs with role ``"user"``, ``"assistant"`` or ``"system"``.
        reconnect: This session's reconnection policy, instead of the agent's.
        telemetry: This session's telemetry settings, instead of the agent's.
    """

    source: AudioSource | None
    sink: AudioSink | None
    endpoint: str | None
    credential: AzureKeyCredential | AsyncTokenCredential | None
    api_key: str | None
    scope: str | None
    history: Iterable[Message | tuple[str, str]]
    reconnect: ReconnectPolicy
    telemetry: Telemetry
    # -- SessionOptions overrides (tests/test_agent_api.py keeps these in step) --
    model: str
    instructions: str | None
    voice: str | Voice | None
    modalities: Sequence[str] | None
    turn_detection: TurnDetection | ServiceDefault | None
    noise_reduction: NoiseReduction | ServiceDefault | None
    echo_cancellation: EchoCancellation | ServiceDefault | None
    input_transcription: InputTranscription | ServiceDefault | None
    temperature: float | None
    max_output_tokens: int | float | Literal["inf"] | None
    tool_choice: str | None
    parallel_tool_calls: bool | None
    input_audio_format: str | None
    input_audio_sampling_rate: int | None
    output_audio_format: str | None
    output_audio_timestamp_types: Sequence[str] | None
    avatar: Avatar | None
    animation: Animation | None
    interim_response: InterimResponse | None
    reasoning_effort: str | None
    include: Sequence[str] | None
    metadata: Mapping[str, str] | None
    mcp_servers: Sequence[McpServer] | None
    foundry_agent: FoundryAgent | None


_SESSION_ONLY: Final = frozenset(
    {
        "source",
        "sink",
        "endpoint",
        "credential",
        "api_key",
        "scope",
        "history",
        "reconnect",
        "telemetry",
    }
)


def _unknown(names: Iterable[str], known: Iterable[str], where: str) -> ConfigurationError:
    known = sorted(known)
    parts = []
    for name in sorted(names):
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.7)
        parts.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
    return ConfigurationError(
        f"{where}: unknown setting(s) {', '.join(parts)}; the settings are: {', '.join(known)}"
    )


class Agent:
    """A voice agent definition: instructions, voice, session options, tools and handlers.

    Declare settings as class attributes of a subclass, or pass them to the constructor
    (constructor arguments win)::

        class Concierge(Agent):
            instructions = "You are a hotel concierge."
            voice = "en-US-Ava:DragonHDLatestNeural"

            @tool
            async def book_table(self, restaurant: str, people: int) -> str:
                \"\"\"Book a table.\"\"\"
                ...

    The settings are every :class:`~voiceagent.options.SessionOptions` field, and the
    :class:`AgentSettings` fields (``greeting``, ``fatal_handler_errors``,
    ``confirm_interruption_ms``, ``min_turn_ms``, ``max_tool_output_chars``,
    ``event_buffer``, ``reconnect``, ``telemetry``, ``mcp_default_approval``).
    ``Agent(options=SessionOptions(...))`` gives all session options at once (instead of
    the class's), with keyword arguments still winning. Invalid values, and names that
    look like a misspelt setting (``instruction = ...``), raise
    :class:`~voiceagent.errors.ConfigurationError` when the class is defined or the
    instance created, never later on the wire.

    An ``Agent`` holds no connection: :meth:`run` and :meth:`session` create an
    :class:`~voiceagent.AgentSession` per conversation.

    Attributes:
        options: The session options.
        greeting: See :class:`AgentSettings`.
        fatal_handler_errors: See :class:`AgentSettings`.
        confirm_interruption_ms: See :class:`AgentSettings`.
        min_turn_ms: See :class:`AgentSettings`.
        max_tool_output_chars: See :class:`AgentSettings`.
        event_buffer: See :class:`AgentSettings`.
        reconnect: See :class:`AgentSettings`.
        telemetry: See :class:`AgentSettings`.
        mcp_default_approval: See :class:`AgentSettings`.
    """

    greeting: str | None = None
    fatal_handler_errors: bool = False
    confirm_interruption_ms: int | None = None
    min_turn_ms: int = 400
    max_tool_output_chars: int = 100_000
    event_buffer: int = DEFAULT_BUFFER
    reconnect: ReconnectPolicy = ReconnectPolicy()
    telemetry: Telemetry = Telemetry()
    mcp_default_approval: bool = False

    _class_options: dict[str, Any] = {}  # noqa: RUF012 - replaced per subclass
    _class_settings: dict[str, Any] = {}  # noqa: RUF012 - replaced per subclass
    _class_tools: dict[str, ToolMethod] = {}  # noqa: RUF012 - replaced per subclass
    _class_handlers: list[tuple[str, type | str]] = []  # noqa: RUF012 - replaced per subclass
    _class_approvers: list[tuple[str, Any]] = []  # noqa: RUF012 - replaced per subclass

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        where = cls.__qualname__
        options: dict[str, Any] = {}
        settings: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            if klass is object:
                continue
            for name, value in vars(klass).items():
                if name.startswith("_") or _is_descriptor(value):
                    continue
                if name in _OPTION_NAMES:
                    options[name] = value
                elif name in _SETTING_NAMES:
                    settings[name] = value
                elif klass is cls and difflib.get_close_matches(name, _KNOWN, n=1, cutoff=0.8):
                    raise _unknown([name], _KNOWN, where)
        try:
            SessionOptions(**options)
            AgentSettings(**settings)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{where}: {exc}") from None
        cls._class_options = options
        cls._class_settings = settings
        # Schemas are built now, so a bad tool fails when the class is defined.
        cls._class_tools = collect_tools(cls)
        cls._class_handlers = marked_handlers(cls)
        cls._class_approvers = marked_approvers(cls)

    def __init__(self, *, options: SessionOptions | None = None, **settings: Any) -> None:
        """Create an agent.

        Args:
            options: All session options at once, instead of the class attributes'.
            **settings: Any :class:`~voiceagent.options.SessionOptions` field or
                :class:`AgentSettings` field; these override ``options`` and the class
                attributes.

        Raises:
            ConfigurationError: An unknown setting name (with a "did you mean") or an
                invalid value.
        """
        cls = type(self)
        where = f"{cls.__qualname__}()"
        unknown = set(settings) - _KNOWN
        if unknown:
            raise _unknown(unknown, _KNOWN | {"options"}, where)
        if options is not None and not isinstance(options, SessionOptions):
            raise ConfigurationError(
                f"{where}: options must be a SessionOptions(...), not {options!r}"
            )
        option_values = {k: v for k, v in settings.items() if k in _OPTION_NAMES}
        setting_values = {k: v for k, v in settings.items() if k in _SETTING_NAMES}
        try:
            if options is None:
                options = SessionOptions(**{**cls._class_options, **option_values})
            elif option_values:
                options = options.evolve(**option_values)
            agent_settings = AgentSettings(**{**cls._class_settings, **setting_values})
        except ConfigurationError as exc:
            raise ConfigurationError(f"{where}: {exc}") from None
        self.options: SessionOptions = options
        self.settings: AgentSettings = agent_settings
        """The agent settings (each also readable as an attribute of the agent)."""
        for name in _SETTING_NAMES:
            setattr(self, name, getattr(agent_settings, name))
        self._tools = ToolRegistry()
        for method in cls._class_tools.values():
            self._tools.add(method.bind(self))
        self._router = EventRouter()
        for attr, key in cls._class_handlers:
            self._router.add(key, getattr(self, attr))
        self._approvers = ApprovalPolicy()
        for attr, spec in cls._class_approvers:
            self._approvers.add_spec(getattr(self, attr), spec)

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
    def on(self, event: type[E]) -> Registrar[E]: ...
    @overload
    def on(self, event: str) -> Registrar[Any]: ...
    def on(self, event: type[Any] | str) -> Registrar[Any]:
        """Register a handler: ``@agent.on(UserTranscript)`` or ``@agent.on("response.done")``.

        A handler takes the event, or the event and the
        :class:`~voiceagent.AgentSession` it happened in (``def h(event, session)``): one
        agent serves many conversations, and a handler can tell them apart, ``say()`` or
        ``end()``. Handlers may be sync or async; several per event run in registration
        order. For a class, the handler's parameter is typed as that class.

        Args:
            event: A voiceagent event class (:mod:`voiceagent.events`), an SDK server event
                class, or a wire event type string.

        Returns:
            A decorator that registers the handler and returns it unchanged.
        """
        return self._router.on(event)

    @overload
    def approve(self, fn: F, /) -> F: ...
    @overload
    def approve(
        self,
        fn: None = None,
        /,
        *,
        servers: str | Sequence[str] | None = None,
        timeout: float | None = DEFAULT_APPROVAL_TIMEOUT_S,
    ) -> Callable[[F], F]: ...
    def approve(
        self,
        fn: F | None = None,
        /,
        *,
        servers: str | Sequence[str] | None = None,
        timeout: float | None = DEFAULT_APPROVAL_TIMEOUT_S,
    ) -> F | Callable[[F], F]:
        """Register a function as an approver of this agent's MCP tool calls:
        ``@agent.approve`` or ``@agent.approve(servers="deepwiki", timeout=10)``.

        It is asked after the class's approvers; see :func:`voiceagent.approve` for what it
        takes and returns.

        Args:
            fn: The function (when used bare).
            servers: Only requests for these server labels (default: every server).
            timeout: Seconds it may take before the default decision applies; None for no
                limit.

        Returns:
            The function, unchanged.

        Raises:
            ConfigurationError: A bad ``servers`` or ``timeout``.
        """

        def register(function: F) -> F:
            self._approvers.add(function, servers=servers, timeout=timeout)
            return function

        return register(fn) if fn is not None else register

    @property
    def approvers(self) -> ApprovalPolicy:
        """The agent's MCP approvers (class approvers, then those added with
        :meth:`approve`)."""
        return self._approvers

    @property
    def tools(self) -> ToolRegistry:
        """The agent's tools (class tools, then those added with :meth:`tool`)."""
        return self._tools

    @property
    def router(self) -> EventRouter:
        """The agent's event handlers."""
        return self._router

    # -- running -------------------------------------------------------------------

    def session(self, **kwargs: Unpack[SessionArgs]) -> AgentSession:
        """One conversation with this agent, as an async context manager.

        Args:
            **kwargs: The session's arguments, described in :class:`SessionArgs`: where the
                audio comes from and goes (``source``, ``sink``; None for text sessions or
                to drop the agent's audio), where to connect (``endpoint``,
                ``credential``, ``api_key``, ``scope``), ``history`` to add first, and any
                :class:`~voiceagent.options.SessionOptions` field, for this session only.

        Returns:
            The session; use ``async with agent.session(...) as session:``. It owns the
            source and the sink: it closes both when it ends.

        Raises:
            ConfigurationError: An unknown argument, an invalid option override, or formats
                that contradict the options.
        """
        from ._connect import DEFAULT_SCOPE
        from ._resolve import resolve
        from ._session import AgentSession

        where = f"{type(self).__qualname__}.session()"
        args: dict[str, Any] = dict(kwargs)
        unknown = set(args) - _SESSION_ONLY - _OPTION_NAMES
        if unknown:
            raise _unknown(unknown, _SESSION_ONLY | _OPTION_NAMES, where)
        overrides = {k: v for k, v in args.items() if k in _OPTION_NAMES}
        source, sink = args.get("source"), args.get("sink")
        _check_audio(source, sink, where)
        reconnect = args.get("reconnect")
        if reconnect is not None and not isinstance(reconnect, ReconnectPolicy):
            raise ConfigurationError(
                f"{where}: reconnect must be a ReconnectPolicy(...), not {reconnect!r}"
            )
        telemetry = args.get("telemetry")
        if telemetry is not None and not isinstance(telemetry, Telemetry):
            raise ConfigurationError(
                f"{where}: telemetry must be a Telemetry(...), not {telemetry!r}"
            )
        plan = resolve(
            self,
            source=source,
            sink=sink,
            overrides=overrides,
            reconnect=reconnect,
            telemetry=telemetry,
        )
        return AgentSession(
            self,
            plan=plan,
            source=source,
            sink=sink,
            endpoint=args.get("endpoint"),
            credential=args.get("credential"),
            api_key=args.get("api_key"),
            scope=args.get("scope")
            or (FOUNDRY_SCOPE if plan.options.foundry_agent is not None else DEFAULT_SCOPE),
            history=_history_entries(args.get("history", ())),
        )

    async def run(self, **kwargs: Unpack[SessionArgs]) -> SessionResult:
        """Run one conversation to its end and return its history and why it ended.

        The conversation ends when the source is exhausted and the agent has finished its
        last answer, when ``session.end()`` is called (from a tool or handler too), when
        the connection drops (the result says ``CONNECTION_LOST``), or on cancellation.
        The arguments are those of :meth:`session`.

        Returns:
            The session's result.

        Raises:
            ConfigurationError: As for :meth:`session`.
            ConnectError: The connection could not be opened.
        """
        async with self.session(**kwargs) as session:
            # The session cancels this block when it ends on its own; the result stays.
            await session.wait()
        return session.result()

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__} tools={list(self._tools.names())}>"


def _check_audio(source: object, sink: object, where: str) -> None:
    from .audio import AudioSink, AudioSource

    if source is not None and not isinstance(source, AudioSource):
        raise ConfigurationError(
            f"{where}: source must be an AudioSource (format and __aiter__), not {source!r}"
        )
    if sink is not None and not isinstance(sink, AudioSink):
        raise ConfigurationError(
            f"{where}: sink must be an AudioSink (format, write, clear, played_ms, drain and "
            f"aclose), not {sink!r}"
        )


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
        if role not in ROLES or not isinstance(text, str):
            raise ConfigurationError(
                f"history entry {entry!r}: role must be 'user', 'assistant' or 'system' "
                "and text a str"
            )
        entries.append(Message(role=ROLES[role], text=text))
    return tuple(entries)


def _is_descriptor(value: object) -> bool:
    return (
        isinstance(value, property | classmethod | staticmethod | type)
        or inspect.isfunction(value)
        or (
            hasattr(value, "__get__")
            and not isinstance(value, str | int | float | bool | tuple | list | dict)
        )
    )
