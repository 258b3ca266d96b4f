"""The patient submit under load against a bare Falcon app doing one INSERT in one transaction.

Both servers run under gunicorn gthread (--workers x --threads, default 2 x 4) on one
PostgreSQL (the test suite's throwaway cluster, tests/support/postgres.py), the appliance as
the application role with row-level security, the bare app (bare_submit.py) as the same role.
The appliance gets its real requests: `POST /api/consent/{token}/submit` with a body the
reference client built (encrypted answers, sealed identity, lookupHash), each to a PENDING
consent form of its own (cloned in SQL from one made through the API), each from its own
client address (X-Forwarded-For from a trusted proxy, so the per-address rate limit applies
per patient as in production). Scenarios: all forms in one practice (a busy practice: one
audit chain) and spread over 8 practices.

Closed loop: --concurrency keep-alive connections over --processes client processes; phases
alternate appliance, bare, appliance, bare ... (--rounds pairs) so that load from elsewhere
hits both. Prints req/s, p50 and p99 per server and the appliance/bare ratios. See
bench/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import secrets
import sys
import tempfile
import threading
import time
from multiprocessing.pool import Pool
from pathlib import Path

import psycopg2
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from health import HOST, Result, Server, free_port  # noqa: E402

from appliance.client.api import Identity, PatientClient, StaffClient  # noqa: E402
from tests.support.app_role import AppRole  # noqa: E402
from tests.support.forms import FORM, SIGNATURE, fill  # noqa: E402
from tests.support.postgres import start_postgres  # noqa: E402

IDENTITY = Identity("Greta", "Großmann", "1975-06-01")
PASSWORD = "bench-passwort-für-abgaben"  # noqa: S105 (a throwaway database's account)
VAULT = "tresor-für-den-abgabe-bench"
TOKEN_DIGITS = 10


def _connection_loop(port: int, barrier: threading.Barrier, duration: float, work: list[tuple[str, bytes]],
                     address_base: int, latencies: list[float], errors: list[str]) -> None:
    """One keep-alive connection: submits its (token, body) pairs until the deadline."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    barrier.wait()
    deadline = time.monotonic() + duration
    for i, (token, body) in enumerate(work):
        if time.monotonic() >= deadline:
            break
        n = address_base + i
        headers = {"Content-Type": "application/json",
                   "X-Forwarded-For": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"}
        start = time.perf_counter()
        try:
            conn.request("POST", f"/api/consent/{token}/submit", body, headers)
            response = conn.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            conn.close()
            continue
        elapsed = (time.perf_counter() - start) * 1000
        if response.status == 200:
            latencies.append(elapsed)
        else:
            errors.append(f"HTTP {response.status} {answer[:120]!r}")
    conn.close()


def drive(port: int, duration: float, works: list[list[tuple[str, bytes]]], address_base: int):
    barrier = threading.Barrier(len(works) + 1)
    latencies: list[list[float]] = [[] for _ in works]
    errors: list[str] = []
    threads = [threading.Thread(target=_connection_loop,
                                args=(port, barrier, duration, work, address_base + i * 100_000,
                                      latencies[i], errors))
               for i, work in enumerate(works)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.monotonic()
    for thread in threads:
        thread.join()
    return [x for chunk in latencies for x in chunk], errors, started, time.monotonic()


class Tokens:
    """The consent forms of a scenario, handed out once each: (token, body) per submit."""

    def __init__(self, practices: list[tuple[str, bytes]], per_practice: int):
        self._practices = practices
        self._next = [0] * len(practices)
        self._per_practice = per_practice

    def take(self, connection: int, count: int) -> list[tuple[str, bytes]]:
        index = connection % len(self._practices)
        prefix, body = self._practices[index]
        first = self._next[index]
        last = min(first + count, self._per_practice)
        self._next[index] = last
        return [(f"{prefix}{n:0{TOKEN_DIGITS}d}", body) for n in range(first + 1, last + 1)]


def phase(pool: Pool, port: int, args, duration: float, tokens: Tokens, address_base: int) -> Result:
    per_connection = args.max_per_connection
    works = [tokens.take(c, per_connection) for c in range(args.concurrency)]
    shares = [works[i::args.processes] for i in range(args.processes)]
    result = Result(name="")
    spans = []
    jobs = [(port, duration, share, address_base + i * 10_000_000) for i, share in enumerate(shares)]
    for latencies, errors, started, ended in pool.starmap(drive, jobs):
        result.latencies_ms.extend(latencies)
        result.errors += len(errors)
        spans.append((started, ended))
        for message in sorted(set(errors))[:3]:
            print(f"  error on port {port}: {message}", file=sys.stderr)
    result.seconds = max(e for _, e in spans) - min(s for s, _ in spans)
    return result


def clone_forms(owner_url: str, template_id: str, prefix: str, count: int) -> None:
    """`count` PENDING copies of a consent form, tokens prefix + 10 digits (43 characters)."""
    with psycopg2.connect(owner_url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT column_name FROM information_schema.columns"
                       " WHERE table_name = 'consent_form' ORDER BY ordinal_position")
        columns = [c for (c,) in cursor.fetchall()]
        chosen = ["gen_random_uuid()" if c == "id" else
                  "encode(sha256(convert_to(%(prefix)s || lpad(g::text, %(digits)s, '0'), 'UTF8')), 'hex')"
                  if c == "token_hash" else c for c in columns]
        cursor.execute(f"INSERT INTO consent_form ({', '.join(columns)}) SELECT {', '.join(chosen)}"  # noqa: S608
                       " FROM consent_form, generate_series(1, %(count)s) AS g WHERE id = %(id)s",
                       {"prefix": prefix, "count": count, "id": template_id, "digits": TOKEN_DIGITS})
        cursor.execute("ANALYZE consent_form")


def practice_body(url: str, index: int) -> tuple[str, dict]:
    """A practice founded through the API, its one consent form and a submit body for it."""
    session = requests.Session()
    session.headers["X-Forwarded-For"] = f"192.0.2.{index + 1}"  # the sign-in limit is per address
    staff = StaffClient(url, session=session, timeout=120)
    email = f"inhaber-{index}-{secrets.token_hex(3)}@bench.example"
    staff.register(email, PASSWORD, f"Dr. Bench {index}")
    staff.create_practice(f"Praxis Bench {index}", email, VAULT, city="Kassel")
    consent = staff.create_consent("BOTOX")
    patient = PatientClient(url, session=session, timeout=120)
    opened = patient.open(consent["token"])
    form = opened.get("form") or FORM
    body = patient.submission(consent["link"], {**opened, "form": form}, IDENTITY, fill(form), SIGNATURE)
    return consent["id"], body


def report(results: list[Result], label: str) -> dict[str, float]:
    print(f"\n{label}")
    print(f"{'server':<10} {'submits':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for r in results:
        print(f"{r.name:<10} {r.requests:>8} {r.rate:>8.0f} {r.percentile(50):>8.1f} "
              f"{r.percentile(99):>8.1f} {r.errors:>7}")
    app, bare = results
    ratios = {"rate": app.rate / bare.rate if bare.rate else float("nan"),
              "p50": app.percentile(50) / bare.percentile(50),
              "p99": app.percentile(99) / bare.percentile(99)}
    print(f"appliance/bare: req/s {ratios['rate']:.2f}x, p50 {ratios['p50']:.2f}x, p99 {ratios['p99']:.2f}x")
    return ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--duration", type=float, default=10, help="seconds per server and scenario")
    parser.add_argument("--rounds", type=int, default=3, help="appliance/bare pairs per scenario")
    parser.add_argument("--max-per-connection", type=int, default=400,
                        help="submits per connection and phase")
    parser.add_argument("--scenarios", type=int, nargs="+", default=[1, 8], help="practices per scenario")
    args = parser.parse_args()

    server = start_postgres()
    role = AppRole(server, "appliance_bench_submit")
    servers: list[Server] = []
    try:
        owner_url, app_url = role.database("appliance_bench_submit")
        with psycopg2.connect(owner_url) as conn, conn.cursor() as cursor:
            cursor.execute("CREATE TABLE bare_submit (id uuid PRIMARY KEY, token text NOT NULL,"
                           " body text NOT NULL)")
            cursor.execute(f"GRANT SELECT, INSERT ON bare_submit TO {role.name}")
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        tmp = Path(tempfile.mkdtemp(prefix="appliance-bench-submit-"))
        (tmp / "empty.toml").write_text("")
        env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
        env.update({
            "APPLIANCE_CONFIG": str(tmp / "empty.toml"),
            "APPLIANCE_APP_DATA_DIR": str(tmp / "var"),
            "APPLIANCE_APP_PUBLIC_BASE_URL": "https://consent.example.test",
            "APPLIANCE_DATABASE_URL": app_url,
            "APPLIANCE_AUTH_JWT_SECRET": secrets.token_hex(20),
            "APPLIANCE_SERVER_WORKERS": str(args.workers),
            "APPLIANCE_SERVER_THREADS": str(args.threads),
            "APPLIANCE_SERVER_TRUSTED_PROXIES": "127.0.0.1",
            "BARE_DATABASE_URL": app_url,
        })
        port = free_port()
        servers.append(Server("appliance", [sys.executable, "-m", "appliance", "serve"],
                              {**env, "APPLIANCE_SERVER_BIND": f"{HOST}:{port}"}, port,
                              tmp / "appliance.log"))
        port = free_port()
        servers.append(Server("bare", [
            str(Path(sys.executable).parent / "gunicorn"), "--worker-class", "gthread",
            "--workers", str(args.workers), "--threads", str(args.threads), "--bind", f"{HOST}:{port}",
            "--timeout", "60", "--no-control-socket", "--chdir", str(ROOT / "bench"), "bare_submit:app",
        ], env, port, tmp / "bare.log"))
        for s in servers:
            s.wait_ready()
        appliance, bare = servers
        url = f"http://{HOST}:{appliance.port}"
        practices = [practice_body(url, i) for i in range(max(args.scenarios))]
        needed = args.concurrency * (args.max_per_connection * args.rounds + 5)
        print(f"PostgreSQL {version}, {os.cpu_count()} cores, Python {platform.python_version()},"
              f" {args.workers} workers x {args.threads} threads, {args.concurrency} connections from"
              f" {args.processes} processes, {args.duration:g} s per server in {args.rounds} rounds,"
              f" load average {os.getloadavg()[0]:.1f}")
        summary = {}
        with Pool(args.processes) as pool:
            for scenario in args.scenarios:
                per_practice = -(-needed // scenario)
                chosen = []
                for i, (template, body) in enumerate(practices[:scenario]):
                    prefix = f"b{scenario}p{i}" + secrets.token_hex(16)
                    prefix = prefix[:43 - TOKEN_DIGITS].ljust(43 - TOKEN_DIGITS, "x")
                    clone_forms(owner_url, template, prefix, per_practice)
                    chosen.append((prefix, json.dumps(body).encode()))
                # The bare app needs no rows: it gets tokens of its own, never claimed.
                tokens = {appliance.name: Tokens(chosen, per_practice), bare.name: Tokens(chosen, 10**9)}
                warm = argparse.Namespace(**{**vars(args), "max_per_connection": 5})
                for s in servers:
                    phase(pool, s.port, warm, 1, tokens[s.name], 1)
                results = [Result("appliance"), Result("bare")]
                for r in range(args.rounds):
                    for s, result in zip(servers, results, strict=True):
                        got = phase(pool, s.port, args, args.duration / args.rounds, tokens[s.name],
                                    1 + r * 2)
                        print(f"  {scenario} practice(s) round {r + 1} {s.name:<9} {got.requests:>6} submits"
                              f" in {got.seconds:.2f} s ({got.rate:.0f}/s)", flush=True)
                        result.latencies_ms += got.latencies_ms
                        result.errors += got.errors
                        result.seconds += got.seconds
                summary[scenario] = report(results, f"{scenario} practice(s):")
        print(f"\nload average after: {os.getloadavg()[0]:.1f}")
        return 1 if any(v != v for r in summary.values() for v in r.values()) else 0
    finally:
        for s in servers:
            s.stop()
        role.drop()
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
