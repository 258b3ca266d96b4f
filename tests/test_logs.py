"""Logs at DEBUG keep the libraries' statements (SQL with parameters, raw request paths) out
unless the loud `log.library_debug` switch is on; every line, gunicorn's included, is JSON;
under systemd each line carries the syslog priority journald reads."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import random
import re
import subprocess
import sys
import time

import pytest
import requests

from appliance import logs
from appliance.db import open_database
from tests.conftest import ROOT
from tests.support.api import fresh_email
from tests.support.log_guard import LogGuard

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


def written(buffer: io.StringIO) -> str:
    """What the configured handler wrote, once it wrote the lines waiting for their batch."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    return buffer.getvalue()


def _query_with_an_address(tmp_path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'probe.db'}", pool_size=1, connect_timeout=5)
    database.execute_sql("SELECT ?", (SECRET_ADDRESS,)).fetchall()
    database.close()


def test_debug_keeps_the_database_library_quiet(captured, tmp_path):
    logs.configure("DEBUG", stream=captured)
    logging.getLogger("appliance.probe").debug("own debug line")
    _query_with_an_address(tmp_path)
    lines = [json.loads(line) for line in written(captured).splitlines()]
    assert [line["msg"] for line in lines] == ["own debug line"]
    assert SECRET_ADDRESS not in written(captured)


def test_the_library_switch_lets_them_through_and_says_so(captured, tmp_path):
    logs.configure("DEBUG", library_debug=True, stream=captured)
    _query_with_an_address(tmp_path)
    lines = [json.loads(line) for line in written(captured).splitlines()]
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


FIELDS = {"request_id": "r" * 32, "method": "GET", "route": "/api/x", "status": 200, "duration_ms": 1.25}


def test_a_line_logged_by_fields_is_the_line_a_record_gives_but_made_without_one(captured, monkeypatch):
    """The access line's path (one per request) skips the LogRecord when the configured JSON
    handler alone writes it; the line is the same."""
    logs.configure("INFO", stream=captured)
    probe = logging.getLogger("probe.fields")  # outside `appliance`: the test's log guard is not on its way
    probe.info("request", extra=FIELDS)

    def no_record(*args, **kwargs):
        raise AssertionError("a LogRecord was made")

    with monkeypatch.context() as patched:
        patched.setattr(logging.Logger, "makeRecord", no_record)
        logs.log_fields(probe, logging.INFO, "request", FIELDS)
        logs.log_fields(probe, logging.DEBUG, "below the level", FIELDS)
    by_record, by_fields = (json.loads(line) for line in written(captured).splitlines())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", by_fields["ts"])
    assert list(by_fields) == list(by_record)
    assert {**by_record, "ts": None} == {**by_fields, "ts": None}
    assert {"level": "info", "logger": "probe.fields", "msg": "request"}.items() <= by_fields.items()


def test_a_filter_or_a_second_handler_takes_loggings_own_path(captured):
    logs.configure("INFO", stream=captured)
    probe = logging.getLogger("probe.fields")
    root = logging.getLogger()
    root.handlers[0].addFilter(lambda record: record.getMessage() != "filtered")
    logs.log_fields(probe, logging.INFO, "filtered", FIELDS)
    assert written(captured) == ""
    second = LogGuard()
    root.addHandler(second)
    logs.log_fields(probe, logging.INFO, "request", FIELDS)
    assert len(second.lines) == 1 and json.loads(second.lines[0])["route"] == "/api/x"
    assert json.loads(written(captured))["route"] == "/api/x"


@pytest.mark.parametrize("created", [
    0.0, 1_780_000_000.0, 1_780_000_000.9995, 1_780_000_000.9999995, 1_780_000_000.0000004,
    1_780_000_000.0005, 2_735_553_740.211, *(random.Random(7).uniform(0, 4e9) for _ in range(200)),
])
def test_the_timestamp_is_what_datetime_writes(created):
    expected = dt.datetime.fromtimestamp(created, dt.UTC).isoformat(timespec="milliseconds")
    assert logs._timestamp(created) == expected


def test_info_lines_wait_for_their_batch_and_a_warning_takes_them_along():
    buffer = io.StringIO()
    handler = logs.JsonLinesHandler(buffer, batch_seconds=60)
    handler.add("first", logging.INFO)
    handler.add("second", logging.DEBUG)
    assert buffer.getvalue() == ""
    handler.add("warning", logging.WARNING)
    assert buffer.getvalue() == "first\nsecond\nwarning\n"
    handler.close()


def test_a_line_is_written_within_its_batch_time_without_a_flush():
    buffer = io.StringIO()
    handler = logs.JsonLinesHandler(buffer)
    handler.add("one", logging.INFO)
    deadline = time.monotonic() + 10  # BATCH_SECONDS, with room for a busy machine
    while buffer.getvalue() == "" and time.monotonic() < deadline:
        time.sleep(logs.BATCH_SECONDS / 4)
    assert buffer.getvalue() == "one\n"
    handler.close()


def test_a_forked_child_does_not_write_its_parents_waiting_lines(tmp_path):
    path = tmp_path / "lines"
    with open(path, "w") as stream:
        handler = logs.JsonLinesHandler(stream, batch_seconds=60)
        handler.add("parent's line", logging.INFO)
        child = os.fork()
        if child == 0:  # pragma: no cover (the child's own exit)
            handler.add("child's line", logging.INFO)
            handler.flush()
            os._exit(0)
        os.waitpid(child, 0)
        handler.close()
    assert path.read_text().splitlines() == ["child's line", "parent's line"]


def test_lines_waiting_at_exit_are_written(tmp_path):
    program = ("import logging\nfrom appliance import logs\nlogs.configure('INFO')\n"
               "for n in range(3):\n    logging.getLogger('appliance.probe').info('line %d', n)\n")
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True,
                          check=True, env={**os.environ, "JOURNAL_STREAM": ""})
    assert [json.loads(line)["msg"] for line in done.stdout.splitlines()] == ["line 0", "line 1", "line 2"]


class BrokenStream(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError("the journal is gone")


def test_a_line_that_cannot_be_written_does_not_fail_the_request(captured, capsys):
    logs.configure("INFO", stream=BrokenStream())
    logs.log_fields(logging.getLogger("probe.fields"), logging.WARNING, "request", FIELDS)
    assert "the journal is gone" in capsys.readouterr().err  # logging's own report of it
