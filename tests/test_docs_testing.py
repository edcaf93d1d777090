"""docs/testing.md is executed, so that it cannot rot, and the pytest plugin is tested as
a user meets it: installed, in another project's pytest run.

The page is read top to bottom in a fresh directory: ```` ```python title="name.py" ````
and ```` ```toml title="name" ```` blocks are written to their files; in a ```` ```console
```` block each ``$ pytest ...`` runs (this Python's pytest) and every line shown after it
must be in its output. It must exit 0, unless the lines shown say that tests failed.
```` ```bash ```` blocks are shown, never run.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "testing.md"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```\s*$", re.M | re.S)
TITLE = re.compile(r'title="([^"]+)"')


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "PYTEST_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return {**env, "PYTHONUNBUFFERED": "1"}


async def run(command: str, cwd: Path) -> tuple[int, str]:
    with anyio.fail_after(110):  # a hang guard, not a timing assertion
        result = await anyio.run_process(
            ["bash", "-c", command], cwd=cwd, env=environment(), check=False
        )
    return result.returncode, result.stdout.decode() + result.stderr.decode()


async def test_the_testing_guide_runs_as_written(tmp_path: Path) -> None:
    ran = 0
    for language, attributes, body in (m.groups() for m in FENCE.finditer(PAGE.read_text())):
        title = TITLE.search(attributes)
        if language in ("python", "toml") and title:
            (tmp_path / title.group(1)).write_text(body)
        elif language == "console":
            for chunk in re.split(r"^\$ ", body, flags=re.M)[1:]:
                line, *shown = chunk.rstrip("\n").split("\n")
                assert line.startswith("pytest "), line
                code, output = await run(f"{line} -p no:cacheprovider", tmp_path)
                failing = any(re.search(r"\d+ failed", s) for s in shown)
                assert (code != 0) == failing, output
                lines = [" ".join(o.split()) for o in output.splitlines()]
                for expected in shown:
                    want = " ".join(expected.split())
                    assert any(want in o for o in lines), f"{expected!r} not in:\n{output}"
                ran += 1
    assert ran >= 4


TRIVIAL = """
import sys

def test_voiceagent_is_not_imported():
    assert "voiceagent_pytest" in sys.modules  # the plugin is loaded...
    assert "voiceagent" not in sys.modules  # ...and imports nothing of voiceagent
    assert "azure.ai.voicelive" not in sys.modules
"""


async def test_the_plugin_costs_nothing_to_runs_that_do_not_use_it(tmp_path: Path) -> None:
    (tmp_path / "test_trivial.py").write_text(TRIVIAL)
    code, output = await run("pytest -q -p no:cacheprovider test_trivial.py", tmp_path)
    assert code == 0, output
    # ...and breaks nothing without pytest-asyncio's plugin either.
    code, output = await run(
        "pytest -q -p no:cacheprovider -p no:asyncio test_trivial.py", tmp_path
    )
    assert code == 0, output


FAILING_WITHOUT_EXPECT = """
from voiceagent import Agent
from voiceagent.testing import Script, Turn

async def test_a_plain_assert_fails(voiceagent_conversation):
    result = await voiceagent_conversation(
        Agent(modalities=["text"]), Script(Turn(says="Bonjour.")), user=["Hello!"]
    )
    assert result.turns[0].said == ["Hello."]
"""


async def test_a_failing_report_shows_the_conversations(tmp_path: Path) -> None:
    (tmp_path / "test_report.py").write_text(FAILING_WITHOUT_EXPECT)
    config = '[tool.pytest.ini_options]\nasyncio_mode = "auto"\n'
    (tmp_path / "pyproject.toml").write_text(config)
    code, output = await run("pytest -q -p no:cacheprovider test_report.py", tmp_path)
    assert code == 1, output
    assert "voiceagent conversations" in output
    assert "conversation 1:\nturn 1\n  user   Hello!\n" in output
    assert "  agent  Bonjour.\nended: ended" in output
