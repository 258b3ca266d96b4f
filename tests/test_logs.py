"""Logs at DEBUG keep the libraries' statements (SQL with parameters, raw request paths) out
unless the loud `log.library_debug` switch is on; every line, gunicorn's included, is JSON;
under systemd each line carries the syslog priority journald reads."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys

import pytest
import requests

from appliance import logs
from appliance.db import open_database
from tests.conftest import ROOT
from tests.support.api import fresh_email

SECRET_ADDRESS = "debug-probe@praxis.example"


@pytest.fixture
def captured():
    """A buffer to log into, and the logging configuration restored afterwards."""
    root, own = logging.getLogger(), logging.getLogger(logs.OWN_LOGGER)
    saved = (root.handlers[:], root.level, own.level)
    buffer = io.StringIO()
    yield buffer
    root.handlers[:], root.level = saved[0], saved[1]
    own.setLevel(saved[2])


def _query_with_an_address(tmp_path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'probe.db'}", pool_size=1, connect_timeout=5)
    database.execute_sql("SELECT ?", (SECRET_ADDRESS,)).fetchall()
    database.close()


def test_debug_keeps_the_database_library_quiet(captured, tmp_path):
    logs.configure("DEBUG", stream=captured)
    logging.getLogger("appliance.probe").debug("own debug line")
    _query_with_an_address(tmp_path)
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert [line["msg"] for line in lines] == ["own debug line"]
    assert SECRET_ADDRESS not in captured.getvalue()


def test_the_library_switch_lets_them_through_and_says_so(captured, tmp_path):
    logs.configure("DEBUG", library_debug=True, stream=captured)
    _query_with_an_address(tmp_path)
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert lines[0]["level"] == "warning" and "log.library_debug is on" in lines[0]["msg"]
    assert any(line["logger"] == "peewee" for line in lines)
    captured.truncate(0)  # the probe address must not fail the log guard of this test


def test_lines_carry_the_syslog_priority_when_stdout_is_the_journal(tmp_path):
    program = ("import logging\nfrom appliance import logs\nlogs.configure('DEBUG')\n"
               "for name in ('debug', 'info', 'warning', 'error', 'critical'):\n"
               "    getattr(logging.getLogger('appliance.probe'), name)(name)\n")
    output = tmp_path / "journal"
    with open(output, "w") as stream:
        info = os.fstat(stream.fileno())
        for journal in (f"{info.st_dev}:{info.st_ino}", ""):
            env = {**os.environ, "JOURNAL_STREAM": journal}
            subprocess.run([sys.executable, "-c", program], stdout=stream, env=env, cwd=ROOT, check=True)
    lines = output.read_text().splitlines()
    prefixes = [line.split("{", 1)[0] for line in lines]
    assert prefixes == ["<7>", "<6>", "<4>", "<3>", "<2>", "", "", "", "", ""]
    assert [json.loads("{" + line.split("{", 1)[1])["msg"] for line in lines[:5]] == \
        ["debug", "info", "warning", "error", "critical"]


def test_a_debug_server_logs_json_only_and_no_personal_data(live_server):
    """gunicorn's own lines are JSON too; at DEBUG neither SQL parameters nor raw paths with
    link tokens appear (LiveServer.stop fails on an address or a token in its log)."""
    server = live_server(APPLIANCE_LOG_LEVEL="DEBUG")
    login = requests.post(server.url + "/api/auth/login", timeout=10,
                          json={"email": fresh_email("journal"), "password": "x" * 12})
    assert login.status_code == 401
    token_path = requests.get(server.url + "/api/consent/" + "T" * 43, timeout=10)
    assert token_path.status_code == 404
    server.stop()
    lines = [line for line in server.log().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]
    assert any(line["logger"] == "gunicorn.error" and "Booting worker" in line["msg"] for line in parsed)
    assert any(line["logger"] == "appliance.access" for line in parsed)
    assert not any(line["logger"] == "peewee" for line in parsed)
