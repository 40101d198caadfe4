"""The checker's named tolerances: where the harness's own sampling is coarser than the SOP.

The checker is strict where the SOP is, but it judges the agent from the harness's
observations, which are samples, not the agent's own instants. Each slack below says
which coarseness it absorbs, so a correct run is never judged violated. Every SOP number
comes from the policy; only the measurement slack is stated here.
"""

from __future__ import annotations

from sop.policy import Policy

#: SOP minutes between the harness's stamp of a fact and the agent's own moment for it
#: (a heartbeat the proxy passed, a delivery the sink stored, a log entry's timestamp):
#: an HTTP round trip on 127.0.0.1 plus scheduling on a loaded 2-core machine, measured
#: at up to 0.2 SOP-min at the nightly scale 60 (fixtures/tolerance.py); 0.25 leaves a
#: margin and is far below every SOP threshold (3 and 15 minutes, 5 for runaways).
TIMING_SLACK_MINUTES = 0.25

#: SOP minutes after a declaration was seen by which its alert must be in a sink when no
#: backchannel was held down: SOP 3 says "immediately" and gives no number; the agent
#: writes the marker, then posts to the Discord stand-in on 127.0.0.1 (milliseconds);
#: one SOP minute (one wall second at the nightly scale) covers a slow post and the
#: harness's own read of the sink.
NOTIFY_GRACE_MINUTES = 1.0


def latest_declaration(oracle_at: float, policy: Policy) -> float:
    """The last SOP minute a declaration due at ``oracle_at`` may come (SOP 2, not late).

    Beyond the oracle's instant on the harness's samples: one probe interval (SOP 2A.2:
    the agent's probes run on their own phase, up to one interval after the harness's),
    the probe timeout (a hung dispatcher's third failure ends that much later), one
    detector tick (the threshold is seen at the next tick) and the timing slack. The
    harness's own polling of the mode is absorbed by judging the last sample *before*
    the declaration was seen, not the sample that saw it.
    """
    deployment = policy.deployment
    return (
        oracle_at
        + policy.scenario_a.api_probe_interval_minutes
        + deployment.api_probe_timeout_minutes
        + deployment.detector_tick_minutes
        + TIMING_SLACK_MINUTES
    )


def answer_horizon(policy: Policy) -> float:
    """How long after an answer the harness may first see it (recovery, SOP 2 latch, 5).

    The agent's probe may find the dispatcher answering up to one probe interval before
    the harness's probe does; plus the timing slack.
    """
    return policy.scenario_a.api_probe_interval_minutes + TIMING_SLACK_MINUTES


__all__ = ["NOTIFY_GRACE_MINUTES", "TIMING_SLACK_MINUTES", "answer_horizon", "latest_declaration"]
