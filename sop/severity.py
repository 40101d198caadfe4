"""The seeds' severity tables as data: levels, incident kinds, and when a slow answer is one.

emergency-procedures.md "Severity Levels" (P0 CRITICAL ... P3 LOW, with examples) and its
failure scenarios, cell0-incident-runbook.md's headings and gate4's guardrails each give an
incident kind its level; the policy's ``severity`` section holds the table (one line per
kind, each citing its clause) and :func:`read_severity` reads it. A slow answer is the one
incident with a number of its own: cell0 "P2 - Slow Response Times", "API latency > 5
seconds", the policy's ``latency`` section (:class:`Latency`): one bound for Ollama's health
check (``slow_inference``), one for the Dispatcher's API (``network_latency``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sop.policy_reader import FieldReader

#: The severity levels of emergency-procedures.md and cell0-incident-runbook.md, worst first.
SEVERITY_LEVELS = ("P0", "P1", "P2", "P3")
#: Every incident kind the seeds' severity tables name (sop/offline-emergency.yaml cites each).
INCIDENT_KINDS = (
    "agent_down",
    "infrastructure_lost",
    "gitea_lost",
    "agent_unresponsive",
    "ollama_down",
    "gitea_down",
    "orphaned",
    "service_down",
    "resync_refused",
    "slow_inference",
    "network_latency",
    "report_formatting",
    "log_rotation",
    "data_corruption",
    "high_memory",
    "risk_controls_failed",
)
#: SOP seconds per SOP minute: the latency bound is given in seconds, the clock takes minutes.
_SECONDS_PER_MINUTE = 60.0


@dataclass(frozen=True)
class Latency:
    """When an answer that came is still an incident: slower than the bound, this many
    checks in a row (the second number is the deployment's guard, not a seed clause)."""

    #: cell0 "API latency > 5 seconds", in SOP seconds (scaled like every SOP duration).
    slow_inference_seconds: float
    slow_checks_in_a_row: int
    #: The same clause read on the Dispatcher's API (SOP 2A.2's direct probe), emergency-
    #: procedures.md P2 "network latency"; SOP seconds, below the probe's timeout.
    network_latency_seconds: float

    @property
    def slow_inference_minutes(self) -> float:
        """The bound in SOP minutes, the unit the clocks convert."""
        return self.slow_inference_seconds / _SECONDS_PER_MINUTE

    def bound_seconds(self, kind: str) -> float:
        """The P2 bound of incident ``kind`` (``slow_inference`` or ``network_latency``)."""
        if kind == "network_latency":
            return self.network_latency_seconds
        return self.slow_inference_seconds


def read_severity(r: FieldReader) -> tuple[tuple[str, str], ...]:
    """The ``severity`` section: a level of :data:`SEVERITY_LEVELS` for every known kind."""
    table = tuple((kind, r.text(kind)) for kind in INCIDENT_KINDS)
    for kind, level in table:
        if level not in SEVERITY_LEVELS:
            raise r.error(r.field(kind), f"expected one of {list(SEVERITY_LEVELS)}", level)
    r.done()
    return table


def read_latency(r: FieldReader, check_timeout_minutes: float) -> Latency:
    """The ``latency`` section; the bound must stay below the health check's timeout
    (``check_timeout_minutes``), else every slow answer would be a timeout instead."""
    value = Latency(
        slow_inference_seconds=r.seconds("slow_inference_seconds"),
        slow_checks_in_a_row=int(r.positive("slow_checks_in_a_row", integer=True)),
        network_latency_seconds=r.seconds("network_latency_seconds"),
    )
    # Past the timeout an answer is a timeout (SOP 2A.2's failure, or a degraded service),
    # never a slow one: a bound at or above it would make the P2 unreachable.
    for name in ("slow_inference_seconds", "network_latency_seconds"):
        bound_s = getattr(value, name)
        if bound_s / _SECONDS_PER_MINUTE >= check_timeout_minutes:
            timeout_s = check_timeout_minutes * _SECONDS_PER_MINUTE
            check = "health check's" if name.startswith("slow") else "Dispatcher probe's"
            why = (
                f"expected below the {check} timeout "
                f"(deployment.api_probe_timeout_minutes: {timeout_s:g} SOP seconds)"
            )
            raise r.error(r.field(name), why, bound_s)
    r.done()
    return value


__all__ = ["INCIDENT_KINDS", "SEVERITY_LEVELS", "Latency", "read_latency", "read_severity"]
