"""Running an app on uvicorn with a drain on SIGTERM, in one process or several.

uvicorn alone closes every WebSocket with code 1012 the moment it shuts down. Here the
server drains the app's :class:`~voiceagent.serve.SessionHost` first (new connections
refused, live conversations finishing, up to ``drain_timeout``), and only then lets
uvicorn close what is left. With ``workers > 1`` a small supervisor binds the socket,
starts the worker processes (each builds its own app), forwards SIGTERM and SIGINT to
them as a drain, restarts a worker that dies, and exits once all have drained.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import tempfile
import time
from typing import TYPE_CHECKING, Any

import anyio
import uvicorn

from ._host import SessionHost

if TYPE_CHECKING:
    import socket
    from collections.abc import AsyncIterator, Callable, Generator
    from multiprocessing.process import BaseProcess
    from types import FrameType

    from starlette.types import ASGIApp

__all__ = ["DrainingServer", "running", "serve"]

log = logging.getLogger("voiceagent.serve")

_STARTUP_FAILURE = 3
"""uvicorn's exit code for a worker that could not start."""
_RESTART_WINDOW_S = 10.0


class DrainingServer(uvicorn.Server):
    """A ``uvicorn.Server`` that drains the app's conversations before it shuts down.

    Args:
        config: uvicorn's configuration.
        handle_signals: Install uvicorn's SIGTERM/SIGINT handlers (only possible in the
            main thread); False for a server embedded in a program or a test.
    """

    def __init__(self, config: uvicorn.Config, *, handle_signals: bool = True) -> None:
        super().__init__(config)
        self._handle_signals = handle_signals

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """uvicorn's signal handling, or none."""
        if self._handle_signals:
            with super().capture_signals():
                yield
        else:
            yield

    @property
    def port(self) -> int:
        """The port the server listens on (after startup)."""
        for server in self.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        raise RuntimeError("the server is not listening")

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """uvicorn's signal handler: also stop admitting at once (uvicorn's main loop notices
        the signal only at its next tick, up to 0.1 s later)."""
        super().handle_exit(sig, frame)
        with contextlib.suppress(LookupError):
            SessionHost.of(getattr(self.config, "loaded_app", None)).begin_drain()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Drain the app's conversations, then shut down as uvicorn does."""
        await self.drain()
        await super().shutdown(sockets)

    async def drain(self) -> None:
        """Drain the app's :class:`SessionHost` (a second Ctrl-C cuts it short)."""
        try:
            host = SessionHost.of(self.config.loaded_app)
        except LookupError:
            return
        async with anyio.create_task_group() as tg:

            async def watch() -> None:
                # uvicorn sets a plain attribute from its signal handler: poll it.
                while not self.force_exit:  # noqa: ASYNC110
                    await anyio.sleep(0.1)
                log.warning("forced exit: ending the drain")
                tg.cancel_scope.cancel()

            tg.start_soon(watch)
            await host.drain()
            tg.cancel_scope.cancel()


@contextlib.asynccontextmanager
async def running(
    app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0, **config: Any
) -> AsyncIterator[DrainingServer]:
    """Serve ``app`` in the current event loop for the block (tests, embedding).

    No signal handling; leaving the block drains the app (with its ``drain_timeout``) and
    stops the server.

    Args:
        app: The ASGI app.
        host: Interface to bind.
        port: Port to bind; 0 picks a free one (``server.port`` tells which).
        **config: More ``uvicorn.Config`` arguments.

    Yields:
        The running server.
    """
    config.setdefault("log_level", "warning")
    config.setdefault("lifespan", "off")
    server = DrainingServer(
        uvicorn.Config(app, host=host, port=port, **config), handle_signals=False
    )
    stopped = anyio.Event()

    async def serve() -> None:
        try:
            await server.serve()
        finally:
            stopped.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(serve)
        while not server.started:
            if stopped.is_set():
                raise RuntimeError(f"the server could not start on {host}:{port}")
            await anyio.sleep(0.01)
        try:
            yield server
        finally:
            # Even when the block failed: a graceful shutdown closes the listening socket
            # and the connections, which cancelling uvicorn would leave open.
            server.should_exit = True
            with anyio.CancelScope(shield=True), anyio.move_on_after(config_timeout(server)):
                await stopped.wait()


def config_timeout(server: DrainingServer) -> float:
    """How long a graceful stop of ``server`` may take: its app's drain, plus a margin."""
    try:
        host = SessionHost.of(server.config.loaded_app)
    except (LookupError, AttributeError):
        return 10.0
    return host.drain_timeout + 2 * host.stop_timeout + 10.0


