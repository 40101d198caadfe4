"""The emergency alert file's line: written as the seed's STEP 4 says, read back exactly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sop.alert_file import AGENT_FAILURE, alert_line, read_alerts

AT = datetime(2026, 3, 31, 20, 2, 1, tzinfo=UTC)


def test_a_line_is_the_seeds_words_and_reads_back():
    line = alert_line("P0", AGENT_FAILURE, AT)
    assert line == "P0: Agent failure at 2026-03-31T20:02:01+00:00\n"
    assert [(a.severity, a.what, a.at) for a in read_alerts(line * 2)] == [
        ("P0", AGENT_FAILURE, AT)
    ] * 2


def test_other_lines_are_not_alerts():
    text = "hello\nP9: nothing at 2026\nP1: Level 3 escalation at yesterday\n"
    assert read_alerts(text) == []


@pytest.mark.parametrize(
    ("severity", "what", "at"),
    [
        ("P7", AGENT_FAILURE, AT),
        ("P0", "two\nlines", AT),
        ("P0", AGENT_FAILURE, AT.replace(tzinfo=None)),
    ],
)
def test_a_bad_line_is_refused(severity, what, at):
    with pytest.raises(ValueError, match="alert line"):
        alert_line(severity, what, at)
