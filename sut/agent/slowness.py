"""Slow answers that are still answers: a P2 incident, logged once, nothing more.

emergency-procedures.md "Severity Levels": P2 MEDIUM, "Partial degradation, workarounds
available", e.g. "Slow inference"; cell0-incident-runbook.md "P2 - Slow Response Times":
"API latency > 5 seconds" (the policy's ``latency.slow_inference_seconds``, SOP seconds).
The notification flow gives a P2 one channel: "P2 -> Log and continue", "Log entry
(P2/P3)": no distress signal, no Gitea issue, no message to 0x01, no action.

The agent reads Ollama's health check (scenario 2 STEP 1, ``/api/tags``) every remediation
round, and sut/agent/facts.py times each 200. :class:`SlowWatch` is the pure part: fed the
round's timings in SOP seconds, it says which services just became slow: slower than the
bound on ``latency.slow_checks_in_a_row`` answered checks in a row (one stalled answer on a
loaded host is noise, as SOP 2A.2 counts failures in a row, not one). It says so once per
episode; an answer within the bound ends the episode, so the next slowness is news again.
A check that did not answer 200 is neither slow nor fast here (down or degraded is the
P1 outage, sut/agent/incidents.py). The desk logs what it says (sut/agent/incident_desk.py).

The Dispatcher's API is watched the same way (emergency-procedures.md P2 "network latency",
the policy's ``latency.network_latency_seconds``): the agent times each SOP 2A.2 probe that
answered; slower than the bound but within the probe's timeout is the P2, logged once an
episode. A probe that timed out is SOP 2A.2's failure, never a slow answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sop.severity import Latency

#: Watched component -> the incident kind of its slow answers. Only Ollama infers ("Slow
#: inference"); the seeds give Gitea's latency no severity of its own. The Dispatcher's API,
#: reached over the network, is "network latency" (emergency-procedures.md P2).
SLOW_KINDS: Mapping[str, str] = {"ollama": "slow_inference", "dispatcher": "network_latency"}
#: What each component's timed answer is, in the incident's words.
_ANSWERS = {"dispatcher": "the Dispatcher's API answered the agent's probe"}


@dataclass(frozen=True)
class Slow:
    """One service that just became slow: the answer that made it so and the bound."""

    kind: str
    component: str
    took_sop_s: float
    bound_sop_s: float
    checks: int  # slow answers in a row so far

    def reason(self) -> str:
        """The incident's reason, in words (the SOP seconds of the answer and the bound)."""
        answered = _ANSWERS.get(self.component, f"{self.component}'s health check answered")
        return (
            f"{answered} in {self.took_sop_s:.1f} SOP s, "
            f"slower than {self.bound_sop_s:g} SOP s on {self.checks} checks in a row "
            '(cell0 "P2 - Slow Response Times")'
        )

    def details(self) -> dict[str, float | int]:
        """The numbers that go into the incident's log entry."""
        return {
            "latency_sop_seconds": round(self.took_sop_s, 3),
            "bound_sop_seconds": self.bound_sop_s,
            "slow_checks": self.checks,
        }


@dataclass(eq=False)
class SlowWatch:
    """Which services answer slower than the bound, reported once per episode."""

    latency: Latency
    kinds: Mapping[str, str] = field(default_factory=lambda: dict(SLOW_KINDS))
    _in_a_row: dict[str, int] = field(default_factory=dict, repr=False)
    _reported: set[str] = field(default_factory=set, repr=False)

    def look(self, took_sop_s: Mapping[str, float]) -> list[Slow]:
        """The components that became slow with these answers (SOP seconds each); one not
        in ``took_sop_s`` is left as it was (not answered, or not looked at this time)."""
        news: list[Slow] = []
        for component, kind in self.kinds.items():
            took = took_sop_s.get(component)
            if took is None:
                continue  # no answer this round: neither slow nor fast
            bound = self.latency.bound_seconds(kind)
            if took <= bound:  # cell0: latency "> 5 seconds" is slow; 5 is not
                self._in_a_row.pop(component, None)
                self._reported.discard(component)  # the episode is over
                continue
            count = self._in_a_row[component] = self._in_a_row.get(component, 0) + 1
            if count >= self.latency.slow_checks_in_a_row and component not in self._reported:
                self._reported.add(component)
                news.append(Slow(kind, component, took, bound, count))
        return news


__all__ = ["SLOW_KINDS", "Slow", "SlowWatch"]
