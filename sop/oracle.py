"""The reference model: when the SOP says OFFLINE must be declared, and when it must not.

Pure functions over a timeline of :mod:`sop.observations`, stamped in SOP minutes. They
implement the "Detection semantics" of docs/architecture.md to the letter, so a drill can
replay what the agent saw and compare its declaration with the oracle's:

* Scenario A (SOP 2A, ALL of): a silence of ``silence_minutes`` since the last valid
  heartbeat (or since the start), the last ``api_failures`` probes failed, and, when
  co-located, the latest process check says ``dead`` or ``zombie``.
* Scenario B (SOP 2B): an unbroken rate-limited run that began at ``s`` has lasted
  ``rate_limited_minutes`` (``t - s >= 3``: the infimum of "more than 3 minutes").
* OFFLINE is the earliest instant where A or B holds; it latches until recovery, so
  only the first declaration is the oracle's business.

Readings the contract leaves to us, shared with the agent's detector: a run of rate
limiting is broken only by an ``ok`` probe or ``RateLimitReport(limited=False)`` (not by
a timeout, which says nothing about the provider); fewer probes than ``api_failures``
never satisfy SOP 2A.2; co-located with no process check yet, 2A.3 is not confirmed;
observations at one instant are applied in the order recorded, all before that instant
is judged.

Thresholds are compared as ``t >= mark + minutes`` rather than ``t - mark >= minutes`` so
that the crossing instants the oracle proposes as candidates hold exactly, with no
floating-point rounding pushing a declaration past its own threshold.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from sop.observations import (
    FAILED_PROBES,
    GONE_STATES,
    ApiProbe,
    Heartbeat,
    Observation,
    ProbeOutcome,
    ProcessCheck,
    ProcessState,
    RateLimitReport,
)
from sop.policy import Policy


@dataclass(frozen=True)
class Verdict:
    """The oracle's answer: when OFFLINE must be declared (None: never), by which scenario."""

    offline_at: float | None
    trigger: Literal["scenario_a", "scenario_b"] | None
    reason: str


@dataclass(frozen=True)
class _Evidence:
    """What the observations up to some instant leave behind; all the scenarios look at."""

    last_heartbeat: float | None = None
    recent_probes: tuple[ProbeOutcome, ...] = ()
    process: ProcessState | None = None
    limited_since: float | None = None


def _observe(evidence: _Evidence, obs: Observation, window: int) -> _Evidence:
    """Fold one observation into the evidence; ``window`` is how many probes A looks at."""
    if isinstance(obs, Heartbeat):
        # SOP 2A.1: only a *valid* heartbeat or task assignment resets the silence;
        # a forged or replayed one is as good as nothing.
        if not obs.valid:
            return evidence
        return replace(evidence, last_heartbeat=obs.at)
    if isinstance(obs, ApiProbe):
        probes = (*evidence.recent_probes, obs.outcome)[-window:]
        since = evidence.limited_since
        if obs.outcome == "ok":
            # An answering API ends any rate-limited run (architecture: "no ok probe").
            since = None
        elif obs.outcome == "rate_limited" and since is None:
            since = obs.at
        # A 5xx, timeout or refused probe says nothing about the provider: the run goes on.
        # A 429 is an answer, not a failure, so it does end A's streak of failed probes.
        return replace(evidence, recent_probes=probes, limited_since=since)
    if isinstance(obs, ProcessCheck):
        return replace(evidence, process=obs.state)
    if isinstance(obs, RateLimitReport):
        if not obs.limited:
            # SOP 2B: the Dispatcher says it is no longer restricted: the run is broken.
            return replace(evidence, limited_since=None)
        if evidence.limited_since is None:
            return replace(evidence, limited_since=obs.at)
        return evidence
    raise TypeError(f"oracle: not an observation: {obs!r}")


def _ordered(timeline: Iterable[Observation]) -> list[Observation]:
    # Stable: observations at the same instant keep the order they were recorded in.
    return sorted(timeline, key=lambda obs: obs.at)


def _evidence_at(timeline: Iterable[Observation], policy: Policy, at: float) -> _Evidence:
    evidence = _Evidence()
    for obs in _ordered(timeline):
        if obs.at > at:
            break
        evidence = _observe(evidence, obs, policy.scenario_a.api_failures)
    return evidence


def _a_holds(
    evidence: _Evidence, policy: Policy, co_located: bool, start: float, at: float
) -> bool:
    rule = policy.scenario_a
    # SOP 2A.1: silence counted from the last valid heartbeat, or from the start if none.
    mark = start if evidence.last_heartbeat is None else evidence.last_heartbeat
    silent = at >= mark + rule.silence_minutes
    # SOP 2A.2: the last N probes (N = 3) all failed; fewer than N probes is not enough.
    probes = evidence.recent_probes
    failing = len(probes) >= rule.api_failures and all(p in FAILED_PROBES for p in probes)
    # SOP 2A.3: only when running on the same host; SIGSTOP ("stopped") is still alive.
    if co_located and rule.process_check_when_co_located:
        gone = evidence.process in GONE_STATES
    else:
        gone = True
    return silent and failing and gone


