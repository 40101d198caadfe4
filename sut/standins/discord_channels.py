"""The Discord stand-in's lasting records: the bot's id and the DM channels it opened.

Discord keeps both for good: a client that cached a DM channel's id before a restart of the
service posts to it after, and is not told ``404 Unknown Channel`` (CI's generated schedules
met exactly that once the stand-in kept them in memory only). Given a file (the stand-in's
state directory, sut/standins/sink.py's ``STATE_ENV``), they are written there whole on
every change (sut/standins/statefile.py), so a kill never leaves half of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sut.standins.statefile import write_json_atomically


class ChannelBook:
    """Recipient -> DM channel id and back, and the bot's id, kept in ``path`` if given."""

    def __init__(self, path: Path | None, new_id: Callable[[], str]) -> None:
        self._path = path
        self._new_id = new_id
        kept = self._load()
        self.bot_id = str(kept.get("bot_id") or new_id())
        channels = kept.get("channels")
        self._by_recipient: dict[str, str] = (
            {str(k): str(v) for k, v in channels.items()} if isinstance(channels, dict) else {}
        )
        self._by_id = {cid: recipient for recipient, cid in self._by_recipient.items()}
        self._save()

    def _load(self) -> dict[str, Any]:
        if self._path is None or not self._path.exists():
            return {}
        try:
            kept = json.loads(self._path.read_text(encoding="utf-8"))
        except ValueError:
            return {}  # not ours (never torn: written by rename): start anew
        return kept if isinstance(kept, dict) else {}

    def _save(self) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomically(self._path, {"bot_id": self.bot_id, "channels": self._by_recipient})

    def open(self, recipient: str) -> tuple[str, bool]:
        """The id of the DM channel with ``recipient``, and whether it was opened just now."""
        found = self._by_recipient.get(recipient)
        if found is not None:
            return found, False
        channel_id = self._new_id()
        self._by_recipient[recipient] = channel_id
        self._by_id[channel_id] = recipient
        self._save()
        return channel_id, True

    def recipient_of(self, channel_id: str) -> str | None:
        """Who the DM channel ``channel_id`` is with; None for no channel the bot opened."""
        return self._by_id.get(channel_id)
