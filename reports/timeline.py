"""A drill's timeline as a picture: faults, agent modes, alerts, actions and re-sync, in SVG.

Drawn with matplotlib (its SVG backend, no display, no pyplot state) on an axis of SOP
minutes since the drill began, one lane per kind of fact, so an auditor sees at a glance
when the fault began and ended, when the agent declared OFFLINE against the SOP's
window, when 0x01 was alerted, what the agent did and when it re-synced. The SVG is
inlined into report.html: text stays text, and nothing refers to another file.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # before any other matplotlib import: never a display

from matplotlib.axes import Axes
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from reports.measures import DrillMeasures
from reports.results import DrillResult
from sop.events import Event
from sop.timescale import TimeScale

#: The lanes under the fault rows (one row per fault), top to bottom.
LANES = ("agent mode", "alerts", "actions", "re-sync", "checks")
MODE_COLOURS = {
    "online": "#2e7d32",
    "suspect": "#f9a825",
    "offline": "#c62828",
    "recovering": "#1565c0",
}
_FAULT_COLOUR = "#6a1b9a"
_WINDOW_COLOUR = "#c62828"
_OK, _BAD, _INFO = "#2e7d32", "#c62828", "#455a64"


def _x(event: Event, origin: float, scale: TimeScale) -> float:
    return scale.sop_minutes(event.at_mono - origin)


def _fault_spans(events: Sequence[Event]) -> list[tuple[str, float, float | None]]:
    spans: dict[str, tuple[str, float, float | None]] = {}
    for event in events:
        key = event.correlation_id
        if event.kind == "fault_injected":
            spans[key] = (str(event.data.get("fault", "fault")), event.at_mono, None)
        elif event.kind == "fault_reverted" and key in spans:
            name, start, _ = spans[key]
            spans[key] = (name, start, event.at_mono)
    return list(spans.values())


def _mode_spans(events: Sequence[Event], end: float) -> list[tuple[str, float, float]]:
    polled = [e for e in events if e.kind == "state_change" and e.source == "probes"]
    if not polled:
        polled = [e for e in events if e.kind == "state_change" and e.source == "emergency_log"]
    changes = [(str(e.data.get("mode")), e.at_mono) for e in polled if e.data.get("mode")]
    return [
        (mode, start, changes[i + 1][1] if i + 1 < len(changes) else end)
        for i, (mode, start) in enumerate(changes)
    ]


def _marker(event: Event) -> tuple[str, str, str] | None:
    """(lane, matplotlib marker, colour) of a point event, or None if not drawn."""
    data = event.data
    if event.kind == "notification":
        if event.source in ("discord", "signal"):
            return "alerts", "D", _OK
        if data.get("log_kind") == "marker":
            return "alerts", "|", _INFO
        return (
            "alerts",
            "o" if data.get("outcome") == "delivered" else "x",
            (_OK if data.get("outcome") == "delivered" else _BAD),
        )
    if event.kind == "action":
        executed = data.get("decision") == "executed"
        return "actions", "o" if executed else "x", _OK if executed else _BAD
    if event.kind == "resync":
        return "re-sync", "s", _OK if data.get("outcome") not in ("failed", "error") else _BAD
    if event.source == "steady_state":
        return "checks", "^", _OK if data.get("ok") else _BAD
    return None


def render_timeline(drill: DrillResult, measures: DrillMeasures, scale: TimeScale) -> str:
    """The ``<svg>`` element of ``drill``'s timeline (empty string if it has no events)."""
    events = sorted(drill.events, key=lambda e: e.at_mono)
    if not events:
        return ""
    origin, end = events[0].at_mono, events[-1].at_mono
    span = max(scale.sop_minutes(end - origin), 1e-3)
    faults = _fault_spans(events)
    labels = [f"fault: {name}" for name, _, _ in faults] + list(LANES)
    rows = {label: len(labels) - 1 - i for i, label in enumerate(labels)}
    figure = Figure(figsize=(11, 1.3 + 0.36 * len(labels)), dpi=96)
    FigureCanvasSVG(figure)
    axes = figure.add_axes((0.16, 0.3, 0.82, 0.66))

    for label, (_, start, stop) in zip(labels, faults, strict=False):
        left = _x_mono(start, origin, scale)
        right = _x_mono(stop if stop is not None else end, origin, scale)
        axes.barh(rows[label], right - left, left=left, height=0.55, color=_FAULT_COLOUR)
    for mode, start, stop in _mode_spans(events, end):
        left = _x_mono(start, origin, scale)
        axes.barh(
            rows["agent mode"],
            # A state held for less than a poll still shows (recovering often is).
            max(_x_mono(stop, origin, scale) - left, span / 400),
            left=left,
            height=0.55,
            color=MODE_COLOURS.get(mode, "#9e9e9e"),
        )
    _draw_window(axes, drill, measures, origin, scale, rows["agent mode"])
    for event in events:
        drawn = _marker(event)
        if drawn is not None:
            lane, marker, colour = drawn
            axes.plot(
                _x(event, origin, scale), rows[lane], marker=marker, color=colour, markersize=7,
                linestyle="none",
            )  # fmt: skip

    axes.set_yticks([rows[label] for label in labels], labels, fontsize=9)
    axes.set_ylim(-0.7, len(labels) - 0.2)
    axes.set_xlim(-0.02 * span, span * 1.02)
    axes.set_xlabel(f"SOP minutes since the drill began (time scale {scale.factor:g})", fontsize=9)
    axes.tick_params(axis="x", labelsize=8)
    axes.grid(axis="x", color="#e0e0e0", linewidth=0.6)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    legend: list[Patch | Line2D] = [
        Patch(color=colour, label=mode) for mode, colour in MODE_COLOURS.items()
    ]
    legend += [
        Patch(color=_FAULT_COLOUR, label="fault active"),
        Patch(facecolor=_WINDOW_COLOUR, alpha=0.15, label="SOP detection window"),
        _point("D", _OK, "alert received"),
        _point("o", _OK, "delivered / executed"),
        _point("x", _BAD, "failed / refused"),
        _point("|", _INFO, "SOP 3.3 marker"),
        _point("s", _OK, "re-sync step"),
        _point("^", _OK, "steady state held"),
    ]
    figure.legend(
        handles=legend, loc="lower center", ncol=7, fontsize=8, frameon=False,
        bbox_to_anchor=(0.55, 0.0),
    )  # fmt: skip
    return _svg(figure, drill.nodeid)


