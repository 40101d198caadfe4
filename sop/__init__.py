"""The Offline Emergency SOP as code: policy, reference model, wire and evidence formats.

This package is the shared vocabulary of the SUT, the harness and the reports. It
imports nothing of ours.
"""

from sop.errors import (
    ChainError,
    HarnessError,
    PolicyError,
    ServiceConfigError,
    SopdrillError,
    WireError,
)
from sop.timescale import TIME_SCALE_ENV, TimeScale

__all__ = [
    "TIME_SCALE_ENV",
    "ChainError",
    "HarnessError",
    "PolicyError",
    "ServiceConfigError",
    "SopdrillError",
    "TimeScale",
    "WireError",
]
