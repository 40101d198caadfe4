"""The reports' branch of sopdrill's one exception tree (the trunk is sop/errors.py).

    SopdrillError                 sop/errors.py
     └── ReportError              reports/: a run's artifacts cannot be read, built or checked
          ├── EvidenceUnreadable  OUT/evidence.json or OUT/junit.xml is missing or malformed
          └── SigningKeyError     the signing or verifying key given is not an Ed25519 key

Every message is one line naming the file, what is wrong and the fix; a key's bytes are
never part of one.
"""

from __future__ import annotations

from sop.errors import SopdrillError


class ReportError(SopdrillError):
    """A run's artifacts could not be read, built or checked."""


class EvidenceUnreadable(ReportError):
    """An input of the report (evidence.json, junit.xml) is missing or malformed."""


class SigningKeyError(ReportError):
    """A signing or verifying key could not be loaded."""


__all__ = ["EvidenceUnreadable", "ReportError", "SigningKeyError"]
