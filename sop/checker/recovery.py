"""SOP 5: once the dispatcher answers again, stop, upload the whole log, verify; within RTO.

Judged from the harness's side: the answer it saw (its own ok probe, a valid envelope),
the polled modes, the agent's log as read from disk and the dispatcher's stored copy of
it (both hash-chain verified with sop/chain.py, compared entry for entry), the integrity
checks the dispatcher answered, and the agent RTO of the policy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sop.chain import verify_chain
from sop.checker.actions import TASK_PREFIX, decided_at, executed
from sop.checker.timeline import Declaration, declarations, restored_at
from sop.checker.tolerance import TIMING_SLACK_MINUTES, answer_horizon
from sop.checker.verdict import Divergence, InvariantVerdict, first, held, not_exercised, violated
from sop.errors import ChainError
from sop.history import DispatcherCopy, DispatcherSample, History, IntegrityCheck, LogEntry
from sop.observations import FAILED_PROBES, GONE_STATES
from sop.policy import Policy

RECOVERY = "recovery"
#: Log kinds that record what the agent did while offline: SOP 5.2 "including all actions".
REPORTED_KINDS = frozenset({"marker", "notification", "decision", "incident"})


def _seq(entry: Mapping[str, Any]) -> int:
    """An entry's seq; -1 when it has none (sop/chain.py then names the line)."""
    seq = entry.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else -1


def _agent_log(history: History) -> list[LogEntry]:
    """The agent's live log, in its own order. A sealed epoch (set aside when the chain
    broke) is by then a broken copy on purpose; its upload is the agent's epoch work,
    compared here only through the live epoch the dispatcher's copy holds."""
    live = [e for e in history.of(LogEntry) if e.sealed_in is None]
    return sorted(live, key=lambda e: _seq(e.entry))


def _stopped(history: History, d: Declaration) -> Iterator[Divergence]:
    """SOP 5.1: no autonomous action once re-sync began (in the log's own order, and seen)."""
    log = _agent_log(history)
    began = [
        e
        for e in log
        if e.entry.get("kind") == "resync" and e.at >= d.before - TIMING_SLACK_MINUTES
    ]
    seen_at = d.cleared.at if d.cleared is not None else None
    for e in executed(history):
        if str(e.entry.get("source")).startswith(TASK_PREFIX) or e.at < d.before:
            continue
        # Sequence numbers compare within one file only: a sealed epoch counts from 0 again.
        after_entry = (
            bool(began)
            and e.sealed_in == began[0].sealed_in
            and _seq(e.entry) > _seq(began[0].entry)
        )
        # Decided after the harness saw the agent leave OFFLINE: an action under way then
        # is finished (and logged) before the re-sync's first step, as SOP 5.1 has it.
        after_seen = seen_at is not None and decided_at(e) > seen_at + TIMING_SLACK_MINUTES
        if d.online is not None and e.at > d.online.at:
            break  # a later episode's action, judged with its own declaration
        if after_entry or after_seen:
            yield Divergence(
                e.at,
                "SOP 5.1",
                "no autonomous action once re-sync begins",
                f"{e.entry.get('action')} on {e.entry.get('target')} executed",
                (e.evidence_id, *([began[0].evidence_id] if began else [])),
            )
            return


def _verified(
    entries: list[Mapping[str, Any]], where: str, at: float, cite: str
) -> Divergence | None:
    try:
        verify_chain(entries, where=where)
    except ChainError as exc:
        return Divergence(at, "SOP 5.2", f"{where} with its hash chain intact", str(exc), (cite,))
    return None


