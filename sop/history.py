"""The history of one drill as the harness observed it: the checker's only input.

Recorded by the harness (fixtures/), judged by the checker (sop/checker/); the two meet
only here. Every record is a frozen value stamped ``at`` in SOP minutes since the drill's
start (the harness's own clock) and carries the ``evidence_id`` (correlation or event id)
it came from, so a verdict can cite the evidence. The agent's answers (polled modes, its
emergency log) are evidence to be judged, never ground truth (DESIGN.md, the checker).

JSON: ``History.to_dict()`` / ``History.from_dict()``; every record is an object with a
``type`` tag (its class name) and its fields; a malformed one raises EvidenceError naming
the record and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal, TypeVar, get_args

from sop.errors import EvidenceError
from sop.history_actions import ActionEffect, ActionRequest, ActionSource, Advisory
from sop.history_json import (
    Reader,
    flag,
    integer,
    mapping,
    mappings,
    number,
    one_of,
    optional,
    read_fields,
    text,
    texts,
)
from sop.history_updates import DistressRecord, IssueRecord
from sop.observations import Mode, ProbeOutcome, ProcessState, Trigger
from sop.wire import plain

#: The schema tag of a serialized history.
HISTORY_SCHEMA = "sopdrill.history/1"

EnvelopeKind = Literal["heartbeat", "task"]
#: ``dispatcher``: sent over a link the harness controls; the others the harness injected.
EnvelopeOrigin = Literal["dispatcher", "forged", "replayed", "delayed"]
Channel = Literal["discord", "signal"]
TreeKind = Literal["data", "backups"]


@dataclass(frozen=True)
class HistoryFacts:
    """What the drill's deployment was, as the harness deployed it."""

    agent_host: str  # the host name the SOP 3.1 alert must name
    co_located: bool  # dispatcher on the agent's host: SOP 2A.3 applies
    discord_recipient_id: str  # 0x01 on Discord
    signal_sender: str  # the registered Signal number
    signal_recipient: str  # 0x01's verified Signal number
    time_scale: float  # wall seconds per SOP minute = 60 / time_scale
    managed_services: tuple[str, ...] = ()  # services the agent may restart


@dataclass(frozen=True)
class FaultSpan:
    """What the harness did, with the effect the OS or the engine observed."""

    kind: str
    target: str
    at: float  # injected
    end: float | None  # reverted; None: still in force at the end of the drill
    effect: Mapping[str, Any]
    evidence_id: str


@dataclass(frozen=True)
class DispatcherSample:
    """The harness's own probe of the dispatcher API, and (co-located) its process via the OS."""

    at: float
    api: ProbeOutcome
    process: ProcessState | None
    evidence_id: str


@dataclass(frozen=True)
class EnvelopeRecord:
    """An inbox envelope that reached (or was kept from) the agent, as far as the harness saw.

    ``sent_at`` is the envelope's own ``sent_at`` in SOP minutes since the drill's start
    and ``seq`` its sequence number: the checker decides validity from origin, age and
    sequence (SOP 2A.1), never from the agent's answer. ``provider`` is a heartbeat's
    word on the dispatcher's model provider (``ok``, ``rate_limited``, ``error``).
    """

    at: float
    kind: EnvelopeKind
    origin: EnvelopeOrigin
    delivered: bool
    evidence_id: str
    seq: int | None = None
    sent_at: float | None = None
    provider: str | None = None


@dataclass(frozen=True)
class ModeSample:
    """The agent's mode as the harness polled it (``GET /v1/state``): its word, to judge."""

    at: float
    mode: Mode
    trigger: Trigger | None
    evidence_id: str


@dataclass(frozen=True)
class Delivery:
    """A message a backchannel stand-in's sink received (SOP 3)."""

    at: float
    channel: Channel
    recipient: str
    sender: str | None
    content: str
    evidence_id: str


@dataclass(frozen=True)
class Refusal:
    """A request a backchannel stand-in turned away by its own rate limit (a 429 it chose,
    no fault of the harness's): a fleet's alert storm on one bot (issue 12). SOP 3's order
    of priority then lets the alert go on to the next channel."""

    at: float
    channel: Channel
    status: int
    evidence_id: str


@dataclass(frozen=True)
class LogEntry:
    """One entry of the agent's emergency log as read from disk (docs/architecture.md).

    ``at`` is the entry's own timestamp in SOP minutes since the drill's start; ``entry``
    the whole JSON object (seq, kind, kind fields, prev, hash). ``sealed_in`` names the
    file the agent set the entry aside in when its chain broke (an earlier epoch, whose
    seq counts from 0 again); None for its live log.
    """

    at: float
    entry: Mapping[str, Any]
    evidence_id: str
    sealed_in: str | None = None


@dataclass(frozen=True)
class DispatcherCopy:
    """The dispatcher's stored copy of the agent's emergency log, read at ``at``."""

    at: float
    entries: tuple[Mapping[str, Any], ...]
    acknowledged_through: int
    evidence_id: str


@dataclass(frozen=True)
class IntegrityCheck:
    """An integrity check the dispatcher answered (SOP 5.3); ``requester`` asked for it."""

    at: float
    status: str  # "ok" | "broken"
    requester: str
    evidence_id: str


@dataclass(frozen=True)
class ServiceSample:
    """A managed service's state in its process manager's word (RUNNING, STOPPED, ...)."""

    at: float
    service: str
    state: str
    evidence_id: str


@dataclass(frozen=True)
class DiskSample:
    """The log volume's usage by statvfs, measured by the harness."""

    at: float
    used_percent: float
    evidence_id: str


