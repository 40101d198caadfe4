"""The agent's Prometheus metrics: event counters and the detector's mode, as ``GET /metrics``.

Every loop of the agent counts what it saw and did (probe outcomes, inbox verdicts, mode
transitions, gate decisions, an unwritable emergency log) by a short event name; the
exposition turns the counts into one labelled counter family beside a gauge of the mode
and the emergency log's pending entries (written once the disk has room, SOP 3.3).
"""

from __future__ import annotations

from collections import Counter

from sop.observations import MODES, Mode

#: The media type of the text exposition format, version 0.0.4, that Prometheus scrapes.
CONTENT_TYPE = "text/plain; version=0.0.4"


class AgentMetrics:
    """Counts the agent's events; ``render()`` is the body of ``GET /metrics``."""

    def __init__(self) -> None:
        self.counters: Counter[str] = Counter()

    def count(self, event: str) -> None:
        """One more ``event`` (``probe_timeout``, ``action_refused``, ``transition_offline``...)."""
        self.counters[event] += 1

    def render(self, mode: Mode, pending_entries: int) -> str:
        """Prometheus text exposition of the mode (one-hot), the counters and the pending log."""
        lines = [
            "# HELP sopdrill_agent_mode Current detector mode (1 for the active one).",
            "# TYPE sopdrill_agent_mode gauge",
        ]
        # All four modes every time, so a dashboard sees a 0 for a mode, never a gap.
        for each in MODES:
            lines.append(f'sopdrill_agent_mode{{mode="{each}"}} {1 if mode == each else 0}')
        lines += [
            "# HELP sopdrill_agent_events_total Agent events by kind.",
            "# TYPE sopdrill_agent_events_total counter",
        ]
        for key, value in sorted(self.counters.items()):
            lines.append(f'sopdrill_agent_events_total{{event="{key}"}} {value}')
        lines.append(f"sopdrill_agent_emergency_log_pending {pending_entries}")
        return "\n".join(lines) + "\n"
