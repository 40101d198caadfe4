"""The emergency-log upload contract (SOP 5.2): one upload carries one epoch of one agent's log.

Every log an agent starts (its first, or a new one after it found its chain broken) is an
*epoch*: a positive integer that grows with each new log and is written into the log's first
entry (``"epoch"``). An upload names its epoch; a request without one is epoch 0, the single
log of an agent from before epochs (backward compatible). An agent that finds a log's chain
broken closes that epoch for good and uploads what it could read of it with a ``sealed``
object: the first bad line and the verifier's error. docs/architecture.md "Emergency log".

    {"agent": "ops", "epoch": 1764745293000000000, "entries": [...],
     "sealed": {"line": 4, "error": "emergency log ...: line 4: hash does not match ..."}}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sop.errors import WireError

#: The field of a log's first entry that holds its epoch.
EPOCH_FIELD = "epoch"
#: The epoch of a log (or an upload) that names none: the one log of an agent before epochs.
LEGACY_EPOCH = 0
#: The largest epoch: a signed 64-bit integer, wall-clock nanoseconds up to the year 2262.
#: The dispatcher names a file by the epoch; a 300-digit one was a file name too long (a
#: 500, issue 14's fuzz), and no agent counts past this.
MAX_EPOCH = 2**63 - 1


def epoch_of(entries: Sequence[Mapping[str, Any]]) -> int:
    """The epoch a log's first entry names; LEGACY_EPOCH for an empty or pre-epoch log."""
    if not entries:
        return LEGACY_EPOCH
    value = entries[0].get(EPOCH_FIELD, LEGACY_EPOCH)
    return value if _is_epoch(value) else LEGACY_EPOCH


def _is_epoch(value: Any) -> bool:
    # bool is an int to Python; an epoch of true is a mistake, not epoch 1.
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_EPOCH


@dataclass(frozen=True)
class Seal:
    """Why an epoch was closed: the first line of its file that did not verify, and the error."""

    line: int | None
    error: str

    def as_json(self) -> dict[str, Any]:
        """The ``sealed`` object of an upload."""
        return {"line": self.line, "error": self.error}

    @classmethod
    def from_json(cls, value: Any) -> Seal:
        """A Seal from an upload's ``sealed`` field; WireError naming the field otherwise."""
        if not isinstance(value, Mapping):
            raise WireError(f"sealed: expected an object, got {value!r}")
        line = value.get("line")
        if line is not None and (not _is_epoch(line) or line < 1):
            raise WireError(f"sealed.line: expected a line number from 1 or null, got {line!r}")
        error = value.get("error")
        if not isinstance(error, str) or not error:
            raise WireError(f"sealed.error: expected the verifier's message, got {error!r}")
        return cls(line, error)


@dataclass(frozen=True)
class UploadHeader:
    """What an upload says about its entries: which epoch, and whether that epoch is sealed."""

    epoch: int
    seal: Seal | None

    def as_json(self) -> dict[str, Any]:
        """The upload's fields besides ``agent`` and ``entries``."""
        body: dict[str, Any] = {"epoch": self.epoch}
        if self.seal is not None:
            body["sealed"] = self.seal.as_json()
        return body

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UploadHeader:
        """The header of an upload body; a missing ``epoch`` is LEGACY_EPOCH."""
        epoch = data.get("epoch", LEGACY_EPOCH)
        if not _is_epoch(epoch):
            raise WireError(f"epoch: expected an integer from 0 to 2**63 - 1, got {epoch!r}")
        sealed = data.get("sealed")
        return cls(epoch, None if sealed is None else Seal.from_json(sealed))
