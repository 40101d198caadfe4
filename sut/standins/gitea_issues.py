"""The Gitea stand-in's issues: request bodies bound as Gitea binds them, and the issue book.

Gitea binds a body to a Go struct by its Content-Type (gitea.com/go-chi/binding, ``Bind``):
JSON for a type containing ``json``, a form for ``form-urlencoded`` (its fields joined by
those of the query string), and for a POST with neither ``[]: Empty Content-Type`` or
``[]: Unsupported Content-Type``; a PATCH without one is bound from its query string alone.
JSON keys match a field exactly or case-insensitively, a null leaves it unset, and a value
of the wrong type refuses the whole body. :func:`bind_json` and :func:`bind_form` do the
same for ``CreateIssueOption`` and ``EditIssueOption`` (modules/structs/issue.go); every
refusal is an :class:`OptionError`, answered 422 as ``[Field]: reason``.

:class:`IssueBook` numbers issues as Gitea does, ids across the instance and numbers per
repository from 1, and, given a file, rewrites it whole after each change through a
temporary file replaced in one step: a Gitea restarted mid-drill serves every issue it
accepted before (emergency-procedures.md, scenario 3, STEP 3 "Verify Data Integrity"), and a
crash never leaves half a file.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl

from starlette.requests import Request

from sop import jsonwire
from sop.errors import ServiceConfigError
from sut.runtime.body import BodyRefused, read_bytes
from sut.standins.app import NotAJsonObject, read_json_object
from sut.standins.statefile import write_json_atomically

INT64: Final = range(-(2**63), 2**63)
#: Go's strconv.ParseInt in base 10, before the range check.
_GO_INT: Final = re.compile(r"^[+-]?[0-9]{1,19}$")
#: Go's time.Time decodes RFC 3339 only: a "T", seconds, and "Z" or a numeric offset.
_RFC3339: Final = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
#: The file in ``SOPDRILL_GITEA_DATA`` that holds the issues.
ISSUES_FILE: Final = "issues.json"
_TRUE: Final = ("1", "t", "T", "TRUE", "true", "True", "on")  # strconv.ParseBool, and "on"
_FALSE: Final = ("", "0", "f", "F", "FALSE", "false", "False")

#: Each option's fields: JSON name -> (Go field name, Go type).
CREATE_OPTION: Final = {
    "title": ("Title", "string"),
    "body": ("Body", "string"),
    "ref": ("Ref", "string"),
    "assignee": ("Assignee", "string"),
    "assignees": ("Assignees", "[]string"),
    "due_date": ("Deadline", "*time.Time"),
    "milestone": ("Milestone", "int64"),
    "labels": ("Labels", "[]int64"),
    "closed": ("Closed", "bool"),
}
EDIT_OPTION: Final = {
    "title": ("Title", "string"),
    "body": ("Body", "*string"),
    "ref": ("Ref", "*string"),
    "assignee": ("Assignee", "*string"),
    "assignees": ("Assignees", "[]string"),
    "milestone": ("Milestone", "*int64"),
    "state": ("State", "*string"),
    "due_date": ("Deadline", "*time.Time"),
    "unset_due_date": ("RemoveDeadline", "*bool"),
}


class OptionError(ValueError):
    """A body Gitea's binding refuses; ``str()`` is the message, ``[Field]: reason``.

    ``status`` is 422, Gitea's answer, or 413 for a body past the size limit of
    docs/security.md (which Gitea has not: a reverse proxy in front of it would answer).
    """

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def _go_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def atoi(text: str) -> int | None:
    """``text`` as Go's strconv.Atoi reads it on a 64-bit machine; None for what it refuses."""
    if not _GO_INT.match(text):
        return None
    number = int(text)
    return number if number in INT64 else None


def rfc3339(unix: int) -> str:
    """Unix seconds as Gitea writes a time on a UTC server: ``2026-01-02T03:04:05Z``."""
    moment = datetime.fromtimestamp(unix, UTC).replace(tzinfo=None)
    return f"{moment.isoformat(timespec='seconds')}Z"


def _unix(text: str) -> int:
    """An RFC 3339 instant as Unix seconds; ValueError for anything else or past year 9999."""
    if not _RFC3339.match(text):
        raise ValueError(text)
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp())


