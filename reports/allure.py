"""Allure's side of the artifacts: categories by SOP clause, environment, and an offline render.

allure-pytest writes one result per drill into OUT/allure-results/ while the drills run;
this adds what Allure reads beside them: ``categories.json`` (failures grouped by the
SOP clause their drill evidences, so a reviewer sees "SOP 3: backchannel alerting" and
not a flat list), ``environment.properties`` (the run facts) and ``executor.json``.

Where Java and npm's allure-commandline are installed (``npm install --prefix
tools/allure allure-commandline``, never downloaded at report time), the Allure HTML
report is rendered into OUT/allure-report/ with ``ALLURE_NO_ANALYTICS=true``; anything
missing skips the render with a one-line reason, and a render never blocks the report.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reports.audit import sop_clauses
from reports.results import RunResults

RESULTS_DIR = "allure-results"
REPORT_DIR = "allure-report"
#: Where the allure CLI is looked for: this variable, else tools/allure under the checkout.
ALLURE_ENV = "SOPDRILL_ALLURE"
TOOLS_DIR = Path(__file__).resolve().parents[1] / "tools" / "allure"
#: Wall seconds an Allure render may take before it is abandoned.
RENDER_TIMEOUT_S = 180.0
#: The SOP's sections, as the categories name them.
SECTION_TITLES = {
    "2": "SOP 2: dispatcher-unresponsive detection",
    "3": "SOP 3: communication backchannel",
    "4": "SOP 4: authorized emergency actions",
    "5": "SOP 5: recovery and re-sync",
}


def _module_pattern(nodeid: str) -> str:
    module = nodeid.split("::", 1)[0]
    # The trace names the file path; the fullName the dotted module: match either.
    return re.escape(module).replace("/", "[/.]").replace(r"\.py", r"(\.py)?")


def categories(results: RunResults) -> list[dict[str, Any]]:
    """Allure categories: one per SOP section the run's drills evidence, then catch-alls."""
    by_section: dict[str, set[str]] = {}
    for drill in results.drills:
        for clause in sop_clauses(drill):
            if not clause.startswith("6."):
                by_section.setdefault(clause[0], set()).add(_module_pattern(drill.nodeid))
    found = [
        {
            "name": SECTION_TITLES.get(section, f"SOP {section}"),
            "matchedStatuses": ["failed"],
            "traceRegex": f"(?s).*({'|'.join(sorted(patterns))}).*",
        }
        for section, patterns in sorted(by_section.items())
    ]
    found.append(
        {
            "name": "Steady state did not hold (before or after the fault)",
            "matchedStatuses": ["failed", "broken"],
            "messageRegex": "(?s).*steady state.*",
        }
    )
    found.append(
        {
            "name": "Drill could not run (SUT or harness broken)",
            "matchedStatuses": ["broken"],
        }
    )
    return found


def environment_lines(run: Mapping[str, Any]) -> list[str]:
    """``environment.properties`` lines: the run facts an Allure reader needs."""
    environment = run.get("environment") or {}
    facts = {
        "suite": run.get("suite"),
        "backend": run.get("backend"),
        "time_scale": run.get("time_scale"),
        "policy_version": run.get("policy_version"),
        "policy_digest": run.get("policy_digest"),
        "project_version": run.get("project_version"),
        "host": run.get("host"),
        "python": environment.get("python") if isinstance(environment, Mapping) else None,
        "started_at": run.get("started_at"),
    }
    return [
        f"{key}={str(value).replace(chr(10), ' ')}"
        for key, value in facts.items()
        if value not in (None, "")
    ]


def write_allure_extras(out_dir: Path, results: RunResults) -> list[str]:
    """Write categories, environment and executor into OUT/allure-results/; their paths."""
    target = Path(out_dir) / RESULTS_DIR
    target.mkdir(exist_ok=True)
    files = {
        "categories.json": json.dumps(categories(results), indent=2) + "\n",
        "environment.properties": "\n".join(environment_lines(results.run)) + "\n",
        "executor.json": json.dumps(
            {"name": "sopdrill", "type": "sopdrill", "buildName": results.run.get("suite")},
            indent=2,
        )
        + "\n",
    }
    for name, text in files.items():
        (target / name).write_text(text, encoding="utf-8")
    return [f"{RESULTS_DIR}/{name}" for name in files]


def allure_command(environ: Mapping[str, str] | None = None) -> Path | None:
    """The installed allure CLI (never downloaded), or None."""
    env = os.environ if environ is None else environ
    candidates = [Path(env[ALLURE_ENV])] if env.get(ALLURE_ENV) else []
    candidates.append(TOOLS_DIR / "node_modules" / ".bin" / "allure")
    return next((path for path in candidates if path.is_file()), None)


def render_allure_html(out_dir: Path, environ: Mapping[str, str] | None = None) -> str:
    """Render OUT/allure-report/ offline if Java and the allure CLI are here; say what happened."""
    env = dict(os.environ if environ is None else environ)
    command = allure_command(env)
    if shutil.which("java", path=env.get("PATH")) is None:
        return "Allure HTML not rendered: no Java on PATH"
    if command is None:
        return (
            "Allure HTML not rendered: allure-commandline is not installed "
            f"(npm install --prefix {TOOLS_DIR} allure-commandline, or set {ALLURE_ENV})"
        )
    root = Path(out_dir)
    # Allure's report would otherwise carry an analytics call; nothing may reach out.
    env["ALLURE_NO_ANALYTICS"] = "true"
    try:
        done = subprocess.run(
            [
                str(command),
                "generate",
                str(root / RESULTS_DIR),
                "-o",
                str(root / REPORT_DIR),
                "--clean",
                "--single-file",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=RENDER_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(root / REPORT_DIR, ignore_errors=True)
        return f"Allure HTML not rendered: {command}: {exc}"
    if done.returncode != 0:
        shutil.rmtree(root / REPORT_DIR, ignore_errors=True)
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"Allure HTML not rendered: allure exited {done.returncode}: {last[0]}"
    return f"Allure HTML rendered offline into {REPORT_DIR}/index.html"


__all__ = [
    "ALLURE_ENV",
    "REPORT_DIR",
    "RESULTS_DIR",
    "TOOLS_DIR",
    "allure_command",
    "categories",
    "environment_lines",
    "render_allure_html",
    "write_allure_extras",
]