def _uploaded(history: History, d: Declaration, done: float) -> Iterator[Divergence]:
    """SOP 5.2: the dispatcher's copy equals the agent's log, entry for entry, chain verified."""
    copies = [c for c in history.of(DispatcherCopy) if c.at >= d.before]
    if not copies:
        yield Divergence(
            done, "SOP 5.2", "the emergency log uploaded to the dispatcher", "no copy there", ()
        )
        return
    copy = copies[-1]
    log = _agent_log(history)
    local = [e.entry for e in log]
    for problem in (
        _verified(local, "the agent's emergency log", copy.at, log[-1].evidence_id if log else ""),
        _verified(list(copy.entries), "the dispatcher's copy", copy.at, copy.evidence_id),
    ):
        if problem is not None:
            yield problem
            return
    for index, stored in enumerate(copy.entries):
        if index >= len(local) or dict(stored) != dict(local[index]):
            yield Divergence(
                copy.at,
                "SOP 5.2",
                "the dispatcher's copy equal to the agent's log entry for entry",
                f"entry seq {index} differs or is not in the agent's log",
                (copy.evidence_id,),
            )
            return
    missing = [
        e
        for e in log[len(copy.entries) :]
        if e.entry.get("kind") in REPORTED_KINDS and e.at <= done
    ]
    if missing:
        yield Divergence(
            copy.at,
            "SOP 5.2",
            "every action of the outage in the uploaded log",
            f"seq {missing[0].entry.get('seq')} ({missing[0].entry.get('kind')}) not uploaded",
            (copy.evidence_id, missing[0].evidence_id),
        )


def _judge(history: History, policy: Policy, d: Declaration, answered: float) -> list[Divergence]:
    found = list(_stopped(history, d))
    rto = policy.rto.agent_operations_minutes
    due = answered + rto + answer_horizon(policy)
    if d.online is None:
        if history.end > due:
            found.append(
                Divergence(
                    due,
                    "SOP 5",
                    f"re-sync done within the agent RTO ({rto:g} min)",
                    f"not online by {history.end:.2f}",
                    (d.seen.evidence_id,),
                )
            )
        return found
    done = d.online.at
    if done > due:
        found.append(
            Divergence(
                due,
                "SOP 5",
                f"re-sync done within the agent RTO ({rto:g} min)",
                f"online at {done:.2f}, the dispatcher answered at {answered:.2f}",
                (d.online.evidence_id,),
            )
        )
    found.extend(_uploaded(history, d, done))
    checks = [
        c for c in history.of(IntegrityCheck) if d.before <= c.at <= done + TIMING_SLACK_MINUTES
    ]
    if not any(c.status == "ok" for c in checks):
        found.append(
            Divergence(
                done,
                "SOP 5.3",
                "an integrity check requested and answered ok",
                f"{[c.status for c in checks] or 'none'}",
                (d.online.evidence_id, *(c.evidence_id for c in checks)),
            )
        )
    return found


def rto_clock_start(
    history: History, policy: Policy, answered: float, until: float
) -> float | None:
    """Where the agent RTO of a re-sync counts from: the dispatcher's last return before
    ``until`` that it then kept. SOP 5 can finish only while the dispatcher answers (5.2
    needs its acknowledgement, 5.3 its check); a dispatcher the harness saw gone again
    (a failed probe, its process dead) restarts the clock at its next restoration, and
    one not back by ``until`` owes no RTO here (CI's generated schedules: the host killed
    again 3 SOP-min into the re-sync). None: not back by ``until``.
    """
    samples = history.of(DispatcherSample)
    while True:
        gone = next(
            (
                s.at
                for s in samples
                if answered < s.at <= until and (s.api in FAILED_PROBES or s.process in GONE_STATES)
            ),
            None,
        )
        if gone is None:
            return answered
        back = restored_at(history, policy, gone)
        if back is None or back[0] > until:
            return None
        answered = back[0]


def check_recovery(history: History, policy: Policy) -> InvariantVerdict:
    """SOP 5 for every declaration after which the dispatcher answered again."""
    divergences: list[Divergence] = []
    judged = 0
    for d in declarations(history):
        restored = restored_at(history, policy, d.seen.at)
        if restored is None:
            continue
        judged += 1
        until = d.online.at if d.online is not None else history.end
        answered = rto_clock_start(history, policy, restored[0], until)
        if answered is None and d.online is None:
            # Gone again before the re-sync could finish: only SOP 5.1 is owed (a relapse is
            # a declaration of its own, judged with its own restoration).
            divergences.extend(_stopped(history, d))
            continue
        divergences.extend(
            _judge(history, policy, d, restored[0] if answered is None else answered)
        )
    if not judged:
        return not_exercised(RECOVERY, "SOP 5", "the dispatcher was never restored after OFFLINE")
    earliest = first(divergences)
    if earliest is not None:
        return violated(RECOVERY, "SOP 5", earliest)
    return held(RECOVERY, "SOP 5", f"{judged} re-sync(s) judged")
