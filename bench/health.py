"""Benchmark: `GET /api/health` under `appliance serve` against a bare Falcon app under gunicorn.

Both servers run side by side with the same worker class (gthread), workers and threads. A
pool of client processes drives keep-alive HTTP/1.1 connections to 127.0.0.1: one warm-up
second per server, then the servers take turns (A/B per round) so that drift on the machine
hits both. Every latency is recorded; the table shows requests/s, p50, p99 and errors, then
the appliance/bare ratios. Exits 1 if any request failed.

    .venv/bin/python bench/health.py [--workers 2] [--threads 4] [--duration 10] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.pool import Pool
from pathlib import Path

import falcon
import gunicorn

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PATH = "/api/health"
HOST = "127.0.0.1"


@dataclass
class Result:
    """What one server answered during the measured phases (all rounds together)."""

    name: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + self.errors

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def percentile(self, p: int) -> float:
        if len(self.latencies_ms) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[p - 1]


# --- load generator (runs in the pool's processes) -------------------------------------------


def _connection_loop(port: int, barrier: threading.Barrier, duration: float, limit: int,
                     latencies: list[float], errors: list[str]) -> None:
    """One keep-alive connection: GET as fast as answers come until the deadline or the limit."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.connect()
    except OSError as exc:
        errors.append(f"connect: {exc}")  # the loop retries; never leave the barrier waiting
    barrier.wait()
    deadline = time.monotonic() + duration
    sent = 0
    while sent < limit and time.monotonic() < deadline:
        sent += 1
        start = time.perf_counter()
        try:
            conn.request("GET", PATH)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            conn.close()  # http.client reconnects on the next request
            continue
        elapsed = (time.perf_counter() - start) * 1000
        if response.status == 200:
            latencies.append(elapsed)
        else:
            errors.append(f"HTTP {response.status}")
    conn.close()


