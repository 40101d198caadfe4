"""The Offline Emergency SOP as code: policy, reference model, wire and evidence formats.

This package is the shared vocabulary of the SUT, the harness and the reports. It
imports nothing of ours.
"""

from sop.chain import GENESIS, chain_entry, entry_hash, verify_chain
from sop.errors import (
    ChainError,
    EvidenceError,
    HarnessError,
    PolicyError,
    ServiceConfigError,
    SopdrillError,
    WireError,
)
from sop.events import EVENT_KINDS, Event
from sop.observations import (
    ApiProbe,
    Heartbeat,
    Observation,
    ProcessCheck,
    RateLimitReport,
)
from sop.oracle import (
    Verdict,
    detection_window,
    first_offline,
    never_offline,
    scenario_a_holds,
    scenario_b_holds,
)
from sop.policy import DEFAULT_POLICY_PATH, Policy, load_policy, parse_policy
from sop.timescale import TIME_SCALE_ENV, TimeScale
from sop.wire import Envelope, ReplayGuard, canonical_json, sign_envelope, verify_envelope

__all__ = [
    "DEFAULT_POLICY_PATH",
    "EVENT_KINDS",
    "GENESIS",
    "TIME_SCALE_ENV",
    "ApiProbe",
    "ChainError",
    "Envelope",
    "Event",
    "EvidenceError",
    "HarnessError",
    "Heartbeat",
    "Observation",
    "Policy",
    "PolicyError",
    "ProcessCheck",
    "RateLimitReport",
    "ReplayGuard",
    "ServiceConfigError",
    "SopdrillError",
    "TimeScale",
    "Verdict",
    "WireError",
    "canonical_json",
    "chain_entry",
    "detection_window",
    "entry_hash",
    "first_offline",
    "load_policy",
    "never_offline",
    "parse_policy",
    "scenario_a_holds",
    "scenario_b_holds",
    "sign_envelope",
    "verify_chain",
    "verify_envelope",
]
