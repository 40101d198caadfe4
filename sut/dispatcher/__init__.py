"""The Central Dispatcher: signed heartbeats and tasks to agents, incident and log intake.

Every heartbeat interval it calls its model provider once and tells every registered
agent, in a signed heartbeat, whether the provider answers, rate-limits (SOP 2B) or
fails. It takes distress signals, emergency-log uploads (SOP 5.2) and integrity-check
requests (SOP 5.3). Run it with ``python -m sut.dispatcher``; see docs/architecture.md
"Dispatcher" for its environment and API.
"""

from sut.dispatcher.app import RATE_LIMIT_ERROR, Dispatcher, create_app
from sut.dispatcher.config import DispatcherConfig
from sut.dispatcher.errors import LogConflict, RequestRejected
from sut.dispatcher.heartbeats import HeartbeatLoop
from sut.dispatcher.incidents import IncidentBook, validate_distress_signal
from sut.dispatcher.integrity import IntegrityReport, check_integrity
from sut.dispatcher.logstore import LogStore, Merge
from sut.dispatcher.provider import ProviderClient, ProviderStatus, classify
from sut.dispatcher.registry import Agent, AgentRegistry, parse_agents
from sut.dispatcher.signer import EnvelopeSigner

__all__ = [
    "RATE_LIMIT_ERROR",
    "Agent",
    "AgentRegistry",
    "Dispatcher",
    "DispatcherConfig",
    "EnvelopeSigner",
    "HeartbeatLoop",
    "IncidentBook",
    "IntegrityReport",
    "LogConflict",
    "LogStore",
    "Merge",
    "ProviderClient",
    "ProviderStatus",
    "RequestRejected",
    "check_integrity",
    "classify",
    "create_app",
    "parse_agents",
    "validate_distress_signal",
]
