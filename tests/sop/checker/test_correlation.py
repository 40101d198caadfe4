"""gate4 guardrail 4: every incident update names its correlation id and its issue."""

from __future__ import annotations

from typing import Any

from sop.checker.correlation import check_correlation
from sop.history import Delivery, DistressRecord, History, IssueRecord, LogEntry, ModeSample
from sop.policy import load_policy
from sop.references import Reference

POLICY = load_policy()
CID = "inc-aaaaaaaaaaaa"
URL = "http://gitea.test/ops/incidents/issues/1"


def judged(history: History) -> Any:
    verdict = check_correlation(history, POLICY)
    assert verdict.status == "violated", verdict.describe()
    assert verdict.divergence is not None
    return verdict.divergence


def is_resolution(r: Any) -> bool:
    return isinstance(r, Delivery) and POLICY.is_resolution(r.content)


def signal(at: float, issue: str | None = "pending", cid: str | None = CID) -> DistressRecord:
    return DistressRecord(at, "P1", "ollama_down", "ollama", cid, issue, f"signal@{at}")


def escalation(story: Any, at: float, ref: Reference) -> Delivery:
    text = POLICY.reference.append("ESCALATION (P1): ollama_down unresolved.", ref)
    return Delivery(at, "discord", story.facts.discord_recipient_id, None, text, f"esc@{at}")


def issue(at: float) -> IssueRecord:
    body = f"**P1 ollama_down**\n- Correlation ID: {CID}\n"
    return IssueRecord(at, 1, URL, URL.replace("/ops/", "/api/v1/repos/ops/"), body, "issue-1")


def test_a_clean_story_holds_and_one_with_nothing_told_is_not_exercised(story: Any) -> None:
    assert check_correlation(story.run(), POLICY).status == "held"
    quiet = story.drop(story.run(), lambda r: isinstance(r, Delivery))
    assert check_correlation(quiet, POLICY).status == "not_exercised"


def test_an_alert_without_its_reference_line_is_violated(story: Any) -> None:
    bare = POLICY.render_alert(story.facts.agent_host, "no heartbeat")
    history = story.edit(
        story.run(), lambda r: isinstance(r, Delivery) and POLICY.is_alert(r.content), content=bare
    )
    assert "last line" in judged(history).required


def test_a_resolution_naming_another_id_than_its_alert_is_violated(story: Any) -> None:
    other = POLICY.reference.append(
        POLICY.render_resolution(story.facts.agent_host, "ok"), Reference("inc-other", "none")
    )
    divergence = judged(story.edit(story.run(), is_resolution, content=other))
    assert "the episode's id" in divergence.required


def test_a_signal_without_an_id_or_a_p1_with_no_issue_is_violated(story: Any) -> None:
    assert "correlation_id" in judged(story.add(story.run(), signal(1.0, cid=None))).required
    assert "P1's issue" in judged(story.add(story.run(), signal(1.0, issue="none"))).required


def test_an_escalation_naming_no_known_incident_is_violated(story: Any) -> None:
    told = escalation(story, 6.0, Reference("inc-nobody", "pending"))
    assert "incident the agent signalled" in judged(story.add(story.run(), told)).required


def test_an_update_after_its_issue_exists_must_link_it(story: Any) -> None:
    base = story.add(story.run(), signal(1.0), issue(1.1))
    late = 1.1 + 2 * story.facts.time_scale / 60
    pending = story.add(base, escalation(story, late, Reference(CID, "pending")))
    assert "issue #1" in judged(pending).required
    linked = story.add(base, escalation(story, late, Reference(CID, URL)))
    assert check_correlation(linked, POLICY).status == "held"
    wrong = story.add(base, escalation(story, late, Reference(CID, URL + "0")))
    assert "own issue" in judged(wrong).required
    # The agent's own address of the same Gitea (docker maps the harness's port): linked.
    elsewhere = URL.replace("gitea.test", "127.0.0.1:3000")
    seen = story.add(base, escalation(story, late, Reference(CID, elsewhere)))
    assert check_correlation(seen, POLICY).status == "held"


def test_an_escalation_of_an_incident_only_logged_names_a_known_id(story: Any) -> None:
    logged = LogEntry(
        5.0, {"kind": "incident", "category": "high_memory", "correlation_id": CID}, "log-9"
    )
    told = escalation(story, 6.0, Reference(CID, "pending"))
    assert check_correlation(story.add(story.run(), logged, told), POLICY).status == "held"


def test_a_later_alert_with_another_id_is_a_new_episode_only_once_the_agent_was_online(
    story: Any,
) -> None:
    clean = story.run(restore_at=None)  # OFFLINE to the end: never seen online again
    at = clean.end + 1.0
    alert = POLICY.reference.append(
        POLICY.render_alert(story.facts.agent_host, "again"), Reference("inc-next", "none")
    )
    again = Delivery(at, "discord", story.facts.discord_recipient_id, None, alert, "discord-9")
    assert "the episode's id" in judged(story.add(clean, again)).required
    seen_online = ModeSample(at - 0.5, "online", None, "poll-online")
    verdict = check_correlation(story.add(clean, seen_online, again), POLICY)
    assert verdict.status == "held", verdict.describe()
