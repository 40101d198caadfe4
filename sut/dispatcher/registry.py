"""The agents the dispatcher serves: name -> inbox base URL, remembered across restarts."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sop.errors import ServiceConfigError
from sut.dispatcher.errors import RequestRejected

#: An agent name is also a file name in the log store, so it is kept to a safe alphabet.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_agent_name(value: Any, field: str = "agent") -> str:
    """``value`` if it is a usable agent name; RequestRejected(422) naming ``field`` otherwise."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise RequestRejected(
            f"{field}: expected a name of letters, digits, '.', '_' or '-' "
            f"(at most 64, not starting with a symbol), got {value!r}"
        )
    return value


@dataclass(frozen=True)
class Agent:
    """One registered agent; heartbeats and tasks go to ``{url}/v1/inbox``."""

    name: str
    url: str

    @classmethod
    def parse(cls, name: Any, url: Any) -> Agent:
        """A validated agent; RequestRejected(422) naming the bad field."""
        check_agent_name(name, "name")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise RequestRejected(f"url: expected an http:// or https:// base URL, got {url!r}")
        # One that cannot be dialled ("http://[", port 99999, no host) made every task to the
        # agent a 500 (the HTTP client raises no HTTPError for it: issue 14) and failed every
        # heartbeat round; it is refused here, where the operator or the agent still hears it.
        try:
            parts = urlsplit(url)
            host, _port = parts.hostname, parts.port  # .port raises ValueError past 65535
        except ValueError as exc:
            raise RequestRejected(f"url: not a URL ({exc}), got {url!r}") from None
        if not host:
            raise RequestRejected(f"url: expected a host, got {url!r}")
        return cls(name, url.rstrip("/"))

    @property
    def inbox(self) -> str:
        """The agent's inbox endpoint."""
        return f"{self.url}/v1/inbox"

    def as_json(self) -> dict[str, str]:
        """The agent as the API shows it."""
        return {"name": self.name, "url": self.url}


def parse_agents(text: str) -> list[Agent]:
    """Agents written as ``name=url,name=url`` (``SOPDRILL_AGENTS``); blanks are skipped."""
    agents = []
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, url = part.strip().partition("=")
        if not sep:
            raise RequestRejected(f"expected name=url, got {part.strip()!r}")
        agents.append(Agent.parse(name.strip(), url.strip()))
    return agents


class AgentRegistry:
    """Registered agents by name; persisted to ``agents.json`` so a restart keeps them."""

    def __init__(self, path: Path | None = None, initial: tuple[Agent, ...] = ()) -> None:
        self.path = path
        self._agents: dict[str, Agent] = {}
        if path is not None and path.exists():
            try:
                for item in json.loads(path.read_text(encoding="utf-8")):
                    agent = Agent.parse(item.get("name"), item.get("url"))
                    self._agents[agent.name] = agent
            except (OSError, ValueError, AttributeError, TypeError, RequestRejected) as exc:
                raise ServiceConfigError(
                    f"dispatcher: {path}: not a list of registered agents ({exc}); "
                    "fix or delete the file and let agents register again"
                ) from exc
        # The environment is the operator's word: it wins over what was remembered.
        for agent in initial:
            self._agents[agent.name] = agent
        if initial:
            self._save()

    def register(self, agent: Agent) -> Agent:
        """Add or re-point ``agent``; an agent re-registering after a restart is expected."""
        self._agents[agent.name] = agent
        self._save()
        return agent

    def get(self, name: str) -> Agent | None:
        """The agent called ``name``, if registered."""
        return self._agents.get(name)

    def all(self) -> tuple[Agent, ...]:
        """Every registered agent, in registration order."""
        return tuple(self._agents.values())

    def __len__(self) -> int:
        return len(self._agents)

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps([a.as_json() for a in self._agents.values()]), encoding="utf-8")
        os.replace(tmp, self.path)
