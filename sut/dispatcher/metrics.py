"""The dispatcher's Prometheus counters and gauges, rendered in the text exposition format."""

from __future__ import annotations

from collections import Counter

from sut.dispatcher.provider import ERROR, OK, RATE_LIMITED

_PREFIX = "sopdrill_dispatcher"
_PROVIDER_STATES = (OK, RATE_LIMITED, ERROR, "unknown")


Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    # Exposition format: backslash, double quote and newline are escaped in label values.
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: Labels) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


class Metrics:
    """Counts what the dispatcher did; ``render()`` is the body of ``GET /metrics``."""

    def __init__(self) -> None:
        self.heartbeats: Counter[tuple[str, str]] = Counter()  # (agent, outcome)
        self.provider_calls: Counter[str] = Counter()  # status
        self.provider_status = "unknown"
        self.tasks: Counter[str] = Counter()  # outcome
        self.incidents = 0
        self.uploads = 0
        self.uploaded_entries_stored = 0
        self.upload_conflicts = 0
        self.integrity_checks: Counter[str] = Counter()  # status

    def render(self, agents: int) -> str:
        """Prometheus text format 0.0.4; ``agents`` is the registered count."""
        out: list[str] = []

        def family(
            name: str, kind: str, help_text: str, samples: list[tuple[Labels, float]]
        ) -> None:
            out.append(f"# HELP {_PREFIX}_{name} {help_text}")
            out.append(f"# TYPE {_PREFIX}_{name} {kind}")
            for labels, value in samples:
                out.append(f"{_PREFIX}_{name}{_labels(labels)} {value:g}")

        family(
            "heartbeats_sent_total",
            "counter",
            "Heartbeat envelopes sent, by agent and outcome (delivered, rejected, failed).",
            [((("agent", a), ("outcome", o)), n) for (a, o), n in sorted(self.heartbeats.items())],
        )
        family(
            "provider_calls_total",
            "counter",
            "Model provider calls by classified status.",
            [((("status", s),), n) for s, n in sorted(self.provider_calls.items())],
        )
        family(
            "provider_status",
            "gauge",
            "1 for the status of the last provider call (SOP 2B reports rate_limited).",
            [((("status", s),), 1 if s == self.provider_status else 0) for s in _PROVIDER_STATES],
        )
        family(
            "tasks_total",
            "counter",
            "Task envelopes sent, by outcome.",
            [((("outcome", o),), n) for o, n in sorted(self.tasks.items())],
        )
        family("incidents_total", "counter", "Distress signals accepted.", [((), self.incidents)])
        family(
            "log_uploads_total", "counter", "Emergency log uploads accepted.", [((), self.uploads)]
        )
        family(
            "log_entries_stored_total",
            "counter",
            "Emergency log entries newly stored by uploads.",
            [((), self.uploaded_entries_stored)],
        )
        family(
            "log_upload_conflicts_total",
            "counter",
            "Uploads refused because an entry contradicted a stored one.",
            [((), self.upload_conflicts)],
        )
        family(
            "integrity_checks_total",
            "counter",
            "Integrity checks requested, by result.",
            [((("status", s),), n) for s, n in sorted(self.integrity_checks.items())],
        )
        family("agents", "gauge", "Registered agents.", [((), agents)])
        return "\n".join(out) + "\n"
