"""The TLS side of a SUT service's HTTP client, chosen by the addresses it was given.

httpx builds a verified TLS context for every client, loading the CA bundle: about 20 ms of
CPU as the agent and the watchdog start, on the path of every drill's ``up`` (and each agent
of a fleet's). A service whose peers are all plain ``http://`` (the stand-ins, the
dispatcher behind the proxy) never uses it. It gets a context that trusts no certificate
instead: nothing to load, and a TLS peer it was never configured for is refused, never
trusted. Any ``https://`` peer gets httpx's verified default. The dispatcher keeps that
default always: agents register their addresses with it at run time.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from functools import cache


@cache
def _trusting_nothing() -> ssl.SSLContext:
    # PROTOCOL_TLS_CLIENT verifies certificates and host names; with no CA loaded, every
    # TLS handshake fails. Plain HTTP never reaches it.
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def speaks_tls(urls: Iterable[str]) -> bool:
    """Whether any of ``urls`` is an https:// address."""
    return any(url.lower().startswith("https://") for url in urls)


def client_verify(tls_peers: bool) -> ssl.SSLContext | bool:
    """httpx's ``verify=``: its verified default when a peer speaks TLS, else the above."""
    return True if tls_peers else _trusting_nothing()
