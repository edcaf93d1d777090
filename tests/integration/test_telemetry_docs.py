"""docs/observability.md's set-ups run as a user copies them: each titled Python block is
written to a file and run in its own process against the emulator (configured as Azure
through the environment), with its exporters sending to loopback receivers: the console's
output, an OTLP/HTTP collector's requests and Application Insights' ingestion requests are
read back and checked."""

from __future__ import annotations

import gzip
import json
import os
import re
import sys
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from aiohttp import web

from voiceagent.demo import SCRIPT
from voiceagent.testing import Emulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "observability.md"
FENCE = re.compile(r"^```python([^\n]*)\n(.*?)^```\s*$", re.M | re.S)


def blocks() -> dict[str, str]:
    """The page's Python blocks: titled ones by title, the others as ``untitled-N``."""
    found: dict[str, str] = {}
    for n, match in enumerate(FENCE.finditer(PAGE.read_text())):
        title = re.search(r'title="([^"]+)"', match.group(1))
        found[title.group(1) if title else f"untitled-{n}"] = match.group(2)
    return found


def test_the_settings_example_runs() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(blocks()["untitled-0"], "observability.md", "exec"), namespace)
    assert namespace["quiet"].telemetry.report is False
    assert namespace["Receptionist"]().telemetry.report_turns == 200


class Receiver:
    """A loopback HTTP server that keeps every request's path and body."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        encoding = request.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        self.requests.append((request.path, body))
        if request.path.endswith("/track"):
            count = len(json.loads(body))
            return web.json_response({"itemsReceived": count, "itemsAccepted": count, "errors": []})
        return web.Response(body=b"", content_type="application/x-protobuf")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    found.url = f"http://127.0.0.1:{port}"
    yield found
    await runner.cleanup()


async def run_block(title: str, tmp_path: Path, **env: str) -> tuple[int, str, str]:
    """Run the page's block ``title`` against an emulator playing the demo's script."""
    (tmp_path / title).write_text(blocks()[title])
    async with Emulator(script=SCRIPT, speed=None) as service:
        environ = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OTEL_"))},
            "AZURE_VOICELIVE_ENDPOINT": service.endpoint,
            "AZURE_VOICELIVE_API_KEY": service.api_key,
            **env,
        }
        with anyio.fail_after(90):
            done = await anyio.run_process(
                [sys.executable, title], cwd=tmp_path, env=environ, check=False
            )
    return done.returncode, done.stdout.decode(), done.stderr.decode()


async def test_the_console_set_up_prints_the_spans_and_the_metrics(tmp_path: Path) -> None:
    code, out, err = await run_block("observability_console.py", tmp_path)
    assert code == 0, err
    names = re.findall(r'^    "name": "([^"]+)"', out, re.M)
    assert "invoke_agent WeatherAgent" in names
    assert "voiceagent.turn" in names
    assert "execute_tool get_weather" in names
    assert "chat gpt-realtime" in names
    for metric in ("voiceagent.turn.latency", "voiceagent.tool.duration"):
        assert f'"name": "{metric}"' in out
    page = (tmp_path / "report.html").read_text()
    assert "get_weather" in page


async def test_the_otlp_set_up_sends_the_spans_and_the_metrics(
    tmp_path: Path, receiver: Receiver
) -> None:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    code, _out, err = await run_block(
        "observability_otlp.py", tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url
    )
    assert code == 0, err
    spans: list[str] = []
    metrics: list[str] = []
    for path, body in receiver.requests:
        if path == "/v1/traces":
            traces = ExportTraceServiceRequest.FromString(body)
            spans += [
                s.name for r in traces.resource_spans for sc in r.scope_spans for s in sc.spans
            ]
        elif path == "/v1/metrics":
            points = ExportMetricsServiceRequest.FromString(body)
            metrics += [
                m.name
                for r in points.resource_metrics
                for sc in r.scope_metrics
                for m in sc.metrics
            ]
    assert "invoke_agent WeatherAgent" in spans
    assert "execute_tool get_weather" in spans
    assert "voiceagent.turn.latency" in metrics
    assert "gen_ai.client.token.usage" in metrics


NETWORK_GUARD = """
import ipaddress
import socket

_connect = socket.socket.connect
_getaddrinfo = socket.getaddrinfo


def _loopback_only(host):
    try:
        if not ipaddress.ip_address(host).is_loopback:
            raise OSError(f"test guard: no connection to {host} (loopback only)")
    except ValueError:
        if host not in ("localhost",):
            raise OSError(f"test guard: no lookup of {host} (loopback only)") from None


def connect(self, address):
    if isinstance(address, tuple):
        _loopback_only(address[0])
    return _connect(self, address)


def getaddrinfo(host, *args, **kwargs):
    if host is not None:
        _loopback_only(host if isinstance(host, str) else host.decode())
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = connect
socket.getaddrinfo = getaddrinfo
"""


async def test_the_azure_monitor_set_up_sends_to_application_insights(
    tmp_path: Path, receiver: Receiver
) -> None:
    """The distro configured by the page's code, with its ingestion endpoint on loopback
    (and, for safety, a guard in the process that refuses any other address)."""
    code = blocks()["observability_azure_monitor.py"]
    (tmp_path / "guarded.py").write_text(
        NETWORK_GUARD + "\nimport runpy\nrunpy.run_path('observability_azure_monitor.py')\n"
    )
    (tmp_path / "observability_azure_monitor.py").write_text(code)
    async with Emulator(script=SCRIPT, speed=None) as service:
        environ = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OTEL_"))},
            "AZURE_VOICELIVE_ENDPOINT": service.endpoint,
            "AZURE_VOICELIVE_API_KEY": service.api_key,
            "APPLICATIONINSIGHTS_CONNECTION_STRING": (
                "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
                f"IngestionEndpoint={receiver.url}/"
            ),
            # No statsbeat, no Azure resource detection (both would call Azure endpoints).
            "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
            "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "otel",
            # Every trace (the distro's default sampler keeps at most 5 a second, and may
            # drop a process's first), and its retry storage in the test's directory.
            "OTEL_TRACES_SAMPLER": "always_on",
            "TMPDIR": str(tmp_path),
        }
        with anyio.fail_after(90):
            done = await anyio.run_process(
                [sys.executable, "guarded.py"], cwd=tmp_path, env=environ, check=False
            )
    assert done.returncode == 0, done.stderr.decode()
    assert b"test guard" not in done.stderr
    items = [
        item
        for path, body in receiver.requests
        if path.endswith("/track")
        for item in json.loads(body)
    ]
    names = {item["data"]["baseData"].get("name") for item in items}
    assert "invoke_agent WeatherAgent" in names
    assert "execute_tool get_weather" in names
