"""The embedded Toxiproxy against a direct connection, side by side in one run, no toxics.

A script, not a test (issue 12's performance record): every drill's probe and heartbeat
crosses this proxy, so what it adds is measurement error in every detection instant.

    .venv/bin/python bench/proxy.py                     # 5000 ping-pongs, 512 MiB bulk
    .venv/bin/python bench/proxy.py --pings 500 --bulk-mib 64

Figures: the added latency of a small ping-pong (64 bytes each way), p50 and p99 over
``--pings`` round trips, and the throughput of one bulk stream (client -> upstream) as
MB/s and as a ratio of the direct figure. Printed, and written to bench/results/proxy.json.
Targets (issue 12): at most 100 us added at p50 and p99, at least 1 GB/s.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "proxy.json"
PING = b"p" * 64
CHUNK = 256 * 1024
MIB = 1024 * 1024
#: Round trips before the measured ones (connection set-up, the proxy's first chunk).
WARMUP = 200


def _serve(handler: Callable[[socket.socket], None]) -> tuple[socket.socket, int]:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handler, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener, port


def _echo(conn: socket.socket) -> None:
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while data := conn.recv(65536):
            conn.sendall(data)


def _sink(conn: socket.socket) -> None:
    buffer = bytearray(CHUNK)
    with conn:
        while conn.recv_into(buffer):
            pass
        # The sender's half-close reached us: say so, so its clock stops when all arrived.
        conn.sendall(b"done")


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def round_trips_us(port: int, count: int) -> list[float]:
    """Microseconds of each of ``count`` ping-pongs over one connection to ``port``."""
    times = []
    with _connect(port) as sock:
        for index in range(WARMUP + count):
            started = time.perf_counter()
            sock.sendall(PING)
            got = 0
            while got < len(PING):
                got += len(sock.recv(65536))
            if index >= WARMUP:
                times.append((time.perf_counter() - started) * 1e6)
    return times


def bulk_mb_s(port: int, mib: int) -> float:
    """MB/s of ``mib`` MiB sent over one connection to ``port`` until the sink has it all."""
    payload = b"x" * CHUNK
    with _connect(port) as sock:
        started = time.perf_counter()
        for _ in range(mib * MIB // CHUNK):
            sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(16) == b"done", "the sink did not see the end of the stream"
        seconds = time.perf_counter() - started
    return mib * MIB / seconds / 1e6


@contextmanager
def _process(*command: str) -> Iterator[dict[str, Any]]:
    """Run ``command``; its first stdout line (JSON) while it runs; killed after."""
    process = subprocess.Popen(
        [sys.executable, *command], stdout=subprocess.PIPE, cwd=REPO, text=True
    )
    try:
        assert process.stdout is not None
        yield json.loads(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


@contextmanager
def proxied(api_url: str, name: str, upstream: int) -> Iterator[int]:
    """A proxy ``name`` to ``upstream`` through the proxy's API; its listen port."""
    with httpx.Client(base_url=api_url, trust_env=False) as api:
        made = api.post(
            "/proxies",
            json={"name": name, "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{upstream}"},
        )
        made.raise_for_status()
        yield int(made.json()["listen"].rpartition(":")[2])
        api.delete(f"/proxies/{name}")


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def measure(pings: int, bulk_mib: int) -> dict[str, Any]:
    """Both figures, direct and through the embedded proxy, in one run."""
    # Three processes, as in a deployment: the servers, the proxy, and this client (one
    # process would make the proxy's event loop and the client take turns at one GIL).
    with (
        _process(__file__, "--serve") as ports,
        _process("-m", "fixtures.proxy", "--port", "0") as proxy,
    ):
        echo_port, sink_port = int(ports["echo"]), int(ports["sink"])
        with proxied(proxy["url"], "bench-echo", echo_port) as via_echo:
            direct_rt = round_trips_us(echo_port, pings)
            proxy_rt = round_trips_us(via_echo, pings)
        with proxied(proxy["url"], "bench-sink", sink_port) as via_sink:
            direct_bulk = bulk_mb_s(sink_port, bulk_mib)
            proxy_bulk = bulk_mb_s(via_sink, bulk_mib)
    latency = {
        q: {"direct_us": _pct(direct_rt, q), "proxy_us": _pct(proxy_rt, q)} for q in (50, 99)
    }
    for figures in latency.values():
        figures["added_us"] = figures["proxy_us"] - figures["direct_us"]
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "pings": pings,
        "ping_bytes": len(PING),
        "latency": {f"p{q}": {k: round(v, 1) for k, v in f.items()} for q, f in latency.items()},
        "bulk_mib": bulk_mib,
        "throughput": {
            "direct_mb_s": round(direct_bulk),
            "proxy_mb_s": round(proxy_bulk),
            "ratio": round(proxy_bulk / direct_bulk, 3),
        },
        "targets": {"added_us_max": 100, "proxy_mb_s_min": 1000},
    }


def serve() -> int:
    """``--serve``: the echo and the sink server, their ports as one JSON line, until killed."""
    _echo_listener, echo_port = _serve(_echo)
    _sink_listener, sink_port = _serve(_sink)
    print(json.dumps({"echo": echo_port, "sink": sink_port}), flush=True)
    threading.Event().wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pings", type=int, default=5000, help="measured round trips")
    parser.add_argument("--bulk-mib", type=int, default=512, help="MiB in the bulk stream")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args(argv)
    if args.serve:
        return serve()
    if args.pings < 100 or args.bulk_mib < 1:
        parser.error("--pings must be at least 100 (for a p99) and --bulk-mib at least 1")
    result = measure(args.pings, args.bulk_mib)
    for q, figures in result["latency"].items():
        print(
            f"ping-pong {q}: direct {figures['direct_us']} us, proxy {figures['proxy_us']} us, "
            f"added {figures['added_us']} us"
        )
    bulk = result["throughput"]
    print(
        f"bulk: direct {bulk['direct_mb_s']} MB/s, proxy {bulk['proxy_mb_s']} MB/s "
        f"({bulk['ratio']} of direct)"
    )
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