def _exit_quietly(signum: int, frame: Any) -> None:
    # Before uvicorn handles signals (startup) a SIGTERM just ends the process; after its
    # graceful shutdown uvicorn re-raises the signal it caught, which lands here too.
    raise SystemExit(0)


def _run_one(
    factory: Callable[[], ASGIApp], config: dict[str, Any], sockets: list[socket.socket] | None
) -> None:
    signal.signal(signal.SIGTERM, _exit_quietly)
    app = factory()
    server = DrainingServer(uvicorn.Config(app, **config))
    if sockets is None:
        server.run()
        return
    server.run(sockets=sockets)


def _worker(
    factory: Callable[[], ASGIApp], config: dict[str, Any], sock: socket.socket
) -> None:  # pragma: no cover - runs in a child process (measured by the e2e tests)
    # The parent forwards Ctrl-C as SIGTERM; the terminal's own SIGINT is not an error.
    with contextlib.suppress(KeyboardInterrupt):
        _run_one(factory, config, [sock])


def serve(
    app: ASGIApp | Callable[[], ASGIApp],
    *,
    factory: bool = False,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    **config: Any,
) -> int:
    """Serve an app until SIGTERM or Ctrl-C, draining it first; return the exit code.

    Args:
        app: The app, or (``factory=True``) a function without arguments that makes it.
        factory: ``app`` is a factory. Required for ``workers > 1``, where each worker
            process calls it to build its own app: it must pickle (a module-level
            function, or a ``functools.partial`` of one).
        host: Interface to bind.
        port: Port to bind.
        workers: Worker processes sharing the port. Each has its own capacity
            (``max_sessions``) and drain; ``/metrics`` of any worker reports the sum.
        **config: More ``uvicorn.Config`` arguments (``log_level``, ``log_config``,
            ``ws_ping_interval``...).

    Returns:
        0 after SIGTERM (or a clean exit), 130 after Ctrl-C, 1 when a worker could not
        start.

    Raises:
        ValueError: ``workers`` below 1, or above 1 without ``factory=True``.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers > 1 and not factory:
        raise ValueError("workers > 1 needs an app factory: serve(make_app, factory=True)")
    make: Callable[[], ASGIApp] = app if factory else _Constant(app)  # type: ignore[assignment]
    config = {"host": host, "port": port, **config}
    if workers == 1:
        interrupted = False
        try:
            _run_one(make, config, None)
        except KeyboardInterrupt:
            interrupted = True
        return 130 if interrupted else 0
    return _supervise(make, config, workers)


class _Constant:
    def __init__(self, app: object) -> None:
        self.app = app

    def __call__(self) -> object:
        return self.app


def _supervise(factory: Callable[[], ASGIApp], config: dict[str, Any], workers: int) -> int:
    sock = uvicorn.Config(factory, **config).bind_socket()
    own_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        own_dir = tempfile.TemporaryDirectory(prefix="voiceagent-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = own_dir.name
    context = multiprocessing.get_context("spawn")
    stopping: list[int] = []

    def start() -> BaseProcess:
        process = context.Process(
            target=_worker, args=(factory, config, sock), name="voiceagent-worker"
        )
        process.start()
        return process

    def on_signal(signum: int, frame: Any) -> None:
        stopping.append(signum)
        for process in processes:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    processes: list[BaseProcess] = []
    started = [time.monotonic()] * workers
    code = 0
    try:
        processes.extend(start() for _ in range(workers))
        log.info("started %d workers: %s", workers, [p.pid for p in processes])
        while any(p.is_alive() for p in processes):
            time.sleep(0.2)
            if stopping:
                continue
            for index, process in enumerate(processes):
                if process.is_alive():
                    continue
                if process.exitcode == _STARTUP_FAILURE or (
                    time.monotonic() - started[index] < _RESTART_WINDOW_S
                ):
                    log.error(
                        "worker %s exited with %s at startup: stopping",
                        process.pid,
                        process.exitcode,
                    )
                    code = 1
                    on_signal(signal.SIGTERM, None)
                    break
                log.warning(
                    "worker %s died (exit code %s): restarting it", process.pid, process.exitcode
                )
                processes[index] = start()
                started[index] = time.monotonic()
        for process in processes:
            process.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
        if own_dir is not None:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
            own_dir.cleanup()
    if code:
        return code
    return 130 if signal.SIGINT in stopping else 0
