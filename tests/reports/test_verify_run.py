"""`sopdrill verify` over a built run: intact passes; one byte changed anywhere fails, named."""

from __future__ import annotations

import argparse
import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from cli.commands import report, verify
from reports.manifest import artifact_paths


@pytest.fixture
def signed_run(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    raw = Ed25519PrivateKey.generate().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )
    monkeypatch.setenv("SOPDRILL_SIGNING_KEY", base64.b64encode(raw).decode())
    assert report.run(argparse.Namespace(dir=run_dir)) == 0
    return run_dir


def test_an_untouched_run_verifies(signed_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        verify.run(argparse.Namespace(dir=signed_run, public_key=None, allow_unsigned=False)) == 0
    )
    assert "signature valid, by the expected key" in capsys.readouterr().out


def test_one_byte_changed_in_any_artifact_fails_naming_it(
    signed_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    artifacts = artifact_paths(signed_run)
    assert {"report.html", "evidence.json", "junit.xml", "audit-mapping.json"} <= set(artifacts)
    assert any(a.startswith("pir/") for a in artifacts)
    for relative in artifacts:
        path = signed_run / relative
        original = path.read_bytes()
        path.write_bytes(bytes([original[0] ^ 0x01]) + original[1:])
        try:
            assert (
                verify.run(
                    argparse.Namespace(dir=signed_run, public_key=None, allow_unsigned=False)
                )
                == 1
            )
            assert f"changed: {relative}" in capsys.readouterr().err
        finally:
            path.write_bytes(original)
    assert (
        verify.run(argparse.Namespace(dir=signed_run, public_key=None, allow_unsigned=False)) == 0
    )


def test_a_run_without_a_configured_key_is_signed_with_the_users_own(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("SOPDRILL_SIGNING_KEY", "SOPDRILL_SIGNING_KEY_FILE", "SOPDRILL_VERIFY_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SOPDRILL_HOME", str(run_dir.parent / "fresh-home"))
    assert report.run(argparse.Namespace(dir=run_dir)) == 0
    captured = capsys.readouterr()
    assert "MANIFEST signed (ed25519 key " in captured.out
    # Made on first use, its place said once; the key itself is in no artifact.
    key_file = run_dir.parent / "fresh-home" / "signing-key"
    assert f"made your signing key {key_file}" in captured.err
    private = key_file.read_bytes()
    assert not [p for p in run_dir.rglob("*") if p.is_file() and private in p.read_bytes()]
    assert report.run(argparse.Namespace(dir=run_dir)) == 0
    assert "made your signing key" not in capsys.readouterr().err
    assert verify.run(argparse.Namespace(dir=run_dir, public_key=None, allow_unsigned=False)) == 0
    assert "signature valid, by the expected key" in capsys.readouterr().out
