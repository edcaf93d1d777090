"""docs/quickstart.md is executed, so that it cannot rot.

The page is read top to bottom in a fresh directory:

- a ```` ```python title="name.py" ```` block is written to ``name.py``;
- in a ```` ```console ```` block, each ``$ command`` runs (in bash, with this Python's
  ``bin`` directory first on the ``PATH``) and must exit 0. Lines after it starting with
  ``you> `` are typed into it; the other lines are its output, and
  - ``voiceagent emulator ...`` starts in the background (on a free port instead of the
    page's 8765, which the page's later commands are rewritten to) and its banner must be
    the lines shown; it stops at the end of the page;
  - ``export NAME=value ...`` sets the environment of the commands after it;
  - for ``python file.py``, stdout must be exactly those lines (against the page's own
    emulator, through the variables the page exported);
  - for ``voiceagent``, every ``user``, ``agent`` and ``tool`` line shown must be in the
    output (times and tool durations vary, so they are not compared).
- ```` ```bash ```` blocks are shown, never run (installation, microphones).

The home page's agent must also be the README's, which a test runs.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import attrs

if TYPE_CHECKING:
    from anyio.abc import Process

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "docs" / "quickstart.md"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```\s*$", re.M | re.S)
TIME = re.compile(r"^\s*\d+\.\d\ds ")
DURATION = re.compile(r"\s+\(\d+ ms\)$")
COMPARED = ("user ", "agent ", "tool ")


@attrs.frozen
class Command:
    line: str
    typed: tuple[str, ...]
    output: tuple[str, ...]


def blocks(text: str) -> list[tuple[str, str, str]]:
    """(language, attributes, body) of every fenced block, in order."""
    return [(m.group(1), m.group(2), m.group(3)) for m in FENCE.finditer(text)]


def commands(body: str) -> list[Command]:
    found: list[Command] = []
    for chunk in re.split(r"^\$ ", body, flags=re.M)[1:]:
        line, *rest = chunk.rstrip("\n").split("\n")
        typed = tuple(r[len("you> ") :] for r in rest if r.startswith("you> "))
        output = tuple(r for r in rest if not r.startswith("you> "))
        found.append(Command(line, typed, output))
    return found


def normalized(line: str) -> str:
    return " ".join(DURATION.sub("", TIME.sub("", line)).split())


def load_script(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("quickstart_script", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.script


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


PAGE_PORT = "8765"


@attrs.define
class Page:
    """What the page's commands share: the directory, the exported variables and the
    emulator the page started."""

    cwd: Path
    exported: dict[str, str] = attrs.Factory(dict)
    emulator: Process | None = None
    port: str = PAGE_PORT

    def rewrite(self, line: str) -> str:
        return line.replace(f"127.0.0.1:{PAGE_PORT}", f"127.0.0.1:{self.port}")


async def start_emulator(command: Command, page: Page) -> None:
    proc = await anyio.open_process(
        ["bash", "-c", f"exec {command.line} --port 0"],
        cwd=page.cwd,
        env=environment(),
        stderr=subprocess.STDOUT,
    )
    page.emulator = proc
    assert proc.stdout is not None
    banner = ""
    with anyio.fail_after(30):  # a hang guard
        async for chunk in proc.stdout:
            banner += chunk.decode()
            if "Ctrl-C" in banner:
                break
    found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", banner)
    assert found, f"$ {command.line}\n{banner}"
    page.port = found.group(1)
    shown = [page.rewrite(line) for line in command.output]
    assert banner.splitlines() == shown, f"$ {command.line}\n{banner}"


async def run(command: Command, page: Page) -> None:
    if command.line.startswith("voiceagent emulator"):
        await start_emulator(command, page)
        return
    if command.line.startswith("export "):
        for assignment in shlex.split(page.rewrite(command.line))[1:]:
            name, _, value = assignment.partition("=")
            page.exported[name] = value
        return
    program = re.fullmatch(r"python (\w+\.py)", command.line)
    if program:
        assert page.emulator is not None, "the page runs a program before starting an emulator"
    with anyio.fail_after(90):  # a hang guard, not a timing assertion
        result = await anyio.run_process(
            ["bash", "-c", command.line],
            cwd=page.cwd,
            env=environment(**page.exported),
            input="".join(f"{t}\n" for t in command.typed).encode(),
            check=False,
        )
    out, err = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 0, f"$ {command.line}\n{out}\n{err}"
    if program:
        assert out.splitlines() == list(command.output), f"$ {command.line}\n{out}\n{err}"
    elif command.line.startswith("voiceagent "):
        actual = {normalized(line) for line in out.splitlines()}
        for line in command.output:
            shown = normalized(line)
            if shown.startswith(COMPARED):
                assert shown in actual, f"$ {command.line}: {shown!r} not in\n{out}"


async def test_the_quickstart_runs_as_written(tmp_path: Path) -> None:
    ran: list[str] = []
    written: list[str] = []
    page = Page(tmp_path)
    try:
        for language, attributes, body in blocks(QUICKSTART.read_text()):
            if language == "python":
                title = re.search(r'title="([^"]+)"', attributes)
                assert title, f"a python block without a file name: {body[:60]!r}"
                (tmp_path / title.group(1)).write_text(body)
                written.append(title.group(1))
            elif language == "console":
                for command in commands(body):
                    await run(command, page)
                    ran.append(command.line)
    finally:
        if page.emulator is not None:
            page.emulator.terminate()
            with anyio.fail_after(20):
                await page.emulator.wait()
            await page.emulator.aclose()
    # The page's steps are all there (a typo in a fence would skip one silently).
    assert written == ["agent.py", "script.py", "main.py", "test_agent.py"]
    assert [line.split()[0] for line in ran] == [
        "voiceagent",
        "voiceagent",
        "voiceagent",
        "voiceagent",
        "voiceagent",
        "voiceagent",
        "export",
        "python",
        "python",
    ]
    assert page.exported["AZURE_VOICELIVE_ENDPOINT"] == f"http://127.0.0.1:{page.port}"
    assert (tmp_path / "answer.wav").stat().st_size > 44


def test_commands_and_typed_lines_are_read_from_console_blocks() -> None:
    body = "$ voiceagent run a.py --text\nyou> hi\n  0.01s agent    hello\n$ ls\nx\n"
    assert commands(body) == [
        Command("voiceagent run a.py --text", ("hi",), ("  0.01s agent    hello",)),
        Command("ls", (), ("x",)),
    ]
    assert normalized("  3.04s tool     f → {}  (52 ms)") == "tool f → {}"


def readme_agent() -> str:
    match = re.search(
        r"<!-- readme-agent:.*?-->\n```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S
    )
    assert match, "the README's agent block (marked readme-agent) is missing"
    return match.group(1)


def code_lines(code: str) -> list[str]:
    """The lines of ``code`` that are not blank (the formatter may add blank lines)."""
    return [line for line in code.splitlines() if line.strip()]


def test_the_home_page_shows_the_readme_agent() -> None:
    home = (ROOT / "docs" / "index.md").read_text()
    python = [code_lines(body) for language, _, body in blocks(home) if language == "python"]
    assert code_lines(readme_agent()) in python
