"""Start-up: `appliance serve` from launch until /api/health answers, and its idle worker's
memory, against the bare Falcon app of bench/health.py under the same gunicorn settings.

Each pair starts the appliance (a migrated SQLite data directory, local storage, billing off:
the defaults) and then the bare app, `--pairs` times alternated; after the first answer each
server idles for a second, then the resident memory (VmRSS) of its workers is read. Prints
medians and the appliance/bare ratios. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from health import HOST, Server, free_port  # noqa: E402


def workers_rss_mb(master: int) -> list[float]:
    """VmRSS of the processes whose parent is `master` (gunicorn's workers), in MB."""
    sizes = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) != master:
                continue
            status = (entry / "status").read_text()
        except OSError:
            continue
        kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        sizes.append(kb / 1024)
    return sizes


def measure(name: str, command: list[str], env: dict[str, str], port: int, log: Path) -> tuple[float, float]:
    """(seconds from launch to the first 200 of /api/health, mean idle worker RSS in MB)."""
    began = time.perf_counter()
    server = Server(name, command, env, port, log)
    try:
        server.wait_ready(timeout=60)
        seconds = time.perf_counter() - began
        time.sleep(1)
        sizes = workers_rss_mb(server.process.pid)
        return seconds, statistics.mean(sizes) if sizes else float("nan")
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="appliance-bench-startup-"))
    (tmp / "empty.toml").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
    env.update({
        "APPLIANCE_CONFIG": str(tmp / "empty.toml"),
        "APPLIANCE_APP_DATA_DIR": str(tmp / "var"),
        "APPLIANCE_AUTH_JWT_SECRET": secrets.token_hex(20),
        "APPLIANCE_SERVER_WORKERS": str(args.workers),
        "APPLIANCE_SERVER_THREADS": str(args.threads),
    })
    subprocess.run([sys.executable, "-m", "appliance", "migrate"], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    gunicorn_bin = str(Path(sys.executable).parent / "gunicorn")
    print(f"{os.cpu_count()} cores, Python {platform.python_version()}, {args.workers} workers x"
          f" {args.threads} threads, {args.pairs} pairs, load average {os.getloadavg()[0]:.1f}")
    results: dict[str, list[tuple[float, float]]] = {"appliance": [], "bare": []}
    for _ in range(args.pairs):
        port = free_port()
        results["appliance"].append(measure(
            "appliance", [sys.executable, "-m", "appliance", "serve"],
            {**env, "APPLIANCE_SERVER_BIND": f"{HOST}:{port}"}, port, tmp / "appliance.log"))
        port = free_port()
        results["bare"].append(measure("bare", [
            gunicorn_bin, "--worker-class", "gthread", "--workers", str(args.workers),
            "--threads", str(args.threads), "--bind", f"{HOST}:{port}", "--no-control-socket",
            "--chdir", str(ROOT / "bench"), "bare_app:app"], env, port, tmp / "bare.log"))
    print(f"\n{'server':<10} {'start s':>8} {'idle worker RSS MB':>19}")
    medians = {}
    for name, pairs in results.items():
        medians[name] = (statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs))
        print(f"{name:<10} {medians[name][0]:>8.2f} {medians[name][1]:>19.1f}")
    app, bare = medians["appliance"], medians["bare"]
    print(f"\nappliance/bare: start {app[0] / bare[0]:.2f}x, idle worker RSS {app[1] / bare[1]:.2f}x"
          f" (+{app[1] - bare[1]:.1f} MB); load average after {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