def _decode(struct: str, name: str, go_type: str, value: Any) -> Any:
    """``value`` as the Go field ``name`` of ``go_type`` takes it; OptionError if it cannot."""
    base = go_type.removeprefix("*")

    def mismatch(kind: str, of_type: str = base) -> OptionError:
        return OptionError(
            f"[]: json: cannot unmarshal {kind} into Go struct field {struct}.{name} "
            f"of type {of_type}"
        )

    if base == "time.Time":
        if not isinstance(value, str):
            raise mismatch(_go_kind(value))
        try:
            return _unix(value)
        except (ValueError, OverflowError):
            raise OptionError(f"[]: parsing time {json.dumps(value)} as RFC 3339") from None
    if base.startswith("[]"):
        if not isinstance(value, list):
            raise mismatch(_go_kind(value))
        item = base.removeprefix("[]")
        # A null item is the zero value, as Go decodes it.
        return [_decode(struct, name, item, v) if v is not None else _zero(item) for v in value]
    wanted = {"string": str, "bool": bool, "int64": int}[base]
    if not isinstance(value, wanted) or (base == "int64" and isinstance(value, bool)):
        raise mismatch(_go_kind(value))
    if base == "int64" and value not in INT64:
        raise mismatch("number")
    return value


def _zero(go_type: str) -> Any:
    return {"string": "", "int64": 0, "bool": False}[go_type]


def bind_json(
    struct: str, option: Mapping[str, tuple[str, str]], body: Mapping[str, Any]
) -> dict[str, Any]:
    """The fields ``body`` sets, by JSON name, as Go's encoding/json fills the struct."""
    bound: dict[str, Any] = {}
    for key, value in body.items():
        name = key if key in option else key.lower()
        if name not in option:
            continue  # an unknown field is ignored
        go_type = option[name][1]
        if value is None:
            if go_type.startswith("*") or go_type.startswith("[]"):
                bound.pop(name, None)  # a nil pointer or slice: not given
            continue
        bound[name] = _decode(struct, name, go_type, value)
    return bound


def _form_value(go_name: str, go_type: str, values: list[str]) -> Any:
    base = go_type.removeprefix("*").removeprefix("[]")
    parsed: list[Any] = []
    for text in values if go_type.startswith("[]") else values[:1]:
        if base == "bool":
            if text not in _TRUE + _FALSE:
                raise OptionError(f"[{go_name}]: Value could not be parsed as boolean")
            parsed.append(text in _TRUE)
        elif base == "int64":
            number = atoi(text)
            if text and number is None:
                raise OptionError(f"[{go_name}]: Value could not be parsed as integer")
            parsed.append(number or 0)
        else:
            parsed.append(text)
    return parsed if go_type.startswith("[]") else parsed[0]


def _form_name(go_name: str) -> str:
    """The form field of a Go field: the binding's name mapper, ``RemoveDeadline`` ->
    ``remove_deadline``."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", go_name).lower()


def bind_form(
    option: Mapping[str, tuple[str, str]], pairs: Iterable[tuple[str, str]]
) -> dict[str, Any]:
    """The fields a form sets, by JSON name. A form names a field after its Go name, and
    cannot give a time (a struct): ``due_date`` is never set from one."""
    values: dict[str, list[str]] = {}
    for key, value in pairs:
        values.setdefault(key, []).append(value)
    bound: dict[str, Any] = {}
    for name, (go_name, go_type) in option.items():
        given = values.get(_form_name(go_name))
        if given and go_type != "*time.Time":
            bound[name] = _form_value(go_name, go_type, given)
    return bound


async def read_option(
    request: Request, struct: str, option: Mapping[str, tuple[str, str]]
) -> dict[str, Any]:
    """The fields ``request``'s body sets, bound as Gitea binds it by its Content-Type."""
    content_type = request.headers.get("content-type", "")
    query = request.query_params.multi_items()
    try:
        # The binding's own order of tests, each a substring of the type.
        if "form-urlencoded" in content_type:
            form = (await read_bytes(request)).decode("utf-8", "replace")
            return bind_form(option, [*parse_qsl(form, keep_blank_values=True), *query])
        if "multipart/form-data" in content_type:
            raise OptionError("[]: this stand-in reads no multipart/form-data")
        if "json" in content_type:
            return bind_json(struct, option, await read_json_object(request))
    except (NotAJsonObject, BodyRefused) as exc:
        raise OptionError(f"[]: {exc}", exc.status if exc.status == 413 else 422) from None
    if request.method in ("POST", "PUT") or content_type:
        raise OptionError(f"[]: {'Unsupported' if content_type else 'Empty'} Content-Type")
    return bind_form(option, query)  # a PATCH without a type: its query string alone


