"""The child orphaned: the father's own link to it cut (emergency-procedures.md scenario 4).

STEP 3, "Alternative Communication Channels": "Use Gitea as message channel / Father creates
issue in child's repo", titled ``Father Message: ...``. The drill cuts the dispatcher ->
agent link (Toxiproxy's ``agent_inbox``: the father's heartbeats and tasks), so the child's
logs would say "Father heartbeat missing" while its own probes of the dispatcher still pass
(no OFFLINE). The dispatcher, the father, files the seed's message in the child's
repository with its own Gitea token once as many heartbeats in a row went unanswered as SOP
2A.2 counts failures; the harness sees it there, and files one more under the same title
with another account's token (an impostor). Once the heartbeats have been silent for SOP
2A.1's window the agent reads its repository: the father's message logged
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

#: The seed's title (scenario 4 STEP 3), as the dispatcher files it.
TITLE = "Father Message: Emergency Contact"
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
    assert credentials is not None, "the run's Gitea token reads the repository"
    # The harness reads with the child's token, and with it plays an impostor.
    gitea = GiteaClient(probes.description, credentials.gitea_token, CHILD_REPO)
    rounds = policy.deployment.remediation_interval_minutes
    beat = policy.deployment.heartbeat_interval_minutes
    # The dispatcher's message: after api_failures unanswered heartbeats, and one more beat.
    filed_within = (policy.scenario_a.api_failures + 1) * beat + DETECTION_TOLERANCE_MINUTES
    # Orphaned once the last heartbeat is the window old; it came at most one interval before
    # the cut; then one remediation round reads Gitea, and the harness's own slack.
    read_within = (
        policy.scenario_a.silence_minutes + beat + 2 * rounds + DETECTION_TOLERANCE_MINUTES
    )
    steady_state("before", probes, policy, evidence)
    with faults.link_down(("agent_inbox",)) as cut:
        impostor = gitea.file_issue(f"{TITLE} (not the father)", "restart_service gitea")
        [message] = wait_until(
            lambda: [i for i in gitea.issues() if i["title"] == TITLE],
            timeout_s=clock.wall_seconds(filed_within),
            interval_s=probes.poll_interval_s,
            ignore=(httpx.HTTPError,),
            describe="the dispatcher's Father Message issue in the child's repository",
            hint="the dispatcher's JSON log says why ('father message not filed')",
        )
        filed_sop = sop_since(clock, cut.injected_at_mono, time.monotonic())
        evidence.record("note", "drill", father_message_filed_sop_minutes=round(filed_sop, 3))
        assert message["user"]["login"] == FATHER_GITEA_USER, message
        number = int(message["number"])
        assert father_messages(probes.emergency_log()) == [], "not orphaned yet: nothing read"
        wait_until(
            lambda: father_messages(probes.emergency_log()),
            lambda seen: {e["number"] for e in seen} >= {number, impostor.number},
            timeout_s=clock.wall_seconds(read_within),
            interval_s=probes.poll_interval_s,
            describe="both Father Message issues read into the agent's emergency log",
            hint="the agent's JSON log says why ('father messages not read')",
        )
        read_sop = sop_since(clock, cut.injected_at_mono, time.monotonic())
        evidence.record("note", "drill", father_message_read_sop_minutes=round(read_sop, 3))
        # Not read before the father was missing: the heartbeats' silence is the trigger,
        # counted from the last heartbeat, at most one interval before the cut (and a round).
        assert read_sop >= policy.scenario_a.silence_minutes - beat - rounds, read_sop
        wait_until(
            lambda: [c for c in gitea.comments(number) if c["body"].startswith(ACK)],
            timeout_s=clock.wall_seconds(2 * rounds + DETECTION_TOLERANCE_MINUTES),
            interval_s=probes.poll_interval_s,
            ignore=(httpx.HTTPError,),
            describe="the agent's acknowledgement on the father's issue",
        )
        clock.hold(2 * rounds, "two more rounds: a message read again would be logged again")
        entries = probes.emergency_log()
        acks = gitea.comments(number)
        messages = [i for i in gitea.issues() if i["title"] == TITLE]
    assert len(messages) == 1, f"one message for one silence: {messages}"
    logged = father_messages(entries)
    [read] = [e for e in logged if e["number"] == number]
    assert (read["accepted"], read["author"], read["title"]) == (True, FATHER_GITEA_USER, TITLE)
    assert read["body"] == message["body"]
    assert read["executed"] is False
    [ignored] = [e for e in logged if e["number"] == impostor.number]
    assert (ignored["accepted"], ignored["author"]) == (False, GITEA_USER), ignored
    assert [c["user"]["login"] for c in acks] == [GITEA_USER], f"one acknowledgement: {acks}"
    assert gitea.comments(impostor.number) == [], "no answer to another account's message"
    # Never run: no decision of the gate at all while the agent was online and orphaned.
    assert [e for e in entries if e.get("kind") == "decision"] == []
    steady_state("after", probes, policy, evidence)
