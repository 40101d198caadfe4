"""Stand-ins for the services that cannot run here, each speaking the real API's contract.

ollama   Ollama-compatible model server (also the dispatcher's model provider)
discord  Discord REST v10 subset for a bot's direct messages
signal   signal-cli-rest-api subset (/v2/send, /v1/about)
gitea    Gitea REST API v1 subset: version, token user, private repositories and their issues

Each records what it accepted (``/_sink/messages``) and takes faults from the harness
(``/_fault``); start one with ``python -m sut.standins.<name>``. The services themselves are
not imported here, so that ``python -m`` runs each module once.
"""

from sut.standins.app import build_app, read_json_object, run
from sut.standins.fault import Fault, FaultGuard, FaultSpecError, FaultState, parse_fault
from sut.standins.sink import Received, Sink

__all__ = [
    "Fault",
    "FaultGuard",
    "FaultSpecError",
    "FaultState",
    "Received",
    "Sink",
    "build_app",
    "parse_fault",
    "read_json_object",
    "run",
]
