"""The correlation id of each incident and its Gitea issue's link (gate4 guardrail 4).

gate4-incident-runbooks.md, Guardrails 4: "Every incident update must include correlation IDs
and issue links" (sop/references.py says what an update carries). An incident's id is made
once, when it opens, from what its opening entry in the emergency log records (the agent,
the kind, the component and the instant), and written into that entry (``correlation_id``):
every later update of the incident names the same id, and a restarted agent reads it back
from the log (:meth:`Correlations.restore`) instead of making a new one. An incident that is
over gets a ``note`` (``closed``: its id), so a restart does not reopen it.

An OFFLINE episode is one incident too: its id is in its first SOP 3.3 marker, and every
alert and the resolution of the episode name it (sut/agent/resolution.py).

The link of a P1's Gitea issue comes from the ``issue: filed`` note the filer writes
(sut/agent/issue_filing.py), kept by correlation id, and read back on a restart as well.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sop.references import ID_FIELD, NONE, PENDING, Reference

#: The severity whose incidents are owed a Gitea issue (notification flow: "Gitea issue (P1)").
FILED_SEVERITY = "P1"
#: The ``note`` field that closes an incident's id.
CLOSED = "closed"


def make_id(agent: str, kind: str, component: str, at: datetime | None = None) -> str:
    """A new incident's id, from what its opening entry records: ``inc-`` and 12 hex digits."""
    when = (at or datetime.now(UTC)).isoformat()
    digest = hashlib.sha256(f"{agent}/{kind}/{component}/{when}".encode()).hexdigest()
    return f"inc-{digest[:12]}"


@dataclass(eq=False)
class Correlations:
    """The open incidents' ids (by what the agent keys them with) and the issues' links."""

    agent: str
    _open: dict[str, str] = field(default_factory=dict)
    _links: dict[str, str] = field(default_factory=dict)

    def open(self, key: str, kind: str, component: str) -> str:
        """The id of the incident open about ``key``; a new one if none is."""
        if key not in self._open:
            self._open[key] = make_id(self.agent, kind, component)
        return self._open[key]

    def current(self, key: str) -> str | None:
        """The id of the incident open about ``key`` (None: none is)."""
        return self._open.get(key)

    def close(self, key: str) -> str | None:
        """The incident about ``key`` is over; its id (None when none was open)."""
        return self._open.pop(key, None)

    def link(self, correlation_id: str, url: str) -> None:
        """The incident ``correlation_id``'s Gitea issue is at ``url``."""
        self._links[correlation_id] = url

    def reference(self, correlation_id: str, severity: str) -> Reference:
        """What an update of the incident names: its id and its issue's link, else
        ``pending`` for a P1 (owed an issue) and ``none`` for any other severity."""
        issue = self._links.get(correlation_id)
        if issue is None:
            issue = PENDING if severity == FILED_SEVERITY else NONE
        return Reference(correlation_id, issue)

    def restore(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """The ids still open and the links filed, as an earlier process logged them."""
        for entry in entries:
            cid = entry.get(ID_FIELD)
            if not isinstance(cid, str):
                continue
            if entry.get("kind") == "incident" and isinstance(entry.get("incident_key"), str):
                self._open[str(entry["incident_key"])] = cid
            elif entry.get("kind") == "note" and entry.get(CLOSED) is not None:
                self._open = {k: v for k, v in self._open.items() if v != cid}
            elif entry.get("kind") == "note" and isinstance(entry.get("url"), str):
                self._links[cid] = str(entry["url"])


__all__ = ["CLOSED", "FILED_SEVERITY", "Correlations", "make_id"]
