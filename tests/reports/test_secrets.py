"""Secrets never reach an artifact: seeded into every input, found in no output."""

from __future__ import annotations

from pathlib import Path

from cli.commands.report import run as report_run
from reports.redaction import scrub

from .conftest import SECRETS


def _leaks(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            content = path.read_bytes()
            found += [f"{path.relative_to(root)}: {s}" for s in SECRETS if s.encode() in content]
    return found


def test_the_seeded_secrets_are_really_in_the_inputs(run_dir: Path) -> None:
    # The proof below means something only if the inputs carried the secrets.
    assert len(_leaks(run_dir)) >= 4


def test_no_artifact_of_a_built_run_holds_a_secret(run_dir: Path) -> None:
    import argparse

    assert report_run(argparse.Namespace(dir=run_dir)) == 0
    assert (run_dir / "report.html").is_file()
    assert list((run_dir / "pir").iterdir()), "the failed drill's drafts were written"
    assert _leaks(run_dir) == []


def test_secret_shapes_are_redacted_without_a_list() -> None:
    text = (
        b"POST https://discord.com/api/webhooks/1/abcdefghijk Authorization: Bearer eyJhbGciOi"
        b" SOPDRILL_SIGNAL_TOKEN=0123456789abcdef http://admin:hunter2hunter2@127.0.0.1:9001/"
    )
    clean = scrub(text, [])
    for secret in (b"abcdefghijk", b"eyJhbGciOi", b"0123456789abcdef", b"hunter2hunter2"):
        assert secret not in clean
    # Hashes of the emergency log are evidence, not secrets.
    digest = b'"hash": "' + b"a" * 64 + b'"'
    assert scrub(digest, []) == digest
