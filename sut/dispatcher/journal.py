"""An append-only JSON-lines record book in the state dir (incidents, tasks, integrity checks)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class Journal:
    """Records appended as JSON lines and fsynced; read back oldest first after a restart."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._records: list[dict[str, Any]] = []
        if path.exists():
            for line in path.read_text(encoding="utf-8").split("\n"):  # JSON may hold U+2028
                # A line torn by a kill mid-write is dropped, not fatal: the rest still serve.
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict):
                    self._records.append(record)

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Write ``record`` durably, then remember it; returns it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            out.flush()
            os.fsync(out.fileno())
        self._records.append(record)
        return record

    def records(self) -> list[dict[str, Any]]:
        """Every record, oldest first."""
        return list(self._records)

    def __len__(self) -> int:
        return len(self._records)
