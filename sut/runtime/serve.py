"""Run one Starlette app under uvicorn on 127.0.0.1, stopping cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import uvicorn
from starlette.applications import Starlette


def serve(app: Starlette, host: str, port: int) -> None:
    """Serve ``app`` until a signal stops it; uvicorn's own logs go through our JSON handler."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        # asyncio's loop, not uvicorn's "auto": uvloop is installed for the harness's
        # proxy, and the SUT must not change its event loop because the harness did.
        loop="asyncio",
        timeout_graceful_shutdown=1,  # keep-alive clients must not hold a stop for seconds
    )
    uvicorn.Server(config).run()
