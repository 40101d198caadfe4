"""P1 incidents filed as Gitea issues (emergency-procedures.md notification flow, step 3).

The seeds' flow notifies by severity: "Alert Channel --> Telegram (P0), --> Gitea issue
(P1), --> Log entry (P2/P3)". Every P1 the agent reports is owed an issue in the team's
incidents repository, on the Gitea of its own host (scenario 3), titled with its severity,
kind and component (``P1 ollama_down: ollama``), its body saying what failed, since when
and what was tried. P0 goes to 0x01 at once instead (the SOP's backchannel stands in for
Telegram); P2 and P3 are the log entry alone (sut/agent/incident_desk.py).

One issue per incident. An incident is its kind on its component, as the agent reports it,
until a person closes its issue: the body's last line is a marker
(``sopdrill-incident: agent/ollama_down/ollama``), and before it creates anything the agent
looks for an open issue with that marker. So a retry whose answer was lost, an agent
restarted after filing, or the same outage reported again finds its issue and files none;
once a person closes it, the next outage is news. The obligation is written to the
emergency log (a ``note``, ``issue: owed``) before any network, and its discharge too
(``issue: filed``, with the number): a restarted agent files what its predecessor owed.
Each issue names the correlation id of the incident it was owed for (gate4 guardrail 4), and
its ``filed`` note that id and the issue's link (Gitea's ``html_url``, else its API ``url``),
handed to ``linked`` so the incident's later updates link it (sut/agent/correlation.py).

Gitea may be down (gitea_down is a P1 too): the issue stays owed and is tried again on
each incident round, in the background, one request at a time with a short timeout, so no
loop of the agent ever waits on Gitea; the first failure per issue is logged, the token
never (it travels only in the Authorization header, and every message is redacted).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from sop.references import ID_FIELD
from sut.agent.emlog import Recorder
from sut.runtime.jsonlog import get_logger, redact

log = get_logger("sut.agent")

#: The marker line's prefix; the incident follows it (:func:`incident_id`).
MARKER = "sopdrill-incident:"
#: Gitea's largest page (app.ini [api] MAX_RESPONSE_ITEMS), and how many pages of open
#: issues are read before filing (a thousand open issues: past that, the agent files).
PAGE_SIZE = 50
MAX_PAGES = 20
#: The ``note`` entries of the emergency log that record an owed and a filed issue.
OWED, FILED = "owed", "filed"

Spawn = Callable[[Coroutine[Any, Any, None]], object]


@dataclass(frozen=True)
class IncidentsRepo:
    """Where the issues go: Gitea's base URL, the repository (``owner/name``), the token."""

    url: str
    repo: str
    token: str = field(repr=False)  # a secret: never in a repr, a log line or an entry

    @property
    def issues_url(self) -> str:
        """The repository's issues endpoint (Gitea REST API v1)."""
        return f"{self.url.rstrip('/')}/api/v1/repos/{self.repo}/issues"


def incident_id(agent: str, kind: str, component: str) -> str:
    """What identifies an incident in its issue's marker: who reported what, where."""
    return f"{agent}/{kind}/{component}"


@dataclass(frozen=True)
class OwedIssue:
    """An issue the agent owes its incidents repository."""

    incident: str
    title: str
    body: str
    #: The incident's correlation id (None: an obligation logged before ids were).
    correlation_id: str | None = None
    #: The ids of later incidents of the same kind and component, reported while this one
    #: was still owed: the one issue answers for them too, and each update names its link.
    also: tuple[str, ...] = ()

    @property
    def correlation_ids(self) -> tuple[str, ...]:
        """Every incident id this issue answers for, the first first."""
        first = () if self.correlation_id is None else (self.correlation_id,)
        return first + self.also

    def answering(self, correlation_id: str | None) -> OwedIssue:
        """This issue, answering for ``correlation_id`` as well (unchanged if it does)."""
        if correlation_id is None or correlation_id in self.correlation_ids:
            return self
        return replace(self, also=(*self.also, correlation_id))

    def note(self) -> dict[str, Any]:
        """The emergency log's ``note`` that records the obligation."""
        return {
            "issue": OWED,
            "incident": self.incident,
            "title": self.title,
            "body": self.body,
            ID_FIELD: self.correlation_id,
        }

    def marked(self, body: str | None) -> bool:
        """Whether an issue's ``body`` carries this incident's marker."""
        return f"{MARKER} {self.incident}" in (body or "").splitlines()


