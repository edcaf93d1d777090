"""Observability: OpenTelemetry traces and metrics, and the conversation report.

``Agent.telemetry`` (or ``telemetry=`` for one session) takes a :class:`Telemetry`. By
default a session records spans and metrics through the OpenTelemetry API (nowhere until
the application configures an OpenTelemetry SDK; off without the ``opentelemetry-api``
package) and keeps its timeline for ``SessionResult.report()``, a
:class:`ConversationReport`.
"""

from ._report import ConversationReport as ConversationReport
from ._report import ReconnectReport as ReconnectReport
from ._report import ReportSummary as ReportSummary
from ._report import ResponseReport as ResponseReport
from ._report import ServiceErrorReport as ServiceErrorReport
from ._report import StateReport as StateReport
from ._report import ToolCallReport as ToolCallReport
from ._report import TurnReport as TurnReport
from ._report import UsageReport as UsageReport
from ._telemetry import CONTENT_VARIABLES as CONTENT_VARIABLES
from ._telemetry import METRICS as METRICS
from ._telemetry import Telemetry as Telemetry
from ._telemetry import content_recording_from_env as content_recording_from_env

__all__ = [
    "CONTENT_VARIABLES",
    "METRICS",
    "ConversationReport",
    "ReconnectReport",
    "ReportSummary",
    "ResponseReport",
    "ServiceErrorReport",
    "StateReport",
    "Telemetry",
    "ToolCallReport",
    "TurnReport",
    "UsageReport",
    "content_recording_from_env",
]
