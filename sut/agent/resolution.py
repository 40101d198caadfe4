"""Closing an OFFLINE episode: emergency-procedures.md Notification Flow 5, RESOLUTION.

"Close Alert -> Update all channels, Log resolution". An episode opens with a declaration
(SOP 3: the marker, then the alert on the first channel that delivers it) and closes when the
re-sync is complete (SOP 5: recovering -> online). A relapse from a stalled re-sync is a
declaration of its own, with its own alert, inside the same episode: it closes once, at the
return to online, and every channel that delivered one of its alerts is updated.

:class:`Episode` collects those channels as the alerts go out (a restarted agent's from its
log, :func:`alerted_channels`); :func:`close` waits for an alert still being sent, then has
the notifier log the ``resolution`` entry and send the policy's ``resolution_template`` on
each of them (sut/agent/notifier.py), and has the log uploaded again so that the dispatcher
ends with it too (SOP 5.2: the whole log). An episode whose alert went out on no channel
closes without a message: there is no alert to close anywhere.

An episode is one incident (gate4 guardrail 4): its correlation id is made with its first
alert, recorded in that alert's SOP 3.3 marker, named by every alert of the episode and by
its resolution; a restarted agent reads it back from the marker (:func:`episode_correlation`).
No Gitea issue is filed for an OFFLINE episode: its updates name the issue ``none``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from sop.references import ID_FIELD, NONE, Reference
from sut.agent.correlation import make_id
from sut.agent.notifier import NotificationResult, Notifier


class Episode:
    """The channels that delivered this OFFLINE episode's alerts, and the alerts in flight."""

    def __init__(self, delivered: Iterable[str] = (), correlation_id: str | None = None) -> None:
        self._delivered: list[str] = list(dict.fromkeys(delivered))
        self._sending: set[asyncio.Task[Any]] = set()
        #: The episode's correlation id (None until its first alert makes one).
        self.correlation_id = correlation_id

    def reference(self, agent: str, trigger: str) -> Reference:
        """What this episode's updates name: its id (made now if it has none yet), no issue."""
        if self.correlation_id is None:
            self.correlation_id = make_id(agent, "offline", trigger)
        return Reference(self.correlation_id, NONE)

    def sending(self, task: asyncio.Task[Any]) -> None:
        """An alert of this episode is being sent by ``task``; its channel counts once known."""
        self._sending.add(task)

    def told(self, result: NotificationResult) -> None:
        """An alert of this episode ended: the channel that delivered it, if one did."""
        if result.delivered_via is not None and result.delivered_via not in self._delivered:
            self._delivered.append(result.delivered_via)

    async def delivered(self) -> tuple[str, ...]:
        """The channels that delivered an alert, in order, once none is still being sent
        (an alert held up by a rate limit is closed after it is delivered, not before)."""
        while pending := [task for task in self._sending if not task.done()]:
            await asyncio.wait(pending)
        return tuple(self._delivered)


def alerted_channels(entries: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    """The channels that delivered an alert in the episode still open at the end of
    ``entries`` (since the last ``state`` entry ``online``), in order.

    An alert's ``notification`` entries carry no ``about`` (an escalation's or a
    resolution's do).
    """
    start = 0
    for index, entry in enumerate(entries):
        if entry.get("kind") == "state" and entry.get("mode") == "online":
            start = index + 1
    found = (
        str(e.get("channel"))
        for e in entries[start:]
        if e.get("kind") == "notification" and "about" not in e and e.get("outcome") == "delivered"
    )
    return tuple(dict.fromkeys(found))


def episode_correlation(entries: Sequence[dict[str, Any]]) -> str | None:
    """The correlation id of the episode still open at the end of ``entries``: its first
    marker's (since the last ``state`` entry ``online``); None when it has none."""
    start = 0
    for index, entry in enumerate(entries):
        if entry.get("kind") == "state" and entry.get("mode") == "online":
            start = index + 1
    for entry in entries[start:]:
        if entry.get("kind") == "marker" and isinstance(entry.get(ID_FIELD), str):
            return str(entry[ID_FIELD])
    return None


async def close(
    episode: Episode,
    notifier: Notifier,
    integrity: str,
    upload: Callable[[], Awaitable[object]],
) -> tuple[NotificationResult, ...]:
    """Notification Flow 5 for ``episode``, re-synced with the check ``integrity``: the
    resolution logged and sent on each channel that delivered an alert, then ``upload``;
    nothing at all when no channel delivered one."""
    channels = await episode.delivered()
    if not channels:
        return ()
    # An alert delivered made the episode's id; a log from before ids gets one now.
    reference = episode.reference("resumed", "resolution")
    results = await notifier.resolve(channels, integrity, reference)
    await upload()  # the re-sync's upload ended before the resolution was logged
    return results
