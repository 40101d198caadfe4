"""The agent's ``GET /metrics`` body: the mode one-hot, every counter, the pending log entries."""

from __future__ import annotations

from sut.agent.metrics import AgentMetrics


def test_metrics_show_every_mode_one_hot_and_the_counters_sorted():
    metrics = AgentMetrics()
    metrics.count("probe_timeout")
    metrics.count("action_refused")
    metrics.count("probe_timeout")

    lines = metrics.render("offline", pending_entries=2).splitlines()

    modes = [line for line in lines if line.startswith("sopdrill_agent_mode{")]
    assert modes == [
        'sopdrill_agent_mode{mode="online"} 0',
        'sopdrill_agent_mode{mode="suspect"} 0',
        'sopdrill_agent_mode{mode="offline"} 1',
        'sopdrill_agent_mode{mode="recovering"} 0',
    ]
    events = [line for line in lines if line.startswith("sopdrill_agent_events_total{")]
    assert events == [
        'sopdrill_agent_events_total{event="action_refused"} 1',
        'sopdrill_agent_events_total{event="probe_timeout"} 2',
    ]
    assert lines[-1] == "sopdrill_agent_emergency_log_pending 2"
