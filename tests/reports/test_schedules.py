"""The report draws each generated schedule as a timeline, the shrunk failure first."""

from __future__ import annotations

from reports.schedules import render_schedules, timeline_svg

PLAYED = [
    {"label": "kill(service=dispatcher)", "planned_start": 1.0, "planned_end": 16.5,
     "injected_at": 1.05, "reverted_at": 17.2, "unavailable": ""},
    {"label": "fill_disk(percent=95.0)", "planned_start": 3.0, "planned_end": 6.0,
     "injected_at": None, "reverted_at": None, "unavailable": "fill_disk: needs root"},
]  # fmt: skip


def test_a_timeline_has_a_planned_and_a_played_bar_per_step_played() -> None:
    svg = timeline_svg(PLAYED, 22.0)
    assert svg.count("<rect") == 3  # two planned spans, one played
    assert "played 1.05-17.20 SOP-min" in svg
    assert "not played: fill_disk: needs root" in svg


def test_the_smallest_failure_comes_first_with_its_replay_command() -> None:
    trial = {"id": "abc123", "held": False, "failure": "SOP checker: SOP 2 detection: ...",
             "length_minutes": 22.0, "played": PLAYED}  # fmt: skip
    meta = {
        "schedules": {
            "seed": 11, "profile": "nightly", "unplayed": 2, "trials": [trial],
            "failure": {"id": "abc123", "line": "SOP checker: SOP 2", "file": "out/f.json"},
        }
    }  # fmt: skip
    html = render_schedules(meta)
    assert html.index("Smallest failing schedule") < html.index("every schedule judged")
    assert "sopdrill replay out/f.json" in html
    assert "seed <code>11</code>" in html
    assert "2 left unplayed by the budget" in html
    assert render_schedules({"name": "a drill that played no schedule"}) == ""
