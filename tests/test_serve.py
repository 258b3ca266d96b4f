"""`appliance serve` over real HTTP: embedded defaults, streaming limits, readiness."""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

import psycopg2
import requests

from appliance.serve import exposed_without_proxy
from tests.conftest import ROOT, LiveServer, make_settings, server_env
from tests.support.ports import free_port
from tests.support.slow_clients import SlowClients


def _embedded_env(tmp_path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
    env["APPLIANCE_CONFIG"] = str(ROOT / "config" / "appliance.dev.toml")
    env["APPLIANCE_APP_DATA_DIR"] = str(tmp_path / "var")
    env["APPLIANCE_SERVER_BIND"] = f"127.0.0.1:{port}"
    return env


def test_embedded_defaults_serve_health_with_no_other_service(tmp_path):
    port = free_port()
    env = _embedded_env(tmp_path, port)
    migrate = subprocess.run([sys.executable, "-m", "appliance", "migrate"], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert migrate.returncode == 0, migrate.stderr
    server = LiveServer(env, port, tmp_path / "serve.log")
    try:
        health = requests.get(server.url + "/api/health", timeout=5)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        ready = requests.get(server.url + "/api/health/ready", timeout=5)
        assert ready.json()["checks"] == {"database": "ok", "objectStore": "ok"}
        assert (tmp_path / "var" / "appliance.db").exists()
        assert (tmp_path / "var" / "objects").is_dir()
    finally:
        server.stop()
    lines = [line for line in server.log().splitlines() if '"appliance.access"' in line]
    assert any('"route":"/api/health/ready"' in line for line in lines)


def test_serve_refuses_to_start_on_an_unmigrated_database(tmp_path):
    env = _embedded_env(tmp_path, free_port())
    result = subprocess.run([sys.executable, "-m", "appliance", "serve"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "appliance migrate" in result.stderr


def test_chunked_body_over_the_limit_is_a_413(live_server):
    server = live_server(APPLIANCE_SERVER_MAX_BODY_BYTES="1048576")  # the smallest allowed

    def body():
        yield b'{"email": "'
        for _ in range(1100):
            yield b"a" * 1000
        yield b'"}'

    result = requests.post(server.url + "/api/auth/login", data=body(),
                           headers={"Content-Type": "application/json"}, timeout=10)
    assert result.status_code == 413
    assert result.json()["error"]["code"] == "payload_too_large"


def test_readiness_is_503_naming_the_database_when_it_is_unreachable(tmp_path, live_server):
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    server = live_server(APPLIANCE_DATABASE_URL=dead, APPLIANCE_DATABASE_CONNECT_TIMEOUT="1")
    result = requests.get(server.url + "/api/health/ready", timeout=10)
    assert result.status_code == 503
    body = result.json()
    assert body["error"]["code"] == "not_ready"
    assert body["error"]["details"]["database"].startswith("unavailable")
    assert body["error"]["details"]["objectStore"] == "ok"
    login = requests.post(server.url + "/api/auth/login", timeout=10,
                          json={"email": "a@b.de", "password": "0123456789"})
    assert login.status_code == 503
    assert login.json()["error"]["code"] == "database_unavailable"


def test_connections_postgresql_ended_are_replaced_without_a_failed_request(tmp_path, pg_databases):
    """What a PostgreSQL restart (e.g. a security update) does to the pools of a running
    appliance: every pooled connection is ended by the server. No request may fail for it."""
    owner_url, app_url = pg_databases
    port = free_port()
    server = LiveServer(server_env(tmp_path, app_url, port), port, tmp_path / "serve.log")
    try:
        def ready(_) -> int:  # one query on a pooled connection (no account: no rate limit to meet)
            return requests.get(server.url + "/api/health/ready", timeout=30).status_code

        with concurrent.futures.ThreadPoolExecutor(8) as pool:  # several connections in each pool
            assert set(pool.map(ready, range(40))) == {200}
        role = urlsplit(app_url).username
        with contextlib.closing(psycopg2.connect(owner_url)) as owner, owner.cursor() as cursor:
            owner.autocommit = True  # no transaction: each look at pg_stat_activity is a fresh one
            # In the aggregate, not the WHERE clause: only rows of the role may reach the call.
            cursor.execute("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))"
                           " FROM pg_stat_activity WHERE usename = %s", (role,))
            assert cursor.fetchone()[0] >= 2
            for _ in range(100):  # until every one has exited, as after a restart
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (role,))
                if cursor.fetchone()[0] == 0:
                    break
                time.sleep(0.05)
            else:
                raise AssertionError("the ended connections did not go away in 5 s")
        assert [ready(i) for i in range(40)] == [200] * 40
    finally:
        server.stop()


def _get_health(sock: socket.socket) -> bytes:
    """One keep-alive GET on an open connection, read to the end of its body; the response head
    (what arrived before the server closed, if it did)."""
    sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: appliance\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            break
        body += chunk
    return head


def test_an_idle_connection_outlives_the_proxys_idle_timeout(live_server):
    """nginx reuses an upstream connection for up to its keepalive_timeout: the appliance must not
    close it first (gunicorn's own default is 2 s). Scaled down here: 3 s against 6 s."""
    server = live_server(APPLIANCE_SERVER_KEEPALIVE="6")
    with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])), timeout=10) as sock:
        assert _get_health(sock).startswith(b"HTTP/1.1 200")
        time.sleep(3)
        assert _get_health(sock).startswith(b"HTTP/1.1 200")


