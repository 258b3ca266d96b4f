"""Benchmark: uploading a 25 MB encrypted photo through `appliance serve` against putting the
same bytes straight into the same S3 server (SeaweedFS `weed mini`) with the minio SDK.

One run starts SeaweedFS (the test suite's launcher), migrates a fresh SQLite database, starts
`appliance serve` with the S3 store, creates a practice and a patient with the reference
client, then alternates appliance upload / direct put for `--rounds` rounds after one warm-up
of each. It prints every round, the median throughputs and their ratio, and the server's peak
memory growth: the resident memory of the gunicorn master and its workers, sampled every few
milliseconds during the measured uploads, minus the idle level after the warm-up. A server that
buffered the whole photo would grow by at least its size; a streaming one by its part buffers.

    .venv/bin/python bench/upload.py [--rounds 5] [--megabytes 25] [--workers 1] [--threads 4]
"""

from __future__ import annotations

import argparse
import io
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the SeaweedFS launcher lives with the tests

from health import Server, free_port  # noqa: E402  (this directory's health benchmark)

from appliance import envelopes  # noqa: E402
from appliance.client.api import Identity, StaffClient  # noqa: E402
from tests.support.s3 import fresh_bucket, start_seaweed  # noqa: E402

HOST = "127.0.0.1"
PART_BYTES = 5 * 1024 * 1024  # what the appliance's S3 store uses, for a fair direct put


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def family(pid: int) -> list[int]:
    """The process and its direct children (the gunicorn master and its workers)."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        children.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return [pid, *children]


class MemoryWatch:
    """Samples the summed RSS of a process family in a thread; `peak` since the last reset."""

    def __init__(self, pid: int, interval: float = 0.005):
        self._pid = pid
        self._interval = interval
        self._stop = threading.Event()
        self.peak = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def current(self) -> int:
        return sum(rss_bytes(p) for p in family(self._pid))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            time.sleep(self._interval)

    def reset(self) -> None:
        self.peak = 0

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class Appliance(Server):
    """`appliance serve` on the benchmark's store, ready once /api/health/ready answers."""

    def __init__(self, tmp: Path, env: dict[str, str], args: argparse.Namespace):
        port = free_port()
        self.url = f"http://{HOST}:{port}"
        (tmp / "empty.toml").write_text("")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
        self.env.update(env)
        self.env.update({
            "APPLIANCE_CONFIG": str(tmp / "empty.toml"),  # never /etc/appliance/appliance.toml
            "APPLIANCE_APP_DATA_DIR": str(tmp / "var"),
            "APPLIANCE_AUTH_JWT_SECRET": secrets.token_hex(20),
            "APPLIANCE_SERVER_BIND": f"{HOST}:{port}",
            "APPLIANCE_SERVER_WORKERS": str(args.workers),
            "APPLIANCE_SERVER_THREADS": str(args.threads),
            "APPLIANCE_LOG_LEVEL": "WARNING",
        })
        migrate = subprocess.run([sys.executable, "-m", "appliance", "migrate"], env=self.env, cwd=ROOT,
                                 capture_output=True, text=True)
        if migrate.returncode:
            raise RuntimeError(f"appliance migrate failed:\n{migrate.stdout}{migrate.stderr}")
        super().__init__("appliance serve", [sys.executable, "-m", "appliance", "serve"], self.env,
                         port, tmp / "appliance.log")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"appliance serve exited:\n{self.log()}")
            try:
                if requests.get(self.url + "/api/health/ready", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"appliance serve was not ready in 30 s:\n{self.log()}")


