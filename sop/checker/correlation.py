"""gate4 guardrail 4: every incident update names its correlation id and its issue.

gate4-incident-runbooks.md, Guardrails 4: "Every incident update must include correlation IDs
and issue links." Judged from what the harness saw by itself: the messages the backchannel
stand-ins received for 0x01, the distress signals the Dispatcher recorded, the issues read
from the agent's Gitea with the harness's own client, and the agent's log on disk.

* Each message to 0x01 ends in the policy's ``update_reference_template`` (a correlation id,
  an issue); each distress signal carries ``correlation_id`` and ``issue``.
* One incident, one id: an OFFLINE episode's alerts and its resolutions share one (a new
  episode has a new one); an escalation names the id of an incident the agent signalled or
  logged; signals sharing an id are about one category and one component.
* Issues: a P1 signal names a link or ``pending``, never ``none``; an update of an incident
  whose issue existed before it (Gitea's ``created_at``, whole seconds) links that issue; a
  link always names an issue of the incident (when the history holds the issues).
"""

from __future__ import annotations

import re

from sop.checker.backchannels import to_0x01
from sop.checker.tolerance import TIMING_SLACK_MINUTES
from sop.checker.verdict import Divergence, InvariantVerdict, first, held, not_exercised, violated
from sop.history import Delivery, DistressRecord, History, IssueRecord, LogEntry, ModeSample
from sop.policy import Policy
from sop.references import NONE, PENDING, Reference, issue_path

INVARIANT = "incident updates"
CLAUSE = "gate4 guardrail 4"
#: How an issue's body names the incident it was filed for (sut's issue template).
_NAMED = re.compile(r"Correlation ID: (\S+)")


def _issues_by_id(history: History) -> dict[str, list[IssueRecord]]:
    found: dict[str, list[IssueRecord]] = {}
    for issue in history.of(IssueRecord):
        for cid in _NAMED.findall(issue.body):
            found.setdefault(cid, []).append(issue)
    return found


def _judge_link(
    history: History, at: float, ref: Reference, issues: dict[str, list[IssueRecord]], cited: str
) -> Divergence | None:
    """An update at ``at`` naming ``ref``: it links the incident's issue once one exists."""
    if not history.of(IssueRecord):
        return None  # the history holds no issue (no Gitea, or not read): nothing to compare
    mine = issues.get(ref.correlation_id, [])
    # By path: the agent and the harness reach one Gitea at different addresses (docker).
    links = {issue_path(i.html_url) for i in mine} | {issue_path(i.api_url) for i in mine}
    # Gitea stamps whole seconds: an issue existed for sure one wall second after its stamp.
    second = history.facts.time_scale / 60
    existed = [i for i in mine if i.at + second + TIMING_SLACK_MINUTES < at]
    if ref.linked and issue_path(ref.issue) not in links:
        observed = f"{ref.issue!r}, not an issue filed for {ref.correlation_id}"
        return Divergence(at, CLAUSE, "a link to the incident's own issue", observed, (cited,))
    if existed and not ref.linked:
        return Divergence(
            at,
            CLAUSE,
            f"the link of issue #{existed[0].number}, filed before this update",
            f"issue {ref.issue!r}",
            (cited, existed[0].evidence_id),
        )
    return None


