"""Allure's side of the artifacts: categories by SOP clause, environment, and an offline render.

allure-pytest writes one result per drill into OUT/allure-results/ while the drills run;
this adds what Allure reads beside them: ``categories.json`` (failures grouped by the
SOP clause their drill evidences, so a reviewer sees "SOP 3: backchannel alerting" and
not a flat list), ``environment.properties`` (the run facts) and ``executor.json``.

Where Allure is installed into tools/allure (never downloaded at report time), the
Allure HTML report is rendered into OUT/allure-report/ as one offline page: Allure 3
(``npm install --prefix tools/allure allure@3``) needs Node only, Allure 2
(``allure-commandline``) needs Java. ``ALLURE_NO_ANALYTICS=true`` either way; anything
missing skips the render with a one-line reason, and a render never blocks the report.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
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


def allure_major(command: Path) -> int:
    """The major version of the Allure behind ``command``: 3 for npm's ``allure`` (Node),
    2 for ``allure-commandline`` (Java), read from the package the command belongs to."""
    for parent in command.resolve().parents:
        manifest = parent / "package.json"
        if manifest.is_file():
            try:
                package = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                break
            if package.get("name") == "allure":
                major = str(package.get("version", "")).partition(".")[0]
                return int(major) if major.isdigit() else 2
            break
    return 2


def _allure3_config(directory: Path) -> Path:
    """An Allure 3 config: the classic (allure2) look as one self-contained page. Its
    awesome plugin calls an analytics site whatever it is told; this one honours
    ALLURE_NO_ANALYTICS, and nothing in a report may reach out."""
    config = directory / "allurerc.mjs"
    config.write_text(
        "export default {\n"
        '  name: "sopdrill",\n'
        '  plugins: { allure2: { options: { singleFile: true, reportName: "sopdrill" } } },\n'
        "};\n",
        encoding="utf-8",
    )
    return config


def _missing_runtime(command: Path | None, env: Mapping[str, str]) -> str | None:
    """Why the allure CLI cannot run here (None: it can)."""
    path = env.get("PATH")
    if command is None:
        return (
            "Allure HTML not rendered: allure is not installed "
            f"(npm install --prefix {TOOLS_DIR} allure@3, or set {ALLURE_ENV})"
        )
    if allure_major(command) >= 3:
        if shutil.which("node", path=path) is None:
            return "Allure HTML not rendered: Allure 3 needs Node.js on PATH (apt install nodejs)"
        return None
    if shutil.which("java", path=path) is None:
        return (
            "Allure HTML not rendered: no Java on PATH for allure-commandline "
            f"(or install Allure 3, which needs Node only: npm install --prefix {TOOLS_DIR} "
            "allure@3)"
        )
    return None


def render_allure_html(out_dir: Path, environ: Mapping[str, str] | None = None) -> str:
    """Render OUT/allure-report/ offline with the installed Allure (3 on Node, or 2 on
    Java); say what happened in one line."""
    env = dict(os.environ if environ is None else environ)
    command = allure_command(env)
    missing = _missing_runtime(command, env)
    if missing is not None or command is None:
        return missing or "Allure HTML not rendered"
    root = Path(out_dir)
    report = root / REPORT_DIR
    # Allure's report would otherwise carry an analytics call; nothing may reach out.
    env["ALLURE_NO_ANALYTICS"] = "true"
    shutil.rmtree(report, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="sopdrill-allure-") as scratch:
        if allure_major(command) >= 3:
            argv = [str(command), "generate", str(root / RESULTS_DIR)]
            argv += ["--config", str(_allure3_config(Path(scratch))), "--output", str(report)]
        else:
            argv = [str(command), "generate", str(root / RESULTS_DIR), "-o", str(report)]
            argv += ["--clean", "--single-file"]
        try:
            done = subprocess.run(
                argv,
                env=env,
                cwd=scratch,
                capture_output=True,
                text=True,
                timeout=RENDER_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            shutil.rmtree(report, ignore_errors=True)
            return f"Allure HTML not rendered: {command}: {exc}"
    if done.returncode != 0 or not (report / "index.html").is_file():
        shutil.rmtree(report, ignore_errors=True)
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"Allure HTML not rendered: allure exited {done.returncode}: {last[0]}"
    major = allure_major(command)
    return f"Allure HTML rendered offline into {REPORT_DIR}/index.html (Allure {major})"


__all__ = [
    "ALLURE_ENV",
    "REPORT_DIR",
    "RESULTS_DIR",
    "TOOLS_DIR",
    "allure_command",
    "allure_major",
    "categories",
    "environment_lines",
    "render_allure_html",
    "write_allure_extras",
]
