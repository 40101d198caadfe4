"""Notification Flow 5: a closed episode told once where its alert went, in time, logged first."""

from __future__ import annotations

from typing import Any

from sop.checker.notification import check_notification
from sop.checker.tolerance import NOTIFY_GRACE_MINUTES
from sop.history import Delivery, FaultSpan, History, LogEntry, ModeSample
from sop.policy import load_policy

POLICY = load_policy()


def is_resolution(r: Any) -> bool:
    return isinstance(r, Delivery) and POLICY.is_resolution(r.content)


def is_alert(r: Any) -> bool:
    return isinstance(r, Delivery) and POLICY.is_alert(r.content)


def is_logged_resolution(r: Any) -> bool:
    return isinstance(r, LogEntry) and r.entry.get("kind") == "resolution"


def online_at(history: History) -> float:
    """When the story's agent logged its return to online."""
    return next(
        r.at for r in history.records if isinstance(r, LogEntry) and r.entry.get("mode") == "online"
    )


def resolution(history: History) -> Delivery:
    return next(r for r in history.records if is_resolution(r))


def judged(history: History) -> Any:
    verdict = check_notification(history, POLICY)
    assert verdict.status == "violated", verdict.describe()
    assert verdict.divergence is not None
    assert verdict.divergence.clause == "Notification Flow 5", verdict.describe()
    return verdict.divergence


def test_a_resolution_where_the_alert_went_holds_and_is_no_alert(story: Any) -> None:
    verdict = check_notification(story.run(), POLICY)
    assert verdict.status == "held", verdict.describe()
    assert "1 resolution(s)" in verdict.describe()


def test_a_closed_episode_never_resolved_is_violated(story: Any) -> None:
    history = story.drop(story.run(), is_resolution)
    divergence = judged(history)
    assert divergence.observed == "none"
    # Due a grace after the return to online the harness saw (its poll, after the log's).
    assert divergence.at >= online_at(history) + NOTIFY_GRACE_MINUTES
    assert divergence.evidence[0] == "discord-0"  # the alert it should have closed


def test_a_resolution_not_due_yet_or_held_up_by_its_channel_is_not_missing(story: Any) -> None:
    unresolved = story.drop(story.run(), is_resolution)
    online = online_at(unresolved)
    cut = story.drop(unresolved, lambda r: getattr(r, "at", 0.0) > online + 0.5)
    assert check_notification(cut, POLICY).status == "held"
    down = FaultSpan("discord_down", "discord", online - 0.1, None, {"mode": "down"}, "f-d")
    assert check_notification(story.add(unresolved, down), POLICY).status == "held"


def test_a_second_resolution_on_the_channel_is_violated(story: Any) -> None:
    clean = story.run()
    again = Delivery(
        resolution(clean).at + 0.1,
        "discord",
        story.facts.discord_recipient_id,
        None,
        resolution(clean).content,
        "discord-resolution-2",
    )
    divergence = judged(story.add(clean, again))
    assert divergence.observed == "2 resolutions on discord"
    assert divergence.at == again.at


def test_a_resolution_on_a_channel_never_alerted_is_violated(story: Any) -> None:
    elsewhere = story.to_signal(story.run(), is_resolution)
    divergence = judged(elsewhere)
    assert divergence.required.endswith("(discord)")
    assert divergence.observed == "a signal resolution"


def test_an_alert_that_went_out_nowhere_is_resolved_nowhere(story: Any) -> None:
    # Both channels refused the alert (held down by the harness): no alert, no resolution.
    downs = [
        FaultSpan(f"{c}_down", c, 0.0, 20.0, {"mode": "down"}, f"f-{c}")
        for c in ("discord", "signal")
    ]
    silent = story.add(story.drop(story.run(), is_alert), *downs)
    divergence = judged(silent)
    assert divergence.required.endswith("(none did)")
    quiet = story.drop(silent, is_resolution)
    assert check_notification(quiet, POLICY).status == "held"


def test_a_resolution_while_still_offline_is_violated(story: Any) -> None:
    clean = story.run()
    early = resolution(clean).at - 10.0  # the dispatcher still dead, the agent OFFLINE
    divergence = judged(story.edit(clean, is_resolution, at=early))
    assert divergence.at == early
    assert "while OFFLINE" in divergence.observed


def test_a_late_resolution_is_violated_unless_its_channel_held_it_up(story: Any) -> None:
    clean = story.run()
    late = online_at(clean) + NOTIFY_GRACE_MINUTES + 0.5
    slow = story.edit(clean, is_resolution, at=late)
    assert "within" in judged(slow).required
    throttled = FaultSpan("discord_rate_limit", "5x0.25s", late - 1.0, late, {}, "f-429")
    assert check_notification(story.add(slow, throttled), POLICY).status == "held"


def test_a_resolution_not_logged_first_or_off_the_template_is_violated(story: Any) -> None:
    clean = story.run()
    unlogged = judged(story.drop(clean, is_logged_resolution))
    assert unlogged.observed == "no resolution entry"
    later = story.edit(clean, is_logged_resolution, at=resolution(clean).at + 0.5)
    assert judged(later).observed == "a resolution entry after it"
    broken = POLICY.render_resolution(story.facts.agent_host, "broken")
    assert "the template" in judged(story.edit(clean, is_resolution, content=broken)).required


def test_a_resolution_with_no_episode_is_no_stray_alert_but_a_stray_resolution(
    story: Any,
) -> None:
    never = story.edit(
        story.drop(story.run(), lambda r: is_alert(r) or isinstance(r, LogEntry)),
        lambda r: isinstance(r, ModeSample),
        mode="online",
        trigger=None,
    )
    divergence = judged(never)
    assert divergence.required == "a resolution only once an OFFLINE episode closed"


def test_a_resolution_after_a_logged_incident_is_not_its_escalation(story: Any) -> None:
    clean = story.run()
    p1 = LogEntry(online_at(clean) - 1.0, {"kind": "incident", "severity": "P1"}, "incident-0")
    verdict = check_notification(story.add(clean, p1), POLICY)
    assert verdict.status == "held", verdict.describe()
    assert "escalation" not in verdict.describe()
