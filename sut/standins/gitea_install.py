"""The Gitea stand-in's repositories as an installed instance keeps them: in its data directory.

Real Gitea holds its repositories in its data directory (the database and
``gitea-repositories/``), so a lost disk loses them: the instance comes back empty and
``GET /api/v1/repos/{owner}/{repo}`` answers 404 (emergency-procedures.md P0 "Gitea lost",
not scenario 3's stopped service). The stand-in's repositories are configured
(``SOPDRILL_GITEA_REPOS``) and created when its data directory is: a first start that finds
no directory makes it and records the repositories in ``repositories.json``. A later start
serves the configured repositories that record names; a directory that exists without the
record is a new, empty disk: no repository comes back, and nothing recreates them. Without a
data directory (in memory) every configured repository exists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from sop.errors import ServiceConfigError
from sut.standins.gitea_objects import Repository

#: The record of the repositories created at install, in the data directory.
REPOSITORIES_FILE: Final = "repositories.json"


def installed_repositories(
    data: str | None, configured: Mapping[str, Repository]
) -> dict[str, Repository]:
    """The repositories this instance holds (see the module): by key, as configured."""
    if data is None:
        return dict(configured)
    directory = Path(data)
    record = directory / REPOSITORIES_FILE
    try:
        if not directory.exists():  # the install: the directory and its repositories, made now
            directory.mkdir(parents=True)
            names = [repository.full_name for repository in configured.values()]
            temporary = directory / f".{REPOSITORIES_FILE}.tmp"
            temporary.write_text(json.dumps({"repositories": names}), encoding="utf-8")
            temporary.replace(record)
            return dict(configured)
        text = record.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}  # the data is gone: an empty instance
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ServiceConfigError(
            f"gitea: SOPDRILL_GITEA_DATA: cannot use {record}: {reason}"
        ) from None
    try:
        kept = {str(name).lower() for name in json.loads(text)["repositories"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise ServiceConfigError(
            f"gitea: SOPDRILL_GITEA_DATA: {record} is no repository record of this stand-in "
            f"({exc}); move the directory aside to install afresh"
        ) from None
    return {key: repository for key, repository in configured.items() if key in kept}


__all__ = ["REPOSITORIES_FILE", "installed_repositories"]
