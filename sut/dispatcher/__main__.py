"""``python -m sut.dispatcher``: read the environment, write the pidfile, serve until stopped."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sop.errors import SopdrillError
from sut.dispatcher.app import create_app
from sut.dispatcher.config import DispatcherConfig
from sut.runtime.jsonlog import configure_logging, get_logger
from sut.runtime.serve import serve
from sut.runtime.settings import Settings, startup_error_line

SERVICE = "dispatcher"


def write_pidfile(path: Path) -> None:
    """Write this process's pid for a co-located agent's process check (SOP 2A.3).

    The file is left in place on exit: a pid that no longer runs reads as "dead",
    which is what the SOP's check must conclude, with nothing to interpret.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{os.getpid()}\n", encoding="utf-8")
    os.replace(tmp, path)


def main() -> int:
    """Run the dispatcher; a bad setting is one line on stderr and exit status 2."""
    settings = Settings(SERVICE)
    try:
        config = DispatcherConfig.from_settings(settings)
        app = create_app(config)
    except SopdrillError as exc:
        print(startup_error_line(SERVICE, exc), file=sys.stderr)
        return 2
    configure_logging(SERVICE, secrets=settings.secrets)
    log = get_logger("sut.dispatcher")
    write_pidfile(config.pidfile)
    log.info(
        "dispatcher starting",
        extra={
            "fields": {
                "bind": config.bind,
                "port": config.port,
                "dispatcher_id": config.dispatcher_id,
                "provider": config.provider_url,
                "model": config.provider_model,
                "state_dir": str(config.state_dir),
                "time_scale": config.time_scale.factor,
                "heartbeat_interval_s": config.heartbeat_interval_s,
                "policy": config.policy.version,
            }
        },
    )
    serve(app, config.bind, config.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
