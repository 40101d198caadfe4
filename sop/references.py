"""What every incident update names: its correlation id and its issue (gate4 guardrail 4).

gate4-incident-runbooks.md, Guardrails 4: "Every incident update must include correlation IDs
and issue links." An update is anything the agent tells about an incident: the SOP 3.1 alert,
an escalation or a P0's message to 0x01, the Notification Flow 5 resolution, and a distress
signal to the Dispatcher. A message to 0x01 carries it as its last line, in the policy's
``update_reference_template``, below the message's own words (so the SOP 3.1 alert stays the
seed's template word for word); a distress signal carries it as two fields of its JSON
(:data:`ID_FIELD`, :data:`ISSUE_FIELD`).

The issue is one of three, and nothing else:

* a link: the Gitea issue filed for the incident (its ``html_url``, else its API ``url``);
* :data:`PENDING`: a P1, owed an issue (emergency-procedures.md notification flow,
  "Gitea issue (P1)"), not filed yet when the update went out;
* :data:`NONE`: an incident no issue is filed for (P0 goes to 0x01 at once, an OFFLINE
  declaration is the SOP 3 alert; neither is a Gitea issue in the seeds' flow).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from sop.policy_reader import FieldReader

#: The distress signal's fields for the correlation id and the issue.
ID_FIELD, ISSUE_FIELD = "correlation_id", "issue"
#: The issue of an update that names no link (see the module).
PENDING, NONE = "pending", "none"
_FIELDS = ("{correlation_id}", "{issue}")


@dataclass(frozen=True)
class Reference:
    """An update's correlation id and issue (a link, ``pending`` or ``none``)."""

    correlation_id: str
    issue: str

    @property
    def linked(self) -> bool:
        """Whether the issue is a link (neither pending nor none)."""
        return self.issue not in (PENDING, NONE)


@dataclass(frozen=True)
class ReferenceTemplate:
    """The policy's ``update_reference_template``: rendered below a message, read back."""

    template: str

    def __post_init__(self) -> None:
        if any(self.template.count(name) != 1 for name in _FIELDS) or "\n" in self.template:
            raise ValueError("expected one line with {correlation_id} and {issue} once each")

    def render(self, reference: Reference) -> str:
        """The reference line of ``reference``."""
        return self.template.format(correlation_id=reference.correlation_id, issue=reference.issue)

    def append(self, text: str, reference: Reference) -> str:
        """``text`` with the reference line below it."""
        return f"{text}\n{self.render(reference)}"

    def split(self, text: str) -> tuple[str, Reference | None]:
        """A message's own words and its reference (None when its last line is none)."""
        body, _, last = text.rpartition("\n")
        found = self._pattern().fullmatch(last)
        if not body or found is None:
            return text, None
        return body, Reference(found["correlation_id"], found["issue"])

    def _pattern(self) -> re.Pattern[str]:
        escaped = re.escape(self.template)
        for name in ("correlation_id", "issue"):
            escaped = escaped.replace(re.escape(f"{{{name}}}"), f"(?P<{name}>\\S+?)")
        return re.compile(escaped)


def issue_path(link: str) -> str:
    """The issue a link names, whoever's address of Gitea it uses: its path. The agent links
    the issue at the address it reaches Gitea by, the harness reads it at its own (on the
    docker backend a mapped port): the same issue, the same path."""
    return urlsplit(link).path.rstrip("/")


def read_reference(top: FieldReader) -> ReferenceTemplate:
    """The policy's ``update_reference_template``, validated."""
    text = top.text("update_reference_template")
    try:
        return ReferenceTemplate(text)
    except ValueError as exc:
        raise top.error("update_reference_template", str(exc), text) from None


__all__ = [
    "ID_FIELD",
    "ISSUE_FIELD",
    "NONE",
    "PENDING",
    "Reference",
    "ReferenceTemplate",
    "issue_path",
    "read_reference",
]