def _b_holds(evidence: _Evidence, policy: Policy, at: float) -> bool:
    since = evidence.limited_since
    # SOP 2B: "remains restricted for more than 3 minutes"; the boundary is its infimum.
    return since is not None and at >= since + policy.scenario_b.rate_limited_minutes


def scenario_a_holds(
    timeline: Iterable[Observation],
    policy: Policy,
    *,
    co_located: bool,
    start: float,
    at: float,
) -> bool:
    """Whether SOP Scenario A (all three conditions) holds at ``at``, seeing observations <= at."""
    return _a_holds(_evidence_at(timeline, policy, at), policy, co_located, start, at)


def scenario_b_holds(timeline: Iterable[Observation], policy: Policy, *, at: float) -> bool:
    """Whether SOP Scenario B (restricted for the threshold, unbroken) holds at ``at``."""
    return _b_holds(_evidence_at(timeline, policy, at), policy, at)


def _candidates(
    timeline: list[Observation], policy: Policy, start: float, until: float | None
) -> list[float]:
    """Every instant where a scenario can start to hold; the earliest one is among them.

    A scenario's truth changes only when an observation arrives (at its time) or when a
    threshold is crossed: a valid heartbeat (or the start) plus the silence, a
    rate-limited observation (a possible run start) plus the rate-limit duration.
    """
    silence = policy.scenario_a.silence_minutes
    limit = policy.scenario_b.rate_limited_minutes
    times = {start, start + silence}
    for obs in timeline:
        times.add(obs.at)
        if isinstance(obs, Heartbeat) and obs.valid:
            times.add(obs.at + silence)
        elif (isinstance(obs, ApiProbe) and obs.outcome == "rate_limited") or (
            isinstance(obs, RateLimitReport) and obs.limited
        ):
            times.add(obs.at + limit)
    return sorted(t for t in times if t >= start and (until is None or t <= until))


def _describe_a(evidence: _Evidence, policy: Policy, co_located: bool, start: float) -> str:
    rule = policy.scenario_a
    since = (
        f"since the start at {start:g}"
        if evidence.last_heartbeat is None
        else f"since {evidence.last_heartbeat:g}"
    )
    text = (
        f"no valid heartbeat {since} (>= {rule.silence_minutes:g} min, SOP 2A.1); "
        f"last {rule.api_failures} API probes failed ({', '.join(evidence.recent_probes)}, "
        "SOP 2A.2)"
    )
    if co_located and rule.process_check_when_co_located:
        text += f"; co-located process {evidence.process} (SOP 2A.3)"
    return text


def first_offline(
    timeline: Iterable[Observation],
    policy: Policy,
    *,
    co_located: bool,
    start: float = 0.0,
    until: float | None = None,
) -> Verdict:
    """The earliest instant in [start, until] where Scenario A or B holds, or no verdict.

    Candidates are the observation times and the threshold crossings (last valid
    heartbeat + silence, rate-limited run start + duration), evaluated in order with the
    evidence of every observation at or before each. When both scenarios hold at the
    first such instant the trigger is ``scenario_a``. OFFLINE latches until recovery, so
    nothing after the first declaration can change it.
    """
    if not math.isfinite(start) or (until is not None and until < start):
        raise ValueError(f"oracle: bad window start={start!r} until={until!r}")
    observations = _ordered(timeline)
    window = policy.scenario_a.api_failures
    evidence = _Evidence()
    index = 0
    for t in _candidates(observations, policy, start, until):
        while index < len(observations) and observations[index].at <= t:
            evidence = _observe(evidence, observations[index], window)
            index += 1
        if _a_holds(evidence, policy, co_located, start, t):
            why = _describe_a(evidence, policy, co_located, start)
            return Verdict(t, "scenario_a", f"scenario_a at {t:g}: {why}")
        if evidence.limited_since is not None and _b_holds(evidence, policy, t):
            return Verdict(
                t,
                "scenario_b",
                f"scenario_b at {t:g}: rate-limited since {evidence.limited_since:g} "
                f"(>= {policy.scenario_b.rate_limited_minutes:g} min, SOP 2B)",
            )
    horizon = "the end of the timeline" if until is None else f"{until:g}"
    return Verdict(None, None, f"neither scenario holds between {start:g} and {horizon}")


def never_offline(
    timeline: Iterable[Observation],
    policy: Policy,
    *,
    co_located: bool,
    start: float = 0.0,
    until: float | None = None,
) -> bool:
    """True when OFFLINE must NOT be declared in [start, until] (a short outage, say)."""
    return (
        first_offline(timeline, policy, co_located=co_located, start=start, until=until).offline_at
        is None
    )


def detection_window(
    verdict: Verdict, policy: Policy, tolerance_minutes: float
) -> tuple[float, float]:
    """The SOP minutes a declaration must fall in: not before the oracle, at most one probe
    interval plus ``tolerance_minutes`` after it (docs/architecture.md, Detection semantics)."""
    if verdict.offline_at is None:
        raise ValueError(f"oracle: no detection window, OFFLINE is never due ({verdict.reason})")
    if not math.isfinite(tolerance_minutes) or tolerance_minutes < 0:
        raise ValueError(f"oracle: tolerance_minutes must be >= 0, got {tolerance_minutes!r}")
    late = verdict.offline_at + policy.scenario_a.api_probe_interval_minutes + tolerance_minutes
    return verdict.offline_at, late
