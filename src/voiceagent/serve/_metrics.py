"""The Prometheus metrics a served app exposes at ``/metrics``.

Every figure comes from counters the app keeps anyway (conversations admitted and refused)
or from the events of each conversation's session (:mod:`voiceagent.events`):

=======================================  =========  ===========================================
metric                                   type       labels and meaning
=======================================  =========  ===========================================
``voiceagent_active_sessions``           gauge      ``kind``: conversations open now
``voiceagent_max_sessions``              gauge      the capacity (``max_sessions``)
``voiceagent_draining``                  gauge      1 while the process drains
``voiceagent_sessions_total``            counter    ``kind``, ``end``: conversations ended, by how
``voiceagent_sessions_refused_total``    counter    ``reason`` (``capacity``, ``draining``)
``voiceagent_session_duration_seconds``  histogram  ``kind``: how long conversations lasted
``voiceagent_turns_total``               counter    ``kind``: agent turns answered
``voiceagent_turn_latency_seconds``      histogram  ``kind``: user stops → first agent audio
``voiceagent_interruptions_total``       counter    ``kind``: barge-ins
``voiceagent_tool_duration_seconds``     histogram  ``tool``, ``outcome`` (``ok``, ``error``)
``voiceagent_errors_total``              counter    ``kind``, ``source`` (below)
=======================================  =========  ===========================================

``source`` of an error: ``service`` (the service reported an error event), ``session`` (an
error ended the session), ``connection`` (the connection to the service dropped),
``connect`` (the session could not start), ``endpoint`` (the endpoint's event handling
failed).

Each app has its own registry, so several apps (tests) live in one process. When
``PROMETHEUS_MULTIPROC_DIR`` is set (``voiceagent serve --workers N`` sets it), the values
live in that directory and ``/metrics`` reports the sum over the worker processes, so a
scrape of any worker sees the whole pod.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as _multiprocess

from ..events import Interrupted, ServiceErrorReported, ToolCallFinished, TurnMetrics

if TYPE_CHECKING:
    from ..events import Event

__all__ = ["LATENCY_BUCKETS", "ServeMetrics"]

LATENCY_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
"""Turn latency buckets, in seconds: voice turns live between 0.2 s and 2 s."""
TOOL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SESSION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


def multiprocess_dir() -> str | None:
    """The directory of prometheus-client's multi-process mode, if it is on."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class ServeMetrics:
    """The metrics of one app, in its own registry.

    Args:
        max_sessions: The capacity, exported as ``voiceagent_max_sessions``.
    """

    def __init__(self, *, max_sessions: int) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.active = Gauge(
            "voiceagent_active_sessions",
            "Conversations open now.",
            ["kind"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.capacity = Gauge(
            "voiceagent_max_sessions",
            "Conversations this process admits at once.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.draining = Gauge(
            "voiceagent_draining",
            "1 while the process drains (refuses new conversations).",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.sessions = Counter(
            "voiceagent_sessions",
            "Conversations ended, by how they ended.",
            ["kind", "end"],
            registry=r,
        )
        self.refused = Counter(
            "voiceagent_sessions_refused",
            "Connections refused (capacity: the limit was reached; draining: shutting down).",
            ["reason"],
            registry=r,
        )
        self.duration = Histogram(
            "voiceagent_session_duration_seconds",
            "How long conversations lasted.",
            ["kind"],
            buckets=SESSION_BUCKETS,
            registry=r,
        )
        self.turns = Counter("voiceagent_turns", "Agent turns answered.", ["kind"], registry=r)
        self.latency = Histogram(
            "voiceagent_turn_latency_seconds",
            "From the user's speech stopping (or the turn's request) to the first agent audio.",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.interruptions = Counter(
            "voiceagent_interruptions",
            "Barge-ins: the user interrupted the agent.",
            ["kind"],
            registry=r,
        )
        self.tools = Histogram(
            "voiceagent_tool_duration_seconds",
            "How long tool calls ran.",
            ["tool", "outcome"],
            buckets=TOOL_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "voiceagent_errors",
            "Errors, by where they came from.",
            ["kind", "source"],
            registry=r,
        )
        self.capacity.set(max_sessions)
        self.draining.set(0)

    def observe(self, kind: str, event: Event) -> None:
        """Count what one session event says (events that say nothing are ignored)."""
        if isinstance(event, TurnMetrics):
            self.turns.labels(kind).inc()
            self.latency.labels(kind).observe(event.latency_s)
        elif isinstance(event, Interrupted):
            self.interruptions.labels(kind).inc()
        elif isinstance(event, ToolCallFinished):
            outcome = "ok" if event.error is None else "error"
            self.tools.labels(event.name, outcome).observe(event.duration_s)
        elif isinstance(event, ServiceErrorReported):
            self.errors.labels(kind, "service").inc()

    def render(self) -> bytes:
        """The text exposition format of every metric (the sum over workers in multi-process
        mode)."""
        if multiprocess_dir() is not None:
            registry = CollectorRegistry()
            _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
