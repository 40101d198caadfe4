"""The child orphaned: the father's own link to it cut (emergency-procedures.md scenario 4).

STEP 3, "Alternative Communication Channels": "Use Gitea as message channel / Father creates
issue in child's repo", titled ``Father Message: ...``. The drill cuts the dispatcher ->
agent link (Toxiproxy's ``agent_inbox``: the father's heartbeats and tasks), so the child's
logs would say "Father heartbeat missing" while its own probes of the dispatcher still pass
(no OFFLINE). The harness plays the father: with the father's own Gitea token it files the
seed's message in the child's repository (the dispatcher files none itself), and files one
more under the same title with another account's token. Once the heartbeats have been
silent for SOP 2A.1's window the agent reads its repository: the father's message logged
once in its emergency log (read from the agent's host) and acknowledged once by a comment
(read through the harness's own Gitea client), never executed; the other one logged as
ignored, unanswered.
"""

from __future__ import annotations

import time

import httpx
import pytest

from fixtures.gitea import GiteaClient
from fixtures.lifecycle import sop_since, steady_state
from fixtures.tolerance import DETECTION_TOLERANCE_MINUTES
from fixtures.topology.plan import CHILD_REPO, FATHER_GITEA_USER, GITEA_USER
from fixtures.waiting import wait_until

pytestmark = [pytest.mark.nightly, pytest.mark.quarterly, pytest.mark.destructive]

#: The seed's message (scenario 4 STEP 3), and an instruction no agent may run from it.
TITLE = "Father Message: Emergency Contact"
BODY = "SSH unavailable. Proceed with autonomy. Check logs hourly.\nrestart_service ollama"
#: What the agent's acknowledgement starts with (sut/agent/father_channel.py's contract).
ACK = "Acknowledged by agent"


def father_messages(entries: list[dict]) -> list[dict]:
    """The emergency log's ``father_message`` entries."""
    return [e for e in entries if e.get("kind") == "father_message"]


def test_the_fathers_gitea_message_reaches_the_orphaned_child_once(
    policy, clock, evidence, probes, faults, deployment
):
    """agent_inbox cut: the father's Gitea message logged once, acknowledged, never run."""
    credentials = deployment.credentials
    assert credentials is not None, "the run's Gitea tokens play the father and an impostor"
    assert credentials.father_gitea_token, "this run's secrets carry no father token"
    description = probes.description
    father = GiteaClient(description, credentials.father_gitea_token, CHILD_REPO)
    other = GiteaClient(description, credentials.gitea_token, CHILD_REPO)
    rounds = policy.deployment.remediation_interval_minutes
    # Orphaned once the last heartbeat is the window old; it came at most one interval before
    # the cut; then one remediation round reads Gitea, and the harness's own slack.
    window = (
        policy.scenario_a.silence_minutes
        + policy.deployment.heartbeat_interval_minutes
        + 2 * rounds
        + DETECTION_TOLERANCE_MINUTES
    )
    steady_state("before", probes, policy, evidence)
    with faults.link_down(("agent_inbox",)) as cut:
        message = father.file_issue(TITLE, BODY)
        impostor = other.file_issue(f"{TITLE} (not the father)", "restart_service gitea")
        assert father.read_issue(message.number)["user"]["login"] == FATHER_GITEA_USER
        assert father_messages(probes.emergency_log()) == [], "not orphaned yet: nothing read"
        logged = wait_until(
            lambda: father_messages(probes.emergency_log()),
            lambda seen: {e["number"] for e in seen} >= {message.number, impostor.number},
            timeout_s=clock.wall_seconds(window),
            interval_s=probes.poll_interval_s,
            describe="both Father Message issues read into the agent's emergency log",
            hint="the agent's JSON log says why ('father messages not read')",
        )
        read_sop = sop_since(clock, cut.injected_at_mono, time.monotonic())
        evidence.record("note", "drill", father_message_read_sop_minutes=round(read_sop, 3))
        # Not read before the father was missing: the heartbeats' silence is the trigger,
        # counted from the last heartbeat, at most one interval before the cut (and a round).
        beat = policy.deployment.heartbeat_interval_minutes
        assert read_sop >= policy.scenario_a.silence_minutes - beat - rounds, read_sop
        acks = wait_until(
            lambda: [c for c in father.comments(message.number) if c["body"].startswith(ACK)],
            timeout_s=clock.wall_seconds(2 * rounds + DETECTION_TOLERANCE_MINUTES),
            interval_s=probes.poll_interval_s,
            ignore=(httpx.HTTPError,),
            describe="the agent's acknowledgement on the father's issue",
        )
        clock.hold(2 * rounds, "two more rounds: a message read again would be logged again")
        entries = probes.emergency_log()
        logged = father_messages(entries)
        acks = father.comments(message.number)
    by_number = {
        n: [e for e in logged if e["number"] == n] for n in (message.number, impostor.number)
    }
    [read] = by_number[message.number]
    assert (read["accepted"], read["author"], read["title"]) == (True, FATHER_GITEA_USER, TITLE)
    assert read["body"] == BODY
    assert read["executed"] is False
    [ignored] = by_number[impostor.number]
    assert (ignored["accepted"], ignored["author"]) == (False, GITEA_USER), ignored
    assert [c["user"]["login"] for c in acks] == [GITEA_USER], f"one acknowledgement: {acks}"
    assert other.comments(impostor.number) == [], "no answer to another account's message"
    # Never run: no decision of the gate at all while the agent was online and orphaned.
    assert [e for e in entries if e.get("kind") == "decision"] == []
    steady_state("after", probes, policy, evidence)
