"""The signed manifest: intact runs verify; any changed, added or removed file is named."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cli.main import main
from reports.errors import SigningKeyError
from reports.manifest import (
    MANIFEST_FILE,
    SIGNATURE_FILE,
    file_digest,
    read_signature,
    verify_manifest,
    write_manifest,
)
from reports.signing import (
    HOME_ENV,
    SIGNING_KEY_ENV,
    SIGNING_KEY_FILE_ENV,
    VERIFY_KEY_ENV,
    fingerprint,
    load_signing_key,
    load_verify_key,
    public_key_text,
)

ARTIFACTS = {
    "evidence.json": '{"schema": "sopdrill.evidence/1"}\n',
    "junit.xml": "<testsuites/>\n",
    "report.html": "<!DOCTYPE html><p>report</p>\n",
    "allure-results/1-result.json": '{"status": "passed"}\n',
}


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    for relative, text in ARTIFACTS.items():
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        (out / relative).write_text(text, encoding="utf-8")
    return out


def _raw(key: Ed25519PrivateKey) -> str:
    raw = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return base64.b64encode(raw).decode("ascii")


def test_the_manifest_lists_every_artifact_in_sha256sum_format(run_dir: Path) -> None:
    write_manifest(run_dir)
    lines = (run_dir / MANIFEST_FILE).read_text(encoding="utf-8").splitlines()
    assert lines == [
        f"{file_digest(run_dir / relative)}  {relative}" for relative in sorted(ARTIFACTS)
    ]


def test_an_untouched_unsigned_run_is_refused_unless_unsigned_is_allowed(run_dir: Path) -> None:
    signature = write_manifest(run_dir)
    assert not signature.signed
    assert "unsigned" in (run_dir / SIGNATURE_FILE).read_text(encoding="utf-8")
    (problem,) = verify_manifest(run_dir)
    assert problem.startswith(f"{SIGNATURE_FILE}: unsigned: nothing proves who made")
    assert verify_manifest(run_dir, allow_unsigned=True) == []


@pytest.mark.parametrize("relative", sorted(ARTIFACTS))
def test_one_changed_byte_is_named(run_dir: Path, relative: str) -> None:
    write_manifest(run_dir, Ed25519PrivateKey.generate())
    target = run_dir / relative
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    assert verify_manifest(run_dir) == [f"changed: {relative}"]


def test_an_added_file_is_named(run_dir: Path) -> None:
    write_manifest(run_dir, Ed25519PrivateKey.generate())
    (run_dir / "allure-results" / "smuggled.json").write_text("{}", encoding="utf-8")
    assert verify_manifest(run_dir) == ["added: allure-results/smuggled.json"]


def test_a_removed_file_is_named(run_dir: Path) -> None:
    write_manifest(run_dir, Ed25519PrivateKey.generate())
    (run_dir / "junit.xml").unlink()
    assert verify_manifest(run_dir) == ["removed: junit.xml"]


def test_a_missing_manifest_is_a_problem(run_dir: Path) -> None:
    (problem,) = verify_manifest(run_dir)
    assert problem.startswith(f"{MANIFEST_FILE}: missing")


def test_a_signed_manifest_verifies_with_the_signers_key(run_dir: Path) -> None:
    key = Ed25519PrivateKey.generate()
    signature = write_manifest(run_dir, key)
    assert signature.signed
    assert read_signature(run_dir).fingerprint == signature.fingerprint
    assert verify_manifest(run_dir, key.public_key()) == []
    assert verify_manifest(run_dir) == []


def test_a_manifest_rewritten_to_hide_a_change_breaks_the_signature(run_dir: Path) -> None:
    key = Ed25519PrivateKey.generate()
    write_manifest(run_dir, key)
    (run_dir / "report.html").write_text("<p>all green</p>", encoding="utf-8")
    manifest = run_dir / MANIFEST_FILE
    lines = [
        f"{file_digest(run_dir / 'report.html')}  report.html"
        if line.endswith("report.html")
        else line
        for line in manifest.read_text(encoding="utf-8").splitlines()
    ]
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert verify_manifest(run_dir, key.public_key()) == [
        f"{SIGNATURE_FILE}: bad signature over {MANIFEST_FILE}"
    ]


def test_a_pinned_key_refuses_another_signer_and_an_unsigned_manifest(run_dir: Path) -> None:
    expected, forger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    write_manifest(run_dir, forger)
    (problem,) = verify_manifest(run_dir, expected.public_key())
    assert problem.startswith(f"{SIGNATURE_FILE}: signed by key ")
    write_manifest(run_dir)
    (problem,) = verify_manifest(run_dir, expected.public_key())
    assert problem.startswith(f"{SIGNATURE_FILE}: unsigned, but a verify key")


def test_signing_keys_load_from_env_base64_and_from_files(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    public = public_key_text(key.public_key())
    from_env = load_signing_key({SIGNING_KEY_ENV: _raw(key), HOME_ENV: str(tmp_path / "home")})
    # A configured key wins; the user's own key is not even made.
    assert (from_env.path, from_env.created) == (None, False)
    assert public_key_text(from_env.private.public_key()) == public
    assert not (tmp_path / "home").exists()
    pem = tmp_path / "key.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    raw_file = tmp_path / "key.b64"
    raw_file.write_text(_raw(key) + "\n", encoding="ascii")
    for path in (pem, raw_file):
        loaded = load_signing_key({SIGNING_KEY_FILE_ENV: str(path)})
        assert public_key_text(loaded.private.public_key()) == public
    verify = load_verify_key({VERIFY_KEY_ENV: public})
    assert verify is not None
    assert public_key_text(verify) == public


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"short").decode()])
def test_a_bad_signing_key_is_one_line_without_its_bytes(value: str) -> None:
    with pytest.raises(SigningKeyError) as caught:
        load_signing_key({SIGNING_KEY_ENV: value})
    message = str(caught.value)
    assert message.startswith(f"{SIGNING_KEY_ENV}: ")
    assert value not in message
    assert "\n" not in message


def test_without_a_configured_key_the_users_own_is_made_once_and_signs(tmp_path: Path) -> None:
    env = {HOME_ENV: str(tmp_path / "home")}
    first = load_signing_key(env)
    assert first.created
    assert first.path == tmp_path / "home" / "signing-key"
    assert stat.S_IMODE(first.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(first.path.parent.stat().st_mode) == 0o700
    again = load_signing_key(env)
    assert not again.created
    same = public_key_text(again.private.public_key())
    assert same == public_key_text(first.private.public_key())
    # A verifier on this machine pins it without being told.
    pinned = load_verify_key(env)
    assert pinned is not None
    assert public_key_text(pinned) == same
    assert repr(first).startswith("SigningKey(path=")


def test_sopdrill_verify_names_the_changed_file_and_exits_non_zero(
    run_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (SIGNING_KEY_ENV, SIGNING_KEY_FILE_ENV, VERIFY_KEY_ENV):
        monkeypatch.delenv(name, raising=False)
    write_manifest(run_dir, load_signing_key().private)
    assert main(["verify", str(run_dir)]) == 0
    assert "signature valid, by the expected key" in capsys.readouterr().out
    (run_dir / "evidence.json").write_text("{}", encoding="utf-8")
    assert main(["verify", str(run_dir)]) == 1
    assert capsys.readouterr().err == f"sopdrill verify: {run_dir}: changed: evidence.json\n"


def test_an_unsigned_manifest_is_refused_unless_allowed(
    run_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The downgrade: edit an artifact, re-hash it, drop the signature. It must not verify."""
    for name in (SIGNING_KEY_ENV, SIGNING_KEY_FILE_ENV, VERIFY_KEY_ENV, HOME_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(HOME_ENV, str(run_dir.parent / "nobody-home"))  # no key on this machine
    (run_dir / "report.html").write_text("<p>all green</p>", encoding="utf-8")
    write_manifest(run_dir)
    assert main(["verify", str(run_dir)]) == 1
    assert f"{SIGNATURE_FILE}: unsigned: nothing proves who made" in capsys.readouterr().err
    assert main(["verify", "--allow-unsigned", str(run_dir)]) == 0
    assert "UNSIGNED (accepted by --allow-unsigned)" in capsys.readouterr().out


def test_the_report_names_the_key_that_signed_its_manifest(run_dir: Path) -> None:
    from reports.build import build_report

    key = Ed25519PrivateKey.generate()
    named = fingerprint(key.public_key())
    html = build_report(run_dir, render_allure=False, signer=named).path.read_text("utf-8")
    signature = write_manifest(run_dir, key)
    assert signature.fingerprint == named
    assert f"signed with ed25519 key {named}" in html
    assert verify_manifest(run_dir, key.public_key()) == []