def _point(marker: str, colour: str, label: str) -> Line2D:
    return Line2D([], [], marker=marker, color=colour, linestyle="none", label=label)


def _x_mono(at_mono: float, origin: float, scale: TimeScale) -> float:
    return scale.sop_minutes(at_mono - origin)


def _draw_window(
    axes: Axes,
    drill: DrillResult,
    measures: DrillMeasures,
    origin: float,
    scale: TimeScale,
    row: int,
) -> None:
    """Shade the SOP's detection window where the drill recorded one and OFFLINE was seen."""
    found = drill.detection
    if (
        found is None
        or found.window_start_sop_minutes is None
        or found.declared_sop_minutes is None
        or measures.offline_at_mono is None
    ):
        return
    # The window is relative to the drill's own origin (e.g. the last heartbeat); the
    # declared instant, seen by the harness, pins that origin on this axis.
    seen = _x_mono(measures.offline_at_mono, origin, scale)
    zero = seen - found.declared_sop_minutes
    start = zero + found.window_start_sop_minutes
    stop = zero + (found.window_end_sop_minutes or found.window_start_sop_minutes)
    axes.axvspan(start, stop, color=_WINDOW_COLOUR, alpha=0.15, lw=0)
    axes.annotate(
        "OFFLINE declared",
        xy=(seen, row + 0.3),
        xytext=(seen, row + 0.75),
        fontsize=8,
        ha="center",
        arrowprops={"arrowstyle": "->", "color": "#333"},
    )


def _svg(figure: Figure, salt: str) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buffer.getvalue()
    # The RDF metadata names URIs; the page must not contain any, even unfetched.
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.DOTALL)
    return text[text.index("<svg") :]


__all__ = ["LANES", "MODE_COLOURS", "render_timeline"]
