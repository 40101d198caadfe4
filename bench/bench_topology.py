"""Benchmark the topology backends: image builds, start times, fault-injection latency.

A script, not a test: run it by hand or from CI and read the table it prints.

    .venv/bin/python bench/bench_topology.py                # everything (~4-5 min)
    .venv/bin/python bench/bench_topology.py --skip-cold    # cached builds only (~2 min)
    .venv/bin/python bench/bench_topology.py --backends local
    .venv/bin/python bench/bench_topology.py --skip-images --skip-faults --backends local --repeat 5

Figures: the base and SUT image build time cold (``--rebuild``) and cached; the time
``up`` and ``down`` take for the local and the docker backend side by side, each with the
CPU seconds the machine's cores were busy meanwhile and the floor that sets (those seconds
over the cores: no ordering of the start finishes under it); and for each kind of fault
the latency from the ``inject()`` call to the effect observed from outside (a service stops
answering, the provider answers 429, the volume is full, ...). Written to
bench/results/topology.json as well. Targets (issue 12): local up 1 s, down 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
from parallel import timed_cpu

from fixtures.clock import DrillClock
from fixtures.deployment import Deployment
from fixtures.evidence import EvidenceRecorder
from fixtures.faults import FaultFactory, FaultUnavailable
from fixtures.topology import BACKENDS, Topology, create_topology
from fixtures.waiting import wait_until
from sop.timescale import TimeScale

#: Wall seconds an effect may take to show before the measurement gives up.
EFFECT_TIMEOUT_S = 30.0
#: Wall seconds one outside look may take (a silent service counts as "not answering").
LOOK_TIMEOUT_S = 0.5
MIB = 1024**2
#: The scale the topologies run at (CI's nightly scale).
TIME_SCALE = 60.0
RESULTS = Path(__file__).resolve().parent / "results" / "topology.json"
TARGETS_S = {"up": 1.0, "down": 0.5}


def answers(url: str) -> int | None:
    """The HTTP status ``url`` answers with from 127.0.0.1, None when it does not answer."""
    try:
        return httpx.get(url, timeout=LOOK_TIMEOUT_S, trust_env=False).status_code
    except httpx.HTTPError:
        return None


def bench_images(cold: bool) -> list[tuple[str, float]]:
    """Build times of the base and SUT images: cold (--rebuild) when asked, then cached."""
    from fixtures.images import ImageBuilder, connect

    builder = ImageBuilder(connect(), progress=lambda line: None)
    rows: list[tuple[str, float]] = []
    kinds = [("cold", True), ("cached", False)] if cold else [("cached", False)]
    for kind, rebuild in kinds:
        started = time.monotonic()
        base = builder.ensure_base(rebuild=rebuild)
        rows.append((f"base image, {kind}", time.monotonic() - started))
        started = time.monotonic()
        builder.ensure_sut(base, rebuild=rebuild)
        rows.append((f"SUT image, {kind}", time.monotonic() - started))
    return rows


def fault_effects(
    faults: FaultFactory,
) -> dict[str, tuple[Callable[[], object], Callable[[], bool]]]:
    """Fault kind -> (make the fault, the effect seen from outside once it holds)."""
    d = faults.description
    dispatcher_down = lambda: answers(f"{d.dispatcher}/healthz") is None  # noqa: E731
    return {
        "kill dispatcher (SIGKILL)": (lambda: faults.kill("dispatcher"), dispatcher_down),
        "hang dispatcher (SIGSTOP)": (lambda: faults.hang("dispatcher"), dispatcher_down),
        "stop ollama (process manager)": (
            lambda: faults.stop("ollama"),
            lambda: answers(f"{d.ollama}/api/tags") != 200,
        ),
        "provider 429 storm": (
            faults.provider_storm,
            lambda: (
                httpx.post(
                    f"{d.provider}/api/chat", json={"model": "m", "messages": []}, trust_env=False
                ).status_code
                == 429
            ),
        ),
        "network toxic (latency)": (
            lambda: faults.network("latency", latency=1000),
            lambda: bool(httpx.get(f"{d.toxiproxy}/proxies/dispatcher/toxics").json()),
        ),
        "fill disk to 95 %": (
            lambda: faults.fill_disk(95.0),
            lambda: True,  # inject returns once the host's statvfs says 95 %
        ),
        "RAM burner 10 %": (
            lambda: faults.burn_ram(allowlisted=True, percent=10.0),
            lambda: True,  # inject returns once the burner is resident and named
        ),
        "pause control host": (lambda: faults.pause_host("control"), dispatcher_down),
        "kill control host": (lambda: faults.kill_host("control"), dispatcher_down),
        "partition control host": (lambda: faults.partition("control"), dispatcher_down),
        "blackhole ops<->proxy (iptables)": (
            lambda: faults.blackhole("ops", "proxy"),
            lambda: True,
        ),
        "bandwidth ops 256 kbit (tc tbf)": (lambda: faults.bandwidth("ops", 256), lambda: True),
        "cpu limit ops 0.5": (lambda: faults.cpu_limit("ops", 0.5), lambda: True),
        # inject returns once the hog ended; the effect is that the kernel's OOM killer did it.
        "memory limit ops -> OOM kill": (
            lambda: faults.memory_limit("ops", 1536 * MIB, 1800 * MIB),
            lambda: faults.made[-1].exit_status == -9 and bool(faults.made[-1].oom_events),
        ),
    }


def bench_faults(topology: Topology, scratch: Path) -> list[tuple[str, float | str]]:
    """Inject each fault kind once on a running topology; latency from call to effect."""
    evidence = EvidenceRecorder(scratch / "evidence")
    faults = FaultFactory(
        Deployment.of(topology), DrillClock(TimeScale(TIME_SCALE), evidence), evidence
    )
    rows: list[tuple[str, float | str]] = []
    for kind, (make, effect) in fault_effects(faults).items():
        try:
            fault = make()
        except FaultUnavailable as exc:
            rows.append((kind, f"n/a ({str(exc)[:60]})"))
            continue
        assert hasattr(fault, "inject")
        started = time.monotonic()
        try:
            fault.inject()  # type: ignore[attr-defined]
            wait_until(effect, timeout_s=EFFECT_TIMEOUT_S, interval_s=0.01, describe=kind)
            rows.append((kind, time.monotonic() - started))
        except Exception as exc:
            rows.append((kind, f"failed ({type(exc).__name__}: {str(exc)[:60]})"))
        finally:
            with suppress(Exception):
                fault.revert()  # type: ignore[attr-defined]
            # The next fault starts from a healthy SUT.
            with suppress(Exception):
                wait_until(
                    lambda: all(
                        answers(f"{faults.description.url(s)}/healthz") == 200
                        for s in ("dispatcher", "agent", "ollama")
                    ),
                    timeout_s=EFFECT_TIMEOUT_S,
                    interval_s=0.05,
                    describe="the SUT healthy again",
                )
    return rows


def bench_backend(
    backend: str, with_faults: bool
) -> tuple[dict[str, float], list[tuple[str, float | str]]]:
    """Start and stop one ``backend`` topology; its fault latencies in between. Each phase:
    its wall seconds, and the machine's CPU seconds as ``<phase>_cpu``."""
    with tempfile.TemporaryDirectory(prefix=f"sopdrill-bench-{backend}-") as scratch:
        topology = create_topology(backend, Path(scratch) / "state", TimeScale(TIME_SCALE))
        times: dict[str, float] = {}
        times["up"], times["up_cpu"] = timed_cpu(topology.up)
        try:
            rows = bench_faults(topology, Path(scratch)) if with_faults else []
        finally:
            times["down"], times["down_cpu"] = timed_cpu(topology.down)
    return times, rows


