"""Several appliance servers as a grown installation runs them: `appliance serve` nodes on one
PostgreSQL and one S3, nginx with the reverse_proxy role's site in front of them, and an
`appliance scheduler` beside each node.

Clients get loopback addresses of their own (127.0.1.x and up, `Addresses`), which nginx passes
on in X-Forwarded-For as it would a patient's or a workstation's address.

`Load` runs a bounded list of operations from a few threads and records each one's start, end
and outcome, so a test can say which failures were in flight at a given moment.
"""

from __future__ import annotations

import collections
import concurrent.futures
import itertools
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from appliance import logs
from appliance.client.api import PatientClient, StaffClient
from appliance.client.crypto import PracticeKeys
from tests.conftest import ROOT, LiveServer, server_env
from tests.support.deploy import run_every, stop
from tests.support.log_guard import giveaways
from tests.support.nginx import Nginx, client_session
from tests.support.ports import free_port


class Addresses:
    """Loopback addresses other than 127.0.0.1, one per simulated client; threads may share it."""

    def __init__(self):
        self._numbers = itertools.count(250)
        self._lock = threading.Lock()

    def __next__(self) -> str:
        with self._lock:
            n = next(self._numbers)
        return f"127.0.{n // 250}.{n % 250 + 1}"


class Scheduler:
    """`appliance scheduler` (the long-running one, with its cron triggers) in a subprocess."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "appliance", "scheduler"], env=env,
                                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                            start_new_session=True)

    def finished_runs(self) -> list[tuple[str, str]]:
        """(job, run key) of every run this process finished."""
        lines = json_lines(self.log_path.read_text(errors="replace"))
        return [(line["job"], line["run_key"]) for line in lines if line.get("msg") == "job finished"]

    def stop(self) -> None:
        stop(self.process)
        found = giveaways(self.log_path.read_text(errors="replace").splitlines())
        assert not found, "the scheduler log gives away personal data or a secret:\n" + "\n".join(found[:5])


class AppCluster:
    """`nodes` appliance servers and as many schedulers, one database, one bucket, one nginx."""

    def __init__(self, directory: Path, database_url: str, environment: dict[str, str], nodes: int = 2):
        self.addresses = Addresses()
        self.nodes: list[LiveServer] = []
        self.schedulers: list[Scheduler] = []
        self.nginx: Nginx | None = None
        try:
            for i in range(nodes):
                port = free_port()
                env = server_env(directory, database_url, port, **environment,
                                 APPLIANCE_APP_DATA_DIR=str(directory / f"node{i}"),
                                 APPLIANCE_SERVER_TRUSTED_PROXIES="127.0.0.1")
                self.nodes.append(LiveServer(env, port, directory / f"serve-node{i}.log"))
                self.schedulers.append(Scheduler(env, directory / f"scheduler-node{i}.log"))
            self.schedulers_started = time.time()
            self.nginx = Nginx([node.url.removeprefix("http://") for node in self.nodes])
        except BaseException:
            self.close()
            raise

    def session(self):
        """A client's HTTP session: its own address, nginx's certificate trusted."""
        return client_session(next(self.addresses), self.nginx.certificate)

    def staff(self, token: str | None = None, practice: dict | None = None,
              keys: PracticeKeys | None = None) -> StaffClient:
        """A staff client on the LAN entry (with a session, and a practice's unlocked keys)."""
        client = StaffClient(self.nginx.lan_url, session=self.session(), timeout=60)
        client.token, client.practice, client.keys = token, practice, keys
        return client

    def patient(self) -> PatientClient:
        """A patient's browser on the public entry."""
        return PatientClient(self.nginx.public_url, session=self.session(), timeout=60)

    def routes_served(self, node: LiveServer) -> collections.Counter:
        """How often the node answered each route (its access log lines)."""
        return collections.Counter(line["route"] for line in json_lines(node.log()) if "route" in line)

    def served_until(self, route: str, done: Callable[[list[int]], bool], seconds: float = 10) -> list[int]:
        """Each node's count of `route` answers, read again until `done` holds or `seconds`
        pass: an access line reaches the log up to logs.BATCH_SECONDS after its answer."""
        deadline = time.monotonic() + seconds
        while True:
            counts = [self.routes_served(node)[route] for node in self.nodes]
            if done(counts) or time.monotonic() > deadline:
                return counts
            time.sleep(logs.BATCH_SECONDS)

    def close(self) -> None:
        run_every([*(s.stop for s in self.schedulers), *(n.stop for n in self.nodes),
                   *([self.nginx.close] if self.nginx else [])])


def json_lines(log: str) -> list[dict]:
    """The JSON lines of a log (gunicorn's own lines are not JSON)."""
    lines = []
    for text in log.splitlines():
        if text.startswith("{"):
            try:
                lines.append(json.loads(text))
            except ValueError:
                continue
    return lines


@dataclass
class Outcome:
    kind: str
    started: float
    ended: float
    value: object = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def in_flight(self, since: float, until: float) -> bool:
        """Started before `until` and ended after `since`: it overlapped that moment."""
        return self.started < until and self.ended > since


@dataclass
class Load:
    """Operations (kind, function returning what was acknowledged) run from `threads` threads."""

    operations: list[tuple[str, Callable[[], object]]]
    threads: int = 8
    outcomes: list[Outcome] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _one(self, kind: str, work: Callable[[], object]) -> Outcome:
        started = time.monotonic()
        try:
            outcome = Outcome(kind, started, 0.0, value=work())
        except Exception as exc:  # a failed request is data here, not a test error
            outcome = Outcome(kind, started, 0.0, error=f"{type(exc).__name__}: {exc}"[:300])
        outcome.ended = time.monotonic()
        with self._lock:
            self.outcomes.append(outcome)
        return outcome

    def run(self, when_done: int = 0, then: Callable[[], None] | None = None) -> None:
        """Runs everything; after `when_done` operations have finished, calls `then` once (from
        this thread, while the others go on)."""
        with concurrent.futures.ThreadPoolExecutor(self.threads) as pool:
            futures = [pool.submit(self._one, kind, work) for kind, work in self.operations]
            if then is not None:
                while len(self.outcomes) < when_done:
                    time.sleep(0.01)
                then()
            concurrent.futures.wait(futures)

    def acknowledged(self, kind: str) -> list:
        return [o.value for o in self.outcomes if o.kind == kind and o.ok]

    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]
