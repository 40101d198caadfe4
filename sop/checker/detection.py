"""SOP 2 detection and SOP 2A.1 heartbeat validity, judged against the reference model.

The agent's polled mode history is compared with sop/oracle.py run on what the harness
observed (valid envelopes, its own API probes and process checks): never early, never
late beyond the named tolerance (sop/checker/tolerance.py), with a scenario that held as
its trigger; OFFLINE latches until the dispatcher answers again and no scenario holds;
recovering -> online only through re-sync (SOP 5). Validity is judged through the same
timing: an agent that counted a forged, replayed or stale envelope declares late or
leaves OFFLINE without an answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from sop.checker.timeline import (
    Declaration,
    answers,
    declarations,
    judge_envelopes,
    last_before,
    observations,
    scenario_held,
)
from sop.checker.tolerance import TIMING_SLACK_MINUTES, answer_horizon, latest_declaration
from sop.checker.verdict import (
    Divergence,
    InvariantVerdict,
    held,
    not_exercised,
    violated,
)
from sop.history import History, IntegrityCheck, LogEntry, ModeSample
from sop.observations import Observation
from sop.oracle import first_offline, scenario_a_holds, scenario_b_holds
from sop.policy import Policy

DETECTION = "detection"
VALIDITY = "heartbeat validity"


@dataclass(frozen=True)
class _Views:
    """The readings of the harness's samples the judgement brackets the agent with: a
    declaration is early before the early view's oracle, late after the late one's."""

    exact: list[Observation]
    early: list[Observation]
    late: list[Observation]
    co_located: bool


def _cite(history: History, sample: ModeSample, at: float) -> tuple[str, ...]:
    other = last_before(history, at)
    return (sample.evidence_id,) if other is None else (sample.evidence_id, other)


def _sop2(
    history: History,
    sample: ModeSample,
    required: str,
    observed: str,
    *,
    at: float | None = None,
    cited_at: float | None = None,
) -> Divergence:
    """A departure from SOP 2 seen in ``sample`` (at its time unless ``at`` says otherwise),
    citing it and the harness's last observation before ``cited_at`` (default: its time)."""
    return Divergence(
        sample.at if at is None else at,
        "SOP 2",
        required,
        observed,
        _cite(history, sample, sample.at if cited_at is None else cited_at),
    )


def _judge_declaration(
    history: History, policy: Policy, views: _Views, d: Declaration
) -> Divergence | None:
    """The first way declaration ``d`` leaves SOP 2 (early, late, trigger, latch, re-sync)."""
    co = views.co_located
    oracle = first_offline(views.exact, policy, co_located=co, start=d.start)
    # Heartbeats before the drill's start are not in the history: the agent's silence may
    # have begun up to one heartbeat interval before it (SOP 2A.1 counts from the last).
    origin = d.start - policy.deployment.heartbeat_interval_minutes if d.start == 0 else d.start
    soonest = first_offline(views.early, policy, co_located=co, start=origin)
    floors = [v.offline_at for v in (oracle, soonest) if v.offline_at is not None]
    seen = d.seen
    if not floors or seen.at < min(floors) - TIMING_SLACK_MINUTES:
        due = f"not before {min(floors):.2f} ({oracle.reason})" if floors else "never"
        return _sop2(
            history,
            seen,
            f"no OFFLINE before a scenario holds (due {due})",
            f"mode {seen.mode} (trigger {seen.trigger})",
        )
    owed = first_offline(views.late, policy, co_located=co, start=d.start)
    if owed.offline_at is not None:
        latest = latest_declaration(owed.offline_at, policy)
        if d.before > latest:
            return _sop2(
                history,
                seen,
                f"OFFLINE by {latest:.2f} ({owed.reason})",
                f"not declared at {d.before:.2f}, first seen at {seen.at:.2f}",
                at=latest,
                cited_at=owed.offline_at,
            )
    if seen.mode == "offline":
        trigger = seen.trigger
        # The trigger is the scenario that held when the agent declared, somewhere in
        # (before, seen]; the harness's samples place it within one probe interval and the
        # timing slack of the agent's own view (SOP 2A.2, the probes' phase).
        since = d.before - answer_horizon(policy)
        until = seen.at + TIMING_SLACK_MINUTES
        if trigger is None or not any(
            scenario_held(
                trigger, v, policy, co_located=co, start=d.start, since=since, until=until
            )
            for v in (views.exact, views.early)
        ):
            return _sop2(
                history,
                seen,
                f"the trigger of a scenario that held ({oracle.trigger or 'none held'})",
                f"trigger {trigger}",
            )
    return _judge_latch(history, policy, views, d)


def release_at(history: History, policy: Policy, views: _Views, d: Declaration) -> float | None:
    """When the harness saw the answer that released declaration ``d``'s latch (None: no
    such answer): the first, up to one probe interval after the agent left OFFLINE, once
    which no scenario held (during a 429 storm heartbeats answer, B still holds)."""
    cleared = d.cleared
    if cleared is None:
        return None
    horizon = cleared.at + answer_horizon(policy)
    answered = [at for at, _ in answers(history, policy) if d.before <= at <= horizon]

    def holds(at: float) -> bool:
        return scenario_a_holds(
            views.exact, policy, co_located=views.co_located, start=d.start, at=at
        ) or scenario_b_holds(views.exact, policy, at=at)

    # The agent's own probe may find the dispatcher answering before the harness's does.
    return next((max(cleared.at, at) for at in answered if not holds(max(cleared.at, at))), None)


