"""The ``voiceagent`` command."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

import anyio

from ._version import __version__

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voiceagent",
        description="Real-time voice agents on Azure AI Voice Live.",
    )
    parser.add_argument("--version", action="version", version=f"voiceagent {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    emulator = commands.add_parser(
        "emulator",
        help="run the Voice Live emulator as a standalone server",
        description=(
            "Run the Voice Live emulator: a loopback WebSocket server that speaks the Azure AI "
            "Voice Live protocol, so any azure-ai-voicelive program runs against it offline. "
            "It prints the endpoint and the environment variables to export, then logs one "
            "line per event."
        ),
    )
    emulator.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: %(default)s)"
    )
    emulator.add_argument(
        "--port",
        type=int,
        default=8765,
        help="port to bind, 0 for any free one (default: %(default)s)",
    )
    emulator.add_argument(
        "--api-key", default=None, help="API key clients must send (default: a random key)"
    )
    emulator.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        help="response audio pacing: 1 = real time, 10 = ten times faster, 0 = unpaced "
        "(default: %(default)s)",
    )
    emulator.add_argument("--quiet", action="store_true", help="do not log events")
    return parser


def _speed(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (unpaced) or positive, got {value}")
    return value or None


async def _run_emulator(args: argparse.Namespace) -> None:
    from .errors import EmulatorError
    from .testing import Emulator

    emulator = Emulator(host=args.host, port=args.port, api_key=args.api_key, speed=args.speed)
    try:
        await emulator.start()
    except EmulatorError as exc:
        print(f"voiceagent emulator: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    try:
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            print(f"warning: listening on {args.host}, not only on loopback", file=sys.stderr)
        print(f"Voice Live emulator listening on {emulator.endpoint}")
        print("Point your program at it with:")
        print(f"  export AZURE_VOICELIVE_ENDPOINT={emulator.endpoint}")
        print(f"  export AZURE_VOICELIVE_API_KEY={emulator.api_key}")
        print("Press Ctrl-C to stop.", flush=True)
        await anyio.sleep_forever()
    finally:
        with anyio.CancelScope(shield=True):
            await emulator.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``voiceagent`` command; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "emulator":
        if not args.quiet:
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
            logging.getLogger("aiohttp").setLevel(logging.WARNING)
        try:
            anyio.run(_run_emulator, args)
        except KeyboardInterrupt:
            print("\nemulator stopped", file=sys.stderr)
        return 0
    parser.error(f"unknown command {args.command!r}")
    return 2
