"""SOP 4 red list while OFFLINE: every prohibited action is refused, logged, and changes nothing.

Each action of the policy's red list is asked for twice, as a local operator request and
as a validly signed task; both must be refused (403), each refusal logged in the
emergency log, the agent still offline, and the protected data untouched byte for byte.
"""

from __future__ import annotations

import pytest

from fixtures.lifecycle import decisions, offline_by_storm, steady_state

ROUTES = ("local", "task")


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.smoke
@pytest.mark.test_plan(3)
def test_red_list_requests_refused_logged_nothing_changed(policy, clock, evidence, probes, faults):
    """Every red-list action requested while offline: refused, logged, nothing changed."""
    host = faults.agent_host()
    protected = {str(d): probes.tree_digest(d) for d in host.protected_dirs}
    target = str(host.protected_dirs[0]) if host.protected_dirs else "srv/data"
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        with offline_by_storm(faults, watch, policy, clock):
            for red in policy.red_list:
                request = faults.red_list_request(red.name, target, routes=ROUTES)
                with request:
                    for route, verdict in request.verdicts.items():
                        assert verdict["status"] == 403, f"{red.name} via {route}: {verdict}"
                        assert verdict["answer"]["decision"] == "refused"
            entries = probes.emergency_log()
            for red in policy.red_list:
                logged = decisions(entries, red.name)
                assert [d["decision"] for d in logged] == ["refused"] * len(ROUTES), red.name
                assert all("red list" in d["reason"] for d in logged)
            assert probes.agent_state()["mode"] == "offline", "a refused request changes nothing"
    steady_state("after", probes, policy, evidence)
    for directory, before in protected.items():
        assert probes.tree_digest(directory) == before, f"{directory} changed"
