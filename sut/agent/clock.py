"""SOP time inside the agent: minutes since the agent started, and their wall-clock ISO form."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sop.timescale import TimeScale


class SopClock:
    """Monotonic SOP minutes since start; ``iso`` maps a SOP minute back to wall time."""

    def __init__(self, scale: TimeScale) -> None:
        self.scale = scale
        self._mono0 = time.monotonic()
        self._wall0 = datetime.now(UTC)

    def now(self) -> float:
        """SOP minutes elapsed since the agent started."""
        return self.scale.sop_minutes(time.monotonic() - self._mono0)

    def iso(self, minutes: float | None) -> str | None:
        """The wall-clock instant (ISO-8601, UTC) of SOP minute ``minutes``."""
        if minutes is None:
            return None
        return (self._wall0 + timedelta(seconds=self.scale.wall_seconds(minutes))).isoformat()

    def wall_seconds(self, minutes: float) -> float:
        """Wall seconds that ``minutes`` SOP minutes take (for sleeps and timeouts)."""
        return self.scale.wall_seconds(minutes)
