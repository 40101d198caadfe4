"""What the checker derives from a history: valid envelopes, oracle observations, declarations.

The agent's word is never used here: validity comes from the envelope's origin, sequence
and age (SOP 2A.1), the dispatcher's state from the harness's own probes, and a
declaration from the modes the harness polled, bracketed by the samples around it.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from sop.history import DispatcherSample, EnvelopeRecord, History, ModeSample
from sop.observations import (
    GONE_STATES,
    ApiProbe,
    Heartbeat,
    Observation,
    ProcessCheck,
    RateLimitReport,
)
from sop.oracle import scenario_a_holds, scenario_b_holds
from sop.policy import Policy

#: Modes that say the agent has declared OFFLINE (recovering comes only after it).
DECLARED = frozenset({"offline", "recovering"})


@dataclass(frozen=True)
class Judged:
    """A delivered envelope and whether SOP 2A.1 lets it count, with the reason if not."""

    envelope: EnvelopeRecord
    valid: bool
    why: str


def judge_envelopes(history: History, policy: Policy) -> tuple[Judged, ...]:
    """Every delivered envelope, judged by origin, sequence and age (SOP 2A.1).

    Forged and replayed envelopes never count; a delayed one counts only when it is not
    older than the maximum age on arrival; any envelope whose seq is not above every seq
    accepted before is a replay (the latest one included).
    """
    max_age = policy.deployment.max_envelope_age_minutes
    highest: int | None = None
    judged = []
    for envelope in history.of(EnvelopeRecord):
        if not envelope.delivered:
            continue
        why = ""
        if envelope.origin in ("forged", "replayed"):
            why = f"{envelope.origin} by the harness"
        elif envelope.seq is not None and highest is not None and envelope.seq <= highest:
            why = f"seq {envelope.seq} not above {highest} (a replay)"
        elif envelope.sent_at is not None and envelope.at - envelope.sent_at > max_age:
            why = f"{envelope.at - envelope.sent_at:.2f} SOP-min old on arrival (> {max_age:g})"
        elif envelope.origin == "delayed" and envelope.sent_at is None:
            why = "delayed by the harness with no sent_at to judge its age by"
        if not why and envelope.seq is not None:
            highest = envelope.seq
        judged.append(Judged(envelope, not why, why))
    return tuple(judged)


def observations(
    history: History, policy: Policy, *, early: bool = False, late: bool = False
) -> list[Observation]:
    """The oracle's timeline from the harness's observations (docs/architecture.md).

    The harness samples; the states it reports began somewhere between a sample and the
    one before it. ``early``: each failing, rate-limited or gone sample is moved back to
    the sample before it (a rate limit not before the last heartbeat that said the
    provider was fine), the earliest the state it reports may have begun; the agent's
    own probes may see it that soon. ``late``: the mirror, each sample that ends such a
    state (an answering probe, a live process, a heartbeat saying the provider is fine)
    moved back to the last sample that still saw the state, the earliest it may have
    ended: a scenario the SOP *requires* the agent to act on must have held on these
    readings (CI's generated schedules: a 2.75-minute 429 storm, its end seen by the next
    heartbeat 0.43 SOP-min later, was judged a 3-minute run the agent had to declare).
    """
    if early and late:
        raise ValueError("observations: a view is early or late, not both")
    reports: list[RateLimitReport] = []
    timeline: list[Observation] = []
    for judged in judge_envelopes(history, policy):
        envelope = judged.envelope
        timeline.append(Heartbeat(envelope.at, judged.valid))
        if (
            judged.valid
            and envelope.kind == "heartbeat"
            and envelope.provider
            in (
                "ok",
                "rate_limited",
            )
        ):
            # SOP 2B: the dispatcher's own word on its provider, in a valid heartbeat.
            reports.append(RateLimitReport(envelope.at, envelope.provider == "rate_limited"))
    samples = history.of(DispatcherSample)
    # Where each source last said the provider was fine or limited (SOP 2B).
    fine = sorted(r.at for r in reports if not r.limited)
    limited = sorted(r.at for r in reports if r.limited)
    probed_limited = sorted(s.at for s in samples if s.api == "rate_limited")
    previous_report: float | None = None
    for report in reports:
        at = report.at
        if late and not report.limited and previous_report is not None:
            at = _just_after(_last_before(probed_limited, report.at, previous_report))
        previous_report = report.at
        timeline.append(RateLimitReport(at, report.limited))
    previous: float | None = None
    for index, sample in enumerate(samples):
        probe_at = check_at = sample.at
        if early and previous is not None:
            # Only the states that make a scenario move back: an answer or a live process is
            # kept where it was seen, the latest it may have begun (the earliest reading).
            if sample.api != "ok":
                probe_at = previous
            if sample.api == "rate_limited":
                probe_at = _last_before(fine, sample.at, previous)
            if sample.process in GONE_STATES:
                check_at = previous
        if late and previous is not None:
            if sample.api == "ok":
                probe_at = _just_after(_last_before(limited, sample.at, previous))
            if sample.process is not None and sample.process not in GONE_STATES:
                check_at = _just_after(previous)
        if early and probe_at != sample.at and _ends_a_failing_run(samples, index):
            # The run of failures lasted at least until this sample, so the agent's own
            # probe in the interval after it may have failed too: one more failure, here
            # (the quarterly's scale 1: a kill just after a harness sample, the agent's
            # third failure between its next two samples, judged early for want of it).
            timeline.append(ApiProbe(sample.at, sample.api))
        previous = sample.at
        timeline.append(ApiProbe(probe_at, sample.api))
        if history.facts.co_located and sample.process is not None:
            timeline.append(ProcessCheck(check_at, sample.process))
    return sorted(timeline, key=lambda obs: obs.at)


def _ends_a_failing_run(samples: Sequence[DispatcherSample], index: int) -> bool:
    """Whether ``samples[index]`` is a failed probe (not a rate limit) that no later failed
    sample follows before an answer (or the end of the history)."""
    if samples[index].api in ("ok", "rate_limited"):
        return False
    following = samples[index + 1] if index + 1 < len(samples) else None
    return following is None or following.api == "ok"


def _just_after(at: float) -> float:
    # A state's end moved back is placed after the sample that still saw it, in any order.
    return math.nextafter(at, math.inf)


def _last_before(instants: list[float], at: float, floor: float) -> float:
    """The latest of ``instants`` before ``at``, or ``floor`` when that is later."""
    index = bisect_left(instants, at)
    return max(floor, instants[index - 1]) if index else floor


def answers(history: History, policy: Policy) -> list[tuple[float, str]]:
    """When the dispatcher answered, as the harness saw it: an ok probe, a valid envelope."""
    found = [(s.at, s.evidence_id) for s in history.of(DispatcherSample) if s.api == "ok"]
    found += [
        (j.envelope.at, j.envelope.evidence_id) for j in judge_envelopes(history, policy) if j.valid
    ]
    return sorted(found)


def scenario_held(
    trigger: str,
    timeline: list[Observation],
    policy: Policy,
    *,
    co_located: bool,
    start: float,
    since: float,
    until: float,
) -> bool:
    """Whether the scenario ``trigger`` names held at some instant in [since, until].

    ``start`` is the episode's start (where the silence counts from without a heartbeat).
    """
    silence = policy.scenario_a.silence_minutes
    limit = policy.scenario_b.rate_limited_minutes
    since = max(since, start)
    times = {since, start + silence, until}
    for obs in timeline:
        times.add(obs.at)
        if isinstance(obs, Heartbeat) and obs.valid:
            times.add(obs.at + silence)
        if isinstance(obs, ApiProbe | RateLimitReport):
            times.add(obs.at + limit)
    for t in sorted(t for t in times if since <= t <= until):
        if trigger == "scenario_a" and scenario_a_holds(
            timeline, policy, co_located=co_located, start=start, at=t
        ):
            return True
        if trigger == "scenario_b" and scenario_b_holds(timeline, policy, at=t):
            return True
    return False


@dataclass(frozen=True)
class Declaration:
    """One OFFLINE declaration as the harness's polling bracketed it.

    The agent declared in (``before``, ``seen.at``]; ``start`` is where its episode began
    (the drill's start or the return to online), ``cleared`` the first sample no longer
    offline, ``online`` the sample that ended the episode.
    """

    start: float
    before: float
    seen: ModeSample
    cleared: ModeSample | None = None
    online: ModeSample | None = None


def declarations(history: History) -> tuple[Declaration, ...]:
    """Every OFFLINE declaration in the polled modes, in order."""
    found: list[Declaration] = []
    current: Declaration | None = None
    start = previous = 0.0
    for sample in history.of(ModeSample):
        if current is None:
            if sample.mode in DECLARED:
                current = Declaration(start, previous, sample)
        elif sample.mode == "online":
            cleared = current.cleared or sample
            found.append(Declaration(current.start, current.before, current.seen, cleared, sample))
            current, start = None, sample.at
        elif sample.mode == "offline" and current.cleared is not None:
            # Offline again from recovering: a new declaration (the detector watches there).
            found.append(current)
            current = Declaration(current.cleared.at, previous, sample)
        elif sample.mode != "offline" and current.cleared is None:
            current = Declaration(current.start, current.before, current.seen, sample)
        previous = sample.at
    if current is not None:
        found.append(current)
    return tuple(found)


def last_before(history: History, at: float) -> str | None:
    """The evidence id of the latest dispatcher sample or envelope at or before ``at``."""
    cited = [(r.at, r.evidence_id) for r in history.of(DispatcherSample) if r.at <= at]
    cited += [(r.at, r.evidence_id) for r in history.of(EnvelopeRecord) if r.at <= at]
    return max(cited)[1] if cited else None


def restored_at(history: History, policy: Policy, since: float) -> tuple[float, str] | None:
    """The first answer at or after ``since`` at which no scenario holds any more (SOP 5).

    During a 429 storm the dispatcher's heartbeats keep coming: an answer, but Scenario B
    still holds, so the connection is not restored yet.
    """
    timeline = observations(history, policy)
    co_located = history.facts.co_located
    for at, evidence_id in answers(history, policy):
        if at < since:
            continue
        if not scenario_a_holds(
            timeline, policy, co_located=co_located, start=0.0, at=at
        ) and not scenario_b_holds(timeline, policy, at=at):
            return at, evidence_id
    return None