def owed_issue(signal: Mapping[str, Any], kind: str, host: str, tried: Sequence[str]) -> OwedIssue:
    """The issue of a P1 distress signal: what failed, since when, what was tried."""
    context = signal.get("context", {})
    failed = str(signal["message"])
    if context.get("error") and context["error"] not in failed:
        failed = f"{failed} ({context['error']})"
    component = str(signal["component"])
    incident = incident_id(str(signal["agent"]), kind, component)
    correlation = signal.get(ID_FIELD)
    body = "\n".join(
        (
            f"**{signal['severity']} {kind}** on host `{host}`, component `{component}`, "
            f"reported by agent `{signal['agent']}`.",
            "",
            f"- Failed: {failed}",
            f"- Since: {signal['timestamp']}",
            f"- Tried: {'; '.join(tried) or 'nothing yet'}",
            f"- Escalated to 0x01 if still unresolved at {signal['escalation_timeout']}",
            f"- Correlation ID: {correlation or 'none'}",  # gate4 guardrail 4
            "",
            f"{MARKER} {incident}",
        )
    )
    title = f"{signal['severity']} {kind}: {component}"
    return OwedIssue(incident, title, body, None if correlation is None else str(correlation))


def owed_in(entries: Sequence[Mapping[str, Any]]) -> list[OwedIssue]:
    """The issues an emergency log records as owed and not filed, oldest first."""
    owed: dict[str, OwedIssue] = {}
    for entry in entries:
        if entry.get("kind") != "note" or "issue" not in entry:
            continue
        incident = str(entry.get("incident"))
        if entry["issue"] == OWED:
            title, body = str(entry.get("title")), str(entry.get("body"))
            cid = entry.get(ID_FIELD)
            cid = None if cid is None else str(cid)
            if incident in owed:
                owed[incident] = owed[incident].answering(cid)
            else:
                owed[incident] = OwedIssue(incident, title, body, cid)
        elif entry["issue"] == FILED:
            owed.pop(incident, None)
    return list(owed.values())


def filed_numbers(entries: Sequence[Mapping[str, Any]], repo: str) -> tuple[int, ...]:
    """The numbers of the issues an emergency log records as filed in ``repo``, in order."""
    numbers: list[int] = []
    for entry in entries:
        if entry.get("kind") == "note" and entry.get("issue") == FILED:
            number = entry.get("number")
            if str(entry.get("repo")).lower() == repo.lower() and isinstance(number, int):
                numbers.append(number)
    return tuple(dict.fromkeys(numbers))


class GiteaUnanswered(Exception):
    """Gitea did not take the request (down, hung, refusing): the issue stays owed."""


