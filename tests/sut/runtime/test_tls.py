"""The SUT clients' TLS side: plain-HTTP peers load no CA bundle and trust no certificate;
an https:// peer gets httpx's verified default."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from sut.agent.config import load_config
from sut.runtime.settings import Settings
from sut.runtime.tls import client_verify, speaks_tls
from tests.sut.conftest import ThreadedServer


@pytest.mark.parametrize(
    ("urls", "expected"),
    [
        ([], False),
        (["http://127.0.0.1:1", "http://127.0.0.1:2"], False),
        (["http://127.0.0.1:1", "https://discord.example/api"], True),
        (["HTTPS://Discord.example"], True),
        (["http://https.example"], False),
    ],
)
def test_a_client_speaks_tls_when_any_peer_is_https(urls, expected):
    assert speaks_tls(urls) is expected


def test_plain_http_peers_get_a_context_that_loaded_and_trusts_nothing():
    context = client_verify(False)
    assert isinstance(context, ssl.SSLContext)
    assert context.cert_store_stats()["x509_ca"] == 0
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert client_verify(True) is True


def test_settings_list_every_configured_address_and_only_those():
    settings = Settings(
        "agent",
        {
            "SOPDRILL_DISCORD_URL": "https://discord.example",
            "SOPDRILL_SIGNAL_URL": "",
            "SOPDRILL_DISPATCHER_URL": "http://127.0.0.1:8701",
            "SOPDRILL_DISCORD_TOKEN": "https://not-an-address",
        },
    )
    assert sorted(settings.urls()) == ["http://127.0.0.1:8701", "https://discord.example"]


def _agent_config(**env: str):
    base = {
        "SOPDRILL_PORT": "8702",
        "SOPDRILL_HMAC_KEY": "tls-test-key-5c1e",
        "SOPDRILL_DISPATCHER_URL": "http://127.0.0.1:8701",
    }
    return load_config(Settings("agent", {**base, **env}))


def test_the_agent_verifies_tls_when_one_of_its_peers_is_https():
    assert _agent_config().tls_verify is not True
    assert _agent_config(SOPDRILL_DISCORD_URL="https://discord.example").tls_verify is True


def _ok(request):
    return PlainTextResponse("ok")


def test_plain_http_still_works_through_the_context_that_trusts_nothing():
    with (
        ThreadedServer(Starlette(routes=[Route("/", _ok)])) as server,
        httpx.Client(trust_env=False, verify=client_verify(False)) as client,
    ):
        assert client.get(server.url + "/").text == "ok"


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[str]:
    """A TLS listener on 127.0.0.1 with a self-signed certificate for 127.0.0.1: its URL."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    handshakes: list[str] = []

    def accept_one() -> None:
        with listener, listener.accept()[0] as raw:
            try:
                server_side.wrap_socket(raw, server_side=True).close()
                handshakes.append("completed")
            except (ssl.SSLError, OSError) as exc:
                handshakes.append(type(exc).__name__)

    thread = threading.Thread(target=accept_one)
    thread.start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}/"
    thread.join(10)
    assert handshakes, "the client never reached the TLS listener"
    assert handshakes[0] != "completed"


def test_a_tls_peer_it_was_not_given_is_refused_not_trusted(tls_server):
    with (
        httpx.Client(trust_env=False, verify=client_verify(False)) as client,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client.get(tls_server)