@dataclass(frozen=True)
class Issue:
    """One issue as the book keeps it; times are Unix seconds, as Gitea stores them."""

    id: int
    repo: str  # "owner/name" in lower case: Gitea matches both names without case
    number: int
    title: str
    body: str
    ref: str
    poster: str
    assignees: tuple[str, ...]
    created_unix: int
    updated_unix: int
    closed_unix: int | None = None
    deadline_unix: int | None = None

    @property
    def state(self) -> str:
        """``open`` or ``closed``."""
        return "open" if self.closed_unix is None else "closed"


def _issue_from(entry: Any) -> Issue:
    """An issue read back from the file; ValueError when the entry is none."""
    if not isinstance(entry, dict) or set(entry) != {f.name for f in fields(Issue)}:
        raise ValueError("an entry is not an issue")
    if not isinstance(entry["assignees"], list):
        raise ValueError(f"issue {entry['id']!r}: assignees is not a list")
    issue = Issue(**{**entry, "assignees": tuple(entry["assignees"])})
    texts = (issue.repo, issue.title, issue.body, issue.ref, issue.poster, *issue.assignees)
    times = [n for n in (issue.closed_unix, issue.deadline_unix) if n is not None]
    times += [issue.created_unix, issue.updated_unix]
    if not all(isinstance(text, str) for text in texts) or not all(
        type(n) is int for n in (issue.id, issue.number, *times)
    ):
        raise ValueError(f"issue {issue.id!r} has a field of the wrong type")
    try:
        for unix in times:
            rfc3339(unix)
    except (OverflowError, OSError):
        raise ValueError(f"issue {issue.id!r} has a time outside the years 1 to 9999") from None
    return issue


class IssueBook:
    """Every repository's issues, numbered as Gitea numbers them, kept in ``path`` if given.

    Each change is written before it is applied: when the disk refuses it (OSError), the
    book stays as it was and the caller answers the error. Safe to share between threads.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._issues: dict[tuple[str, int], Issue] = {}
        if path is not None and path.exists():
            # ValueError covers any bytes that are not JSON; the caller names the file and fix.
            stored = jsonwire.loads(path.read_bytes())
            if not isinstance(stored, dict) or not isinstance(stored.get("issues"), list):
                raise ValueError('expected {"issues": [...]}')
            for issue in map(_issue_from, stored["issues"]):
                self._issues[(issue.repo, issue.number)] = issue

    def get(self, repo: str, number: int) -> Issue | None:
        """Issue ``number`` of ``repo``, or None."""
        with self._lock:
            return self._issues.get((repo, number))

    def listing(self, repo: str, state: str) -> list[Issue]:
        """``repo``'s issues in ``state`` (``open``, ``closed`` or ``all``), newest first."""
        with self._lock:
            found = [i for (r, _), i in self._issues.items() if r == repo]
        return sorted(
            (i for i in found if state in ("all", i.state)), key=lambda i: i.id, reverse=True
        )

    def count_open(self, repo: str) -> int:
        """How many of ``repo``'s issues are open."""
        return len(self.listing(repo, "open"))

    def open(self, repo: str, now_unix: int, **content: Any) -> Issue:
        """A new issue in ``repo``: the next id and the repository's next number."""
        with self._lock:
            number = 1 + max((n for (r, n) in self._issues if r == repo), default=0)
            next_id = 1 + max((i.id for i in self._issues.values()), default=0)
            issue = Issue(
                next_id, repo, number, created_unix=now_unix, updated_unix=now_unix, **content
            )
            self._commit(issue)
            return issue

    def edit(self, issue: Issue, **changes: Any) -> Issue:
        """``issue`` with ``changes`` applied, stored."""
        with self._lock:
            edited = replace(issue, **changes)
            self._commit(edited)
            return edited

    def _commit(self, issue: Issue) -> None:
        after = {**self._issues, (issue.repo, issue.number): issue}
        if self.path is not None:
            entries = [asdict(kept) for kept in sorted(after.values(), key=lambda i: i.id)]
            write_json_atomically(self.path, {"issues": entries})
        self._issues = after


def open_book(data: str | None) -> IssueBook:
    """The issue book kept in ``data``/issues.json, or in memory without a directory."""
    if data is None:
        return IssueBook()
    path = Path(data) / ISSUES_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return IssueBook(path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ServiceConfigError(
            f"gitea: SOPDRILL_GITEA_DATA: cannot use {path}: {reason}"
        ) from None
    except ValueError as exc:
        raise ServiceConfigError(
            f"gitea: SOPDRILL_GITEA_DATA: {path} is no issue file of this stand-in ({exc}); "
            "move it aside to start with no issues"
        ) from None
