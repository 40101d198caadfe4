"""The backchannels as the harness saw them: whether one refused, and who a message reached.

Shared by the SOP 3 alert (sop/checker/notification.py) and the resolution that closes it
(sop/checker/resolution.py): a channel counts as refusing only while the harness itself
held it down or throttled it, or while the harness saw it turn requests away by its own
rate limit; 0x01 is the recipient the harness deployed.
"""

from __future__ import annotations

from sop.history import Delivery, FaultSpan, History, Refusal


def acts_on(fault: FaultSpan, channel: str) -> bool:
    """Whether ``fault`` acts on ``channel``: it stops or cuts it (its target), or its kind
    names the channel first (``discord_rate_limit``, whose target is its ``5x0.25s``)."""
    return fault.target == channel or fault.kind.startswith(f"{channel}_")


def held_down(history: History, channel: str, since: float, until: float) -> bool:
    """Whether ``channel`` was down or throttled at some time in [since, until]: held so by
    the harness, or seen refusing by its own rate limit.

    A throttled Discord refuses once the agent has honoured its retry_after as often as the
    policy allows (generated schedules, CI: five 429s in a row, Signal after the third
    retry, had been judged "a Signal alert while Discord was up").
    """
    held = any(
        acts_on(f, channel) and f.at <= until and (f.end is None or f.end >= since)
        for f in history.of(FaultSpan)
    )
    # Or it refused by its own limits, as the harness saw at the stand-in (a fleet's storm).
    return held or any(r.channel == channel and since <= r.at <= until for r in history.of(Refusal))


def to_0x01(history: History, message: Delivery) -> bool:
    """Whether ``message`` went to 0x01 on its channel (SOP 3.1, 3.2)."""
    facts = history.facts
    if message.channel == "discord":
        return message.recipient == facts.discord_recipient_id
    return message.recipient == facts.signal_recipient
