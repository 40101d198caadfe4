"""A stand-in's state written whole: a temporary file beside it, fsynced, renamed, and
the directory synced.

A stand-in killed mid-write (a drill's stop of it) must leave the old state or the new, never
half of either: Gitea's issues and comments, Discord's DM channels.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_json_atomically(path: Path, document: Any) -> None:
    """``document`` as JSON at ``path``, through a temporary file in its directory."""
    data = json.dumps(document, indent=1).encode()
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    # The rename itself is durable only once the directory is synced.
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
