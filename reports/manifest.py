"""The manifest of a run's artifacts: SHA-256 of every file, signed with Ed25519.

``OUT/MANIFEST`` holds one ``<sha256>  <relative/path>`` line per artifact, sorted (the
format of ``sha256sum``, so ``sha256sum -c MANIFEST`` works too). ``OUT/MANIFEST.sig``
holds the Ed25519 signature of the MANIFEST bytes and the signer's public key, or says
plainly that the run is unsigned. ``verify_manifest`` lists every way the directory no
longer matches: a changed, added or removed file, or a bad signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from reports.errors import ReportError, SigningKeyError
from reports.signing import fingerprint, public_key_from_base64, public_key_text, signature_valid

MANIFEST_FILE = "MANIFEST"
SIGNATURE_FILE = "MANIFEST.sig"
_SIG_HEADER = "sopdrill-manifest-signature v1"
_UNSIGNED_NOTE = "unsigned: no signing key was given"
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Signature:
    """What MANIFEST.sig says: unsigned, or an Ed25519 signature and its public key."""

    signed: bool
    public_key: Ed25519PublicKey | None = None
    signature: bytes = b""

    @property
    def fingerprint(self) -> str | None:
        """The signer's key fingerprint, None when unsigned."""
        return None if self.public_key is None else fingerprint(self.public_key)


def artifact_paths(out_dir: Path) -> list[str]:
    """Every file under ``out_dir`` except the manifest itself, as sorted POSIX paths."""
    root = Path(out_dir)
    skip = {MANIFEST_FILE, SIGNATURE_FILE}
    return sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and path.relative_to(root).as_posix() not in skip
    )


def file_digest(path: Path) -> str:
    """The SHA-256 of ``path``'s bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(out_dir: Path, key: Ed25519PrivateKey | None = None) -> Signature:
    """Write OUT/MANIFEST for every artifact and OUT/MANIFEST.sig; return the signature."""
    root = Path(out_dir)
    lines = []
    for relative in artifact_paths(root):
        if "\n" in relative or "\\" in relative:
            raise ReportError(f"{root / relative}: a file name sha256sum cannot list; rename it")
        lines.append(f"{file_digest(root / relative)}  {relative}\n")
    manifest = "".join(lines).encode("utf-8")
    (root / MANIFEST_FILE).write_bytes(manifest)
    if key is None:
        (root / SIGNATURE_FILE).write_text(f"{_SIG_HEADER}\n{_UNSIGNED_NOTE}\n", encoding="utf-8")
        return Signature(signed=False)
    signature = key.sign(manifest)
    public = key.public_key()
    (root / SIGNATURE_FILE).write_text(
        f"{_SIG_HEADER}\n"
        "algorithm: ed25519\n"
        f"public-key: {public_key_text(public)}\n"
        f"signature: {base64.b64encode(signature).decode('ascii')}\n",
        encoding="utf-8",
    )
    return Signature(signed=True, public_key=public, signature=signature)


def read_signature(out_dir: Path) -> Signature:
    """Parse OUT/MANIFEST.sig; a ReportError names what is wrong with it."""
    source = Path(out_dir) / SIGNATURE_FILE
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ReportError(f"{SIGNATURE_FILE}: missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{SIGNATURE_FILE}: unreadable ({exc})") from None
    if not lines or lines[0] != _SIG_HEADER:
        raise ReportError(f"{SIGNATURE_FILE}: not a sopdrill manifest signature")
    if len(lines) > 1 and lines[1].startswith("unsigned:"):
        return Signature(signed=False)
    fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    if fields.get("algorithm") != "ed25519" or "public-key" not in fields:
        raise ReportError(f"{SIGNATURE_FILE}: expected an ed25519 public key and signature")
    try:
        public = public_key_from_base64(fields["public-key"], f"{SIGNATURE_FILE}: public-key")
        signature = base64.b64decode(fields.get("signature", ""), validate=True)
    except (SigningKeyError, binascii.Error, ValueError) as exc:
        raise ReportError(f"{SIGNATURE_FILE}: malformed ({exc})") from None
    return Signature(signed=True, public_key=public, signature=signature)


def _read_manifest(root: Path) -> tuple[dict[str, str], list[str]]:
    listed: dict[str, str] = {}
    problems: list[str] = []
    text = (root / MANIFEST_FILE).read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        digest, sep, relative = line.partition("  ")
        if not sep or len(digest) != 64 or not relative:
            problems.append(f"{MANIFEST_FILE}: line {number}: not '<sha256>  <path>'")
            continue
        listed[relative] = digest
    return listed, problems


def verify_manifest(
    out_dir: Path, public_key: Ed25519PublicKey | None = None, *, allow_unsigned: bool = False
) -> list[str]:
    """Every problem of OUT against its MANIFEST and signature; empty when it is intact.

    An unsigned manifest is a problem unless ``allow_unsigned``: stripping the signature
    after editing an artifact and re-hashing would otherwise verify (a downgrade).
    ``public_key`` pins the signer: then another key's signature is a problem too.
    Without it, a signature is checked against the key it names.
    """
    root = Path(out_dir)
    if not (root / MANIFEST_FILE).is_file():
        return [f"{MANIFEST_FILE}: missing in {root}; build it with `sopdrill report {root}`"]
    listed, problems = _read_manifest(root)
    present = set(artifact_paths(root))
    for relative in sorted(set(listed) - present):
        problems.append(f"removed: {relative}")
    for relative in sorted(present - set(listed)):
        problems.append(f"added: {relative}")
    for relative in sorted(present & set(listed)):
        if file_digest(root / relative) != listed[relative]:
            problems.append(f"changed: {relative}")
    problems.extend(_signature_problems(root, public_key, allow_unsigned))
    return problems


def _signature_problems(
    root: Path, pinned: Ed25519PublicKey | None, allow_unsigned: bool
) -> list[str]:
    try:
        signature = read_signature(root)
    except ReportError as exc:
        return [str(exc)]
    if not signature.signed:
        if pinned is not None:
            return [
                f"{SIGNATURE_FILE}: unsigned, but a verify key ({fingerprint(pinned)}) was given"
            ]
        if not allow_unsigned:
            return [
                f"{SIGNATURE_FILE}: unsigned: nothing proves who made these files (a stripped "
                "signature looks the same); runs are signed by default, or pass "
                "--allow-unsigned to check the digests alone"
            ]
        return []
    assert signature.public_key is not None  # signed implies a key (read_signature)
    if pinned is not None and public_key_text(pinned) != public_key_text(signature.public_key):
        return [
            f"{SIGNATURE_FILE}: signed by key {signature.fingerprint}, "
            f"expected {fingerprint(pinned)}"
        ]
    manifest = (root / MANIFEST_FILE).read_bytes()
    if not signature_valid(signature.public_key, signature.signature, manifest):
        return [f"{SIGNATURE_FILE}: bad signature over {MANIFEST_FILE}"]
    return []


__all__ = [
    "MANIFEST_FILE",
    "SIGNATURE_FILE",
    "Signature",
    "artifact_paths",
    "file_digest",
    "read_signature",
    "verify_manifest",
    "write_manifest",
]
