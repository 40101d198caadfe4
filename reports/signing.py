"""Ed25519 keys for the manifest: every run is signed, by a configured key or the user's own.

The private key comes from ``SOPDRILL_SIGNING_KEY_FILE`` (a PEM file, or a file holding
the base64 of the raw 32 bytes) or ``SOPDRILL_SIGNING_KEY`` (base64 of the raw 32 bytes);
without either, from the user's own key, made on first use: ``$SOPDRILL_HOME/signing-key``
(default ``$XDG_CONFIG_HOME/sopdrill`` or ``~/.config/sopdrill``), mode 0600, outside any
repository, never copied into an artifact. Unsigned by default would be unsigned in
practice, and the compliance team files these artifacts.

A verifier pins the signer with ``SOPDRILL_VERIFY_KEY`` (base64 of the raw 32-byte public
key), else the public half of the signing key that this machine would use.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from reports.errors import SigningKeyError

SIGNING_KEY_FILE_ENV = "SOPDRILL_SIGNING_KEY_FILE"
SIGNING_KEY_ENV = "SOPDRILL_SIGNING_KEY"
VERIFY_KEY_ENV = "SOPDRILL_VERIFY_KEY"
#: Where the user's own key lives (tests point it at a temporary directory).
HOME_ENV = "SOPDRILL_HOME"
USER_KEY_FILE = "signing-key"
_RAW_KEY_BYTES = 32


def user_key_path(environ: Mapping[str, str] | None = None) -> Path:
    """The user's own signing key file (it may not exist yet)."""
    env = os.environ if environ is None else environ
    if env.get(HOME_ENV):
        return Path(env[HOME_ENV]) / USER_KEY_FILE
    config = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "sopdrill" / USER_KEY_FILE


def ensure_user_key(path: Path) -> tuple[Ed25519PrivateKey, bool]:
    """The user's key at ``path``, made (0600, in a 0700 directory) if missing; and whether."""
    if path.exists():
        return private_key_from_file(path), False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        # O_EXCL: two first runs at once must not overwrite each other's key.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return private_key_from_file(path), False
    with os.fdopen(descriptor, "wb") as out:
        out.write(pem)
    return key, True


@dataclass(frozen=True)
class SigningKey:
    """The key runs are signed with; ``path`` is the user's own key file (None: configured)."""

    private: Ed25519PrivateKey
    path: Path | None
    #: Made by this very call (its location is printed once, on first use).
    created: bool

    def __repr__(self) -> str:
        # Never the key: only where it is and whose it is.
        public = fingerprint(self.private.public_key())
        return f"SigningKey(path={self.path!r}, fingerprint={public})"


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


def _configured_key(env: Mapping[str, str]) -> Ed25519PrivateKey | None:
    """The key the environment names (it wins over the user's own), or None."""
    if env.get(SIGNING_KEY_FILE_ENV):
        return private_key_from_file(Path(env[SIGNING_KEY_FILE_ENV]))
    if env.get(SIGNING_KEY_ENV):
        raw = _raw_from_base64(env[SIGNING_KEY_ENV], SIGNING_KEY_ENV)
        return Ed25519PrivateKey.from_private_bytes(raw)
    return None


def load_signing_key(environ: Mapping[str, str] | None = None) -> SigningKey:
    """The key that signs this machine's runs: the configured one, else the user's own."""
    env = os.environ if environ is None else environ
    configured = _configured_key(env)
    if configured is not None:
        return SigningKey(configured, None, created=False)
    path = user_key_path(env)
    key, created = ensure_user_key(path)
    return SigningKey(key, path, created)


def load_verify_key(environ: Mapping[str, str] | None = None) -> Ed25519PublicKey | None:
    """The public key that must have signed: ``SOPDRILL_VERIFY_KEY``, else the public half
    of the key this machine signs with (configured, or the user's own if it exists)."""
    env = os.environ if environ is None else environ
    if env.get(VERIFY_KEY_ENV):
        return public_key_from_base64(env[VERIFY_KEY_ENV], VERIFY_KEY_ENV)
    private = _configured_key(env)
    if private is None and user_key_path(env).exists():
        private = private_key_from_file(user_key_path(env))
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
    "HOME_ENV",
    "SIGNING_KEY_ENV",
    "SIGNING_KEY_FILE_ENV",
    "VERIFY_KEY_ENV",
    "SigningKey",
    "ensure_user_key",
    "fingerprint",
    "load_signing_key",
    "load_verify_key",
    "private_key_from_file",
    "public_key_from_base64",
    "public_key_text",
    "signature_valid",
    "user_key_path",
]
