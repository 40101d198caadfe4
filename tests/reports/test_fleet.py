"""The report shows a fleet drill's spread of detection and delivery over its agents."""

from __future__ import annotations

from reports.fleet import render_fleet


def test_a_fleet_card_shows_its_size_channels_and_both_spreads() -> None:
    meta = {
        "fleet": {
            "agents": 50,
            "channels": {"discord": 18, "signal": 32},
            "detection_spread": {"min": 14.7, "p50": 15.1, "p99": 15.2, "max": 15.2},
            "delivery_spread": {"min": 14.8, "p50": 30.2, "p99": 35.0, "max": 35.1},
        }
    }
    html = render_fleet(meta)
    assert "50 agents against one dispatcher" in html
    assert "18 on discord, 32 on signal" in html
    rows = html.split("<tr>")
    assert "OFFLINE declared" in rows[2]
    assert "<td>15.1</td>" in rows[2]
    assert "alert delivered to 0x01" in rows[3]
    assert "<td>35.1</td>" in rows[3]


def test_a_drill_without_a_fleet_has_no_fleet_section() -> None:
    assert render_fleet({"schedules": {}}) == ""
    assert render_fleet({"fleet": "not figures"}) == ""
