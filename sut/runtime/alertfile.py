"""Write the emergency alert file (emergency-procedures.md scenario 1 STEP 4) on this host.

The line is sop.alert_file's; this is the I/O: one ``os.write`` on an ``O_APPEND``
descriptor, then ``fsync``, so an alert a person must read survives the crash that
follows it. A write that fails (a full disk) is logged and reported False: the caller
tries again at its next round rather than losing the alert.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from sop.alert_file import alert_line
from sut.runtime.jsonlog import get_logger

log = get_logger("sut.alertfile")


class AlertFile:
    """The host's EMERGENCY_ALERT.txt at ``path``; None: alerts are only logged."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def write(self, severity: str, what: str, at: datetime | None = None) -> bool:
        """Append one alert line; True once it is on disk (or there is no file to write)."""
        line = alert_line(severity, what, at or datetime.now(UTC))
        fields = {"severity": severity, "what": what, "path": str(self.path)}
        log.error("emergency alert", extra={"fields": fields})
        if self.path is None:
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            fields["error"] = str(exc)
            log.error("emergency alert not written", extra={"fields": fields})
            return False
        return True


__all__ = ["AlertFile"]
