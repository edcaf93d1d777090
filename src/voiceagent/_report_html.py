"""The conversation report as one self-contained HTML page: no script, no external file.

The timeline is an inline SVG: one lane of turn states, one of tool calls, one of
latencies (user stopped → first audio), with interruptions and reconnections marked, and
a tooltip (``<title>``) on everything. The tables below it say the same in words.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._report import ConversationReport, TurnReport

__all__ = ["render"]

COLORS: Final = {
    "user_speaking": "#3b82f6",
    "confirming": "#f59e0b",
    "thinking": "#9ca3af",
    "tool_running": "#8b5cf6",
    "agent_speaking": "#10b981",
    "ok": "#8b5cf6",
    "error": "#ef4444",
    "cancelled": "#f97316",
    "running": "#a78bfa",
    "latency": "#0f172a",
    "interrupted": "#dc2626",
    "reconnect": "#fb923c",
}
_MIN_WIDTH: Final = 960
_MAX_PX_PER_S: Final = 40.0
_LEFT: Final = 110
_LANES: Final = ("states", "tools", "latency")
_LANE_H: Final = 26
_TOP: Final = 22

_CSS: Final = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#111827}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
.meta{color:#4b5563;margin-bottom:16px}
.scroll{overflow-x:auto;border:1px solid #e5e7eb;border-radius:6px;padding:6px 0}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f9fafb;font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;
vertical-align:-1px}
.bad{color:#b91c1c}.muted{color:#6b7280}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _s(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value * 1000:.0f} ms"


def render(report: ConversationReport) -> str:
    """The page."""
    end = max(report.duration_s, 0.001)
    scale = max(_MIN_WIDTH / end, 1.0)
    scale = min(scale, _MAX_PX_PER_S) if end * _MAX_PX_PER_S > _MIN_WIDTH else scale
    width = _LEFT + end * scale + 20
    height = _TOP + len(_LANES) * _LANE_H + 24
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height}" '
        f'role="img" aria-label="conversation timeline">'
    ]

    def x(at: float) -> float:
        return _LEFT + max(0.0, at) * scale

    def lane_y(name: str) -> float:
        return _TOP + _LANES.index(name) * _LANE_H

    for name, label in zip(_LANES, ("turn states", "tool calls", "latency"), strict=True):
        svg.append(
            f'<text x="8" y="{lane_y(name) + 17:.0f}" font-size="12" fill="#374151">{label}</text>'
        )
    step = _tick_step(end)
    tick = 0.0
    while tick <= end + 1e-9:
        px = x(tick)
        svg.append(
            f'<line x1="{px:.1f}" y1="{_TOP - 4}" x2="{px:.1f}" y2="{height - 20}" '
            'stroke="#f3f4f6"/>'
            f'<text x="{px:.1f}" y="{height - 6}" font-size="10" fill="#6b7280" '
            f'text-anchor="middle">{tick:g} s</text>'
        )
        tick += step
    for reconnect in report.reconnects:
        gap = (reconnect.gap_ms or 0.0) / 1000 if reconnect.gap_ms is not None else end
        left, right = x(reconnect.started_s), x(min(end, reconnect.started_s + gap))
        svg.append(
            f'<rect x="{left:.1f}" y="{_TOP - 6}" width="{max(2.0, right - left):.1f}" '
            f'height="{len(_LANES) * _LANE_H + 4}" fill="{COLORS["reconnect"]}" opacity="0.25">'
            f"<title>reconnecting: {_e(reconnect.reason)} ({reconnect.attempts} attempt(s), "
            f"gap {_s(reconnect.gap_ms, 0)} ms)</title></rect>"
        )
    for turn in report.turns:
        svg.extend(_turn_marks(turn, x, lane_y, end))
    svg.append("</svg>")
    legend = " ".join(
        f'<span><i style="background:{COLORS[key]}"></i>{_e(key.replace("_", " "))}</span>'
        for key in ("user_speaking", "confirming", "thinking", "tool_running", "agent_speaking")
    )
    legend += (
        f' <span><i style="background:{COLORS["interrupted"]}"></i>interruption</span>'
        f' <span><i style="background:{COLORS["reconnect"]}"></i>reconnection</span>'
    )
    title = f"{report.agent} conversation"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<div class="meta">{_e(report.started_at)} · {report.duration_s:.1f} s · model '
        f"{_e(report.model or '?')} · session {_e(report.session_id or '?')} · ended: "
        f"{_e(report.end_reason or 'still running')}"
        + (f' · <span class="bad">{_e(report.error)}</span>' if report.error else "")
        + "</div>",
        f'<div class="legend">{legend}</div>',
        f'<div class="scroll">{"".join(svg)}</div>',
        _summary(report),
        _turns(report),
        _others(report),
        "</body></html>",
    ]
    return "\n".join(parts)


def _tick_step(end: float) -> float:
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if end / step <= 30:
            return float(step)
    return 7200.0


def _turn_marks(
    turn: TurnReport,
    x: Callable[[float], float],
    lane_y: Callable[[str], float],
    end: float,
) -> list[str]:
    out: list[str] = []
    start = x(turn.started_s)
    out.append(
        f'<line x1="{start:.1f}" y1="{_TOP - 8}" x2="{start:.1f}" '
        f'y2="{_TOP + len(_LANES) * _LANE_H}" stroke="#d1d5db" stroke-dasharray="2,2"/>'
        f'<text x="{start + 2:.1f}" y="{_TOP - 10}" font-size="10" fill="#6b7280">'
        f"#{turn.index}</text>"
    )
    y = lane_y("states")
    for state in turn.states:
        left = x(state.started_s)
        right = x(state.ended_s if state.ended_s is not None else end)
        color = COLORS.get(state.state, "#d1d5db")
        stop = _s(state.ended_s) or "now"
        out.append(
            f'<rect x="{left:.1f}" y="{y + 3:.0f}" width="{max(1.0, right - left):.1f}" '
            f'height="{_LANE_H - 6}" fill="{color}"><title>turn {turn.index}: '
            f"{_e(state.state.replace('_', ' '))} {_s(state.started_s)} to {stop} s</title></rect>"
        )
    y = lane_y("tools")
    for call in turn.tool_calls:
        left = x(call.started_s)
        right = x(call.started_s + (call.duration_s or 0.0)) if call.duration_s else left + 3
        color = COLORS.get(call.outcome, COLORS["ok"])
        out.append(
            f'<rect x="{left:.1f}" y="{y + 5:.0f}" width="{max(3.0, right - left):.1f}" '
            f'height="{_LANE_H - 10}" rx="3" fill="{color}"><title>{_e(call.name)}: '
            f"{_e(call.outcome)}, {_ms(call.duration_s)}</title></rect>"
        )
    y = lane_y("latency")
    if turn.latency_s is not None and turn.speech_stopped_s is not None:
        left = x(turn.speech_stopped_s)
        right = x(turn.speech_stopped_s + turn.latency_s)
        out.append(
            f"<g><title>turn {turn.index} latency: {_ms(turn.latency_s)}</title>"
            f'<line x1="{left:.1f}" y1="{y + 13:.0f}" x2="{right:.1f}" y2="{y + 13:.0f}" '
            f'stroke="{COLORS["latency"]}" stroke-width="2"/>'
            f'<line x1="{left:.1f}" y1="{y + 7:.0f}" x2="{left:.1f}" y2="{y + 19:.0f}" '
            f'stroke="{COLORS["latency"]}"/>'
            f'<line x1="{right:.1f}" y1="{y + 7:.0f}" x2="{right:.1f}" y2="{y + 19:.0f}" '
            f'stroke="{COLORS["latency"]}"/></g>'
        )
    elif turn.latency_s is not None:
        left = x(turn.started_s)
        out.append(
            f'<text x="{left + 2:.1f}" y="{y + 17:.0f}" font-size="10">'
            f"{_ms(turn.latency_s)}<title>turn {turn.index} latency</title></text>"
        )
    if turn.interrupted_s is not None:
        px = x(turn.interrupted_s)
        top = lane_y("states")
        out.append(
            f"<g><title>turn {turn.index} interrupted: {_s(turn.heard_ms, 0)} ms heard</title>"
            f'<line x1="{px:.1f}" y1="{top:.0f}" x2="{px:.1f}" y2="{top + _LANE_H:.0f}" '
            f'stroke="{COLORS["interrupted"]}" stroke-width="2"/>'
            f'<polygon points="{px - 5:.1f},{top - 4:.0f} {px + 5:.1f},{top - 4:.0f} '
            f'{px:.1f},{top + 3:.0f}" fill="{COLORS["interrupted"]}"/></g>'
        )
    return out


def _summary(report: ConversationReport) -> str:
    s = report.summary
    latencies = (s.latency_p50_s, s.latency_p95_s, s.latency_max_s)
    rows = [
        ("turns", f"{s.turns}" + (f" ({s.dropped_turns} not kept)" if s.dropped_turns else "")),
        ("latency p50 / p95 / max", " / ".join(_ms(v) or "-" for v in latencies)),
        ("interruptions", str(s.interruptions)),
        ("false interruptions", str(s.false_interruptions)),
        ("tool calls (errors)", f"{s.tool_calls} ({s.tool_errors})"),
        ("reconnections", str(s.reconnects)),
        ("service errors", str(s.service_errors)),
        (
            "tokens in / out",
            f"{s.usage.input_tokens} / {s.usage.output_tokens} "
            f"(audio {s.usage.input_audio_tokens} / {s.usage.output_audio_tokens})",
        ),
    ]
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<h2>Summary</h2><table>{body}</table>"


def _turns(report: ConversationReport) -> str:
    head = (
        "<tr><th>#</th><th>start</th><th>user</th><th>latency</th><th>agent</th>"
        "<th>tools</th><th>tokens in/out</th></tr>"
    )
    rows = []
    for turn in report.turns:
        user = turn.user_text if turn.user_text is not None else f"({turn.trigger})"
        agent = _e(turn.agent_text or "")
        if turn.interrupted:
            agent += f' <span class="bad">[interrupted, {_s(turn.heard_ms, 0)} ms heard]</span>'
        if turn.false_interruptions:
            agent += (
                f' <span class="muted">[{turn.false_interruptions} false interruption(s)]</span>'
            )
        tools = "<br>".join(
            f"{_e(c.name)} {_e(c.outcome)} {_ms(c.duration_s)}"
            + (f' <span class="bad">{_e(c.error)}</span>' if c.error else "")
            for c in turn.tool_calls
        )
        tokens_in = sum(r.usage.input_tokens for r in turn.responses if r.usage)
        tokens_out = sum(r.usage.output_tokens for r in turn.responses if r.usage)
        rows.append(
            f'<tr><td class="n">{turn.index}</td><td class="n">{_s(turn.started_s)} s</td>'
            f'<td>{_e(user)}</td><td class="n">{_ms(turn.latency_s)}</td><td>{agent}</td>'
            f'<td>{tools}</td><td class="n">{tokens_in} / {tokens_out}</td></tr>'
        )
    return f"<h2>Turns</h2><table>{head}{''.join(rows)}</table>"


def _others(report: ConversationReport) -> str:
    out = []
    if report.reconnects:
        rows = "".join(
            f'<tr><td class="n">{_s(r.started_s)} s</td><td>{_e(r.reason)}</td>'
            f'<td class="n">{r.attempts}</td><td class="n">{_s(r.gap_ms, 0)} ms</td>'
            f'<td class="n">{r.replayed_items if r.replayed_items is not None else ""}</td></tr>'
            for r in report.reconnects
        )
        out.append(
            "<h2>Reconnections</h2><table><tr><th>at</th><th>reason</th><th>attempts</th>"
            f"<th>gap</th><th>items replayed</th></tr>{rows}</table>"
        )
    if report.service_errors:
        rows = "".join(
            f'<tr><td class="n">{_s(e.at_s)} s</td><td>{_e(e.code or "")}</td>'
            f"<td>{_e(e.message)}</td></tr>"
            for e in report.service_errors
        )
        out.append(
            "<h2>Service errors</h2><table><tr><th>at</th><th>code</th><th>message</th></tr>"
            f"{rows}</table>"
        )
    return "\n".join(out)
