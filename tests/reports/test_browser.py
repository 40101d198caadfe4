"""report.html in a real browser (Debian's headless Chromium): no console error, and the
screenshot shows the drill table and a timeline picture."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from reports.build import build_report
from reports.timeline import MODE_COLOURS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH (apt install chromium)"
)
#: Flags for a root, offline, throwaway browser: nothing may reach the network.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
)  # fmt: skip
#: Where a copy of the screenshot goes for a person to look at, when set.
SCREENSHOT_DIR_ENV = "SOPDRILL_SCREENSHOT_DIR"


def _chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _console(stderr: str) -> list[str]:
    # Chromium logs every console message as INFO:CONSOLE:<line>] (older: CONSOLE(<line>)).
    return [line for line in stderr.splitlines() if re.search(r":CONSOLE[:(]", line)]


def test_the_console_check_sees_an_error(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>console.error('boom')</script></body></html>")
    done = _chromium(page, tmp_path / "profile", "--dump-dom")
    assert any("boom" in line for line in _console(done.stderr)), done.stderr[-2000:]


def test_the_report_loads_without_console_errors_and_shows_table_and_timeline(
    run_dir: Path, tmp_path: Path
) -> None:
    page = build_report(run_dir, render_allure=False).path
    dom = _chromium(page, tmp_path / "profile-dom", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert _console(dom.stderr) == []
    assert "Drills: SOP targets and measured values" in dom.stdout
    assert dom.stdout.count("<svg") == 2
    shot = tmp_path / "report.png"
    done = _chromium(
        page, tmp_path / "profile-shot", "--window-size=1400,2600", f"--screenshot={shot}"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert _console(done.stderr) == []
    image = Image.open(shot).convert("RGB")
    assert image.size == (1400, 2600)
    colours = {colour for _, colour in image.getcolors(maxcolors=1 << 20) or []}
    # The timeline's mode bars are drawn in the browser: their exact colours are on screen.
    for mode in ("online", "offline"):
        hex_colour = MODE_COLOURS[mode].lstrip("#")
        assert tuple(int(hex_colour[i : i + 2], 16) for i in (0, 2, 4)) in colours, mode
    if os.environ.get(SCREENSHOT_DIR_ENV):
        shutil.copy(shot, Path(os.environ[SCREENSHOT_DIR_ENV]) / "report.png")
