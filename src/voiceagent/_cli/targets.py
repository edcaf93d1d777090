"""Finding what ``voiceagent run`` runs: an agent named as ``path/to/file.py:Name`` or
``package.module:Name``, and an emulator script named the same way.

Every way the name can be wrong (no such file or module, no such attribute, not an
agent) is a :class:`UsageError` whose message says what was found instead. An exception
raised by the user's own module while it is imported is a :class:`UserCodeError`: one
line, then the traceback of the user's own frames (voiceagent's are not where the bug
is), except voiceagent's own definition errors (a bad option, a bad tool), whose messages
are complete on one line.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import itertools
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from .. import Agent
from ..errors import VoiceAgentError
from .usage import UsageError, UserCodeError

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

    from ..testing import Script

__all__ = ["LoadedAgent", "load_agent", "load_script", "module_script"]

SCRIPT_NAMES = ("script", "SCRIPT")
"""The names a script file (or an agent's module) holds its emulator script under."""
_unique = itertools.count(1)


@attrs.frozen(kw_only=True)
class LoadedAgent:
    """An agent found from a command-line target.

    Attributes:
        agent: The agent (created when the target names a class or a factory).
        module: The module it was found in.
        where: The target as written, for messages.
        factory: The Agent subclass or function the target names, when it names one
            (``agent`` was made by calling it; a server calls it once per conversation).
    """

    agent: Agent
    module: ModuleType
    where: str
    factory: Callable[[], Agent] | None = None


def split_target(target: str) -> tuple[str, str | None]:
    """Split ``where:attr`` into its parts; the attribute is optional.

    A Windows path such as ``C:\\agents\\bot.py`` has a colon but no attribute: only a
    dotted Python name after the last colon counts as one.
    """
    head, sep, tail = target.rpartition(":")
    if sep and head and all(part.isidentifier() for part in tail.split(".")):
        return head, tail
    return target, None


def _is_path(where: str) -> bool:
    return where.endswith(".py") or "/" in where or os.sep in where or Path(where).is_file()


def _load_file(where: str) -> ModuleType:
    path = Path(where)
    if path.is_dir():
        raise UsageError(f"{where} is a directory, not a Python file")
    if not path.is_file():
        raise UsageError(f"no such file: {where}")
    stem = path.stem
    # The module gets the file's name, so that reprs read naturally, unless that would
    # shadow an imported module (a file named json.py, say).
    name = stem if stem.isidentifier() and stem not in sys.modules else f"_run_{next(_unique)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"{where} cannot be imported as Python code")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    # As `python file.py` does: the file's directory comes first on the path, so that
    # the file can import its neighbours.
    sys.path.insert(0, str(path.resolve().parent))
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        raise UsageError(f"{where}, line {exc.lineno}: {exc.msg}") from None
    except VoiceAgentError as exc:
        del sys.modules[name]
        raise UsageError(f"{where}: {exc}") from None
    except Exception as exc:
        del sys.modules[name]
        raise UserCodeError(where, exc) from None
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _import_module(where: str) -> ModuleType:
    # As `python -m` does: modules in the current directory can be named.
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(where)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (where == missing or where.startswith(missing + ".")):
            raise UsageError(
                f"no module named {missing!r} (to run a file, give its path: {where}.py)"
                if "." not in where
                else f"no module named {missing!r}"
            ) from None
        raise UserCodeError(where, exc) from None
    except VoiceAgentError as exc:
        raise UsageError(f"{where}: {exc}") from None
    except Exception as exc:
        raise UserCodeError(where, exc) from None


def load_module(where: str) -> ModuleType:
    """Import a Python file (by path) or a module (by dotted name).

    Raises:
        UsageError: No such file or module, a syntax error, or a voiceagent definition
            error while importing it.
    """
    if not where:
        raise UsageError("empty target: give path/to/file.py:Name or package.module:Name")
    return _load_file(where) if _is_path(where) else _import_module(where)


def _agents_in(module: ModuleType) -> list[str]:
    """Names of the module's agent instances; or else of the agent classes it defines; or
    else of the agent classes it imports (a package re-exporting its agent)."""
    instances = [n for n, v in vars(module).items() if isinstance(v, Agent)]
    if instances:
        return instances
    classes = {
        name: value
        for name, value in vars(module).items()
        if inspect.isclass(value) and issubclass(value, Agent) and value is not Agent
    }
    defined = [name for name, cls in classes.items() if cls.__module__ == module.__name__]
    return defined or list(classes)


def _describe(value: object) -> str:
    if inspect.isclass(value):
        return f"the class {value.__qualname__}"
    if inspect.ismodule(value):
        return f"the module {value.__name__}"
    return f"a {type(value).__qualname__}"


def _resolve(module: ModuleType, attr: str) -> object:
    value: object = module
    for part in attr.split("."):
        value = getattr(value, part)
    return value


def load_agent(target: str) -> LoadedAgent:
    """The agent a ``where[:Name]`` target names.

    ``Name`` may be an ``Agent`` instance, an ``Agent`` subclass (created with no
    arguments) or a function that takes no arguments and returns an agent. Without
    ``Name``, the module's only agent instance is used; or else the only ``Agent``
    subclass it defines; or else the only one it imports.

    Raises:
        UsageError: Anything wrong with the target, with what was found instead.
    """
    where, attr = split_target(target)
    module = load_module(where)
    if attr is None:
        names = _agents_in(module)
        if len(names) != 1:
            found = f"several ({', '.join(names)})" if names else "no Agent instance or subclass"
            raise UsageError(
                f"{where} defines {found}: name the agent (or a function that returns "
                f"one), as in {where}:NAME"
            )
        attr = names[0]
    try:
        value = _resolve(module, attr)
    except AttributeError:
        names = _agents_in(module)
        hint = f"; its agents: {', '.join(names)}" if names else "; it defines no agent"
        raise UsageError(f"{where} has no attribute {attr!r}{hint}") from None
    label = f"{where}:{attr}"
    if isinstance(value, Agent):
        return LoadedAgent(agent=value, module=module, where=label)
    if (inspect.isclass(value) and issubclass(value, Agent)) or inspect.isfunction(value):
        try:
            inspect.signature(value).bind()
        except TypeError as exc:
            raise UsageError(
                f"{label} cannot be called without arguments ({exc}): name an Agent "
                "instance, or a function that returns one"
            ) from None
        except ValueError:  # no signature to check: just call it
            pass
        try:
            made = value()
        except VoiceAgentError as exc:
            raise UsageError(f"{label}(): {exc}") from None
        if isinstance(made, Agent):
            return LoadedAgent(agent=made, module=module, where=label, factory=value)
        raise UsageError(f"{label}() returned {_describe(made)}, not an Agent")
    raise UsageError(f"{label} is {_describe(value)}, not an Agent subclass or instance")


def load_script(target: str) -> tuple[str, Script]:
    """The emulator script a ``where[:name]`` target names (``script`` or ``SCRIPT`` by
    default).

    Returns:
        The target as written (with the name found) and the script.

    Raises:
        UsageError: No such file or module, or no :class:`~voiceagent.testing.Script` there.
    """
    from ..testing import Script

    where, attr = split_target(target)
    module = load_module(where)
    names = (attr,) if attr is not None else SCRIPT_NAMES
    for name in names:
        try:
            value = _resolve(module, name)
        except AttributeError:
            continue
        if isinstance(value, Script):
            return f"{where}:{name}", value
        raise UsageError(f"{where}:{name} is {_describe(value)}, not a voiceagent.testing.Script")
    wanted = " or ".join(repr(n) for n in names)
    raise UsageError(f"{where} defines no {wanted}: write script = Script(Turn(...), ...) in it")


def module_script(module: ModuleType) -> tuple[str, Script] | None:
    """The emulator script an agent's module defines as ``script`` or ``SCRIPT``, if any."""
    from ..testing import Script

    for name in SCRIPT_NAMES:
        value = getattr(module, name, None)
        if isinstance(value, Script):
            return name, value
    return None