def drive(port: int, connections: int, duration: float, limit: int) -> tuple[list[float], list[str],
                                                                             float, float]:
    """Runs `connections` threads against one port; returns latencies, errors and the time span."""
    barrier = threading.Barrier(connections + 1)
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors: list[str] = []
    threads = [
        threading.Thread(target=_connection_loop,
                         args=(port, barrier, duration, limit, latencies[i], errors))
        for i in range(connections)
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.monotonic()  # CLOCK_MONOTONIC: comparable across the pool's processes
    for thread in threads:
        thread.join()
    return [x for chunk in latencies for x in chunk], errors, started, time.monotonic()


def load(pool: Pool, processes: int, port: int, args: argparse.Namespace, duration: float) -> Result:
    """Spreads `--concurrency` connections over the pool's processes for one phase."""
    shares = [args.concurrency // processes + (i < args.concurrency % processes)
              for i in range(processes)]
    per_connection = -(-args.max_requests // args.concurrency)
    jobs = [(port, share, duration, per_connection) for share in shares if share]
    result = Result(name="")
    spans = []
    for latencies, errors, started, ended in pool.starmap(drive, jobs):
        result.latencies_ms.extend(latencies)
        result.errors += len(errors)
        spans.append((started, ended))
        for message in sorted(set(errors))[:3]:
            print(f"  error on port {port}: {message}", file=sys.stderr)
    result.seconds = max(e for _, e in spans) - min(s for s, _ in spans)
    return result


# --- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    """A server subprocess with its output in a log file; stopped with SIGTERM."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], port: int, log: Path):
        self.name, self.port, self._log_path = name, port, log
        self._log = log.open("wb")
        self.process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=self._log,
                                        stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 30) -> bytes:
        """Polls the health endpoint until it answers 200; returns the body."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log()}")
            conn = http.client.HTTPConnection(HOST, self.port, timeout=1)
            try:
                conn.request("GET", PATH)
                response = conn.getresponse()
                if response.status == 200:
                    return response.read()
            except OSError:
                time.sleep(0.1)
            finally:
                conn.close()
        raise RuntimeError(f"{self.name} did not answer in {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self._log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def start_servers(tmp: Path, args: argparse.Namespace, servers: list[Server]) -> None:
    """Migrates a fresh SQLite data dir, then starts the appliance and the bare app."""
    (tmp / "empty.toml").write_text("")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
    env.update({
        "APPLIANCE_CONFIG": str(tmp / "empty.toml"),  # never /etc/appliance/appliance.toml
        "APPLIANCE_APP_DATA_DIR": str(tmp / "var"),
        "APPLIANCE_AUTH_JWT_SECRET": secrets.token_hex(20),
        "APPLIANCE_SERVER_BIND": f"{HOST}:{port}",
        "APPLIANCE_SERVER_WORKERS": str(args.workers),
        "APPLIANCE_SERVER_THREADS": str(args.threads),
    })
    migrate = subprocess.run([sys.executable, "-m", "appliance", "migrate"], env=env, cwd=ROOT,
                             capture_output=True, text=True)
    if migrate.returncode:
        raise RuntimeError(f"appliance migrate failed:\n{migrate.stdout}{migrate.stderr}")
    servers.append(Server("appliance", [sys.executable, "-m", "appliance", "serve"], env, port,
                          tmp / "appliance.log"))
    port = free_port()
    gunicorn_bin = str(Path(sys.executable).parent / "gunicorn")
    servers.append(Server("bare", [
        gunicorn_bin, "--worker-class", "gthread", "--workers", str(args.workers),
        "--threads", str(args.threads), "--bind", f"{HOST}:{port}", "--timeout", "60",
        "--graceful-timeout", "20", "--no-control-socket", "--chdir", str(BENCH), "bare_app:app",
    ], env, port, tmp / "bare.log"))
    bodies = [json.loads(server.wait_ready()) for server in servers]
    if bodies[0] != bodies[1]:
        raise RuntimeError(f"the two servers answer different bodies: {bodies}")


# --- report ----------------------------------------------------------------------------------


def report(results: list[Result]) -> None:
    """Prints the table and the appliance/bare ratios (above 1x: the appliance is slower for p50/p99)."""
    print(f"\n{'server':<10} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for r in results:
        print(f"{r.name:<10} {r.requests:>9} {r.rate:>9.0f} {r.percentile(50):>8.2f} "
              f"{r.percentile(99):>8.2f} {r.errors:>7}")
    app, bare = results

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}x" if b else "n/a"

    print(f"\nappliance/bare: req/s {ratio(app.rate, bare.rate)}, "
          f"p50 {ratio(app.percentile(50), bare.percentile(50))}, "
          f"p99 {ratio(app.percentile(99), bare.percentile(99))}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of both servers")
    parser.add_argument("--threads", type=int, default=4, help="gthread threads per worker")
    parser.add_argument("--duration", type=float, default=10,
                        help="measured seconds per server, split over the rounds")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--processes", type=int, default=2, help="load generator processes")
    parser.add_argument("--rounds", type=int, default=2, help="A/B turns per server")
    parser.add_argument("--max-requests", type=int, default=1_000_000,
                        help="cap on requests per server and round")
    args = parser.parse_args(argv)
    processes = max(1, min(args.processes, args.concurrency))

    print(f"GET {PATH}: {args.workers} workers x {args.threads} threads (gthread), "
          f"{args.concurrency} connections from {processes} processes, {args.duration:g} s per "
          f"server in {args.rounds} rounds")
    print(f"{os.cpu_count()} cores, Python {platform.python_version()}, falcon {falcon.__version__}, "
          f"gunicorn {gunicorn.__version__}")

    servers: list[Server] = []
    results = [Result("appliance"), Result("bare")]
    failed = 0
    with tempfile.TemporaryDirectory(prefix="bench-health-") as tmp, \
            multiprocessing.get_context("spawn").Pool(processes) as pool:
        try:
            start_servers(Path(tmp), args, servers)
            for server in servers:
                failed += load(pool, processes, server.port, args, 1.0).errors  # warm-up
            for turn in range(args.rounds):
                for server, total in zip(servers, results, strict=True):
                    phase = load(pool, processes, server.port, args, args.duration / args.rounds)
                    print(f"  round {turn + 1} {server.name:<9} {phase.requests:>7} requests "
                          f"in {phase.seconds:.2f} s ({phase.rate:.0f} req/s)")
                    total.latencies_ms += phase.latencies_ms
                    total.errors += phase.errors
                    total.seconds += phase.seconds
        finally:
            for server in servers:
                server.stop()
    report(results)
    failed += sum(r.errors for r in results)
    if failed:
        print(f"\nFAILED: {failed} requests did not answer 200", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
