"""The run's live view: what each worker's drill waits for, in a terminal and in CI's log."""

from __future__ import annotations

import io
from pathlib import Path

from cli.progress_view import REMIND_S, ProgressView, describe
from fixtures import progress
from fixtures.progress import ProgressBoard
from sop.events import Event


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_line_says_drill_phase_sop_minutes_and_how_long_the_wait_may_last() -> None:
    state = {
        "worker": "gw1",
        "drill": "drills/test_dispatcher_killed.py::test_killed[x]",
        "phase": progress.FAULT_HELD,
        "drill_started": 1000.0,
        "waiting_for": "OFFLINE declared",
        "until": 1150.0,
        "scale": 60.0,
    }
    line = describe(state, now=1006.0)
    assert line == (
        "gw1: test_dispatcher_killed::test_killed[x] | fault held | 6.0 SOP-min in | "
        "waiting for OFFLINE declared (at most 144 s more, 144.0 SOP-min)"
    )
    # In real time (the quarterly suite) a wall minute is a minute of the SOP.
    slow = describe({**state, "scale": 1.0}, now=1006.0)
    assert "| 0.1 SOP-min in |" in slow
    assert "(at most 144 s more, 2.4 SOP-min)" in slow
    assert describe({"worker": "gw0", "drill": None, "phase": "idle"}, 0.0) == "gw0: idle"
    # A terminal's footer cuts the name, never the wait.
    footer = describe(state, now=1006.0, name_width=20)
    assert footer.startswith("gw1: test_dispatcher_kil\u2026 | fault held")
    assert footer.endswith("(at most 144 s more, 144.0 SOP-min)")


def test_plain_lines_on_change_and_a_reminder_while_a_wait_lasts(tmp_path: Path) -> None:
    clock = _Clock(5000.0)
    out = io.StringIO()
    view = ProgressView(tmp_path, out, live=False, clock=clock)
    board = ProgressBoard(tmp_path, "gw0", 60.0)
    view.refresh()
    assert out.getvalue() == ""  # idle at the start: nothing to say

    board.on_event(_event("drill_started", nodeid="drills/test_a.py::test_b"))
    view.refresh()
    assert out.getvalue().count("\n") == 1
    assert "bringing up" in out.getvalue()
    view.refresh()
    assert out.getvalue().count("\n") == 1  # unchanged: said once

    with board.waiting("OFFLINE declared", 900.0):
        view.refresh()
        assert out.getvalue().count("\n") == 2
        clock.now += REMIND_S - 1
        view.refresh()
        assert out.getvalue().count("\n") == 2
        clock.now += 1
        view.refresh()
        lines = out.getvalue().splitlines()
        assert len(lines) == 3
        assert "waiting for OFFLINE declared" in lines[-1]
        assert lines[-1].startswith("[")
        assert " progress] gw0: " in lines[-1]


def test_live_keeps_a_footer_under_the_passed_through_output(tmp_path: Path) -> None:
    out = io.StringIO()
    view = ProgressView(tmp_path, out, live=True, clock=_Clock(0.0))
    ProgressBoard(tmp_path, "gw0", 60.0)
    ProgressBoard(tmp_path, "gw1", 60.0)
    view.passthrough("PASSED one\n")
    assert out.getvalue() == "PASSED one\ngw0: idle\ngw1: idle\n"
    view.passthrough("PASSED two\n")
    # The footer's two lines taken away (up two, clear), the output, the footer again.
    assert out.getvalue().endswith("gw1: idle\n\x1b[2F\x1b[JPASSED two\ngw0: idle\ngw1: idle\n")
    view.stop()
    assert out.getvalue().endswith("\x1b[2F\x1b[J")


def _event(kind: str, **data: object) -> Event:
    return Event.stamp(kind, source="test", correlation_id="corr-1", data=data)


def test_plain_mode_passes_pytest_lines_through_without_a_footer(tmp_path: Path) -> None:
    out = io.StringIO()
    view = ProgressView(tmp_path, out, live=False, clock=_Clock(0.0))
    ProgressBoard(tmp_path, "gw0", 60.0)
    view.passthrough("drills/test_a.py::test_b PASSED\n")
    view.stop()
    assert out.getvalue() == "drills/test_a.py::test_b PASSED\n"
