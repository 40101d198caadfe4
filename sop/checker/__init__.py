"""The checker: a drill's observed history judged against every invariant of the SOP.

``check(history, policy)`` returns one :class:`InvariantVerdict` per invariant (detection,
heartbeat validity, notification, actions, recovery): held, violated with its first
divergence, or not exercised. ``InvariantVerdict.describe()`` is its one-line rendering.
"""

from sop.checker.judge import INVARIANTS, check, violations
from sop.checker.tolerance import (
    NOTIFY_GRACE_MINUTES,
    TIMING_SLACK_MINUTES,
    answer_horizon,
    latest_declaration,
)
from sop.checker.verdict import STATUSES, Divergence, InvariantVerdict, Status, combine

__all__ = [
    "INVARIANTS",
    "NOTIFY_GRACE_MINUTES",
    "STATUSES",
    "TIMING_SLACK_MINUTES",
    "Divergence",
    "InvariantVerdict",
    "Status",
    "answer_horizon",
    "check",
    "combine",
    "latest_declaration",
    "violations",
]
