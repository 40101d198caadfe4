"""The agent's configuration, read once from the environment (docs/architecture.md "Agent")."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from sop.errors import PolicyError, ServiceConfigError
from sop.observations import HEALTH_PATHS
from sop.policy import DEFAULT_POLICY_PATH, Policy, load_policy
from sop.timescale import TimeScale
from sut.agent.father_channel import FatherLink, FatherRepo
from sut.agent.issue_filing import IncidentsRepo
from sut.agent.notifier import ChannelConfig
from sut.agent.recovery import DistressFile
from sut.runtime.settings import Settings
from sut.runtime.tls import client_verify, speaks_tls

DEFAULT_EMERGENCY_LOG = "/var/log/openclaw/emergency.log"  # SOP 3.3


@dataclass(frozen=True)
class AgentConfig:
    """Everything the agent needs; ``policy`` None means it fails closed (``policy_error``)."""

    name: str
    url: str | None
    hostname: str
    bind: str
    port: int
    dispatcher_url: str
    hmac_key: bytes
    channels: ChannelConfig
    emergency_log: Path
    log_dir: Path | None
    protected_dirs: tuple[Path, ...]
    supervisor_url: str | None
    managed_services: tuple[str, ...]
    ollama_url: str | None
    dispatcher_pidfile: Path | None
    process_scope: str | None
    host_memory_bytes: int | None
    scale: TimeScale
    policy: Policy | None
    policy_error: str | None
    secrets: frozenset[str]
    #: The policy file the agent re-reads as its risk controls (None: none to re-read).
    policy_path: Path | None = None
    #: Gitea on this host (emergency-procedures.md scenario 3), None: none to check.
    gitea_url: str | None = None
    #: Its incidents repository (``owner/name``) and access token: where P1 issues go.
    gitea_repo: str | None = None
    gitea_token: str | None = field(default=None, repr=False)
    #: The father's spool directory on this host (scenario 2 STEP 4's /father-messages).
    father_messages: Path | None = None
    #: The child's repository on Gitea and the father's login there (scenario 4 STEP 3).
    father_repo: str | None = None
    father_login: str | None = None
    #: Whether any peer it was given speaks https:// (sut/runtime/tls.py).
    tls_peers: bool = False

    @property
    def tls_verify(self) -> ssl.SSLContext | bool:
        """httpx's ``verify=`` for the peers it was given (sut/runtime/tls.py)."""
        return client_verify(self.tls_peers)

    @property
    def father(self) -> FatherLink:
        """The ways to the father besides the Dispatcher's link: the distress spool (None
        unless configured) and its messages on Gitea (None unless all of it is set)."""
        spool = None if self.father_messages is None else DistressFile(self.father_messages)
        parts = (self.gitea_url, self.father_repo, self.father_login, self.gitea_token)
        gitea = FatherRepo(*parts) if all(parts) else None  # type: ignore[arg-type]
        return FatherLink(spool, gitea)

    @property
    def incidents_repo(self) -> IncidentsRepo | None:
        """Where the P1 issues are filed (notification flow); None unless all three are set."""
        if self.gitea_url and self.gitea_repo and self.gitea_token:
            return IncidentsRepo(self.gitea_url, self.gitea_repo, self.gitea_token)
        return None

    @property
    def health_checks(self) -> dict[str, str]:
        """Managed service -> the URL its health is read from: the seeds' own checks,
        Ollama's ``/api/tags`` (scenario 2) and Gitea's ``/api/v1/version`` (scenario 3)."""
        urls = {"ollama": self.ollama_url, "gitea": self.gitea_url}
        return {name: f"{url.rstrip('/')}{HEALTH_PATHS[name]}" for name, url in urls.items() if url}

    @property
    def co_located(self) -> bool:
        """SOP 2A.3 applies only when the dispatcher runs on this host."""
        return self.dispatcher_pidfile is not None


def _valid_scope(scope: str) -> bool:
    """``all``, or ``env:NAME=VALUE`` with a non-empty name (the forms ProcessSampler knows)."""
    if scope == "all":
        return True
    name, equals, _ = scope.removeprefix("env:").partition("=")
    return scope.startswith("env:") and bool(name) and bool(equals)


def _repo(s: Settings, name: str) -> str | None:
    """A Gitea repository ``owner/name`` from variable ``name``, if set."""
    repo = s.optional(name)
    owner, slash, rest = (repo or "x/x").partition("/")
    if not (owner and slash and rest) or "/" in rest:
        raise ServiceConfigError(
            f"agent: {name}: expected owner/name such as ops/incidents, got {repo!r}"
        )
    return repo


