"""The one exception tree of sopdrill; every room raises a subclass of SopdrillError.

    SopdrillError                 base: a one-line message naming the thing, the place, the fix
     ├── PolicyError              sop/: the policy file is missing, malformed or invalid
     ├── WireError                sop/: an inbox envelope is malformed, forged, stale or replayed
     ├── ChainError               sop/: an emergency log's hash chain is broken (names the line)
     ├── EvidenceError            sop/: an evidence event is malformed (unknown kind, bad field)
     ├── ServiceConfigError       sut/: a service's environment or config file is wrong
     └── HarnessError             fixtures/: topology, image, fault, proxy or CLI failure

Rooms subclass the branch that is theirs, in their own modules: sut/dispatcher/errors.py
(RequestRejected, LogConflict), sut/agent/emlog.py (EmergencyLogError, EmergencyLogFull),
sut/agent/supervisor.py (SupervisorError), fixtures/errors.py (UsageError, WaitTimeout,
TopologyError and its kinds; the whole harness branch is drawn there), fixtures/images/errors.py
(ImageError and its kinds), fixtures/faults/errors.py (FaultError, FaultUnavailable),
fixtures/proxy/errors.py (ToxiproxyApiError, ProxyServerError).

Third-party errors are translated at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations


class SopdrillError(Exception):
    """Base of every error sopdrill raises on purpose; its message is one actionable line."""


class PolicyError(SopdrillError):
    """The SOP policy file cannot be used; an agent holding one fails closed."""


class WireError(SopdrillError):
    """An inbox envelope was rejected; ``reason`` is a short machine-readable tag."""

    def __init__(self, message: str, reason: str = "malformed") -> None:
        super().__init__(message)
        self.reason = reason


class ChainError(SopdrillError):
    """An emergency log does not verify: a line was changed, dropped, reordered or added."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class EvidenceError(SopdrillError):
    """An evidence event does not fit the schema of sop/events.py; it is never recorded."""


class ServiceConfigError(SopdrillError):
    """A SUT service was started with a missing or invalid setting."""


class HarnessError(SopdrillError):
    """A harness failure: backend, fault, probe or command line (subclassed in fixtures/)."""
