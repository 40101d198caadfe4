"""``python -m sut.watchdog``: watch the agent of this host from the environment.

``SOPDRILL_WATCHED_PROGRAM`` (the supervisord program, ``agent``), ``SOPDRILL_WATCHED_URL``
(its health check), ``SOPDRILL_SUPERVISOR_URL`` (this host's supervisord, a secret: it holds
the password), ``SOPDRILL_TIME_SCALE``, ``SOPDRILL_POLICY``.
"""

from __future__ import annotations

import sys

from sop.errors import SopdrillError
from sop.policy import load_policy
from sut.agent.supervisor import Supervisor
from sut.runtime.jsonlog import configure_logging
from sut.runtime.settings import Settings, startup_error_line
from sut.watchdog.watchdog import Rule, Watchdog

SERVICE = "watchdog"


def main() -> int:
    """Watch until stopped; a bad setting is one line on stderr and exit status 2."""
    settings = Settings(SERVICE)
    try:
        policy = load_policy(settings.optional("SOPDRILL_POLICY"))
        watchdog = Watchdog(
            program=settings.text("SOPDRILL_WATCHED_PROGRAM", "agent"),
            url=settings.url("SOPDRILL_WATCHED_URL"),
            manager=Supervisor(settings.secret("SOPDRILL_SUPERVISOR_URL")),
            rule=Rule.of(policy, settings.time_scale()),
        )
    except SopdrillError as exc:
        print(startup_error_line(SERVICE, exc), file=sys.stderr)
        return 2
    configure_logging(SERVICE, secrets=settings.secrets)
    watchdog.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
