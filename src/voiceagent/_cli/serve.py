"""``voiceagent serve``: an agent as a web service on uvicorn, with a drain on SIGTERM.

Each worker process loads the target itself (the app spec pickles, the app does not), so
``--workers N`` gives N independent processes sharing one port.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from typing import TYPE_CHECKING, Any

import attrs

from .._connect import ENDPOINT_VARIABLES, KEY_VARIABLES
from ..errors import ConfigurationError, MissingExtraError, VoiceAgentError
from .targets import load_agent, load_script, module_script
from .usage import EXIT_USAGE, UsageError

if TYPE_CHECKING:
    import argparse
    from collections.abc import AsyncIterator

    from starlette.applications import Starlette

__all__ = ["ServeSpec", "build_app", "log_config", "serve_command"]

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(conversation_id)s] %(message)s"


@attrs.frozen(kw_only=True)
class ServeSpec:
    """What ``voiceagent serve`` serves, in a form that pickles into worker processes.

    Attributes:
        target: The agent target (``path/agent.py:Name``).
        max_sessions: Conversations per process.
        drain_timeout: Seconds live conversations get on shutdown.
        stop_timeout: Seconds stopped conversations get to close.
        page: Serve the browser page at ``/``.
        emulator: Talk to an in-process emulator instead of Azure.
        script: The emulator's script target, if any.
        speed: The emulator's pace (None: unpaced).
    """

    target: str
    max_sessions: int = 50
    drain_timeout: float = 60.0
    stop_timeout: float = 5.0
    page: bool = True
    emulator: bool = False
    script: str | None = None
    speed: float | None = 1.0


def build_app(spec: ServeSpec) -> Starlette:
    """The app for ``spec`` (called in each worker process).

    Raises:
        UsageError: A bad target or script.
    """
    from ..serve import BrowserOptions, SessionHost, create_app

    loaded = load_agent(spec.target)
    agent: Any = loaded.factory or loaded.agent
    lifespan = None
    if spec.emulator:
        found = load_script(spec.script) if spec.script else module_script(loaded.module)
        script = found[1] if found else None
        speed = spec.speed

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            from ..testing import Emulator

            async with Emulator(script=script, speed=speed, record=False) as emulator:
                SessionHost.of(app).session_settings.update(
                    endpoint=emulator.endpoint, api_key=emulator.api_key
                )
                yield

    return create_app(
        agent,
        max_sessions=spec.max_sessions,
        drain_timeout=spec.drain_timeout,
        stop_timeout=spec.stop_timeout,
        browser=BrowserOptions(page=spec.page),
        lifespan=lifespan,
    )


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging configuration, plus voiceagent's loggers with the conversation id
    in every line."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {
        **LOGGING_CONFIG,
        "filters": {"conversation": {"()": "voiceagent.serve.ConversationLogFilter"}},
        "formatters": {
            **LOGGING_CONFIG["formatters"],
            "voiceagent": {"format": _FORMAT},
        },
        "handlers": {
            **LOGGING_CONFIG["handlers"],
            "voiceagent": {
                "class": "logging.StreamHandler",
                "formatter": "voiceagent",
                "filters": ["conversation"],
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            **LOGGING_CONFIG["loggers"],
            "voiceagent": {"handlers": ["voiceagent"], "level": level.upper(), "propagate": False},
            # One line per wire event: only when debugging.
            "voiceagent.emulator": {"level": "DEBUG" if level == "debug" else "WARNING"},
        },
    }
    return config


def _check(spec: ServeSpec, *, load: bool) -> None:
    """Fail now, in the parent process, on what every worker would fail on."""
    try:
        from .. import serve as _serve  # noqa: F401
    except MissingExtraError as exc:
        raise UsageError(str(exc)) from None
    if load:
        load_agent(spec.target)
        if spec.script:
            load_script(spec.script)
    if not spec.emulator:
        from ..testing._service import azure_endpoint

        if azure_endpoint() is None:
            raise UsageError(
                f"no Voice Live endpoint: set {' or '.join(ENDPOINT_VARIABLES)} (and "
                f"{KEY_VARIABLES[0]}, or sign in for Microsoft Entra ID), or use --emulator"
            )


def serve_command(args: argparse.Namespace) -> int:
    """Run ``voiceagent serve`` with parsed arguments.

    Returns:
        The exit code: 0 after SIGTERM, 130 after Ctrl-C, 1 when a worker could not
        start, 2 for bad usage.
    """
    spec = ServeSpec(
        target=args.target,
        max_sessions=args.max_sessions,
        drain_timeout=args.drain_timeout,
        stop_timeout=args.stop_timeout,
        page=not args.no_page,
        emulator=args.emulator,
        script=args.script,
        speed=args.speed,
    )
    try:
        if args.script and not args.emulator:
            raise UsageError("--script sets what the emulator says: add --emulator")
        if args.speed_given and not args.emulator:
            raise UsageError("--speed paces the emulator: add --emulator")
        _check(spec, load=args.workers > 1)
        from ..serve import serve

        config: dict[str, Any] = {
            "host": args.host,
            "port": args.port,
            "workers": args.workers,
            "log_config": log_config(args.log_level),
            "log_level": args.log_level,
        }
        if args.workers == 1:
            return serve(build_app(spec), **config)
        return serve(functools.partial(build_app, spec), factory=True, **config)
    except (UsageError, ConfigurationError, VoiceAgentError) as exc:
        print(f"voiceagent serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
