"""Notification Flow 5 (emergency-procedures.md, RESOLUTION): a closed episode is told, once,
on every channel that delivered its alert.

"Close Alert -> Update all channels, Log resolution". An episode runs from a declaration to
the return to online the harness saw; a relapse from a stalled re-sync is a declaration of
its own inside it (sop/checker/timeline.py), so the episode's alerts are all of its
declarations'. Once it is closed, each channel that delivered one of them to 0x01 carries
exactly one resolution to 0x01 (the policy's ``resolution_template``, told from the alert by
its opening words), not before the agent was last seen OFFLINE and at most
``NOTIFY_GRACE_MINUTES`` after the return to online, as the alert after its declaration. No
resolution goes to a channel that delivered no alert (none at all when the alert went out
nowhere), and none where no episode closed. Its text names the agent's host and the
integrity check of its ``resolution`` entry, which the log holds from before the message
(logged first, as SOP 3.3's marker is). A channel refusing after the return
(sop/checker/backchannels.py) excuses a missing or late resolution on it, as it does the alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sop.checker.backchannels import held_down, to_0x01
from sop.checker.timeline import Declaration
from sop.checker.tolerance import NOTIFY_GRACE_MINUTES, TIMING_SLACK_MINUTES
from sop.checker.verdict import Divergence
from sop.history import Delivery, History, LogEntry, ModeSample
from sop.policy import Policy

CLAUSE = "Notification Flow 5"


@dataclass(frozen=True)
class Closings:
    """What the resolutions of a history came to: the divergences, and how many held."""

    divergences: tuple[Divergence, ...]
    resolved: int


def resolutions(history: History, policy: Policy) -> list[Delivery]:
    """Every delivery in the policy's resolution template, in time order."""
    return [m for m in history.of(Delivery) if policy.is_resolution(m.content)]


def _last_offline(history: History, d: Declaration, until: float) -> float:
    """The last sample (polled or logged) that still saw declaration ``d`` OFFLINE."""
    seen = [
        s.at for s in history.of(ModeSample) if s.mode == "offline" and d.seen.at <= s.at <= until
    ]
    return max(seen, default=d.seen.at)


@dataclass(frozen=True)
class _Episode:
    """A closed episode: its last declaration, the span its messages fall in, its alerts."""

    closing: Declaration
    since: float
    until: float
    #: Channel -> evidence id of its first alert to 0x01, in order of delivery.
    alerted: dict[str, str]


def _episodes(
    history: History, found: Sequence[Declaration], alerts: Sequence[Delivery]
) -> list[_Episode]:
    """The closed episodes of ``found``; one still open at the end is owed nothing yet."""
    closed: list[_Episode] = []
    start = 0
    for index, d in enumerate(found):
        if d.online is None:
            continue  # a relapse follows (the same episode), or the history ends OFFLINE
        since = found[start].before - TIMING_SLACK_MINUTES
        until = found[index + 1].before if index + 1 < len(found) else history.end + 1
        alerted: dict[str, str] = {}
        for alert in alerts:
            if since <= alert.at < until and to_0x01(history, alert):
                alerted.setdefault(alert.channel, alert.evidence_id)
        closed.append(_Episode(d, since, until, alerted))
        start = index + 1
    return closed


def _misplaced(
    history: History, episode: _Episode, messages: list[Delivery], last_offline: float
) -> list[Divergence]:
    """Resolutions sent while OFFLINE, on a channel never alerted, or to someone else."""
    found: list[Divergence] = []
    alerted = ", ".join(episode.alerted) or "none did"
    for m in messages:
        if m.at < last_offline - TIMING_SLACK_MINUTES:
            required = "a resolution only once the episode left OFFLINE (SOP 5 re-sync done)"
            observed = f"a {m.channel} resolution while OFFLINE (seen at {last_offline:.2f})"
        elif m.channel not in episode.alerted:
            required = f"a resolution only on a channel that delivered the alert ({alerted})"
            observed = f"a {m.channel} resolution"
        elif not to_0x01(history, m):
            required = f"the resolution to 0x01 on {m.channel}"
            observed = f"a delivery to {m.recipient}"
        else:
            continue
        found.append(Divergence(m.at, CLAUSE, required, observed, (m.evidence_id,)))
    return found


