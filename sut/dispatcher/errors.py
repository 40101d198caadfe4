"""The dispatcher's branch of sopdrill's one exception tree (the trunk is sop/errors.py).

    SopdrillError                 sop/errors.py: the base
     └── RequestRejected          a request the dispatcher refuses; ``status`` is its HTTP code
          └── LogConflict         an uploaded log entry contradicts one already stored (409)

Every message is one line naming the field or the entry and what was wrong with it; the
routes answer it as ``{"error": message}``.
"""

from __future__ import annotations

from sop.errors import SopdrillError


class RequestRejected(SopdrillError):
    """A request the dispatcher refuses; answered with ``status`` and the one-line message."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


class LogConflict(RequestRejected):
    """An uploaded entry has the seq of a stored one but another hash: history was rewritten."""

    def __init__(self, message: str, seq: int) -> None:
        super().__init__(message, 409)
        self.seq = seq