@dataclass(frozen=True)
class ProcessSample:
    """One process on the agent's host, sampled by the harness (name as ps shows it).

    ``cpu_percent`` is None at a process's first sight: a CPU share needs two readings,
    but the sample still proves the process was there (and its RAM) at ``at``.
    """

    at: float
    pid: int
    name: str
    cpu_percent: float | None
    ram_percent: float
    evidence_id: str


@dataclass(frozen=True)
class TreeDigest:
    """A digest of the application data or the backups, taken at the start and the end."""

    at: float
    which: TreeKind
    digest: str
    evidence_id: str


Record = (
    FaultSpan
    | DispatcherSample
    | EnvelopeRecord
    | ModeSample
    | Delivery
    | Refusal
    | LogEntry
    | DispatcherCopy
    | IntegrityCheck
    | ServiceSample
    | DiskSample
    | ProcessSample
    | TreeDigest
    | ActionRequest
    | Advisory
    | ActionEffect
    | DistressRecord
    | IssueRecord
)
#: Every record class by its ``type`` tag.
RECORD_TYPES: dict[str, type[Record]] = {cls.__name__: cls for cls in get_args(Record)}
R = TypeVar("R", bound=Record)


# Field annotations (strings under ``from __future__ import annotations``) -> readers.
_READERS: dict[str, Reader] = {
    "float": number,
    "int": integer,
    "str": text,
    "bool": flag,
    "float | None": optional(number),
    "int | None": optional(integer),
    "str | None": optional(text),
    "Mapping[str, Any]": mapping,
    "tuple[Mapping[str, Any], ...]": mappings,
    "tuple[str, ...]": texts,
    "ProbeOutcome": one_of(ProbeOutcome),
    "ProcessState | None": optional(one_of(ProcessState)),
    "EnvelopeKind": one_of(EnvelopeKind),
    "EnvelopeOrigin": one_of(EnvelopeOrigin),
    "Mode": one_of(Mode),
    "Trigger | None": optional(one_of(Trigger)),
    "Channel": one_of(Channel),
    "TreeKind": one_of(TreeKind),
    "ActionSource": one_of(ActionSource),
}


def record_to_dict(record: Record) -> dict[str, Any]:
    """The JSON object of one record, tagged with its ``type``."""
    body = {column.name: plain(getattr(record, column.name)) for column in fields(record)}
    return {"type": type(record).__name__, **body}


def record_from_dict(raw: Any, where: str = "record") -> Record:
    """The record ``record_to_dict`` wrote; EvidenceError names the record and the field."""
    if not isinstance(raw, Mapping):
        raise EvidenceError(f"history: {where}: expected an object, got {raw!r}")
    tag = raw.get("type")
    cls = RECORD_TYPES.get(tag) if isinstance(tag, str) else None
    if cls is None:
        raise EvidenceError(
            f"history: {where}: type: expected one of {sorted(RECORD_TYPES)}, got {tag!r}"
        )
    body = {k: v for k, v in raw.items() if k != "type"}
    record: Record = read_fields(cls, body, f"{where} ({tag})", _READERS)
    return record


@dataclass(frozen=True)
class History:
    """Everything the harness observed in one drill, in the order recorded."""

    drill: str
    facts: HistoryFacts
    records: tuple[Record, ...] = field(default_factory=tuple)

    def of(self, kind: type[R]) -> tuple[R, ...]:
        """The records of ``kind`` in time order (records at one instant keep their order)."""
        return tuple(sorted((r for r in self.records if isinstance(r, kind)), key=_at))

    @property
    def end(self) -> float:
        """The last instant the history knows of (0 when it is empty)."""
        return max((_at(record) for record in self.records), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this history (schema tag, drill, facts, records)."""
        facts = {
            column.name: plain(getattr(self.facts, column.name)) for column in fields(self.facts)
        }
        return {
            "schema": HISTORY_SCHEMA,
            "drill": self.drill,
            "facts": facts,
            "records": [record_to_dict(record) for record in self.records],
        }

    @classmethod
    def from_dict(cls, raw: Any) -> History:
        """The history ``to_dict`` wrote; EvidenceError names what is malformed, and where."""
        if not isinstance(raw, Mapping):
            raise EvidenceError(f"history: expected an object, got {type(raw).__name__}")
        if raw.get("schema") != HISTORY_SCHEMA:
            raise EvidenceError(
                f"history: schema: expected {HISTORY_SCHEMA!r}, got {raw.get('schema')!r}"
            )
        drill = raw.get("drill")
        if not isinstance(drill, str):
            raise EvidenceError(f"history: drill: expected a string, got {drill!r}")
        facts: HistoryFacts = read_fields(
            HistoryFacts, raw.get("facts"), f"{drill}: facts", _READERS
        )
        records = raw.get("records")
        if not isinstance(records, list):
            raise EvidenceError(f"history: {drill}: records: expected a list, got {records!r}")
        return cls(
            drill,
            facts,
            tuple(
                record_from_dict(item, f"{drill}: records[{index}]")
                for index, item in enumerate(records)
            ),
        )


def _at(record: Record) -> float:
    return record.at


__all__ = [
    "HISTORY_SCHEMA",
    "RECORD_TYPES",
    "ActionEffect",
    "ActionRequest",
    "Advisory",
    "Delivery",
    "DiskSample",
    "DispatcherCopy",
    "DispatcherSample",
    "DistressRecord",
    "EnvelopeRecord",
    "FaultSpan",
    "History",
    "HistoryFacts",
    "IntegrityCheck",
    "IssueRecord",
    "LogEntry",
    "ModeSample",
    "ProcessSample",
    "Record",
    "Refusal",
    "ServiceSample",
    "TreeDigest",
    "record_from_dict",
    "record_to_dict",
]
