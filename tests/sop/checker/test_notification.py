"""SOP 3 notification: marker first, one alert to 0x01, first channel that accepts, template."""

from __future__ import annotations

from typing import Any

import pytest

from sop.checker.notification import check_notification
from sop.history import Delivery, FaultSpan, LogEntry, ModeSample, Refusal
from sop.policy import load_policy

POLICY = load_policy()


def is_delivery(r: Any) -> bool:
    return isinstance(r, Delivery)


def is_alert(r: Any) -> bool:
    """The SOP 3.1 alert's delivery (the story's resolution is one too, Notification Flow 5)."""
    return is_delivery(r) and POLICY.is_alert(r.content)


def is_marker(r: Any) -> bool:
    return isinstance(r, LogEntry) and r.entry.get("kind") == "marker"


def delivery(history: Any) -> Delivery:
    return next(r for r in history.records if is_delivery(r))


def judged(history: Any) -> Any:
    verdict = check_notification(history, POLICY)
    assert verdict.status == "violated", verdict.describe()
    assert verdict.divergence is not None
    return verdict.divergence


def test_an_alert_to_someone_else_is_violated(story: Any) -> None:
    history = story.edit(story.run(), is_delivery, recipient="999")
    divergence = judged(history)
    assert divergence.clause == "SOP 3.1"
    assert divergence.at == delivery(history).at
    assert divergence.observed == "a delivery to 999"
    assert divergence.evidence == ("discord-0",)
    assert "(discord recipient 100000000000000001)" in divergence.required


def test_a_second_alert_for_one_declaration_is_violated(story: Any) -> None:
    clean = story.run()
    again = Delivery(
        delivery(clean).at + 1,
        "discord",
        "100000000000000001",
        None,
        delivery(clean).content,
        "discord-1",
    )
    divergence = judged(story.add(clean, again))
    assert divergence.at == again.at
    assert divergence.evidence == ("discord-0", "discord-1")


def test_an_alert_off_the_template_is_violated(story: Any) -> None:
    divergence = judged(story.edit(story.run(), is_alert, content="dispatcher down"))
    assert divergence.clause == "SOP 3.1"
    assert "the template" in divergence.required


def test_a_missing_marker_is_violated(story: Any) -> None:
    divergence = judged(story.drop(story.run(), is_marker))
    assert divergence.clause == "SOP 3.3"
    assert divergence.observed == "0 marker(s)"


def test_a_marker_after_the_alert_is_violated(story: Any) -> None:
    clean = story.run()
    history = story.edit(clean, is_marker, at=delivery(clean).at + 1.0)
    divergence = judged(history)
    assert divergence.required == "the marker written before any network attempt"
    assert divergence.at == delivery(clean).at


def test_signal_while_discord_accepts_is_violated_and_after_discord_fails_holds(
    story: Any,
) -> None:
    history = story.to_signal(story.run(), is_delivery)
    assert "Discord first" in judged(history).required
    down = FaultSpan("discord_down", "discord", 0.0, None, {"mode": "down"}, "fault-discord")
    assert check_notification(story.add(history, down), POLICY).status == "held"
    wrong_sender = story.edit(story.add(history, down), is_delivery, sender="+1999")
    assert judged(wrong_sender).clause == "SOP 3.2"
    # Discord throttled past the agent's retries refuses too (the fault's target is its
    # spec, its kind names the channel); a throttled Signal says nothing about Discord.
    throttled = FaultSpan("discord_rate_limit", "5x0.25s", 0.0, None, {}, "fault-429")
    assert check_notification(story.add(history, throttled), POLICY).status == "held"
    signal_429 = FaultSpan("signal_rate_limit", "5x0.25s", 0.0, None, {}, "fault-s429")
    assert "Discord first" in judged(story.add(history, signal_429)).required


def test_signal_after_discord_refused_by_its_own_rate_limit_holds(story: Any) -> None:
    history = story.to_signal(story.run(), is_delivery)
    alert = delivery(history)
    # A fleet's storm on one bot: the Discord stand-in refused by its own limit (no fault).
    refused = Refusal(alert.at - 0.05, "discord", 429, "discord-429#1")
    assert check_notification(story.add(history, refused), POLICY).status == "held"
    # A refusal after the alert went out excuses nothing, nor does one on Signal.
    late = Refusal(alert.at + 0.5, "discord", 429, "discord-429#2")
    assert "Discord first" in judged(story.add(history, late)).required
    on_signal = Refusal(alert.at - 0.05, "signal", 429, "signal-429#1")
    assert "Discord first" in judged(story.add(history, on_signal)).required


