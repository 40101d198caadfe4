"""How large a fleet holds the SOP's windows on this machine? The fleet drill at growing N.

A script, not a test: it runs the fleet drill (drills/test_fleet.py) once per fleet size
through ``sopdrill run``, each a fresh deployment of N agents against one dispatcher and one
Discord bot, the dispatcher killed. It records, per N, whether the drill passed (every
agent declared OFFLINE in the window of its own last heartbeat, one alert each to 0x01,
every log re-synced, the first agent's whole history judged) and the spread of detection
and delivery over the fleet, then states the largest N that held.

    .venv/bin/python bench/fleet.py                          # N = 10, 50, 100, 150
    .venv/bin/python bench/fleet.py --agents 10 50 --time-scale 60
    .venv/bin/python bench/fleet.py --backend docker --agents 10 25 50

The sizes run in the order given and stop at the first that fails (a larger one would only
fail too). Figures go to bench/results/fleet.json (fleet-docker.json for the docker backend,
each agent beyond the first a container of its own); each run's artifacts stay under --out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = {
    "local": REPO / "bench" / "results" / "fleet.json",
    "docker": REPO / "bench" / "results" / "fleet-docker.json",
}
SOPDRILL = Path(sys.executable).parent / "sopdrill"
EVIDENCE_FILE = "evidence.json"  # sop/evidence.py's name for it (a script: no import)
DEFAULT_SIZES = (10, 50, 100, 150)


def fleet_figures(out: Path) -> dict[str, Any]:
    """The fleet drills' outcome (passed only if every one passed; else the first that did
    not, with its reason) and the kill drill's figures, from one run's evidence.json."""
    evidence = json.loads((out / EVIDENCE_FILE).read_text(encoding="utf-8"))
    journal = evidence["journal"]
    drills = journal["drills"] if isinstance(journal, dict) else journal
    fleet_drills = [d for d in drills if "test_fleet" in str(d.get("nodeid"))]
    missed = [d for d in fleet_drills if d.get("outcome") != "passed"]
    verdict = missed[0] if missed else {"outcome": "passed" if fleet_drills else "not run"}
    with_figures = [d for d in fleet_drills if d.get("meta", {}).get("fleet")]
    figures = dict(with_figures[0]["meta"]["fleet"]) if with_figures else {}
    return {
        "drills": {str(d.get("nodeid")).rsplit("::", 1)[-1]: d["outcome"] for d in fleet_drills},
        "outcome": verdict.get("outcome"),
        "reason": " ".join(str(verdict.get("reason") or "").split())[:300],
        "channels": figures.get("channels"),
        "detection_spread": figures.get("detection_spread"),
        "delivery_spread": figures.get("delivery_spread"),
    }


def run_one(agents: int, time_scale: str, out: Path, backend: str = "local") -> dict[str, Any]:
    """One ``sopdrill run`` of the fleet drill with ``agents`` agents; its figures."""
    command = [
        str(SOPDRILL),
        "run",
        "--suite",
        "nightly",
        "--backend",
        backend,
        "--time-scale",
        time_scale,
        "--out",
        str(out),
        "--",
        "-k",
        "test_fleet",
        f"--drill-agents={agents}",
    ]
    began = time.monotonic()
    done = subprocess.run(command, cwd=REPO, env=os.environ.copy(), check=False)
    wall = round(time.monotonic() - began, 1)
    if not (out / EVIDENCE_FILE).is_file():
        return {"agents": agents, "outcome": "no evidence", "exit": done.returncode, "wall_s": wall}
    return {"agents": agents, "exit": done.returncode, "wall_s": wall, **fleet_figures(out)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--agents", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--time-scale", default="60")
    parser.add_argument("--backend", default="local", choices=sorted(RESULTS))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="sopdrill-fleet-"))
    runs: list[dict[str, Any]] = []
    for agents in args.agents:
        print(f"bench/fleet: N = {agents} ...", flush=True)
        result = run_one(agents, args.time_scale, out / f"n{agents}", args.backend)
        runs.append(result)
        print(f"bench/fleet: N = {agents}: {json.dumps(result)}", flush=True)
        if result.get("outcome") != "passed":
            break
    held = [r["agents"] for r in runs if r.get("outcome") == "passed"]
    record = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores",
        "backend": args.backend,
        "time_scale": float(args.time_scale),
        "largest_held": max(held) if held else None,
        "runs": runs,
        "command": "python bench/fleet.py " + " ".join(sys.argv[1:]),
    }
    RESULTS[args.backend].write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"bench/fleet: largest fleet that held: {record['largest_held']} (artifacts: {out})")
    return 0 if held and len(held) == len(runs) else 1


if __name__ == "__main__":
    sys.exit(main())