def _judge_latch(
    history: History, policy: Policy, views: _Views, d: Declaration
) -> Divergence | None:
    """OFFLINE latches until an answer with no scenario left; online only via re-sync."""
    cleared = d.cleared
    if cleared is None:
        return None
    if cleared.mode == "suspect":
        return Divergence(
            cleared.at,
            "SOP 2",
            "OFFLINE to leave only for recovering, through re-sync",
            "mode suspect after offline",
            (cleared.evidence_id,),
        )
    released = release_at(history, policy, views, d)
    if released is None:
        horizon = cleared.at + answer_horizon(policy)
        answered = [at for at, _ in answers(history, policy) if d.before <= at <= horizon]
        why = "a scenario still held" if answered else "no answer from the dispatcher"
        return _sop2(
            history,
            cleared,
            "OFFLINE latched until the dispatcher answers again and no scenario holds",
            f"mode {cleared.mode} while {why}",
        )
    if d.online is not None and not _resynced(history, d.before, d.online.at):
        return Divergence(
            d.online.at,
            "SOP 5",
            "recovering -> online only through re-sync (integrity check answered ok)",
            "mode online with no re-sync seen",
            (d.online.evidence_id,),
        )
    return None


def _resynced(history: History, since: float, by: float) -> bool:
    """Whether the harness saw re-sync end (SOP 5.3) between ``since`` and ``by``."""
    until = by + TIMING_SLACK_MINUTES
    if any(c.status == "ok" and since <= c.at <= until for c in history.of(IntegrityCheck)):
        return True
    return any(
        e.entry.get("kind") == "resync"
        and e.entry.get("step") == "request_integrity_check"
        and e.entry.get("outcome") == "ok"
        and since <= e.at <= until
        for e in history.of(LogEntry)
    )


def _missed(history: History, policy: Policy, views: _Views, start: float) -> Divergence | None:
    """A declaration the oracle requires after ``start`` that the polled modes never show."""
    oracle = first_offline(views.late, policy, co_located=views.co_located, start=start)
    if oracle.offline_at is None:
        return None
    latest = latest_declaration(oracle.offline_at, policy)
    late = [s for s in history.of(ModeSample) if s.at > latest]
    if not late:
        return None
    return _sop2(
        history,
        late[0],
        f"OFFLINE by {latest:.2f} ({oracle.reason})",
        f"mode {late[0].mode} at {late[0].at:.2f}",
        at=latest,
        cited_at=oracle.offline_at,
    )


def detection_divergence(history: History, policy: Policy) -> Divergence | None:
    """The first divergence of the polled modes from SOP 2 (None: they agree)."""
    views = _Views(
        observations(history, policy),
        observations(history, policy, early=True),
        observations(history, policy, late=True),
        history.facts.co_located,
    )
    start = 0.0
    for d in declarations(history):
        divergence = _judge_declaration(history, policy, views, d)
        if divergence is not None:
            return divergence
        if d.online is None:
            return None
        # A new declaration is due only once a scenario holds again after the answer that
        # released this one: the harness may see that answer a probe interval after the
        # agent did (CI's docker nightly: a stale run of failed probes made the checker
        # demand a second OFFLINE the instant the agent was back online).
        start = max(d.online.at, release_at(history, policy, views, d) or d.online.at)
    return _missed(history, policy, views, start)


def check_detection(history: History, policy: Policy) -> InvariantVerdict:
    """SOP 2: the polled mode history against the reference model on the observed timeline."""
    if not history.of(ModeSample):
        return not_exercised(DETECTION, "SOP 2", "no mode of the agent was polled")
    divergence = detection_divergence(history, policy)
    if divergence is not None:
        return violated(DETECTION, "SOP 2", divergence)
    count = len(declarations(history))
    return held(DETECTION, "SOP 2", f"{count} declaration(s) judged against the oracle")


def check_validity(history: History, policy: Policy) -> InvariantVerdict:
    """SOP 2A.1: forged, replayed and stale envelopes never reset the silence.

    Judged through detection: violated when detection diverged after an invalid envelope
    reached the agent (a late declaration or an unanswered exit from OFFLINE).
    """
    invalid = [j for j in judge_envelopes(history, policy) if not j.valid]
    if not invalid:
        return not_exercised(VALIDITY, "SOP 2A.1", "no invalid envelope reached the agent")
    if not history.of(ModeSample):
        return not_exercised(VALIDITY, "SOP 2A.1", "no mode of the agent was polled")
    divergence = detection_divergence(history, policy)
    # Counting an invalid envelope shows as lateness or as leaving OFFLINE unanswered;
    # an early declaration, a wrong trigger or a missing re-sync has other causes.
    counted = divergence is not None and divergence.required.startswith(
        ("OFFLINE by", "OFFLINE latched")
    )
    if divergence is not None and counted:
        before = [j for j in invalid if j.envelope.at <= divergence.at + TIMING_SLACK_MINUTES]
        if before:
            culprit = before[-1]
            return violated(
                VALIDITY,
                "SOP 2A.1",
                Divergence(
                    divergence.at,
                    "SOP 2A.1",
                    f"only valid envelopes reset the silence ({divergence.required})",
                    f"{divergence.observed} after an envelope that is {culprit.why}",
                    (culprit.envelope.evidence_id, *divergence.evidence),
                ),
            )
    return held(VALIDITY, "SOP 2A.1", f"{len(invalid)} invalid envelope(s) ignored")
