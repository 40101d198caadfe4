"""Level 1 self-healing of a hung agent (emergency-procedures.md, escalation matrix).

supervisord restarts a program that dies (``autorestart``), but a hung one (SIGSTOP, a
deadlock) stays RUNNING for ever: scenario 1, "Complete Agent Failure", with no restart.
This watchdog runs beside the agent on its host. It asks the agent's ``/healthz`` at the
cadence the agent itself probes the dispatcher (SOP 2A.2: every
``api_probe_interval_minutes``), and after ``api_failures`` consecutive probes the same
process accepted but never answered, it has supervisord send that process SIGKILL;
supervisord then restarts it as it would any crash, well within the Agent Operations RTO.

Only silence counts: a refused connection is an agent still starting (or dead, which is
supervisord's own business), and any HTTP answer, a 503 included (an agent failing closed
or with a stopped loop is alive and says so), proves the process is not hung.

When Level 1 does not bring it back (scenario 1 STEP 2's restart and STEP 3's manual
launch both fail: an agent that exits at every start, until supervisord gives up, FATAL)
the watchdog launches it again itself each round supervisord has given up (STEP 3), and
once the agent has not answered for the Agent Operations RTO (Appendix B: the bound on
bringing it back) the failure is unresolved: STEP 4, "Notify Grandfather (Immediate if
unresolved)", one line ``P0: Agent failure at ...`` in the host's EMERGENCY_ALERT.txt,
once per failure (``Unresolved``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import httpx

from sop.alert_file import AGENT_FAILURE
from sop.policy import Policy
from sop.timescale import TimeScale
from sut.runtime.alertfile import AlertFile
from sut.runtime.jsonlog import get_logger
from sut.runtime.tls import client_verify, speaks_tls

log = get_logger("sut.watchdog")

#: What one look at the agent found.
Look = Literal["answered", "silent", "refused"]

#: The shortest wall time a probe waits for an answer: at a time scale of 60 the policy's
#: probe timeout is half a second, shorter than a loaded 2-core host's scheduling hiccup,
#: and a healthy agent killed for it would be a fault of the watchdog's own making.
MIN_TIMEOUT_S = 2.0
#: supervisord's word for a program it stopped on request: not a failure, nothing to heal.
STOPPED = "STOPPED"
#: ... and for one it gave up restarting (startretries exhausted): STEP 3's turn.
FATAL = "FATAL"
#: The watchdog's own word when supervisord did not answer: no news this round.
UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class Rule:
    """When the watchdog looks, how long it waits for an answer, how many silences it takes;
    how long a failure may last before it is unresolved, and the level it is reported at."""

    interval_s: float
    timeout_s: float
    misses: int
    unresolved_s: float
    severity: str

    @classmethod
    def of(cls, policy: Policy, scale: TimeScale) -> Rule:
        """The agent judged by the yardstick it judges the dispatcher with (SOP 2A.2)."""
        rule = policy.scenario_a
        return cls(
            interval_s=scale.wall_seconds(rule.api_probe_interval_minutes),
            timeout_s=max(
                scale.wall_seconds(policy.deployment.api_probe_timeout_minutes), MIN_TIMEOUT_S
            ),
            misses=rule.api_failures,
            # Appendix B: the agent back within its RTO, else scenario 1 STEP 4 (P0).
            unresolved_s=scale.wall_seconds(policy.rto.agent_operations_minutes),
            severity=policy.severity_of("agent_down"),
        )


class Verdicts:
    """Counts consecutive silences of one process; says when it is hung. Pure."""

    def __init__(self, misses: int) -> None:
        self.misses = misses
        self._pid: int | None = None
        self._silent = 0

    @property
    def silent(self) -> int:
        """Consecutive silent looks at the current process."""
        return self._silent

    def observe(self, pid: int | None, look: Look) -> bool:
        """Take one look at process ``pid`` (None: not running); True: kill it now."""
        if pid is None or pid != self._pid:
            self._pid, self._silent = pid, 0  # another process: its own count
        if pid is None or look != "silent":
            self._silent = 0
            return False
        self._silent += 1
        if self._silent < self.misses:
            return False
        self._silent = 0  # once per run of silences; the next process starts afresh
        return True


class Unresolved:
    """How long the agent has been failed; says once per failure when it is unresolved. Pure."""

    def __init__(self, after_s: float) -> None:
        self.after_s = after_s
        self._failed_since: float | None = None
        self._alerted = False

    @property
    def failed_since(self) -> float | None:
        """When the current failure was first seen (None: none)."""
        return self._failed_since

    def observe(self, now: float, failed: bool | None) -> bool:
        """Fold one round in (``failed`` None: no news); True: alert now, once per failure."""
        if failed is None:
            return False
        if not failed:  # answering (or stopped on purpose): the failure, if any, is over
            self._failed_since, self._alerted = None, False
            return False
        if self._failed_since is None:
            self._failed_since = now
        if self._alerted or now - self._failed_since < self.after_s:
            return False
        self._alerted = True
        return True

    def retry(self) -> None:
        """The alert could not be written: say it again next round."""
        self._alerted = False


def look_at(client: httpx.Client, url: str, timeout_s: float) -> Look:
    """GET ``url``: answered (any status), silent (accepted, no answer) or refused."""
    try:
        client.get(url, timeout=timeout_s)
    except httpx.TimeoutException:
        return "silent"
    except httpx.HTTPError:
        return "refused"
    return "answered"


class Manager(Protocol):
    """The process manager of the agent's host (sut.agent.supervisor.Supervisor)."""

    def process_info(self, name: str) -> dict[str, object]: ...

    def send_signal(self, name: str, signal_name: str) -> None: ...

    def launch(self, name: str) -> None: ...


