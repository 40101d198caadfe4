"""``python -m sut.watchdog``: watch the agent of this host from the environment.

``SOPDRILL_WATCHED_PROGRAM`` (the supervisord program, ``agent``), ``SOPDRILL_WATCHED_URL``
(its health check), ``SOPDRILL_SUPERVISOR_URL`` (this host's supervisord, a secret: it holds
the password), ``SOPDRILL_TIME_SCALE``, ``SOPDRILL_POLICY``; ``SOPDRILL_EMERGENCY_ALERT``,
the file its P0 alert goes to (emergency-procedures.md scenario 1 STEP 4; unset: logged).
"""

from __future__ import annotations

import sys
from pathlib import Path

from sop.errors import SopdrillError
from sop.policy import load_policy
from sut.agent.supervisor import Supervisor
from sut.runtime.alertfile import AlertFile
from sut.runtime.jsonlog import configure_logging
from sut.runtime.settings import Settings, startup_error_line
from sut.watchdog.watchdog import Rule, Watchdog

SERVICE = "watchdog"


def main() -> int:
    """Watch until stopped; a bad setting is one line on stderr and exit status 2."""
    settings = Settings(SERVICE)
    try:
        policy = load_policy(settings.optional("SOPDRILL_POLICY"))
        alert = settings.optional("SOPDRILL_EMERGENCY_ALERT")
        watchdog = Watchdog(
            program=settings.text("SOPDRILL_WATCHED_PROGRAM", "agent"),
            url=settings.url("SOPDRILL_WATCHED_URL"),
            manager=Supervisor(settings.secret("SOPDRILL_SUPERVISOR_URL")),
            rule=Rule.of(policy, settings.time_scale()),
            alert=AlertFile(None if alert is None else Path(alert)),
        )
    except SopdrillError as exc:
        print(startup_error_line(SERVICE, exc), file=sys.stderr)
        return 2
    configure_logging(SERVICE, secrets=settings.secrets)
    watchdog.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
