"""Invoking a tool call: arguments, timeout, worker threads, and what the model is told.

:func:`invoke` turns one ``function_call`` into exactly one :class:`ToolOutcome`, whose
``output`` is the ``function_call_output`` for the model. It never raises, except for
cancellation.
"""

from __future__ import annotations

import inspect
import json
import logging
import threading
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import attrs

from ._converters import ToolArgumentsError
from ._schema import UnserializableResultError, to_json_value
from .errors import ToolError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._signature import ToolContext
    from ._tools import ToolSpec

__all__ = ["ToolOutcome", "invoke", "logger"]

logger = logging.getLogger("voiceagent.tools")
"""Tool failures are logged here: tracebacks of tool exceptions, timeouts, bad results."""


@attrs.frozen(kw_only=True)
class ToolOutcome:
    """The result of one tool call, ready to send as its ``function_call_output``.

    Attributes:
        output: Exactly what the model receives as the output.
        result: The tool's Python return value (``None`` on error).
        error: ``None`` on success; otherwise the model-visible error text (same as
            ``output``).
        exception: The exception behind an error, if any: the tool's own, a
            ``ToolArgumentsError``, a ``TimeoutError``, or an ``UnserializableResultError``.
    """

    output: str
    result: Any = None
    error: str | None = None
    exception: BaseException | None = None

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.error is None

    @classmethod
    def failure(cls, message: str, exception: BaseException | None = None) -> ToolOutcome:
        """Build an error outcome whose output is ``message``.

        Args:
            message: What the model is told.
            exception: The exception behind it, if any.

        Returns:
            The outcome.
        """
        return cls(output=message, error=message, exception=exception)

    @classmethod
    def cancelled(cls, name: str, *, started: bool) -> ToolOutcome:
        """Build the outcome of a call cut short because the user interrupted.

        Every ``function_call`` needs exactly one output, also when it never ran.

        Args:
            name: The tool name.
            started: Whether the call had started (and was cancelled) or never ran.

        Returns:
            The outcome.
        """
        what = "was cancelled before it finished" if started else "was not run"
        return cls.failure(
            f"Error: tool {name!r} {what} because the user interrupted; it has no result."
        )


class _ToolTimeout(TimeoutError):
    """Our own timeout, told apart from a TimeoutError the tool raises itself."""


async def invoke(
    spec: ToolSpec | None,
    name: str,
    arguments_json: str,
    context: ToolContext,
    *,
    available: Sequence[str] | None = None,
) -> ToolOutcome:
    """Run one tool call and turn whatever happens into an output for the model.

    Arguments are validated first and the tool is not called when they are wrong. Async
    tools are awaited; sync tools run in a worker thread (``anyio.to_thread``) so that they
    never stall audio. On timeout or cancellation a sync tool's thread cannot be stopped: it is
    abandoned, runs to its end in the background, and its result is dropped (an exception it
    raises then is logged as a warning).

    Outcomes: a result is converted to JSON (``str`` is sent as is); a
    :class:`~voiceagent.errors.ToolError` message is sent as is; a timeout says so; any other
    exception is logged with its traceback on the ``voiceagent.tools`` logger and the model
    gets a short message without the exception's text (it may hold secrets). Arguments are
    never logged.

    Args:
        spec: The tool, or ``None`` when the model called a name that is not registered.
        name: The tool name the model called.
        arguments_json: The call's JSON arguments.
        context: The call's context (also the source of injected parameters).
        available: The registered tool names, listed to the model when ``spec`` is ``None``.

    Returns:
        The outcome. This function never raises, except for cancellation (anyio's cancel
        exception propagates so that a session can cancel a running call).
    """
    call_id = context.call_id
    if spec is None:
        known = f" Available tools: {', '.join(available)}." if available else ""
        logger.warning("The model called unknown tool %r (call_id=%s)", name, call_id)
        return ToolOutcome.failure(f"Error: there is no tool named {name!r}.{known}")
    try:
        kwargs = spec.parse_arguments(arguments_json)
    except ToolArgumentsError as exc:
        logger.warning(
            "Tool %r (call_id=%s) got invalid arguments; the model was told what was wrong",
            spec.name,
            call_id,
        )
        return ToolOutcome.failure(str(exc), exc)
    try:
        kwargs.update(spec.injected_arguments(context))
        result = await _run(spec, kwargs, call_id)
    except _ToolTimeout as exc:
        logger.warning(
            "Tool %r (call_id=%s) timed out after %g s", spec.name, call_id, spec.timeout
        )
        return ToolOutcome.failure(
            f"Error: tool {spec.name!r} did not finish within {spec.timeout:g} seconds, "
            "so it has no result.",
            exc,
        )
    except ToolError as exc:
        return ToolOutcome.failure(str(exc) or f"Error: tool {spec.name!r} failed.", exc)
    except Exception as exc:
        logger.exception(
            "Tool %r (call_id=%s) raised %s", spec.name, call_id, type(exc).__qualname__
        )
        return ToolOutcome.failure(
            f"Error: tool {spec.name!r} failed because of an internal error.", exc
        )
    try:
        output = result if isinstance(result, str) else _dumps(to_json_value(result))
    except UnserializableResultError as exc:
        logger.error(
            "Tool %r (call_id=%s) returned a value that cannot be sent to the model: %s",
            spec.name,
            call_id,
            exc,
        )
        return ToolOutcome.failure(
            f"Error: tool {spec.name!r} failed: its result could not be converted to JSON.", exc
        )
    return ToolOutcome(output=output, result=result)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


async def _run(spec: ToolSpec, kwargs: dict[str, Any], call_id: str) -> Any:
    if spec.timeout is None:
        return await _call(spec, kwargs, call_id)
    with anyio.move_on_after(spec.timeout):
        return await _call(spec, kwargs, call_id)
    raise _ToolTimeout(f"tool {spec.name!r} did not finish within {spec.timeout:g} s")


async def _call(spec: ToolSpec, kwargs: dict[str, Any], call_id: str) -> Any:
    if spec.is_async:
        return await spec.function(**kwargs)
    abandoned = threading.Event()

    def run() -> Any:
        try:
            return spec.function(**kwargs)
        except BaseException:
            if abandoned.is_set():
                logger.warning(
                    "Tool %r (call_id=%s) raised after it was abandoned (timed out or cancelled)",
                    spec.name,
                    call_id,
                    exc_info=True,
                )
            raise

    finished = False
    try:
        result = await anyio.to_thread.run_sync(run, abandon_on_cancel=True)
        finished = True
    finally:
        if not finished:
            abandoned.set()
    if inspect.isawaitable(result):
        # A sync-looking callable that returns a coroutine (a decorator without
        # functools.wraps around an async function, say): finish it in the event loop.
        result = await result
    return result