def _told(
    history: History, policy: Policy, episode: _Episode, channel: str, on: list[Delivery]
) -> Divergence | None:
    """The one resolution ``on`` ``channel``: there, once, in time, logged first, in the
    template."""
    online = episode.closing.online
    assert online is not None
    grace = online.at + NOTIFY_GRACE_MINUTES
    cited = (episode.alerted[channel], online.evidence_id)
    if len(on) > 1:
        return Divergence(
            on[1].at,
            CLAUSE,
            f"one resolution on {channel} per episode",
            f"{len(on)} resolutions on {channel}",
            tuple(m.evidence_id for m in on),
        )
    refused = held_down(history, channel, online.at - TIMING_SLACK_MINUTES, history.end)
    if not on:
        if history.end < grace or refused:
            return None  # not due yet when the history ends, or the channel refused
        return Divergence(
            grace,
            CLAUSE,
            f"a resolution to 0x01 on {channel}, where the alert went out, within "
            f"{NOTIFY_GRACE_MINUTES:g} min of the return to online at {online.at:.2f}",
            "none",
            cited,
        )
    message = on[0]
    if message.at > grace and not refused:
        return Divergence(
            message.at,
            CLAUSE,
            f"the resolution within {NOTIFY_GRACE_MINUTES:g} min of the return to online "
            f"at {online.at:.2f}",
            f"on {channel} at {message.at:.2f}",
            (message.evidence_id, *cited),
        )
    logged = [
        e
        for e in history.of(LogEntry)
        if e.entry.get("kind") == "resolution" and episode.since <= e.at < episode.until
    ]
    if not logged or logged[0].at > message.at + TIMING_SLACK_MINUTES:
        return Divergence(
            message.at,
            CLAUSE,
            "the resolution logged in the emergency log before 0x01 is told",
            f"{'a resolution entry after it' if logged else 'no resolution entry'}",
            (message.evidence_id, *(e.evidence_id for e in logged[:1])),
        )
    integrity = str(logged[0].entry.get("integrity"))
    expected = policy.render_resolution(history.facts.agent_host, integrity)
    if policy.reference.split(message.content)[0] != expected:  # below: gate4 guardrail 4
        return Divergence(
            message.at,
            CLAUSE,
            f"the template {expected!r}",
            f"{message.content!r}",
            (message.evidence_id, logged[0].evidence_id),
        )
    return None


def check_resolutions(
    history: History, policy: Policy, found: Sequence[Declaration], alerts: Sequence[Delivery]
) -> Closings:
    """Notification Flow 5 over ``found`` (the declarations), whose SOP 3.1 ``alerts`` the
    notification invariant picked out; and no resolution where no episode closed."""
    messages = resolutions(history, policy)
    divergences: list[Divergence] = []
    judged: set[str] = set()
    resolved = 0
    for episode in _episodes(history, found, alerts):
        inside = [m for m in messages if episode.since <= m.at < episode.until]
        judged.update(m.evidence_id for m in inside)
        last_offline = _last_offline(history, episode.closing, episode.until)
        divergences += _misplaced(history, episode, inside, last_offline)
        for channel in episode.alerted:
            on = [m for m in inside if m.channel == channel and to_0x01(history, m)]
            divergence = _told(history, policy, episode, channel, on)
            if divergence is not None:
                divergences.append(divergence)
            elif on:
                resolved += 1
    for m in messages:
        if m.evidence_id not in judged:
            divergences.append(
                Divergence(
                    m.at,
                    CLAUSE,
                    "a resolution only once an OFFLINE episode closed",
                    f"a {m.channel} resolution to {m.recipient}",
                    (m.evidence_id,),
                )
            )
    return Closings(tuple(divergences), resolved)
