"""The Ops Expert's detector: SOP section 2 as a state machine over observations and SOP time.

``online -> suspect -> offline -> recovering -> online``, implementing the "Detection
semantics" of docs/architecture.md. The detector is pure: the agent's loops feed it
observations (:mod:`sop.observations`, stamped in SOP minutes) and ticks, and act on the
transitions it returns. Nothing here reads a clock, sleeps or touches a socket.

* Scenario A (SOP 2A, ALL of): ``t >= last valid heartbeat (or start) + silence_minutes``;
  the last ``api_failures`` probes failed (``server_error``, ``timeout``, ``unreachable``);
  when co-located, the latest process check says ``dead`` or ``zombie``.
* Scenario B (SOP 2B): a rate-limited run (probe ``rate_limited`` or a rate-limit report)
  begun at ``s``, unbroken by an ``ok`` probe or a "no longer limited" report, with
  ``t >= s + rate_limited_minutes``.
* OFFLINE is declared as soon as A or B holds (trigger ``scenario_a`` when A held first or
  at the same instant). It latches: only a valid heartbeat or an ``ok`` probe seen while
  offline, with neither scenario holding any more, moves on to ``recovering``; re-sync
  (SOP 5) then brings ``online``. If A or B holds again while recovering, OFFLINE again.

Each call returns at most one transition. When an observation arrives after a threshold
was crossed unseen (between two ticks), OFFLINE is declared first, at the observation's
time, and whatever the observation itself implies is taken up on the next call.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sop.errors import SopdrillError
from sop.observations import (
    FAILED_PROBES,
    GONE_STATES,
    ApiProbe,
    Heartbeat,
    Mode,
    Observation,
    ProcessCheck,
    ProcessState,
    RateLimitReport,
    Trigger,
)
from sop.policy import Policy


class DetectorError(SopdrillError, ValueError):
    """The detector was asked for a move its state does not allow (re-sync while not recovering)."""


@dataclass(frozen=True)
class DetectorState:
    """Where the detector stands, and the evidence counters ``GET /v1/state`` shows."""

    mode: Mode
    since: float
    trigger: Trigger | None
    detected_at: float | None
    consecutive_api_failures: int
    last_heartbeat_at: float | None
    rate_limited_since: float | None


@dataclass(frozen=True)
class Transition:
    """One change of mode, at SOP minute ``at``, with a one-line human reason."""

    at: float
    from_mode: Mode
    to_mode: Mode
    trigger: Trigger | None
    reason: str


#: Modes in which OFFLINE may (again) be declared.
_WATCHING: frozenset[Mode] = frozenset({"online", "suspect", "recovering"})


class Detector:
    """SOP 2 detection over a stream of observations; see the module docstring for the rules."""

    def __init__(self, policy: Policy, *, co_located: bool, start: float) -> None:
        self._policy = policy
        self._start = start
        # SOP 2A.3: the process check is a condition only "if running on the same host".
        self._process_required = co_located and policy.scenario_a.process_check_when_co_located
        self._state = DetectorState(
            mode="online",
            since=start,
            trigger=None,
            detected_at=None,
            consecutive_api_failures=0,
            last_heartbeat_at=None,
            rate_limited_since=None,
        )
        self._now = start
        self._failures: tuple[str, ...] = ()
        self._process: ProcessState | None = None
        self._recovery: str | None = None

    @property
    def state(self) -> DetectorState:
        """The current state (an immutable snapshot)."""
        return self._state

    # ---- feeding ---------------------------------------------------------------------

    def observe(self, obs: Observation) -> Transition | None:
        """Take one observation stamped ``obs.at``; return the transition it causes, if any."""
        if isinstance(obs, Heartbeat) and not obs.valid:
            # SOP 2A.1 counts only a *valid* heartbeat: a forged or replayed one is nothing.
            return None
        if not isinstance(obs, Heartbeat | ApiProbe | ProcessCheck | RateLimitReport):
            raise TypeError(f"detector: not an observation: {obs!r}")
        at = max(obs.at, self._now)
        early = None
        if self._state.mode in _WATCHING:
            # A threshold may have been crossed since the last call, before this observation
            # changed the evidence: that earlier instant is when the SOP says OFFLINE.
            onset = self._onset(after=self._now)
            if onset is not None and onset[0] < at:
                early = self._declare(at, onset[1])
        self._now = at
        self._fold(obs)
        if early is not None:
            return early
        transition = self._evaluate(at, after=at)
        if (
            transition is not None
            and transition.to_mode == "offline"
            and isinstance(obs, Heartbeat)
        ):
            # The heartbeat that arrives as a threshold falls is an answer too: once no
            # scenario holds any more, it moves the agent on (as a later one would).
            self._recovery = f"valid heartbeat at {obs.at:g}"
        return transition

    def tick(self, now: float) -> Transition | None:
        """Evaluate time-based conditions (silence, rate-limit duration) at SOP minute ``now``."""
        after = self._now
        self._now = max(now, self._now)
        return self._evaluate(self._now, after=after)

    def resume_offline(self, trigger: Trigger, detected_at: float) -> None:
        """Start latched OFFLINE: a restarted agent whose emergency log says it had declared
        OFFLINE (with ``trigger``, ``detected_at`` SOP minutes on this clock, before the
        start) and never recovered. The latch holds until an answer with no scenario left
        (SOP 2), as it did before the restart; no transition, so no second alert (SOP 3)."""
        self._recovery = None
        self._state = replace(
            self._state, mode="offline", since=self._start, trigger=trigger, detected_at=detected_at
        )

    def orphaned(self, now: float) -> bool:
        """Whether the father is unreachable over its own link at SOP minute ``now``:
        OFFLINE, or no valid heartbeat for SOP 2A.1's silence (emergency-procedures.md
        scenario 4: "Father heartbeat missing"), whatever the API probes say."""
        silent = now - self._silence_mark() >= self._policy.scenario_a.silence_minutes
        return self._state.mode == "offline" or silent

    def resynced(self, now: float) -> Transition:
        """Re-sync finished (SOP 5): ``recovering -> online``; anything else is a caller bug."""
        if self._state.mode != "recovering":
            raise DetectorError(
                f"detector: re-sync reported while {self._state.mode}; "
                "only a recovering agent re-syncs (SOP 5)"
            )
        self._now = max(now, self._now)
        return self._move("online", self._now, "re-sync complete (SOP 5)")

    # ---- evidence --------------------------------------------------------------------

    def _fold(self, obs: Observation) -> None:
        """Fold one (valid) observation into the evidence."""
        state = self._state
        offline = state.mode == "offline"
        if isinstance(obs, Heartbeat):
            last = state.last_heartbeat_at
            self._state = replace(
                state, last_heartbeat_at=obs.at if last is None else max(last, obs.at)
            )
            if offline:
                self._recovery = f"valid heartbeat at {obs.at:g}"
        elif isinstance(obs, ApiProbe):
            if obs.outcome in FAILED_PROBES:
                # SOP 2A.2: consecutive failures; only the last few matter for the reason line.
                window = self._policy.scenario_a.api_failures
                self._failures = (*self._failures, obs.outcome)[-window:]
                self._state = replace(
                    state, consecutive_api_failures=state.consecutive_api_failures + 1
                )
                return
            # Any answer (ok or rate-limited) breaks the run of failures.
            self._failures = ()
            since = state.rate_limited_since
            if obs.outcome == "ok":
                since = None  # SOP 2B: an answering API is no longer restricted
                if offline:
                    self._recovery = f"API probe ok at {obs.at:g}"
            elif since is None:
                since = obs.at
            self._state = replace(state, consecutive_api_failures=0, rate_limited_since=since)
        elif isinstance(obs, ProcessCheck):
            self._process = obs.state
        elif not obs.limited:
            self._state = replace(state, rate_limited_since=None)
        elif state.rate_limited_since is None:
            self._state = replace(state, rate_limited_since=obs.at)

    def _silence_mark(self) -> float:
        # SOP 2A.1: silence counts from the last valid heartbeat, or from the start if none.
        last = self._state.last_heartbeat_at
        return self._start if last is None else last

    def _onset_a(self) -> float | None:
        """The instant A holds from, given the evidence as it stands (None: it cannot)."""
        rule = self._policy.scenario_a
        if self._state.consecutive_api_failures < rule.api_failures:
            return None
        # SOP 2A.3: a SIGSTOPped ("stopped") process is alive; only dead or zombie confirm.
        if self._process_required and self._process not in GONE_STATES:
            return None
        return self._silence_mark() + rule.silence_minutes

    def _onset_b(self) -> float | None:
        """The instant B holds from: the run's start plus the threshold (None: no run)."""
        since = self._state.rate_limited_since
        if since is None:
            return None
        # SOP 2B: "more than 3 minutes"; the boundary instant is the infimum of "more than".
        return since + self._policy.scenario_b.rate_limited_minutes

    def _onset(self, after: float) -> tuple[float, Trigger] | None:
        """The earliest instant >= ``after`` at which A or B holds, and which one (A on a tie)."""
        a, b = self._onset_a(), self._onset_b()
        if a is None and b is None:
            return None
        a_at = None if a is None else max(a, after)
        b_at = None if b is None else max(b, after)
        if a_at is not None and (b_at is None or a_at <= b_at):
            return a_at, "scenario_a"
        assert b_at is not None
        return b_at, "scenario_b"

    def _holds(self, at: float) -> bool:
        onset = self._onset(after=at)
        return onset is not None and onset[0] <= at

    def _suspicion(self, at: float) -> list[str]:
        """The evidence short of OFFLINE that makes the agent ``suspect`` (architecture doc)."""
        state = self._state
        evidence = []
        if state.consecutive_api_failures:
            evidence.append(f"{state.consecutive_api_failures} failed API probe(s)")
        if state.rate_limited_since is not None:
            evidence.append(f"rate limited since {state.rate_limited_since:g}")
        mark = self._silence_mark()
        if at > mark + 2 * self._policy.deployment.heartbeat_interval_minutes:
            evidence.append(f"no valid heartbeat for {at - mark:.1f} min")
        return evidence

    # ---- moving ----------------------------------------------------------------------

    def _evaluate(self, at: float, after: float) -> Transition | None:
        """The one transition due at ``at``; the evidence has not changed since ``after``."""
        mode = self._state.mode
        if mode in _WATCHING:
            onset = self._onset(after=after)
            if onset is not None and onset[0] <= at:
                return self._declare(at, onset[1])
        if mode == "offline":
            # Latched until the dispatcher answers again and no scenario holds any more; a
            # heartbeat during a 429 storm (SOP 2B) proves reachability, not recovery.
            if self._recovery is not None and not self._holds(at):
                return self._move("recovering", at, self._recovery)
            return None
        if mode == "recovering":
            return None
        evidence = self._suspicion(at)
        if mode == "online" and evidence:
            return self._move("suspect", at, "; ".join(evidence))
        if mode == "suspect" and not evidence:
            return self._move("online", at, "no evidence of an outage left")
        return None

    def _declare(self, at: float, trigger: Trigger) -> Transition:
        reason = self._describe_a(at) if trigger == "scenario_a" else self._describe_b(at)
        self._recovery = None
        return self._move("offline", at, reason, trigger=trigger)

    def _describe_a(self, at: float) -> str:
        text = (
            f"no valid heartbeat for {at - self._silence_mark():.1f} min; "
            f"{self._state.consecutive_api_failures} consecutive API failures "
            f"({', '.join(self._failures)})"
        )
        if self._process_required:
            return f"{text}; dispatcher process {self._process}"
        return f"{text}; process check not required (not co-located, SOP 2A.3)"

    def _describe_b(self, at: float) -> str:
        since = self._state.rate_limited_since
        assert since is not None
        return (
            f"dispatcher rate limited for {at - since:.1f} min since minute {since:g} "
            f"({' / '.join(self._policy.scenario_b.signals)})"
        )

    def _move(self, to: Mode, at: float, reason: str, trigger: Trigger | None = None) -> Transition:
        state = self._state
        kept_trigger: Trigger | None
        detected: float | None
        if to == "offline":
            kept_trigger, detected = trigger, at
        elif to == "recovering":
            kept_trigger, detected = state.trigger, state.detected_at
        else:
            kept_trigger, detected = None, None
        self._state = replace(state, mode=to, since=at, trigger=kept_trigger, detected_at=detected)
        return Transition(at, state.mode, to, kept_trigger, reason)