def plain_size_for(ciphertext_bytes: int) -> int:
    """The plaintext size whose payload is at most `ciphertext_bytes` long."""
    chunk = envelopes.CHUNK_BYTES + envelopes.STREAM_CHUNK_OVERHEAD
    chunks = -(-(ciphertext_bytes - envelopes.STREAM_HEADER_BYTES) // chunk)
    return ciphertext_bytes - envelopes.STREAM_HEADER_BYTES - chunks * envelopes.STREAM_CHUNK_OVERHEAD


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--megabytes", type=float, default=25.0,
                        help="ciphertext size in MB (10^6); above 25 the server's limit is raised")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)

    s3 = start_seaweed()
    appliance = None
    watch = None
    try:
        with tempfile.TemporaryDirectory(prefix="appliance-bench-") as tmp_name:
            tmp = Path(tmp_name)
            appliance_bucket, direct_bucket = fresh_bucket(), fresh_bucket()
            target = int(args.megabytes * 1_000_000)
            limit = {"APPLIANCE_STORAGE_MAX_PHOTO_BYTES": str(max(25 * 1024 * 1024, target + 1))}
            appliance = Appliance(tmp, {**s3.environment(appliance_bucket), **limit}, args)
            staff = StaffClient(appliance.url, timeout=300)
            staff.register("bench@praxis.example", "ein-langes-passwort", "Dr. Bench")
            staff.create_practice("Praxis Bench", "bench@praxis.example", "tresor-passwort-1")
            patient = staff.create_patient(Identity("Ben", "Chmark", "1970-01-01"))

            image = os.urandom(plain_size_for(target))
            session = requests.Session()
            direct = s3.client(timeout=120)
            direct.make_bucket(direct_bucket)

            def signed_body() -> tuple[bytes, str]:
                """A new photo (own id and signature) as the reference client sends it, encrypted
                and joined before the clock starts: the rounds time the transfer only."""
                body = staff.photo_body(patient["id"], io.BytesIO(image), "BEFORE", "CHEEKS",
                                        "2026-11-28T09:00:00Z")
                return b"".join(body), body.content_type

            def through_appliance() -> float:
                raw, content_type = signed_body()
                headers = {"Authorization": f"Bearer {staff.token}", "Content-Type": content_type}
                start = time.perf_counter()
                response = session.post(f"{appliance.url}/api/photos", data=raw, headers=headers,
                                        timeout=300)
                elapsed = time.perf_counter() - start
                if response.status_code != 201:
                    raise RuntimeError(f"upload failed: {response.status_code} {response.text[:300]}")
                return elapsed

            ciphertext = signed_body()[0]  # the direct put stores as many bytes as one upload body

            def straight_to_s3() -> float:
                start = time.perf_counter()
                direct.put_object(direct_bucket, f"bench/{secrets.token_hex(8)}", io.BytesIO(ciphertext),
                                  length=len(ciphertext), part_size=PART_BYTES)
                return time.perf_counter() - start

            through_appliance()
            straight_to_s3()
            watch = MemoryWatch(appliance.process.pid)
            time.sleep(0.5)
            idle = watch.current()
            size_mb = len(ciphertext) / 1e6
            print(f"photo: {len(ciphertext):,} bytes per upload body (ciphertext and signed fields);"
                  f" appliance: {args.workers} worker(s) x {args.threads} threads, S3 store;"
                  f" SeaweedFS weed mini on {s3.endpoint}")
            times: dict[str, list[float]] = {"appliance": [], "direct": []}
            peaks = []
            for round_no in range(1, args.rounds + 1):
                watch.reset()
                times["appliance"].append(through_appliance())
                peaks.append(watch.peak)
                times["direct"].append(straight_to_s3())
                print(f"round {round_no}: appliance {size_mb / times['appliance'][-1]:7.1f} MB/s"
                      f"   minio direct {size_mb / times['direct'][-1]:7.1f} MB/s"
                      f"   server RSS peak +{(peaks[-1] - idle) / 2**20:6.1f} MiB")
            rate = {name: size_mb / statistics.median(values) for name, values in times.items()}
            print()
            print(f"{'':22}{'median MB/s':>12}{'best MB/s':>12}")
            for name, values in times.items():
                print(f"{name:22}{rate[name]:12.1f}{size_mb / min(values):12.1f}")
            print(f"throughput appliance/direct: {rate['appliance'] / rate['direct']:.2f}x")
            growth = max(peaks) - idle
            print(f"server memory: idle {idle / 2**20:.1f} MiB (master + workers), peak growth during"
                  f" uploads {growth / 2**20:.1f} MiB = {growth / len(ciphertext):.2f}x the photo")
            stored = s3.keys(appliance_bucket)
            if len(stored) != args.rounds + 1:
                raise RuntimeError(f"expected {args.rounds + 1} stored photos, found {len(stored)}")
    finally:
        if watch is not None:
            watch.close()
        if appliance is not None:
            appliance.stop()
        s3.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
