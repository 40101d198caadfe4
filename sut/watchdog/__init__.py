"""The agent's watchdog: Level 1 self-healing of a hung agent (emergency-procedures.md).

``python -m sut.watchdog`` runs on the agent's host beside supervisord; see
sut/watchdog/watchdog.py for when it kills a hung agent so that supervisord restarts it.
"""

from sut.watchdog.watchdog import MIN_TIMEOUT_S, Rule, Unresolved, Verdicts, Watchdog, look_at

__all__ = ["MIN_TIMEOUT_S", "Rule", "Unresolved", "Verdicts", "Watchdog", "look_at"]
