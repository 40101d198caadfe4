"""JSON-line logs on stdout, one object per event, with every known secret redacted."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

REDACTED = "[REDACTED]"

_secrets: set[str] = set()


def redact(text: str, secrets: Iterable[str] | None = None) -> str:
    """``text`` with every registered (or given) secret replaced by ``[REDACTED]``."""
    for secret in sorted(set(secrets or ()) | _secrets, key=len, reverse=True):
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


class _JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str, ensure_ascii=False))


def configure_logging(service: str, secrets: Iterable[str] = (), level: int = logging.INFO) -> None:
    """Send every log record of this process to stdout as JSON lines, redacting ``secrets``."""
    _secrets.update(s for s in secrets if s)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log would duplicate ours and print query strings verbatim.
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every request at INFO: at time scale 60 that drowns the service's own events.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def get_logger(name: str) -> logging.Logger:
    """A logger whose ``extra={"fields": {...}}`` become top-level JSON keys."""
    return logging.getLogger(name)
