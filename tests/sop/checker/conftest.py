"""Recorded histories for the checker's tests: a clean dispatcher-killed drill, built by hand.

Clean means every invariant the checker knows holds in it: the alert on Discord, and once
restored and re-synced, the resolution there too (Notification Flow 5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from sop.chain import chain_entry
from sop.checker.timeline import observations
from sop.history import (
    Delivery,
    DiskSample,
    DispatcherCopy,
    DispatcherSample,
    EnvelopeRecord,
    FaultSpan,
    History,
    HistoryFacts,
    IntegrityCheck,
    LogEntry,
    ModeSample,
    Record,
    TreeDigest,
)
from sop.oracle import first_offline
from sop.policy import Policy, load_policy
from sop.references import NONE, Reference

POLICY = load_policy()
FACTS = HistoryFacts(
    agent_host="ops-1",
    co_located=True,
    discord_recipient_id="100000000000000001",
    signal_sender="+15550000001",
    signal_recipient="+15550000002",
    time_scale=60.0,
    managed_services=("nginx",),
)
#: The OFFLINE episode's reference (gate4 guardrail 4): its id, no Gitea issue.
EPISODE = Reference("inc-0123456789ab", NONE)
POLL = 0.25  # the harness polls the agent's mode every quarter SOP minute


def _log(history_entries: list[tuple[float, dict[str, Any]]]) -> list[LogEntry]:
    entries: list[LogEntry] = []
    previous: dict[str, Any] | None = None
    for index, (at, fields) in enumerate(history_entries):
        previous = chain_entry(previous, {"at": f"t+{at:g}", **fields})
        entries.append(LogEntry(at, previous, f"log-{index}"))
    return entries


def killed_run(
    policy: Policy = POLICY,
    *,
    kill_at: float | None = 5.0,
    restore_at: float | None = 30.0,
    declare_lag: float = 0.3,
    rotate: bool = True,
    co_located: bool = True,
    cut_at: float | None = None,
    storm_at: float | None = None,
    resync_lag: float = 0.6,
) -> History:
    """A clean drill: the dispatcher killed at ``kill_at`` (or its provider rate-limiting
    from ``storm_at``; or its heartbeats cut from ``cut_at``), restored at ``restore_at``."""
    facts = replace(FACTS, co_located=co_located)
    outage = min(t for t in (kill_at, storm_at, cut_at) if t is not None)
    end = (restore_at if restore_at is not None else outage + 25.0) + resync_lag + 5.0

    def alive(t: float) -> bool:
        restored = restore_at is not None and t >= restore_at
        return kill_at is None or t < kill_at or restored

    def storming(t: float) -> bool:
        return (
            storm_at is not None
            and t >= storm_at
            and not (restore_at is not None and t >= restore_at)
        )

    records: list[Record] = []
    if kill_at is not None:
        records.append(FaultSpan("kill", "dispatcher", kill_at, restore_at, {"exit": -9}, "f-kill"))
    t, seq = 0.0, 1000
    while t < end:
        cut = cut_at is not None and cut_at <= t and not (restore_at and t >= restore_at)
        if alive(t) and not cut:
            provider = "rate_limited" if storming(t) else "ok"
            records.append(
                EnvelopeRecord(t, "heartbeat", "dispatcher", True, f"hb-{seq}", seq, t, provider)
            )
            seq += 1
        t += policy.deployment.heartbeat_interval_minutes
    t = 0.5
    while t < end:
        up = alive(t)
        process = ("running" if up else "dead") if co_located else None
        api = ("rate_limited" if storming(t) else "ok") if up else "unreachable"
        records.append(DispatcherSample(t, api, process, f"api-{t:g}"))  # type: ignore[arg-type]
        t += policy.scenario_a.api_probe_interval_minutes
    partial = History("drills/test_killed.py::test_killed", facts, tuple(records))
    oracle = first_offline(observations(partial, policy), policy, co_located=co_located)
    assert oracle.offline_at is not None
    assert oracle.trigger is not None
    declared = oracle.offline_at + declare_lag
    reason = "dispatcher unreachable"
    steps: list[tuple[float, dict[str, Any]]] = [
        (declared, {"kind": "state", "mode": "offline", "trigger": oracle.trigger}),
        (
            declared,
            {
                "kind": "marker",
                "trigger": oracle.trigger,
                "reason": reason,
                "host": facts.agent_host,
            },
        ),
        (
            declared + 0.01,
            {"kind": "notification", "channel": "discord", "outcome": "sent", "attempt": 1},
        ),
    ]
    records.append(
        Delivery(
            declared + 0.02,
            "discord",
            facts.discord_recipient_id,
            None,
            policy.reference.append(policy.render_alert(facts.agent_host, reason), EPISODE),
            "discord-0",
        )
    )
    if rotate:
        above = policy.green_list.rotate_logs.disk_usage_percent_above
        records.append(
            FaultSpan(
                "fill_disk",
                "log_volume",
                declared + 0.5,
                None,
                {"used_percent": above + 4},
                "fault-disk",
            )
        )
        records.append(DiskSample(declared + 0.6, above + 4, "disk-1"))
        steps.append(
            (
                declared + 0.7,
                {
                    "kind": "decision",
                    "action": "rotate_logs",
                    "target": "log_dir",
                    "decision": "executed",
                    "reason": "disk",
                    "source": "autonomous",
                    "mode": "offline",
                },
            )
        )
        records.append(DiskSample(declared + 0.9, above - 40, "disk-2"))
    recovering = online = None
    if restore_at is not None:
        recovering, online = restore_at + 0.1, restore_at + resync_lag
        steps += [
            (recovering, {"kind": "state", "mode": "recovering", "trigger": None}),
            (
                recovering + 0.1,
                {"kind": "resync", "step": "stop_autonomous_actions", "outcome": "done"},
            ),
            (
                recovering + 0.2,
                {"kind": "resync", "step": "upload_emergency_log", "outcome": "acknowledged"},
            ),
            (
                recovering + 0.3,
                {"kind": "resync", "step": "request_integrity_check", "outcome": "ok"},
            ),
            (online, {"kind": "state", "mode": "online", "trigger": None}),
            # Notification Flow 5: the episode closed, logged, then told where it was alerted.
            (
                online + 0.01,
                {
                    "kind": "resolution",
                    "channels": ["discord"],
                    "host": facts.agent_host,
                    "integrity": "ok",
                },
            ),
        ]
        records.append(IntegrityCheck(recovering + 0.3, "ok", "agent", "check-0"))
        records.append(
            Delivery(
                online + 0.02,
                "discord",
                facts.discord_recipient_id,
                None,
                policy.reference.append(policy.render_resolution(facts.agent_host, "ok"), EPISODE),
                "discord-resolution",
            )
        )
    log = _log(steps)
    records += log
    if online is not None:
        records.append(
            DispatcherCopy(online + 0.1, tuple(e.entry for e in log), len(log) - 1, "copy-0")
        )
    t = 0.0
    while t < end:
        if t < declared:
            mode, trigger = "online", None
        elif recovering is None or t < recovering:
            mode, trigger = "offline", oracle.trigger
        elif online is not None and t < online:
            mode, trigger = "recovering", None
        else:
            mode, trigger = "online", None
        records.append(ModeSample(t, mode, trigger, f"mode-{t:g}"))  # type: ignore[arg-type]
        t += POLL
    for at in (0.0, end):
        records.append(TreeDigest(at, "data", "d" * 64, f"data-{at:g}"))
        records.append(TreeDigest(at, "backups", "b" * 64, f"backups-{at:g}"))
    return History("drills/test_killed.py::test_killed", facts, tuple(records))


def without(history: History, drop: Callable[[Record], bool]) -> History:
    """``history`` without the records ``drop`` selects."""
    return replace(history, records=tuple(r for r in history.records if not drop(r)))


def edited(history: History, pick: Callable[[Record], bool], **changes: Any) -> History:
    """``history`` with ``changes`` applied to every record ``pick`` selects."""
    return replace(
        history,
        records=tuple(replace(r, **changes) if pick(r) else r for r in history.records),  # type: ignore[misc]
    )


def adding(history: History, *records: Record) -> History:
    """``history`` with ``records`` appended."""
    return replace(history, records=(*history.records, *records))


def on_signal(history: History, pick: Callable[[Record], bool]) -> History:
    """``history`` with the messages ``pick`` selects sent on Signal instead, to 0x01's
    verified number from the verified sender."""
    facts = history.facts
    return edited(
        history,
        pick,
        channel="signal",
        recipient=facts.signal_recipient,
        sender=facts.signal_sender,
    )


@pytest.fixture(scope="session")
def story() -> Any:
    """The builders of this folder's histories (a namespace: run, without, edited, adding)."""

    class Story:
        policy = POLICY
        facts = FACTS
        run = staticmethod(killed_run)
        drop = staticmethod(without)
        edit = staticmethod(edited)
        add = staticmethod(adding)
        to_signal = staticmethod(on_signal)

    return Story
