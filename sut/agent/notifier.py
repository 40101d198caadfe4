"""SOP 3: tell 0x01 that the Dispatcher is offline, over the backchannels in priority order.

The marker goes to the local emergency log first (SOP 3.3), before any network is touched,
so an outage of every channel still leaves the trigger on disk. Then Discord DM (SOP 3.1),
then Signal (SOP 3.2) only if Discord did not deliver. Every request's outcome is one
``notification`` entry in the log, written as it happens: ``channel``, ``outcome``
(delivered | rate_limited | failed), ``attempt`` (1, 2, ... per channel and alert), ``request``
(create_dm | create_message | send), ``status``, ``error`` and, for a 429, ``retry_after``.
A successful DM-channel opening is a step, not an outcome, and is not logged. The bot token
never appears in an entry, a log line or an exception. An escalation to 0x01
(:meth:`Notifier.escalate`) goes the same way without a marker, its entries naming what it
is ``about``. The resolution of an episode (:meth:`Notifier.resolve`, emergency-procedures.md
Notification Flow 5) is logged first too, as a ``resolution`` entry, then sent on each
channel that delivered the episode's alert, its entries ``about`` ``resolution``.
Every message names its incident (gate4 guardrail 4): the caller's reference (correlation id
and issue) goes below the text in the policy's ``update_reference_template``; the marker and
the resolution entry record the episode's correlation id.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from sop.policy import Policy
from sop.references import ID_FIELD, Reference
from sut.agent.backchannel import Backchannel, describe
from sut.agent.discord_client import DiscordDM, RetryBudget
from sut.agent.emlog import EmergencyLog, EmergencyLogError
from sut.agent.signal_client import SignalSender
from sut.runtime.jsonlog import get_logger, redact

log = get_logger(__name__)

#: Policy backchannel kinds -> the channel names used in log entries and results.
CHANNEL_NAMES = {"discord_dm": "discord", "signal": "signal"}
OUTCOMES = ("delivered", "rate_limited", "failed")
#: The log kind of Notification Flow 5's entry and the ``about`` of its notifications.
RESOLUTION = "resolution"


@dataclass(frozen=True)
class ChannelConfig:
    """Where the backchannels are; a channel with a missing setting is not configured."""

    discord_url: str | None
    # repr=False: a config printed in a traceback or a log must not carry the bot token.
    discord_token: str | None = field(repr=False)
    discord_recipient_id: str | None
    signal_url: str | None
    signal_number: str | None
    signal_recipient: str | None


@dataclass(frozen=True)
class NotificationResult:
    """Which channel delivered the alert (None: none did) and every attempt, in order."""

    delivered_via: str | None
    attempts: tuple[dict[str, Any], ...]

    def as_json(self) -> dict[str, Any]:
        """The result as ``GET /v1/notifications`` lists it."""
        return {"delivered_via": self.delivered_via, "attempts": list(self.attempts)}


class Notifier:
    """Sends the SOP 3.1 alert: marker first, then Discord, then Signal if Discord failed."""

    def __init__(
        self,
        policy: Policy,
        channels: ChannelConfig,
        log: EmergencyLog,
        host: str,
        *,
        client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_rate_limit_retries: int = 3,
        max_retry_wait_seconds: float = 30.0,
        timeout_seconds: float = 5.0,
    ) -> None:
        self._policy = policy
        self._log = log
        self._host = host
        self._client = client
        self._timeout_seconds = timeout_seconds
        self._secrets = tuple(s for s in (channels.discord_token,) if s)
        self._discord: DiscordDM | None = None
        if channels.discord_url and channels.discord_token and channels.discord_recipient_id:
            self._discord = DiscordDM(
                channels.discord_url,
                channels.discord_token,
                channels.discord_recipient_id,
                sleep=sleep,
                budget=RetryBudget(max_rate_limit_retries, max_retry_wait_seconds),
                timeout_seconds=timeout_seconds,
            )
        self._signal: SignalSender | None = None
        if channels.signal_url and channels.signal_number and channels.signal_recipient:
            self._signal = SignalSender(
                channels.signal_url,
                channels.signal_number,
                channels.signal_recipient,
                timeout_seconds=timeout_seconds,
            )

    async def alert(self, trigger: str, reason: str, reference: Reference) -> NotificationResult:
        """Write the marker, then try each channel in the policy's order until one delivers."""
        # SOP 3.3 is last in priority but written first: it needs no network, so an outage of
        # both channels (or a crash while sending) still leaves the trigger on disk.
        cid = {ID_FIELD: reference.correlation_id}
        self._append("marker", trigger=trigger, reason=reason, host=self._host, **cid)
        return await self._send(self._alert_text(reason, reference), trigger, None)

    async def resend(self, trigger: str, reason: str, reference: Reference) -> NotificationResult:
        """The SOP 3.1 alert of a declaration whose marker is already on disk but which no
        channel delivered (an agent restarted mid-alert): the channels again in order, and
        no second marker (SOP 3.3 keeps one per declaration)."""
        return await self._send(self._alert_text(reason, reference), trigger, None)

    def _alert_text(self, reason: str, reference: Reference) -> str:
        """SOP 3.1's template filled in (this host and the error or timeout that triggered),
        the incident's reference below it (gate4 guardrail 4)."""
        return self._policy.reference.append(
            self._policy.render_alert(self._host, reason), reference
        )

    async def escalate(self, about: str, text: str) -> NotificationResult:
        """Send ``text`` to 0x01 over the same channels in the same order, with no marker.

        An escalation (emergency-procedures.md escalation matrix: what the agent could not
        resolve itself) is not an OFFLINE declaration, of which SOP 3.3 keeps one marker
        each; its ``notification`` entries say ``about`` what it was.
        """
        return await self._send(text, about, about)

    async def resolve(
        self, channels: Sequence[str], integrity: str, reference: Reference
    ) -> tuple[NotificationResult, ...]:
        """Notification Flow 5: log the resolution, then tell 0x01 on each of ``channels``.

        Logged before any network, as the SOP 3.3 marker is, so a crash while sending still
        leaves the closing on disk. Each send updates an alert that channel delivered: no
        failover to a channel that was never alerted ("Update all channels").
        """
        cid = {ID_FIELD: reference.correlation_id}
        self._append(
            RESOLUTION, channels=list(channels), host=self._host, integrity=integrity, **cid
        )
        text = self._policy.render_resolution(self._host, integrity)
        text = self._policy.reference.append(text, reference)  # gate4 guardrail 4
        results = []
        async with self._http() as client:
            for channel in channels:
                attempts: list[dict[str, Any]] = []
                delivered = await self._try(channel, client, text, attempts, RESOLUTION)
                results.append(NotificationResult(channel if delivered else None, tuple(attempts)))
        return tuple(results)

    async def _send(self, text: str, what: str, about: str | None) -> NotificationResult:
        """``text`` on each channel in the policy's order until one delivers."""
        attempts: list[dict[str, Any]] = []
        async with self._http() as client:
            for backchannel in sorted(self._policy.backchannels, key=lambda b: b.priority):
                channel = CHANNEL_NAMES.get(backchannel.kind)
                if channel is None:
                    continue  # local_log: the marker (or an escalation's own log entry)
                if await self._try(channel, client, text, attempts, about):
                    return NotificationResult(channel, tuple(attempts))
        log.error(
            "alert not delivered on any backchannel",
            extra={"fields": {"trigger": what, "attempts": len(attempts)}},
        )
        return NotificationResult(None, tuple(attempts))

    async def _try(
        self,
        channel: str,
        client: httpx.AsyncClient,
        text: str,
        attempts: list[dict[str, Any]],
        about: str | None,
    ) -> bool:
        """One channel's delivery, each of its requests recorded as attempt 1, 2, ..."""
        sender: Backchannel | None = self._discord if channel == "discord" else self._signal
        numbered = 0

        def record(outcome: dict[str, Any]) -> None:
            nonlocal numbered
            numbered += 1
            attempt = self._attempt(channel, numbered, outcome)
            if about is not None:
                attempt["about"] = about
            attempts.append(attempt)
            self._append("notification", **attempt)
            log.info(
                f"{channel} attempt {numbered}: {attempt['outcome']}", extra={"fields": attempt}
            )

        if sender is None:
            record(
                {"request": None, "outcome": "failed", "status": None, "error": "not configured"}
            )
            return False
        try:
            return await sender.deliver(client, text, record)
        except Exception as exc:
            # A bug in one channel must not keep the alert from the next one.
            record({"request": None, "outcome": "failed", "status": None, "error": describe(exc)})
            return False

    def _attempt(self, channel: str, number: int, outcome: dict[str, Any]) -> dict[str, Any]:
        """The log entry's fields for one request, with every secret redacted."""
        attempt: dict[str, Any] = {
            "channel": channel,
            "outcome": outcome["outcome"],
            "attempt": number,
            "request": outcome.get("request"),
            "status": outcome.get("status"),
            "error": outcome.get("error"),
        }
        if "retry_after" in outcome:
            attempt["retry_after"] = outcome["retry_after"]
        if isinstance(attempt["error"], str):
            attempt["error"] = redact(attempt["error"], self._secrets)
        return attempt

    def _append(self, kind: str, **fields: Any) -> None:
        """Log locally; a full or failing disk keeps the entry pending and never stops the alert."""
        try:
            self._log.append(kind, **fields)
        except EmergencyLogError as exc:
            log.warning(
                "emergency log entry kept pending",
                extra={"fields": {"kind": kind, "error": redact(str(exc), self._secrets)}},
            )

    @contextlib.asynccontextmanager
    async def _http(self) -> AsyncIterator[httpx.AsyncClient]:
        """The caller's client, or one of our own for this alert only."""
        if self._client is not None:
            yield self._client
            return
        async with httpx.AsyncClient(timeout=self._timeout_seconds) as client:
            yield client
