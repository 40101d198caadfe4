"""A fleet drill's figures in its report card: the spread of detection and delivery.

The fleet drill (fixtures/fleet.py) keeps ``meta.fleet`` in its journal entry: the fleet's
size, each agent's declaration and each host's alert (SOP minutes from the fault), the
channel each alert reached 0x01 on, and the spread (min, median, p99, max) of both. A
compliance reader sees here that every agent of the fleet was judged, not only the first.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

#: The journal key the fleet drill writes (fixtures/fleet.py, FLEET_KEY).
FLEET_KEY = "fleet"
_STATS = ("min", "p50", "p99", "max")


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _row(label: str, spread: Any) -> str:
    if not isinstance(spread, Mapping):
        return ""
    cells = "".join(f"<td>{_e(spread.get(stat, '-'))}</td>" for stat in _STATS)
    return f"<tr><th>{_e(label)}</th>{cells}</tr>"


def render_fleet(meta: Mapping[str, Any]) -> str:
    """The fleet section of a drill card ("" for a drill without a fleet)."""
    figures = meta.get(FLEET_KEY)
    if not isinstance(figures, Mapping):
        return ""
    channels = figures.get("channels")
    told = (
        ", ".join(f"{_e(count)} on {_e(channel)}" for channel, count in channels.items())
        if isinstance(channels, Mapping)
        else "-"
    )
    head = "".join(f"<th>{stat}</th>" for stat in _STATS)
    rows = _row("OFFLINE declared", figures.get("detection_spread")) + _row(
        "alert delivered to 0x01", figures.get("delivery_spread")
    )
    return (
        f"<p><b>Fleet</b>: {_e(figures.get('agents'))} agents against one dispatcher and one "
        f"Discord bot; alerts: {told}. SOP minutes from the fault:</p>"
        f"<table class='fleet'><tr><th></th>{head}</tr>{rows}</table>"
    )