def _judge_messages(
    history: History, policy: Policy, issues: dict[str, list[IssueRecord]], known: set[str]
) -> list[Divergence]:
    found: list[Divergence] = []
    episode: str | None = None
    closed = False
    last_alert = 0.0
    online = [s.at for s in history.of(ModeSample) if s.mode == "online"]
    for m in sorted(history.of(Delivery), key=lambda d: d.at):
        if not to_0x01(history, m):
            continue
        _, ref = policy.reference.split(m.content)
        if ref is None:
            last = m.content.rsplit("\n", 1)[-1]
            required = f"a last line in the template {policy.reference.template!r}"
            found.append(Divergence(m.at, CLAUSE, required, repr(last), (m.evidence_id,)))
            continue
        if policy.is_alert(m.content) or policy.is_resolution(m.content):
            # The agent seen online since the last alert: that episode is over, though its
            # resolution may not have reached 0x01 (a channel down at the close).
            if policy.is_alert(m.content):
                closed = closed or any(last_alert < at < m.at for at in online)
                last_alert = m.at
            if policy.is_alert(m.content) and (episode is None or closed):
                if closed and ref.correlation_id == episode:
                    required = "a new episode's own id"
                    observed = f"the closed episode's {episode}"
                    found.append(Divergence(m.at, CLAUSE, required, observed, (m.evidence_id,)))
                episode, closed = ref.correlation_id, False
            elif episode is not None and ref.correlation_id != episode:
                required = f"the episode's id {episode} on every alert and resolution"
                observed = repr(ref.correlation_id)
                found.append(Divergence(m.at, CLAUSE, required, observed, (m.evidence_id,)))
            closed = closed or policy.is_resolution(m.content)
            if ref.issue != NONE:
                required = "issue none: no Gitea issue is filed for an OFFLINE episode"
                found.append(Divergence(m.at, CLAUSE, required, ref.issue, (m.evidence_id,)))
            continue
        if ref.correlation_id not in known:
            required = "the id of an incident the agent signalled or logged"
            observed = f"{ref.correlation_id!r}, in no signal and no incident entry"
            found.append(Divergence(m.at, CLAUSE, required, observed, (m.evidence_id,)))
        divergence = _judge_link(history, m.at, ref, issues, m.evidence_id)
        if divergence is not None:
            found.append(divergence)
    return found


def _judge_signals(history: History, issues: dict[str, list[IssueRecord]]) -> list[Divergence]:
    found: list[Divergence] = []
    about: dict[str, tuple[str, str]] = {}
    for s in history.of(DistressRecord):
        cited = (s.evidence_id,)
        if not s.correlation_id or not s.issue:
            observed = f"correlation_id {s.correlation_id!r}, issue {s.issue!r}"
            required = "a correlation_id and an issue"
            found.append(Divergence(s.at, CLAUSE, required, observed, cited))
            continue
        incident = about.setdefault(s.correlation_id, (s.category, s.component))
        if incident != (s.category, s.component):
            required = f"one incident per id: {incident[0]} on {incident[1]}"
            observed = f"{s.category} on {s.component}"
            found.append(Divergence(s.at, CLAUSE, required, observed, cited))
        if s.severity == "P1" and s.issue == NONE:
            required = f"a P1's issue: its link or {PENDING!r}"
            found.append(Divergence(s.at, CLAUSE, required, repr(NONE), cited))
        divergence = _judge_link(
            history, s.at, Reference(s.correlation_id, s.issue), issues, s.evidence_id
        )
        if divergence is not None:
            found.append(divergence)
    return found


def check_correlation(history: History, policy: Policy) -> InvariantVerdict:
    """gate4 guardrail 4 over every update the harness saw (see the module)."""
    updates = [m for m in history.of(Delivery) if to_0x01(history, m)]
    signals = history.of(DistressRecord)
    if not updates and not signals:
        return not_exercised(INVARIANT, CLAUSE, "no incident update")
    issues = _issues_by_id(history)
    known = {s.correlation_id for s in signals if s.correlation_id}
    known |= {
        str(e.entry["correlation_id"])
        for e in history.of(LogEntry)
        if e.entry.get("kind") == "incident"
        and e.entry.get("category") != "escalation"  # an escalation's own entry proves nothing
        and e.entry.get("correlation_id")
    }
    divergences = _judge_messages(history, policy, issues, known)
    divergences += _judge_signals(history, issues)
    earliest = first(divergences)
    if earliest is not None:
        return violated(INVARIANT, CLAUSE, earliest)
    linked = sum(1 for ids in issues.values() for _ in ids)
    note = f"{len(updates)} message(s) to 0x01, {len(signals)} distress signal(s)"
    return held(INVARIANT, CLAUSE, note + (f", {linked} issue(s) named" if linked else ""))


__all__ = ["CLAUSE", "INVARIANT", "check_correlation"]