def phase_record(runs: list[dict[str, float]], cores: int) -> dict[str, dict[str, Any]]:
    """Each phase over ``runs``: wall seconds (each, median), CPU seconds (median) and the
    floor the CPU sets on ``cores``."""
    record: dict[str, dict[str, Any]] = {}
    for phase, target in TARGETS_S.items():
        walls = [round(run[phase], 3) for run in runs]
        cpu = statistics.median(run[f"{phase}_cpu"] for run in runs)
        record[phase] = {
            "wall_s": walls,
            "median_s": round(statistics.median(walls), 3),
            "cpu_s_median": round(cpu, 2),
            "cpu_floor_s": round(cpu / cores, 2),
            "target_s": target,
        }
    return record


def _phase_cell(p: dict[str, Any]) -> str:
    return f"{p['median_s']:.2f} s (CPU {p['cpu_s_median']:.2f} s, floor {p['cpu_floor_s']:.2f})"


def _seconds(value: float | str) -> str:
    return f"{value:8.2f} s" if isinstance(value, float) else f"  {value}"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-cold", action="store_true", help="no cold (--rebuild) builds")
    parser.add_argument("--skip-images", action="store_true", help="no image builds at all")
    parser.add_argument("--skip-faults", action="store_true", help="no fault latencies")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated (default: local,docker)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="up and down this many times (faults once)"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat: expected 1 or more, got {args.repeat}")
    backends = [b for b in args.backends.split(",") if b]
    print("sopdrill bench: topology backends", flush=True)
    if "docker" in backends and not args.skip_images:
        print("\n== image builds ==", flush=True)
        for name, seconds in bench_images(cold=not args.skip_cold):
            print(f"{name:<40}{_seconds(seconds)}", flush=True)
    runs: dict[str, list[dict[str, float]]] = {b: [] for b in backends}
    results = {}
    for b in backends:
        results[b] = bench_backend(b, not args.skip_faults)
        runs[b].append(results[b][0])
        runs[b] += [bench_backend(b, False)[0] for _ in range(args.repeat - 1)]
    cores = os.cpu_count() or 1
    record = {b: phase_record(runs[b], cores) for b in backends}
    print(f"\n== topology start/stop (median of {args.repeat}; CPU: the machine's cores) ==")
    print(f"{'':<12}" + "".join(f"{b:>34}" for b in backends))
    for phase in TARGETS_S:
        print(f"{phase:<12}" + "".join(f"{_phase_cell(record[b][phase]):>34}" for b in backends))
    record_json: dict[str, object] = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        "time_scale": TIME_SCALE,
        "cores": cores,
        "repeat": args.repeat,
        "backends": record,
    }
    if not args.skip_faults:
        record_json["faults_s"] = {b: dict(results[b][1]) for b in backends}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record_json, indent=2) + "\n", encoding="utf-8")
    if not args.skip_faults:
        print("\n== fault injection latency (inject() call -> effect seen) ==")
        kinds = [kind for kind, _ in results[backends[0]][1]]
        print(f"{'fault':<40}" + "".join(f"{b:>16}" for b in backends))
        for index, kind in enumerate(kinds):
            cells = "".join(f"{_seconds(results[b][1][index][1])[:16]:>16}" for b in backends)
            print(f"{kind:<40}{cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
