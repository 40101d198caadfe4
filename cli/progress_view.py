"""The live view of a run: per worker, the drill, its phase, SOP minutes, what it waits for.

Issue 12: the quarterly suite runs for half an hour and a person watching it must always
see what it is waiting for and how long it still may take. The pytest processes publish
their state files (fixtures/progress.py); this view reads them once a second.

- In a terminal, pytest's output is passed through line by line and the view keeps a
  footer under it, one line per worker, redrawn in place (as cargo or docker compose do).
- Anywhere else (CI, a pipe, a file), pytest's lines are passed through as they are and
  the view adds plain timestamped lines between them: one when a worker's drill, phase
  or wait changes, and a reminder while a wait lasts (a quarterly wait of fifteen SOP
  minutes is fifteen real ones).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from fixtures.progress import read_states

#: How often the view looks at the state files (wall seconds).
REFRESH_S = 1.0
#: How often an unchanged wait is said again in plain lines (wall seconds).
REMIND_S = 60.0
#: ANSI: to the start of the line N lines up; clear to the end of the screen.
_UP = "\x1b[{}F"
_CLEAR = "\x1b[J"


def _short(nodeid: str) -> str:
    # drills/test_disk_full.py::test_full_disk[x] -> test_disk_full::test_full_disk[x]
    module, _, name = nodeid.partition("::")
    return f"{Path(module).stem}::{name}" if name else nodeid


#: The most of a drill's name a footer line gives, so its wait still fits a terminal.
FOOTER_NAME = 40


def _cut(name: str, width: int | None) -> str:
    if width is None or len(name) <= width:
        return name
    return name[: width - 1] + "\u2026"


def describe(state: Mapping[str, Any], now: float, name_width: int | None = None) -> str:
    """One worker's line: drill, phase, SOP minutes so far, and the wait with its bound."""
    worker = str(state.get("worker"))
    drill = state.get("drill")
    if not drill:
        return f"{worker}: {state.get('phase') or 'idle'}"
    scale = float(state.get("scale") or 1.0)
    parts = [f"{worker}: {_cut(_short(str(drill)), name_width)}", str(state.get("phase"))]
    started = state.get("drill_started")
    if isinstance(started, int | float):
        parts.append(f"{(now - started) * scale / 60:.1f} SOP-min in")
    waiting_for, until = state.get("waiting_for"), state.get("until")
    if waiting_for:
        wait = f"waiting for {waiting_for}"
        if isinstance(until, int | float):
            left = max(0.0, until - now)
            wait += f" (at most {left:.0f} s more, {left * scale / 60:.1f} SOP-min)"
        parts.append(wait)
    return " | ".join(parts)


def _stamp(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%H:%M:%S")


class ProgressView:
    """Reads ``directory`` and draws it on ``stream`` until ``stop()``."""

    def __init__(
        self,
        directory: Path,
        stream: TextIO,
        *,
        live: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = Path(directory)
        self.stream = stream
        self.live = live
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._footer = 0  # lines of footer now on the screen (live mode)
        self._said: dict[str, tuple[tuple[Any, ...], float]] = {}

    def __enter__(self) -> ProgressView:
        self._thread = threading.Thread(target=self._loop, name="progress-view", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop drawing and take the footer away (the run's own summary follows)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._erase()
            self.stream.flush()

    def _loop(self) -> None:
        while not self._stop.wait(REFRESH_S):
            self.refresh()

    def refresh(self) -> None:
        """Look at the state files once and draw what changed."""
        now = self._clock()
        states = read_states(self.directory)
        with self._lock:
            if self.live:
                self._erase()
                self._draw(states, now)
            else:
                self._say(states, now)
            self.stream.flush()

    def passthrough(self, line: str) -> None:
        """Write one whole line of pytest's output (above the footer, in live mode)."""
        with self._lock:
            self._erase()
            self.stream.write(line)
            if self.live:
                self._draw(read_states(self.directory), self._clock())
            self.stream.flush()

    # -- live: a footer redrawn in place --------------------------------------------------

    def _erase(self) -> None:
        if self._footer:
            self.stream.write(_UP.format(self._footer) + _CLEAR)
            self._footer = 0

    def _draw(self, states: list[dict[str, Any]], now: float) -> None:
        width = max(20, shutil.get_terminal_size().columns - 1)
        lines = [describe(state, now, FOOTER_NAME)[:width] for state in states]
        for line in lines:
            self.stream.write(line + "\n")
        self._footer = len(lines)

    # -- plain: timestamped lines on change ----------------------------------------------

    def _say(self, states: list[dict[str, Any]], now: float) -> None:
        for state in states:
            worker = str(state.get("worker"))
            key = (state.get("drill"), state.get("phase"), state.get("waiting_for"))
            said = self._said.get(worker)
            if said is None and not state.get("drill"):
                self._said[worker] = (key, now)  # a worker idle at the start: nothing to say
                continue
            if said is not None and said[0] == key:
                due = bool(state.get("waiting_for")) and now - said[1] >= REMIND_S
                if not due:
                    continue
            self.stream.write(f"[{_stamp(now)} progress] {describe(state, now)}\n")
            self._said[worker] = (key, now)


__all__ = ["FOOTER_NAME", "REFRESH_S", "REMIND_S", "ProgressView", "describe"]
