"""A restarted agent resumes from its emergency log (emergency-procedures.md scenario 1).

Level 1 self-healing restarts a killed or hung agent (supervisord, sut/watchdog). The new
process continues the same hash chain (sut/agent/emlog.py); this module reads that log for
an OFFLINE the old process had declared and never left, and starts the detector latched in
it, so that the restart neither forgets the outage nor declares it a second time:

* the last ``state`` entry is ``offline``: the detector starts OFFLINE with its trigger
  (SOP 2's latch holds until the dispatcher answers again and no scenario holds);
* its SOP 3.3 marker is on disk and a channel delivered the alert: nothing more is sent
  (SOP 3: one alert per declaration);
* the marker is on disk but no channel delivered: the alert is sent again, without a
  second marker; no marker at all (killed between the two entries): the whole SOP 3
  notification, marker first;
* the channels that delivered the episode's alerts are the new process's to update when
  the episode closes (Notification Flow 5, sut/agent/resolution.py). An agent restarted
  after the return to online owes nothing: its last ``state`` is not ``offline``.

A ``note`` entry (``resumed``) records what was found. Whatever its mode, the new process
also owes the Gitea issues the old one logged as owed and never filed
(sut/agent/issue_filing.py: nothing lost across a restart). Pure reading first
(:func:`resumption`), then :class:`Resume` applies it to a service before its loops start.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sop.errors import SopdrillError
from sop.observations import Trigger
from sut.agent.notifier import Notifier
from sut.agent.resolution import Episode, alerted_channels, episode_correlation
from sut.agent.service import AgentService
from sut.runtime.jsonlog import get_logger

log = get_logger("sut.agent")

_TRIGGERS = ("scenario_a", "scenario_b")


@dataclass(frozen=True)
class Resumption:
    """The OFFLINE declaration a restarted agent must resume, as its log states it."""

    trigger: Trigger
    #: The reason of the SOP 3.3 marker (else of the state entry): the alert's text.
    reason: str
    declared_at: datetime
    #: The seq of the declaration's marker; None when the old process died before it.
    marker_seq: int | None
    #: Whether a backchannel delivered the declaration's alert (SOP 3.1 or 3.2).
    delivered: bool
    #: The channels that delivered an alert of the episode (a relapse's included), in order.
    alerted: tuple[str, ...] = ()
    #: The episode's correlation id, from its first marker (gate4 guardrail 4).
    correlation_id: str | None = None

    def note(self) -> dict[str, Any]:
        """The fields of the ``note`` entry that records the resumption."""
        return {
            "resumed": "offline",
            "trigger": self.trigger,
            "declared_at": self.declared_at.isoformat(),
            "marker_seq": self.marker_seq,
            "alert": "delivered" if self.delivered else "owed",
            "alerted": list(self.alerted),
        }


def _when(text: Any) -> datetime | None:
    try:
        found = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


def resumption(entries: Sequence[dict[str, Any]]) -> Resumption | None:
    """The OFFLINE still in force at the end of ``entries`` (None: the agent was not OFFLINE)."""
    states = [i for i, e in enumerate(entries) if e.get("kind") == "state"]
    if not states:
        return None
    declared = entries[states[-1]]
    trigger, at = declared.get("trigger"), _when(declared.get("at"))
    if declared.get("mode") != "offline" or trigger not in _TRIGGERS or at is None:
        return None
    after = entries[states[-1] + 1 :]
    marker = next((e for e in after if e.get("kind") == "marker"), None)
    # The alert's own notification entries (an escalation's carry ``about``).
    delivered = marker is not None and any(
        e.get("kind") == "notification" and "about" not in e and e.get("outcome") == "delivered"
        for e in after
    )
    reason = (marker or declared).get("reason")
    return Resumption(
        trigger=cast(Trigger, trigger),
        reason=str(reason or "restarted while offline"),
        declared_at=at,
        marker_seq=None if marker is None else int(marker["seq"]),
        delivered=delivered,
        alerted=alerted_channels(entries),
        correlation_id=episode_correlation(entries),
    )


class Resume:
    """Resumes ``service`` from its log: ``apply()`` before its loops start, ``start()``
    after (the alert still owed, if any), ``stop()`` with the service."""

    def __init__(self, service: AgentService) -> None:
        self.service = service
        self.found: Resumption | None = None
        self._task: asyncio.Task[None] | None = None
        #: The log as the old process left it (None: unreadable, or failing closed).
        self._entries: list[dict[str, Any]] | None = None

    def apply(self) -> Resumption | None:
        """Latch the detector OFFLINE if the log says so; record the note."""
        service = self.service
        if service.detector is None:
            return None  # failing closed: no detector to resume
        try:
            self._entries = service.log.entries()
            found = resumption(self._entries)
        except SopdrillError as exc:  # an unreadable log was sealed at start; nothing to resume
            log.warning(
                "emergency log unreadable; not resumed", extra={"fields": {"error": str(exc)}}
            )
            return None
        if found is None:
            return None
        ago_s = (datetime.now(UTC) - found.declared_at).total_seconds()
        detected = service.clock.scale.sop_minutes(max(0.0, ago_s))
        service.detector.resume_offline(found.trigger, -detected)
        service.episode = Episode(found.alerted, found.correlation_id)
        with contextlib.suppress(SopdrillError):  # a full disk keeps it pending (emlog)
            service.log.append("note", **found.note())
        log.info("resumed offline from the emergency log", extra={"fields": found.note()})
        self.found = found
        return found

    def start(self) -> None:
        """Owe the old process's unfiled Gitea issues; send the alert it owed (SOP 3), in the
        background."""
        found, service = self.found, self.service
        if self._entries is not None and service.desk is not None:
            service.desk.filer.restore(self._entries)
            service.desk.ids.restore(self._entries)  # gate4 guardrail 4: the same ids
        if found is None or found.delivered or service.policy is None:
            return
        notifier = Notifier(
            service.policy,
            service.config.channels,
            service.log,
            service.config.hostname,
            client=service.client,
        )
        episode = service.episode
        self._task = asyncio.get_running_loop().create_task(self._owed(notifier, found, episode))
        episode.sending(self._task)

    async def _owed(self, notifier: Notifier, found: Resumption, episode: Episode) -> None:
        reference = episode.reference(self.service.config.name, found.trigger)
        if found.marker_seq is None:
            result = await notifier.alert(found.trigger, found.reason, reference)
        else:
            result = await notifier.resend(found.trigger, found.reason, reference)
        episode.told(result)
        self.service.notifications.append(result.as_json())

    async def stop(self) -> None:
        """Cancel an alert still being sent."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
