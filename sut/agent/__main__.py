"""``python -m sut.agent``: run the Ops-Expert agent from its environment."""

from __future__ import annotations

import sys

from sop.errors import SopdrillError
from sut.agent.app import create_app
from sut.agent.config import load_config
from sut.agent.service import AgentService
from sut.runtime.jsonlog import configure_logging
from sut.runtime.serve import serve
from sut.runtime.settings import startup_error_line


def main() -> int:
    """Start the agent; a configuration error is one line on stderr and exit status 2."""
    try:
        config = load_config()
    except SopdrillError as exc:
        print(startup_error_line("agent", exc), file=sys.stderr)
        return 2
    configure_logging("agent", config.secrets)
    serve(create_app(AgentService(config)), config.bind, config.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