@dataclass
class Watchdog:
    """Watches ``program`` through ``url`` and has ``manager`` kill it when it hangs."""

    program: str
    url: str
    manager: Manager
    rule: Rule
    sleep: Callable[[float], None] = time.sleep
    alert: AlertFile = field(default_factory=lambda: AlertFile(None))
    clock: Callable[[], float] = time.monotonic

    def status(self) -> tuple[str, int | None]:
        """supervisord's state of the program, and its pid while RUNNING (else None)."""
        try:
            info = self.manager.process_info(self.program)
        except Exception as exc:  # supervisord restarting or busy: look again next round
            log.warning("process manager unreachable", extra={"fields": {"error": str(exc)}})
            return UNKNOWN, None
        pid, state = info.get("pid"), str(info.get("statename"))
        return state, pid if state == "RUNNING" and isinstance(pid, int) else None

    def running_pid(self) -> int | None:
        """The program's pid while supervisord calls it RUNNING (else None: not watched)."""
        return self.status()[1]

    def round(
        self, client: httpx.Client, verdicts: Verdicts, unresolved: Unresolved | None = None
    ) -> bool:
        """One look; kill the process if it is hung, launch it if supervisord gave up, alert
        if it stays failed (``unresolved``). True: it was killed."""
        # What a round sees is dated when it began: a look that waits out its timeout must
        # not move the failure's start (and the STEP 4 alert) later by that wait.
        began = self.clock()
        state, pid = self.status()
        look: Look = "refused" if pid is None else look_at(client, self.url, self.rule.timeout_s)
        if unresolved is not None:
            self._escalate(began, state, look, unresolved)
        if not verdicts.observe(pid, look):
            return False
        fields = {"program": self.program, "pid": pid, "silent_looks": self.rule.misses}
        log.error(
            "hung: no answer to consecutive health checks; killing it", extra={"fields": fields}
        )
        try:
            # supervisord sees an unexpected exit and restarts it (autorestart).
            self.manager.send_signal(self.program, "KILL")
        except Exception as exc:
            log.error("kill refused", extra={"fields": {**fields, "error": str(exc)}})
            return False
        return True

    def _escalate(self, began: float, state: str, look: Look, unresolved: Unresolved) -> None:
        """Scenario 1 STEP 3 (launch again) and STEP 4 (the P0 alert once unresolved)."""
        failed = None if state == UNKNOWN else state != STOPPED and look != "answered"
        if state == FATAL:
            # STEP 3 "Manual Agent Launch": supervisord gave up; try once more, every round.
            try:
                self.manager.launch(self.program)
            except Exception as exc:  # still failing at start: FATAL again, next round
                log.warning("launch failed", extra={"fields": {"error": str(exc)}})
        if not unresolved.observe(began, failed):
            return
        fields = {"program": self.program, "state": state, "after_s": self.rule.unresolved_s}
        log.error("unresolved: not back within the RTO", extra={"fields": fields})
        if not self.alert.write(self.rule.severity, AGENT_FAILURE):
            unresolved.retry()

    def run(self, rounds: int | None = None) -> None:
        """Look every ``interval_s`` at fixed instants (``rounds``: stop after that many)."""
        verdicts = Verdicts(self.rule.misses)
        unresolved = Unresolved(self.rule.unresolved_s)
        log.info(
            "watchdog started",
            extra={"fields": {"program": self.program, "url": self.url, **self.rule.__dict__}},
        )
        due = time.monotonic()
        done = 0
        verify = client_verify(speaks_tls([self.url]))
        with httpx.Client(trust_env=False, verify=verify) as client:
            while rounds is None or done < rounds:
                self.round(client, verdicts, unresolved)
                done += 1
                # A round longer than the interval (a look waiting out its timeout) is not
                # made up with a burst: the next one starts now.
                now = time.monotonic()
                due = max(due + self.rule.interval_s, now)
                self.sleep(due - now)