@dataclass(eq=False)
class IssueFiler:
    """Files the owed issues in the background, each once; ``None`` repo: nothing to file."""

    repo: IncidentsRepo | None
    #: Wall seconds one request to Gitea may take.
    timeout_s: float
    record: Recorder
    #: Starts a background task (the service's, so that its stop cancels the filing).
    spawn: Spawn | None = None
    #: Told each filed issue's correlation id and link (gate4 guardrail 4).
    linked: Callable[[str, str], None] | None = None
    _owed: dict[str, OwedIssue] = field(default_factory=dict)
    _failed_once: set[str] = field(default_factory=set)
    _filing: object | None = None  # the running filing's task: one at a time
    #: The numbers of the issues filed in the repository, as the log records them.
    filed: list[int] = field(default_factory=list)

    @property
    def owed(self) -> list[OwedIssue]:
        """The issues not filed yet, oldest first."""
        return list(self._owed.values())

    def owe(self, issue: OwedIssue) -> None:
        """Owe ``issue``, logged first. Owed again for a later incident of the same kind and
        component (a second outage while Gitea was down): still one issue, which answers for
        that incident's id too (logged, so a restart knows); the same incident: nothing."""
        if self.repo is None:
            return
        owed = self._owed.get(issue.incident)
        if owed is None:
            self._owed[issue.incident] = issue
        elif (now := owed.answering(issue.correlation_id)) is not owed:
            self._owed[issue.incident] = now
        else:
            return
        self.record("note", **issue.note())

    def restore(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """Owe what an earlier process logged as owed and never filed (no second note)."""
        if self.repo is None:
            return
        for issue in owed_in(entries):
            self._owed.setdefault(issue.incident, issue)
        self.filed[:] = filed_numbers(entries, self.repo.repo)  # looked for (gitea_loss.py)

    def poke(self, client: httpx.AsyncClient) -> None:
        """File the owed issues in the background unless a filing runs; never waits."""
        if not self._owed or self._filing is not None:
            return
        spawn = self.spawn or asyncio.get_running_loop().create_task
        self._filing = spawn(self.file_owed(client))

    async def file_owed(self, client: httpx.AsyncClient) -> None:
        """Each owed issue found open or filed, oldest first; Gitea not answering leaves it
        and the rest owed until the next round's filing."""
        try:
            for issue in self.owed:
                try:
                    number, url = await self._file(client, issue)
                except (GiteaUnanswered, ValueError, KeyError, TypeError) as exc:
                    # Not answering, or not with an issue: Gitea's own error, tried again.
                    self._failed(issue, str(exc))
                    return
                self._owed.pop(issue.incident, None)
                self._failed_once.discard(issue.incident)
                assert self.repo is not None  # owed only with a repository
                where = {"incident": issue.incident, "number": number, "repo": self.repo.repo}
                # One note per incident it answers for: each id's link survives a restart.
                for cid in issue.correlation_ids or (None,):
                    ids = {ID_FIELD: cid, "url": url}
                    self.record("note", issue=FILED, title=issue.title, **where, **ids)
                    if self.linked is not None and cid is not None:
                        self.linked(cid, url)
                if number not in self.filed:  # an issue found open was filed before
                    self.filed.append(number)
                log.info("gitea issue filed", extra={"fields": where})
        finally:
            self._filing = None

    async def _file(self, client: httpx.AsyncClient, issue: OwedIssue) -> tuple[int, str]:
        """The number and link of ``issue``'s open issue: the one found, else the one created."""
        found = await self._find(client, issue)
        if found is None:
            answer = await self._call(
                client, "POST", json={"title": issue.title, "body": issue.body}, want=201
            )
            found = answer.json()
        return int(found["number"]), str(found.get("html_url") or found["url"])

    async def _find(self, client: httpx.AsyncClient, issue: OwedIssue) -> dict[str, Any] | None:
        """The open issue carrying ``issue``'s marker, None if none does."""
        for page in range(1, MAX_PAGES + 1):
            params = {"state": "open", "type": "issues", "limit": PAGE_SIZE, "page": page}
            listed = (await self._call(client, "GET", params=params, want=200)).json()
            for open_issue in listed:
                if issue.marked(open_issue.get("body")):
                    return dict(open_issue)
            if len(listed) < PAGE_SIZE:
                break
        return None

    async def _call(
        self, client: httpx.AsyncClient, method: str, *, want: int, **kwargs: Any
    ) -> httpx.Response:
        assert self.repo is not None
        headers = {"Authorization": f"token {self.repo.token}"}
        try:
            answer = await client.request(
                method, self.repo.issues_url, headers=headers, timeout=self.timeout_s, **kwargs
            )
        except httpx.HTTPError as exc:
            raise GiteaUnanswered(f"{method} issues: {type(exc).__name__}: {exc}") from exc
        if answer.status_code != want:
            raise GiteaUnanswered(f"{method} issues: {answer.status_code} {answer.text[:200]}")
        return answer

    def _failed(self, issue: OwedIssue, reason: str) -> None:
        """Log why ``issue`` is still owed, once per issue; it is tried again next round."""
        if issue.incident in self._failed_once:
            return
        self._failed_once.add(issue.incident)
        assert self.repo is not None
        fields = {"incident": issue.incident, "error": redact(reason, (self.repo.token,))}
        log.warning("gitea issue not filed yet; tried again each round", extra={"fields": fields})


__all__ = [
    "MARKER",
    "IncidentsRepo",
    "IssueFiler",
    "OwedIssue",
    "filed_numbers",
    "incident_id",
    "owed_in",
    "owed_issue",
]
