"""A voice agent in the browser: the agent as a web service, the bundled page as its client.

One command serves the page and the agent (needs the serve extra:
``pip install "voiceagent[serve]"``)::

    python examples/serve_browser.py             # Azure if AZURE_VOICELIVE_ENDPOINT is set,
                                                 # else the offline emulator
    python examples/serve_browser.py --emulator  # always the emulator

then open http://127.0.0.1:8000, press "Start talking" and speak (the emulator does not
understand speech: it answers each turn from its script). ``--call`` places one call
from Python instead of a browser, prints it and exits; ``--port`` picks the port.

The same agent runs under the ``voiceagent serve`` command, with workers, a drain on
SIGTERM and the emulator script below::

    voiceagent serve examples/serve_browser.py:Concierge --emulator
"""

from __future__ import annotations

import argparse
import contextlib
import sys

import anyio

from voiceagent import Agent, tool
from voiceagent.serve import BrowserClient, create_app, running
from voiceagent.testing import ReplyContext, Script, ToolCall, Turn, service, synthesize


class Concierge(Agent):
    """A hotel concierge that knows tonight's restaurant availability."""

    instructions = "You are the concierge of Hotel Lumen. Be brief and warm."
    greeting = "Good evening, this is the Hotel Lumen concierge. How can I help?"

    @tool
    async def table_for(self, people: int, time: str) -> dict[str, object]:
        """Check the hotel restaurant for a free table.

        Args:
            people: How many guests.
            time: When, as HH:MM.
        """
        return {"free": True, "people": people, "time": time, "table": 12}


def _booked(ctx: ReplyContext) -> str:
    table = ctx.output("table_for")
    return f"Table {table['table']} is yours at {table['time']} for {table['people']}."


SCRIPT = Script(
    *[
        Turn(
            hears="Can I get a table for two at eight?",
            calls=[ToolCall("table_for", {"people": 2, "time": "20:00"})],
            says=_booked,
        )
    ]
    * 50
)
"""What the emulator says: every turn books the table."""


def _agent_said(message: dict[str, object]) -> bool:
    return bool(message.get("final")) and message["role"] == "agent"


async def call(url: str) -> None:
    """One call from Python, as the page would place it: greeting, question, answer."""
    async with BrowserClient(url) as client:
        await client.wait_for("ready")
        greeting = await client.wait_for("transcript", predicate=_agent_said)
        print(f"agent:  {greeting['text']}")
        await client.wait_for("state", predicate=lambda m: m["state"] == "idle")
        print("caller: (asks for a table for two at eight)")
        await client.stream(synthesize("Can I get a table for two at eight?").audio)
        await client.stream(bytes(24000 * 2))  # a second of silence ends the turn
        answer = await client.wait_for(
            "transcript",
            predicate=lambda m: _agent_said(m) and m["item_id"] != greeting["item_id"],
            timeout=30,
        )
        print(f"agent:  {answer['text']}")
        await client.end()
        ended = await client.wait_for("ended", timeout=30)
        print(
            f"call ended ({ended['reason']}); {client.played / 24000:.1f} s of agent audio played"
        )


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emulator", action="store_true", help="always use the emulator")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument("--call", action="store_true", help="place one call, then exit")
    args = parser.parse_args(argv)
    async with service(SCRIPT, emulator=True if args.emulator else None, speed=1.0) as where:
        app = create_app(Concierge, **where)
        async with running(app, port=0 if args.call else args.port) as server:
            url = f"http://127.0.0.1:{server.port}"
            if args.call:
                await call(url.replace("http", "ws") + "/ws")
                return
            print(f"open {url} and press Start talking; Ctrl-C stops", flush=True)
            await anyio.sleep_forever()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops the server
        anyio.run(main, sys.argv[1:])
