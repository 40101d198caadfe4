"""What every SUT service shares: settings from the environment, JSON-line logs, serving."""

from sut.runtime.jsonlog import configure_logging, get_logger, redact
from sut.runtime.serve import serve
from sut.runtime.settings import Settings

__all__ = ["Settings", "configure_logging", "get_logger", "redact", "serve"]