def test_idle_and_slow_clients_do_not_stall_the_api(live_server):
    """40 connections that never send a byte and 40 that send their head a byte every half
    second, against 2 workers of 4 threads: a normal client is not held up, and every slow head
    is cut off at server.header_timeout."""
    server = live_server(APPLIANCE_SERVER_HEADER_TIMEOUT="3", APPLIANCE_SERVER_THREADS="4")
    port = urlsplit(server.url).port
    with SlowClients(port, idle=40, slow=40) as attack:
        latencies = attack.probe(server.url + "/api/health", seconds=5)
        closed = attack.slow_closed(within=10)
    print(f"{len(latencies)} requests under attack: slowest {max(latencies):.3f} s,"
          f" median {sorted(latencies)[len(latencies) // 2]:.3f} s; {closed}/40 slow heads cut off")
    assert max(latencies) < 1.0  # the bound: not held up by more than a second
    assert closed == 40


def test_a_stalled_body_frees_the_only_thread_after_the_body_timeout(live_server):
    """server.body_timeout bounds every read of a body (the kernel's socket timeout): with one
    thread in total, a client that stops sending its body holds it for 2 s, not for ever, and
    hears a 400 (the client's fault), not a 500. (The write side: tests/test_http_worker.py;
    loopback buffers any file the app serves whole, so a reader that stops cannot stall it.)"""
    server = live_server(APPLIANCE_SERVER_BODY_TIMEOUT="2", APPLIANCE_SERVER_WORKERS="1",
                         APPLIANCE_SERVER_THREADS="1")
    port = urlsplit(server.url).port
    with socket.create_connection(("127.0.0.1", port), timeout=15) as stalled:
        stalled.sendall(b"POST /api/auth/login HTTP/1.1\r\nHost: appliance\r\n"
                        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"email\":")
        time.sleep(0.5)  # the thread now waits for the rest of the body
        started = time.monotonic()
        answered = requests.get(server.url + "/api/health", timeout=15)
        waited = time.monotonic() - started
        assert answered.status_code == 200 and 1.0 < waited < 10  # after the stalled read timed out
        refused = stalled.recv(4096)
        assert refused.startswith(b"HTTP/1.1 400") and b'"body_incomplete"' in refused, refused[:300]
    server.stop()
    assert '"level":"error"' not in server.log()  # a client's stall is no server error


def test_answers_with_and_without_body_follow_each_other_on_one_connection(live_server):
    """The worker holds each answer's head until its first body piece (one send instead of
    two): a head-only answer (HEAD), small and large bodies and an error each arrive whole and
    in order on one kept-alive connection, none waiting for the next request."""
    server = live_server()
    client = http.client.HTTPConnection("127.0.0.1", urlsplit(server.url).port, timeout=5)
    try:
        answers = []
        for method, path in [("HEAD", "/api/health"), ("GET", "/api/health"),
                             ("GET", "/api/openapi.json"), ("HEAD", "/api/openapi.json"),
                             ("GET", "/api/no-such-thing"), ("GET", "/api/health")]:
            client.request(method, path)
            response = client.getresponse()
            answers.append((method, response.status, response.read()))
    finally:
        client.close()
    assert [(method, status) for method, status, _ in answers] == [
        ("HEAD", 405), ("GET", 200), ("GET", 200), ("HEAD", 405), ("GET", 404), ("GET", 200)]
    assert answers[0][2] == answers[3][2] == b""
    assert json.loads(answers[1][2])["status"] == "ok" == json.loads(answers[5][2])["status"]
    assert len(answers[2][2]) > 64 * 1024 and json.loads(answers[2][2])["openapi"].startswith("3.")
    assert json.loads(answers[4][2])["error"]["code"]


def test_serve_warns_when_it_listens_beyond_loopback_without_a_proxy(tmp_path):
    settings = make_settings(tmp_path, server={"bind": "0.0.0.0:8000"})
    assert exposed_without_proxy(settings)
    assert not exposed_without_proxy(make_settings(tmp_path, server={"bind": "127.0.0.1:8000"}))
    assert not exposed_without_proxy(make_settings(tmp_path, server={"bind": "[::1]:8000"}))
    assert not exposed_without_proxy(make_settings(
        tmp_path, server={"bind": "0.0.0.0:8000", "trusted_proxies": ["10.0.0.1"]}))