def test_no_alert_at_all_is_violated(story: Any) -> None:
    divergence = judged(story.drop(story.run(), is_delivery))
    assert divergence.observed == "no delivery"


def test_an_alert_without_offline_is_violated_and_no_offline_is_not_exercised(
    story: Any,
) -> None:
    quiet = story.edit(
        story.run(), lambda r: isinstance(r, ModeSample), mode="online", trigger=None
    )
    divergence = judged(quiet)
    assert divergence.required == "no alert without an OFFLINE declaration"
    silent = story.drop(quiet, lambda r: is_delivery(r) or is_marker(r))
    assert check_notification(silent, POLICY).status == "not_exercised"


def test_a_clean_alert_holds(story: Any) -> None:
    assert check_notification(story.run(), POLICY).status == "held"


@pytest.mark.parametrize("host", ["ops-2", ""])
def test_a_marker_naming_another_host_is_violated(story: Any, host: str) -> None:
    history = story.edit(
        story.run(),
        is_marker,
        entry={**next(r for r in story.run().records if is_marker(r)).entry, "host": host},
    )
    assert judged(history).clause == "SOP 3.3"


# --- escalations to 0x01 (emergency-procedures.md escalation matrix) ----------------------

ESCALATION = "ESCALATION (P1): ollama_down unresolved past its escalation timeout"


def incident(at: float, index: int = 0, **entry: str) -> LogEntry:
    fields = {"kind": "incident", "category": "escalation", **entry}
    return LogEntry(at, fields, f"incident-{index}")


def told(at: float, index: int = 0, recipient: str = "100000000000000001") -> Delivery:
    return Delivery(at, "discord", recipient, None, ESCALATION, f"escalation-{index}")


def test_an_escalation_after_its_logged_incident_is_not_an_alert(story: Any) -> None:
    clean = story.run()
    later = delivery(clean).at + 3.0
    verdict = check_notification(story.add(clean, incident(later), told(later + 0.1)), POLICY)
    assert verdict.status == "held", verdict.describe()
    assert "1 escalation(s) to 0x01" in verdict.describe()


def test_an_escalation_while_online_is_not_an_alert_without_offline(story: Any) -> None:
    calm = story.edit(
        story.drop(story.run(), lambda r: is_delivery(r) or is_marker(r)),
        lambda r: isinstance(r, ModeSample),
        mode="online",
        trigger=None,
    )
    verdict = check_notification(story.add(calm, incident(8.0), told(8.1)), POLICY)
    assert verdict.status == "not_exercised", verdict.describe()


def test_a_repeated_escalation_of_one_incident_is_judged_as_an_alert(story: Any) -> None:
    clean = story.run()
    later = delivery(clean).at + 3.0
    history = story.add(clean, incident(later), told(later + 0.1), told(later + 2.0, 1))
    divergence = judged(history)
    assert divergence.observed.startswith("2 deliveries")
    assert divergence.at == later + 2.0


def test_an_escalation_before_its_incident_or_to_someone_else_is_judged_as_an_alert(
    story: Any,
) -> None:
    clean = story.run()
    later = delivery(clean).at + 3.0
    early = judged(story.add(clean, told(later), incident(later + 1.0)))
    assert early.at == later
    elsewhere = judged(story.add(clean, incident(later), told(later + 0.1, recipient="999")))
    assert elsewhere.at == later + 0.1


def test_a_message_after_a_p2_incident_is_judged_as_an_alert(story: Any) -> None:
    """P2: "Log and continue": its entry licenses no message to 0x01."""
    clean = story.run()
    later = delivery(clean).at + 3.0
    slow = incident(later, category="slow_inference", severity="P2")
    divergence = judged(story.add(clean, slow, told(later + 0.1)))
    assert divergence.at == later + 0.1
    p1 = incident(later, category="ollama_down", severity="P1")
    assert check_notification(story.add(clean, p1, told(later + 0.1)), POLICY).status == "held"
