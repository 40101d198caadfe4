"""A checker verdict on one SOP invariant: held, violated at its first divergence, not exercised.

One rendering (:meth:`InvariantVerdict.describe`) for the plugin to fail a drill with and
for the report, and ``to_dict`` / ``from_dict`` for evidence.json.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from sop.errors import EvidenceError

Status = Literal["held", "violated", "not_exercised"]
STATUSES: tuple[str, ...] = get_args(Status)


@dataclass(frozen=True)
class Divergence:
    """The first moment the history leaves what the SOP requires, with its evidence."""

    at: float  # SOP minutes since the drill's start
    clause: str  # the most specific clause broken, e.g. "SOP 3.1"
    required: str
    observed: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class InvariantVerdict:
    """The checker's verdict on one invariant of the SOP over one drill's history."""

    invariant: str
    clause: str
    status: Status
    divergence: Divergence | None = None
    note: str = ""  # what was judged, or why nothing was

    def describe(self) -> str:
        """One line: clause, invariant, verdict and, when violated, the first divergence."""
        if self.divergence is None:
            tail = f" ({self.note})" if self.note else ""
            return f"{self.clause} {self.invariant}: {self.status.replace('_', ' ')}{tail}"
        d = self.divergence
        cited = ", ".join(d.evidence) if d.evidence else "no evidence id"
        return (
            f"{d.clause} {self.invariant}: violated at {d.at:.2f} SOP-min: "
            f"required {d.required}, observed {d.observed} [evidence {cited}]"
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this verdict (for evidence.json)."""
        divergence = None
        if self.divergence is not None:
            d = self.divergence
            divergence = {
                "at": d.at,
                "clause": d.clause,
                "required": d.required,
                "observed": d.observed,
                "evidence": list(d.evidence),
            }
        return {
            "invariant": self.invariant,
            "clause": self.clause,
            "status": self.status,
            "divergence": divergence,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> InvariantVerdict:
        """The verdict ``to_dict`` wrote; EvidenceError names the malformed field."""
        where = f"verdict {raw.get('invariant')!r}" if isinstance(raw, Mapping) else "verdict"
        try:
            status = raw["status"]
            if status not in STATUSES:
                raise ValueError(f"status: expected one of {list(STATUSES)}, got {status!r}")
            d = raw.get("divergence")
            divergence = None
            if d is not None:
                divergence = Divergence(
                    at=float(d["at"]),
                    clause=str(d["clause"]),
                    required=str(d["required"]),
                    observed=str(d["observed"]),
                    evidence=tuple(str(e) for e in d["evidence"]),
                )
            if (status == "violated") != (divergence is not None):
                raise ValueError("divergence: expected one exactly when violated")
            return cls(
                invariant=str(raw["invariant"]),
                clause=str(raw["clause"]),
                status=status,
                divergence=divergence,
                note=str(raw.get("note") or ""),
            )
        except KeyError as exc:
            raise EvidenceError(f"checker: {where}: {exc.args[0]}: missing") from None
        except (TypeError, ValueError) as exc:
            raise EvidenceError(f"checker: {where}: {exc}") from None


def held(invariant: str, clause: str, note: str = "") -> InvariantVerdict:
    """The invariant held over the whole history."""
    return InvariantVerdict(invariant, clause, "held", None, note)


def not_exercised(invariant: str, clause: str, note: str) -> InvariantVerdict:
    """The history gave the invariant nothing to judge; ``note`` says why."""
    return InvariantVerdict(invariant, clause, "not_exercised", None, note)


def violated(invariant: str, clause: str, divergence: Divergence) -> InvariantVerdict:
    """The invariant broke; ``divergence`` is the first place it did."""
    return InvariantVerdict(invariant, clause, "violated", divergence)


def combine(runs: list[tuple[InvariantVerdict, ...]]) -> tuple[InvariantVerdict, ...]:
    """One verdict per invariant over several histories (a drill that judges many, such
    as the generated schedules): violated if any history violated it (its first such
    verdict), held if any held, not exercised only when none exercised it."""
    by_name: dict[str, list[InvariantVerdict]] = {}
    for verdicts in runs:
        for verdict in verdicts:
            by_name.setdefault(verdict.invariant, []).append(verdict)
    combined = []
    for name, seen in by_name.items():
        broken = [v for v in seen if v.status == "violated"]
        kept = [v for v in seen if v.status == "held"]
        if broken:
            combined.append(broken[0])
        elif kept:
            note = f"held in {len(kept)} of {len(seen)} histories, not exercised in the rest"
            combined.append(held(name, kept[0].clause, note))
        else:
            combined.append(seen[0])
    return tuple(combined)


def first(divergences: list[Divergence]) -> Divergence | None:
    """The earliest of ``divergences`` (None when there are none)."""
    return min(divergences, key=lambda d: d.at, default=None)
