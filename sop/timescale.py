"""SOP time versus wall time: one conversion shared by every service and the harness.

``TimeScale(60)`` means one SOP minute passes in one real second (the nightly gate);
``TimeScale(1)`` is real time (the quarterly drill, SOP section 6).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import datetime

from sop.errors import PolicyError

#: The environment variable every SUT service reads its time scale from.
TIME_SCALE_ENV = "SOPDRILL_TIME_SCALE"
#: The fastest scale there is: ten SOP minutes per wall second. Faster, the agent's
#: detector tick (deployment.detector_tick_minutes, 3 SOP seconds) would come every few
#: milliseconds of wall time, below what a loopback HTTP probe takes, so no observation
#: could keep to the SOP's cadence and the services would only spin.
MAX_TIME_SCALE = 600.0
#: The fastest scale a drill is judged at, measured with bench/time_scale.py (2026-12-03,
#: 2 cores, local backend, the smoke suite twice per scale): every drill held at 120; at
#: 240 the agent's restart of a stopped Ollama missed its RTO window both times (its
#: remediation rounds cost wall time the scale does not shrink). Faster, a verdict says
#: more about the machine than about the SOP.
DRILL_MAX_TIME_SCALE = 120.0


@dataclass(frozen=True)
class TimeScale:
    """How many SOP seconds pass per wall second (``factor``); 1 is real time."""

    factor: float = 1.0

    def __post_init__(self) -> None:
        if not (isinstance(self.factor, int | float) and math.isfinite(self.factor)) or (
            self.factor <= 0
        ):
            raise PolicyError(f"time scale: expected a positive number, got {self.factor!r}")
        if self.factor > MAX_TIME_SCALE:
            raise PolicyError(
                f"time scale: at most {MAX_TIME_SCALE:g} (ten SOP minutes per wall second), "
                f"got {self.factor!r}"
            )

    def wall_seconds(self, sop_minutes: float) -> float:
        """Wall-clock seconds that ``sop_minutes`` of SOP time take at this scale."""
        return sop_minutes * 60.0 / self.factor

    def sop_minutes(self, wall_seconds: float) -> float:
        """SOP minutes that ``wall_seconds`` of wall-clock time stand for at this scale."""
        return wall_seconds * self.factor / 60.0

    def check_for_drills(self, where: str, override: str) -> TimeScale:
        """This scale, or PolicyError when drills cannot be judged this fast (``override``
        names the flag that measures beyond the bound anyway)."""
        if self.factor > DRILL_MAX_TIME_SCALE:
            raise PolicyError(
                f"{where}: at most {DRILL_MAX_TIME_SCALE:g} for drills (the fastest at which "
                f"their SOP windows held, bench/time_scale.py; {override} to measure beyond "
                f"it), got {self.factor:g}"
            )
        return self

    @classmethod
    def parse(cls, text: str, where: str = TIME_SCALE_ENV) -> TimeScale:
        """Parse a scale given as text; a bad value is a one-line PolicyError naming ``where``."""
        try:
            value = float(text)
        except ValueError:
            raise PolicyError(f"{where}: expected a positive number, got {text!r}") from None
        try:
            return cls(value)
        except PolicyError as exc:
            reason = str(exc).removeprefix("time scale: ").rpartition(", got ")[0]
            raise PolicyError(f"{where}: {reason}, got {text!r}") from None

    @classmethod
    def from_env(cls) -> TimeScale:
        """The scale in ``SOPDRILL_TIME_SCALE``, real time when unset."""
        text = os.environ.get(TIME_SCALE_ENV)
        return cls() if text is None or text == "" else cls.parse(text)


#: The drills' default scale, the CI nightly gate's: one SOP minute per wall second
#: (``--drill-time-scale`` and ``sopdrill run --time-scale`` both default to it).
DEFAULT_TIME_SCALE = TimeScale(60)


def aware_instant(value: object, where: str) -> datetime:
    """``value`` (ISO-8601 text) as a time-zone-aware instant; ValueError naming ``where``.

    Wall instants are compared across hosts (envelope age, merged timelines, incident
    times), so a local time without a zone is refused, not guessed.
    """
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected an ISO-8601 time string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{where}: not ISO-8601: {value!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{where}: a time zone is required (e.g. Z), got {value!r}")
    return parsed
