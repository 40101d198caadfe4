"""bench/parallel.py's arithmetic: the unavoidable waits, the two ratios and the CPU floor."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from parallel import busy_cpu_seconds, cpu_figures, summarise, unavoidable_waits


def run(wall_s: float, minutes: dict[str, float], scale: float = 60.0) -> dict:
    return {
        "started_at": "2026-12-04T12:00:00+00:00",
        "backend": "local",
        "time_scale": scale,
        "wall_s": wall_s,
        "drills": len(minutes),
        "passed": len(minutes),
        "not_passed": [],
        "sop_minutes": minutes,
    }


def test_a_drill_measured_at_real_time_counts_that_and_the_others_count_the_run() -> None:
    total, from_run = unavoidable_waits({"a": 20.5, "b": 7.0}, {"a": 17.0, "c": 3.0})
    assert total == 24.0
    assert from_run == ["b"]


def test_the_ratios_compare_wall_times_and_waits_at_the_runs_scale() -> None:
    table = {"a": 15.0, "b": 15.0}
    result = summarise(run(90.0, {"a": 20.0, "b": 25.0}), run(45.0, {}), "2", table)
    assert result["serial_over_parallel"] == 2.0
    assert result["unavoidable_wait_s"] == 30.0  # 30 SOP minutes at 60 SOP s per wall s
    assert result["overhead_ratio"] == {"serial": 3.0, "parallel": 1.5}
    assert "sop_minutes" not in result["serial"]


def test_runs_at_different_scales_are_refused() -> None:
    with pytest.raises(SystemExit, match="differ in time scale"):
        summarise(run(90.0, {"a": 1.0}), run(45.0, {}, scale=1.0), "2", {})


def test_busy_cpu_is_every_core_state_but_idle_and_iowait(tmp_path: Path) -> None:
    # user nice system idle iowait irq softirq steal guest guest_nice, in clock ticks
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 10 50 9000 40 5 5 0 0 0\ncpu0 50 5 25 4500 20 2 3 0 0 0\n")
    assert busy_cpu_seconds(stat) == 170 / os.sysconf("SC_CLK_TCK")


def test_the_cpu_floor_is_the_cpu_seconds_over_the_cores() -> None:
    assert cpu_figures(300.0, 200.0, 2) == {
        "cpu_s": 300.0,
        "cores": 2,
        "busy_cores": 1.5,
        "cpu_floor_s": 150.0,
    }
