"""What every SUT service shares: settings from the environment, JSON-line logs, serving.

``serve`` (uvicorn) is imported from ``sut.runtime.serve`` by the services that serve.
"""

from sut.runtime.jsonlog import configure_logging, get_logger, redact
from sut.runtime.settings import Settings

__all__ = ["Settings", "configure_logging", "get_logger", "redact"]
