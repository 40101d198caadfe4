"""The checker: one pure function of a drill's history -> a verdict per SOP invariant.

Jepsen's checkers are the model: the system's answers are judged, never trusted. No
sockets, no sleeps, no clock; every number from the policy, every slack named in
sop/checker/tolerance.py.
"""

from __future__ import annotations

from collections.abc import Callable

from sop.checker.actions import check_actions
from sop.checker.correlation import check_correlation
from sop.checker.detection import check_detection, check_validity
from sop.checker.notification import check_notification
from sop.checker.recovery import check_recovery
from sop.checker.verdict import InvariantVerdict
from sop.history import History
from sop.policy import Policy

#: The invariants in the SOP's order, each a pure function of (history, policy).
INVARIANTS: tuple[Callable[[History, Policy], InvariantVerdict], ...] = (
    check_detection,
    check_validity,
    check_notification,
    check_actions,
    check_recovery,
    check_correlation,
)


def check(history: History, policy: Policy) -> tuple[InvariantVerdict, ...]:
    """Judge ``history`` against every invariant of the SOP: one verdict each, in order."""
    return tuple(invariant(history, policy) for invariant in INVARIANTS)


def violations(verdicts: tuple[InvariantVerdict, ...]) -> tuple[InvariantVerdict, ...]:
    """The violated ones among ``verdicts``, in order (what fails a drill)."""
    return tuple(v for v in verdicts if v.status == "violated")
