"""The generated schedules of a run, drawn: each schedule a timeline, the shrunk failure first.

The schedules drill (fixtures/schedules/) keeps what it did in its journal entry,
``meta.schedules``: the seed, the budget's profile, and per judged schedule its steps as
planned and as played (SOP minutes from the schedule's origin) and the checker's line
when it failed. This renders that as inline SVG, one row per step: the planned span as
a pale bar, the played span (inject to revert, as the harness saw it) solid over it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

#: The journal key the drill writes (fixtures/schedules/plugin.py).
SCHEDULES_KEY = "schedules"
_ROW_PX, _LABEL_PX, _PLOT_PX = 18, 330, 460


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _x(minute: float, length: float) -> float:
    return _LABEL_PX + _PLOT_PX * max(0.0, min(minute, length)) / max(length, 1e-9)


def timeline_svg(played: Sequence[Mapping[str, Any]], length: float) -> str:
    """One schedule's steps against SOP minutes 0..``length``."""
    height = _ROW_PX * (len(played) + 1) + 6
    width = _LABEL_PX + _PLOT_PX + 10
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' font-size='11' font-family='monospace'>"
    ]
    for tick in range(0, int(length) + 1, 5):
        x = _x(tick, length)
        parts.append(
            f"<line x1='{x:.1f}' y1='0' x2='{x:.1f}' y2='{height - 14}' stroke='#ddd'/>"
            f"<text x='{x:.1f}' y='{height - 2}' fill='#666' text-anchor='middle'>{tick}</text>"
        )
    for row, step in enumerate(played):
        y = row * _ROW_PX + 2
        label = str(step.get("label", "?"))
        parts.append(f"<text x='0' y='{y + 12}'>{_e(label[:46])}</text>")
        start, end = _number(step.get("planned_start")), _number(step.get("planned_end"))
        if start is not None and end is not None:
            x0, x1 = _x(start, length), _x(end, length)
            parts.append(
                f"<rect x='{x0:.1f}' y='{y + 2}' width='{max(x1 - x0, 2):.1f}' height='12' "
                f"fill='#cfe0f5'><title>planned {start:g}-{end:g} SOP-min</title></rect>"
            )
        went_in, came_out = _number(step.get("injected_at")), _number(step.get("reverted_at"))
        if went_in is not None:
            out = came_out if came_out is not None else length
            x0, x1 = _x(went_in, length), _x(out, length)
            parts.append(
                f"<rect x='{x0:.1f}' y='{y + 5}' width='{max(x1 - x0, 2):.1f}' height='6' "
                f"fill='#2563a8'><title>played {went_in:.2f}-{out:.2f} SOP-min</title></rect>"
            )
        elif step.get("unavailable"):
            parts.append(
                f"<text x='{_LABEL_PX}' y='{y + 12}' fill='#a00'>"
                f"not played: {_e(str(step['unavailable'])[:60])}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _trial(trial: Mapping[str, Any]) -> str:
    length = _number(trial.get("length_minutes")) or 0.0
    played = trial.get("played") or []
    verdict = "held" if trial.get("held") else "VIOLATED"
    failure = f"<br><code>{_e(trial['failure'])}</code>" if trial.get("failure") else ""
    return (
        f"<div class='schedule'><p><b>{_e(trial.get('id'))}</b> · {len(played)} step(s), "
        f"{length:g} SOP-min · SOP {verdict}{failure}</p>"
        f"{timeline_svg(played, length)}</div>"
    )


def render_schedules(meta: Mapping[str, Any]) -> str:
    """The schedules section of a drill card ("" for a drill that played none)."""
    record = meta.get(SCHEDULES_KEY)
    if not isinstance(record, Mapping):
        return ""
    trials = [t for t in record.get("trials") or [] if isinstance(t, Mapping)]
    unplayed = record.get("unplayed")
    head = (
        f"<p><b>Generated schedules</b>: seed <code>{_e(record.get('seed'))}</code>"
        + (" (replay of one schedule)" if record.get("replay") else "")
        + (f", profile {_e(record['profile'])}" if record.get("profile") else "")
        + f", {len(trials)} judged"
        + (f", {_e(unplayed)} left unplayed by the budget" if unplayed else "")
        + "</p>"
    )
    failure = record.get("failure")
    shrunk = ""
    if isinstance(failure, Mapping):
        smallest = next((t for t in trials if t.get("id") == failure.get("id")), None)
        shrunk = (
            f"<div class='divergence'><b>Smallest failing schedule</b> "
            f"(<code>sopdrill replay {_e(failure.get('file'))}</code>): "
            f"<code>{_e(failure.get('line'))}</code></div>"
            + (_trial(smallest) if smallest is not None else "")
        )
    rest = "".join(_trial(t) for t in trials)
    return (
        f"{head}{shrunk}<details><summary>every schedule judged ({len(trials)})</summary>"
        f"{rest}</details>"
    )


__all__ = ["SCHEDULES_KEY", "render_schedules", "timeline_svg"]