def load_config(settings: Settings | None = None) -> AgentConfig:
    """Read the agent's environment; a bad value raises, a bad policy fails closed."""
    s = settings or Settings("agent")
    policy: Policy | None
    policy_path = Path(s.optional("SOPDRILL_POLICY") or DEFAULT_POLICY_PATH)
    try:
        policy = load_policy(policy_path)
        policy_error = None
    except PolicyError as exc:
        policy, policy_error = None, str(exc)
    bind, port = s.bind()
    pidfile = s.optional("SOPDRILL_DISPATCHER_PIDFILE")
    log_dir = s.optional("SOPDRILL_LOG_DIR")
    memory = (
        s.integer("SOPDRILL_HOST_MEMORY_BYTES")
        if s.optional("SOPDRILL_HOST_MEMORY_BYTES")
        else None
    )
    if memory is not None and memory <= 0:
        # SOP 4's 80 % RAM rule of a host with no memory would never (or always) fire.
        raise ServiceConfigError(
            f"agent: SOPDRILL_HOST_MEMORY_BYTES: expected a positive integer, got {memory!r}"
        )
    scope = s.optional("SOPDRILL_PROCESS_SCOPE")
    if scope is not None and not _valid_scope(scope):
        # A mistyped scope would silently leave no process in scope: no runaway ever killed.
        raise ServiceConfigError(
            f"agent: SOPDRILL_PROCESS_SCOPE: expected 'all' or 'env:NAME=VALUE', got {scope!r}"
        )
    channels = ChannelConfig(
        discord_url=s.optional("SOPDRILL_DISCORD_URL"),
        discord_token=s.secret("SOPDRILL_DISCORD_TOKEN")
        if s.optional("SOPDRILL_DISCORD_TOKEN")
        else None,
        discord_recipient_id=s.optional("SOPDRILL_DISCORD_RECIPIENT_ID"),
        signal_url=s.optional("SOPDRILL_SIGNAL_URL"),
        signal_number=s.optional("SOPDRILL_SIGNAL_NUMBER"),
        signal_recipient=s.optional("SOPDRILL_SIGNAL_RECIPIENT"),
    )
    gitea_repo = _repo(s, "SOPDRILL_GITEA_REPO")
    supervisor_url = s.optional("SOPDRILL_SUPERVISOR_URL")
    if supervisor_url:
        s.secrets.add(supervisor_url)
    return AgentConfig(
        name=s.text("SOPDRILL_AGENT_NAME", "agent"),
        url=s.optional("SOPDRILL_AGENT_URL"),
        hostname=s.text("SOPDRILL_HOSTNAME", socket.gethostname()),
        bind=bind,
        port=port,
        dispatcher_url=s.url("SOPDRILL_DISPATCHER_URL"),
        hmac_key=s.secret("SOPDRILL_HMAC_KEY").encode(),
        channels=channels,
        emergency_log=s.path("SOPDRILL_EMERGENCY_LOG", DEFAULT_EMERGENCY_LOG),
        log_dir=Path(log_dir) if log_dir else None,
        protected_dirs=tuple(Path(p) for p in s.items("SOPDRILL_PROTECTED_DIRS")),
        supervisor_url=supervisor_url,
        managed_services=tuple(s.items("SOPDRILL_MANAGED_SERVICES")),
        ollama_url=s.optional("SOPDRILL_OLLAMA_URL"),
        gitea_url=s.optional("SOPDRILL_GITEA_URL"),
        gitea_repo=gitea_repo,
        # The run's access token reaches the agent's host as the Discord token does (a secret).
        gitea_token=s.secret("SOPDRILL_GITEA_TOKEN")
        if s.optional("SOPDRILL_GITEA_TOKEN")
        else None,
        dispatcher_pidfile=Path(pidfile) if pidfile else None,
        process_scope=scope,
        host_memory_bytes=memory,
        scale=s.time_scale(),
        policy=policy,
        policy_error=policy_error,
        secrets=frozenset(s.secrets),
        policy_path=policy_path,
        father_messages=s.path("SOPDRILL_FATHER_MESSAGES")
        if s.optional("SOPDRILL_FATHER_MESSAGES")
        else None,
        father_repo=_repo(s, "SOPDRILL_FATHER_REPO"),
        father_login=s.optional("SOPDRILL_FATHER_GITEA_USER"),
        tls_peers=speaks_tls(s.urls()),
    )
