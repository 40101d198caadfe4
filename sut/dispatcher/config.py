"""The dispatcher's settings, read once from the environment into one frozen value."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sop.errors import ServiceConfigError
from sop.policy import Policy, load_policy
from sop.timescale import TimeScale
from sut.dispatcher.errors import RequestRejected
from sut.dispatcher.father_messages import ChildRepos, parse_child_repos
from sut.dispatcher.registry import Agent, parse_agents
from sut.runtime.settings import Settings

#: The model the dispatcher asks for on every provider call (the Ollama default of the team).
DEFAULT_PROVIDER_MODEL = "qwen2.5:1.5b"
#: The ``dispatcher_id`` of every envelope unless configured otherwise.
DEFAULT_DISPATCHER_ID = "dispatcher"
#: The pidfile a co-located agent reads for SOP 2A.3's process check.
PIDFILE_NAME = "dispatcher.pid"
#: Floor of every outgoing timeout: a loopback round trip on a loaded CI machine can take
#: a couple of hundred milliseconds, and below that a healthy peer would look dead.
MIN_TIMEOUT_S = 0.25
#: Ceiling of a heartbeat delivery: at real time half an interval (30 s) would let one
#: hung agent hold every round for half a minute; "short timeout" means seconds.
INBOX_TIMEOUT_CAP_S = 5.0
#: A task's answer is the agent's verdict, which may include running the action.
TASK_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class DispatcherConfig:
    """Everything the dispatcher needs; the HMAC key is kept out of ``repr``."""

    bind: str
    port: int
    hmac_key: bytes = field(repr=False)
    #: The operator's bearer token: task assignment and integrity checks (sop/callers.py).
    operator_token: str = field(repr=False)
    provider_url: str
    provider_model: str
    state_dir: Path
    agents: tuple[Agent, ...]
    dispatcher_id: str
    policy: Policy
    time_scale: TimeScale
    #: Each child's repository on Gitea and the father's token (scenario 4 STEP 3); None:
    #: no message is filed when a child cannot be reached.
    child_repos: ChildRepos | None = None

    @property
    def heartbeat_interval_s(self) -> float:
        """Wall seconds between two heartbeat rounds (``deployment.heartbeat_interval_minutes``)."""
        return self.time_scale.wall_seconds(self.policy.deployment.heartbeat_interval_minutes)

    @property
    def provider_timeout_s(self) -> float:
        """Wall seconds a provider call may take (``deployment.api_probe_timeout_minutes``)."""
        minutes = self.policy.deployment.api_probe_timeout_minutes
        return max(MIN_TIMEOUT_S, self.time_scale.wall_seconds(minutes))

    @property
    def inbox_timeout_s(self) -> float:
        """Wall seconds a heartbeat delivery may take: half an interval, within bounds."""
        return min(INBOX_TIMEOUT_CAP_S, max(MIN_TIMEOUT_S, self.heartbeat_interval_s / 2))

    @property
    def max_request_age(self) -> timedelta:
        """How old an agent's signed request may be (the inbox envelope's maximum age)."""
        minutes = self.policy.deployment.max_envelope_age_minutes
        return timedelta(seconds=self.time_scale.wall_seconds(minutes))

    @property
    def pidfile(self) -> Path:
        """Where the process writes its pid at start."""
        return self.state_dir / PIDFILE_NAME

    @classmethod
    def from_settings(cls, settings: Settings) -> DispatcherConfig:
        """Read ``SOPDRILL_*``; raises ServiceConfigError or PolicyError naming the variable."""
        bind, port = settings.bind()
        agents_text = settings.optional("SOPDRILL_AGENTS")
        try:
            agents = parse_agents(agents_text or "")
        except RequestRejected as exc:
            raise ServiceConfigError(f"{settings.service}: SOPDRILL_AGENTS: {exc}") from exc
        policy_path = settings.optional("SOPDRILL_POLICY")
        child_repos = None
        if repos := settings.optional("SOPDRILL_CHILD_REPOS"):
            try:
                parsed = parse_child_repos(repos)
            except ValueError as exc:
                raise ServiceConfigError(
                    f"{settings.service}: SOPDRILL_CHILD_REPOS: {exc}"
                ) from None
            child_repos = ChildRepos(
                settings.url("SOPDRILL_FATHER_GITEA_URL"),
                parsed,
                settings.secret("SOPDRILL_FATHER_GITEA_TOKEN"),
            )
        return cls(
            bind=bind,
            port=port,
            hmac_key=settings.secret("SOPDRILL_HMAC_KEY").encode(),
            operator_token=settings.secret("SOPDRILL_OPERATOR_TOKEN"),
            provider_url=settings.url("SOPDRILL_PROVIDER_URL"),
            provider_model=settings.text("SOPDRILL_PROVIDER_MODEL", DEFAULT_PROVIDER_MODEL),
            state_dir=settings.path("SOPDRILL_STATE_DIR"),
            agents=tuple(agents),
            dispatcher_id=settings.text("SOPDRILL_DISPATCHER_ID", DEFAULT_DISPATCHER_ID),
            policy=load_policy(policy_path),
            time_scale=settings.time_scale(),
            child_repos=child_repos,
        )
