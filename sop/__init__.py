"""The Offline Emergency SOP as code: policy, reference model, wire and evidence formats.

This package is the shared vocabulary of the SUT, the harness and the reports. It
imports nothing of ours.

The names below are loaded on first use, not here: every SUT process imports ``sop``,
most need one or two of its modules, and the eager imports cost each service about 30 ms
of CPU at start, a topology's ``up`` about a quarter of a second on two cores (issue 12).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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

#: Which module of the package each public name lives in.
_HOMES = {
    "DEFAULT_POLICY_PATH": "sop.policy",
    "EVENT_KINDS": "sop.events",
    "GENESIS": "sop.chain",
    "TIME_SCALE_ENV": "sop.timescale",
    "ApiProbe": "sop.observations",
    "ChainError": "sop.errors",
    "Envelope": "sop.wire",
    "Event": "sop.events",
    "EvidenceError": "sop.errors",
    "HarnessError": "sop.errors",
    "Heartbeat": "sop.observations",
    "Observation": "sop.observations",
    "Policy": "sop.policy",
    "PolicyError": "sop.errors",
    "ProcessCheck": "sop.observations",
    "RateLimitReport": "sop.observations",
    "ReplayGuard": "sop.wire",
    "ServiceConfigError": "sop.errors",
    "SopdrillError": "sop.errors",
    "TimeScale": "sop.timescale",
    "Verdict": "sop.oracle",
    "WireError": "sop.errors",
    "canonical_json": "sop.wire",
    "chain_entry": "sop.chain",
    "detection_window": "sop.oracle",
    "entry_hash": "sop.chain",
    "first_offline": "sop.oracle",
    "load_policy": "sop.policy",
    "never_offline": "sop.oracle",
    "parse_policy": "sop.policy",
    "scenario_a_holds": "sop.oracle",
    "scenario_b_holds": "sop.oracle",
    "sign_envelope": "sop.wire",
    "verify_chain": "sop.chain",
    "verify_envelope": "sop.wire",
}

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


def __getattr__(name: str) -> object:
    """Import a public name's module when the name is first asked for (PEP 562)."""
    try:
        home = _HOMES[name]
    except KeyError:
        raise AttributeError(f"module 'sop' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
