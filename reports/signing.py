"""Ed25519 keys for the manifest: loaded from the environment, never written anywhere.

The private key comes from ``SOPDRILL_SIGNING_KEY_FILE`` (a PEM file, or a file holding
the base64 of the raw 32 bytes) or ``SOPDRILL_SIGNING_KEY`` (base64 of the raw 32 bytes).
A verifier pins the signer with ``SOPDRILL_VERIFY_KEY`` (base64 of the raw 32-byte
public key) or the public half of the signing key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from reports.errors import SigningKeyError

SIGNING_KEY_FILE_ENV = "SOPDRILL_SIGNING_KEY_FILE"
SIGNING_KEY_ENV = "SOPDRILL_SIGNING_KEY"
VERIFY_KEY_ENV = "SOPDRILL_VERIFY_KEY"
_RAW_KEY_BYTES = 32


def _raw_from_base64(text: str, where: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SigningKeyError(f"{where}: not base64; expected the raw 32-byte key") from None
    if len(raw) != _RAW_KEY_BYTES:
        raise SigningKeyError(f"{where}: expected 32 bytes of key, got {len(raw)}")
    return raw


def private_key_from_file(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in ``path`` (PEM, or base64 of the raw 32 bytes)."""
    where = f"{SIGNING_KEY_FILE_ENV}={path}"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"{where}: unreadable ({exc.strerror})") from None
    if data.lstrip().startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise SigningKeyError(f"{where}: not an unencrypted PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError(f"{where}: a {type(key).__name__}, expected an Ed25519 key")
        return key
    return Ed25519PrivateKey.from_private_bytes(
        _raw_from_base64(data.decode("ascii", "replace"), where)
    )


def load_signing_key(environ: Mapping[str, str] | None = None) -> Ed25519PrivateKey | None:
    """The signing key the environment names, or None (the manifest stays unsigned)."""
    env = os.environ if environ is None else environ
    if env.get(SIGNING_KEY_FILE_ENV):
        return private_key_from_file(Path(env[SIGNING_KEY_FILE_ENV]))
    if env.get(SIGNING_KEY_ENV):
        raw = _raw_from_base64(env[SIGNING_KEY_ENV], SIGNING_KEY_ENV)
        return Ed25519PrivateKey.from_private_bytes(raw)
    return None


def load_verify_key(environ: Mapping[str, str] | None = None) -> Ed25519PublicKey | None:
    """The public key that must have signed: ``SOPDRILL_VERIFY_KEY`` or the signing key's."""
    env = os.environ if environ is None else environ
    if env.get(VERIFY_KEY_ENV):
        return public_key_from_base64(env[VERIFY_KEY_ENV], VERIFY_KEY_ENV)
    private = load_signing_key(env)
    return None if private is None else private.public_key()


def public_key_from_base64(text: str, where: str) -> Ed25519PublicKey:
    """An Ed25519 public key from the base64 of its raw 32 bytes."""
    return Ed25519PublicKey.from_public_bytes(_raw_from_base64(text, where))


def public_key_text(key: Ed25519PublicKey) -> str:
    """The base64 of the raw public key (what MANIFEST.sig and SOPDRILL_VERIFY_KEY hold)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def fingerprint(key: Ed25519PublicKey) -> str:
    """A short name for a public key: the first 16 hex digits of its SHA-256."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def signature_valid(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is ``key``'s over ``message``."""
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


__all__ = [
    "SIGNING_KEY_ENV",
    "SIGNING_KEY_FILE_ENV",
    "VERIFY_KEY_ENV",
    "fingerprint",
    "load_signing_key",
    "load_verify_key",
    "private_key_from_file",
    "public_key_from_base64",
    "public_key_text",
    "signature_valid",
]
