"""The one exception tree of sopdrill; every room raises a subclass of SopdrillError.

    SopdrillError                 base: a one-line message naming the thing, the place, the fix
     ├── PolicyError              sop/: the policy file is missing, malformed or invalid
     ├── WireError                sop/: an inbox envelope is malformed, forged, stale or replayed
     ├── ChainError               sop/: an emergency log's hash chain is broken (names the line)
     ├── EvidenceError            sop/: an evidence event is malformed (unknown kind, bad field)
     ├── CoverageError            sop/: a seed clause unmapped, a coverage-map entry malformed
     ├── ServiceConfigError       sut/: a service's environment or config file is wrong
     │    └── FaultSpecError      sut/standins/fault.py: a ``PUT /_fault`` body is invalid (400)
     ├── RequestRejected          sut/dispatcher/errors.py: a request refused, with its status
     │    └── LogConflict         sut/dispatcher/errors.py: an upload rewrites a stored entry
     ├── DetectorError            sut/agent/detector.py: a move its state forbids (ValueError)
     ├── EmergencyLogError        sut/agent/emlog.py: the emergency log cannot be written or read
     │    └── EmergencyLogFull    sut/agent/emlog.py: disk or quota full; the entry stays pending
     ├── SupervisorCallError      sut/agent/supervisor.py: supervisord unreachable or refused a call
     ├── ExecutionError           sut/agent/remediation.py: an allowed action failed to run
     ├── NotAJsonObject           sut/standins/app.py: a body that is no JSON object (ValueError)
     ├── ReportError              reports/errors.py: evidence unreadable, signing key unusable
     │    ├── EvidenceUnreadable
     │    └── SigningKeyError
     └── HarnessError             fixtures/: topology, image, fault, proxy or CLI failure
                                  (the whole harness branch is drawn in fixtures/errors.py)

Rooms subclass the branch that is theirs, in their own modules: sut/dispatcher/errors.py
(RequestRejected, LogConflict), sut/agent/emlog.py (EmergencyLogError, EmergencyLogFull),
sut/agent/supervisor.py (SupervisorCallError), fixtures/errors.py (UsageError, WaitTimeout,
TopologyError and its kinds), fixtures/images/errors.py (ImageError and its kinds),
fixtures/faults/errors.py (FaultError, FaultUnavailable), fixtures/proxy/errors.py
(ToxiproxyApiError, ProxyServerError), reports/errors.py (ReportError and its kinds).

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


class CoverageError(SopdrillError):
    """The seeds' coverage map (sop/seeds-coverage.toml) misses a clause or is malformed."""


class ServiceConfigError(SopdrillError):
    """A SUT service was started with a missing or invalid setting."""


class HarnessError(SopdrillError):
    """A harness failure: backend, fault, probe or command line (subclassed in fixtures/)."""
