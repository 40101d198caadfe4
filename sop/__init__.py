"""The Offline Emergency SOP as code: policy, reference model, wire and evidence formats.

This package is the shared vocabulary of the SUT, the harness and the reports. It
imports nothing of ours.
"""

from sop.chain import GENESIS, chain_entry, entry_hash, verify_chain
from sop.errors import (
    ChainError,
    HarnessError,
    PolicyError,
    ServiceConfigError,
    SopdrillError,
    WireError,
)
from sop.observations import (
    ApiProbe,
    Heartbeat,
    Observation,
    ProcessCheck,
    RateLimitReport,
)
from sop.policy import DEFAULT_POLICY_PATH, Policy, load_policy, parse_policy
from sop.timescale import TIME_SCALE_ENV, TimeScale
from sop.wire import Envelope, ReplayGuard, canonical_json, sign_envelope, verify_envelope

__all__ = [
    "DEFAULT_POLICY_PATH",
    "GENESIS",
    "TIME_SCALE_ENV",
    "ApiProbe",
    "ChainError",
    "Envelope",
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
    "WireError",
    "canonical_json",
    "chain_entry",
    "entry_hash",
    "load_policy",
    "parse_policy",
    "sign_envelope",
    "verify_chain",
    "verify_envelope",
]
