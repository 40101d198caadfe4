"""The agent's writes to the dispatcher, signed with its key (sop/callers.py).

Registration, distress signals, emergency-log uploads and the integrity-check request
change the dispatcher's record of this agent, so the dispatcher takes them only signed;
the signature covers the exact bytes sent, so the body is serialised here, once.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from sop.callers import sign_request


async def post_signed(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    key: bytes | None,
    timeout_s: float,
) -> httpx.Response:
    """POST ``body`` as JSON to ``url``, signed with ``key`` (unsigned when None: tests)."""
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers |= sign_request(key, "POST", urlsplit(url).path, raw)
    return await client.post(url, content=raw, headers=headers, timeout=timeout_s)


__all__ = ["post_signed"]
