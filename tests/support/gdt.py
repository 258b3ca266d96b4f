"""Helpers for the GDT tests: a hand-made 6310 record, signed consents, the exchange
directory as the PVS sees it, and files the PVS writes.

`hand_made_6310` spells a record out line by line with lengths counted by hand (9 bytes of
LLL, FFFF and CR LF plus the content bytes); it is the yardstick for the writer, so it must
never be computed with the code under test.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import falcon.testing
import pytest

from appliance.app import create_app
from appliance.db import open_database
from appliance.gdt.record import CP437, Charset, write_record
from appliance.mail import DisabledMailer
from appliance.services.container import build_services
from appliance.storage import open_store
from tests.conftest import make_settings
from tests.support.api import call
from tests.support.consent import Team, create_consent, submit, submit_body, team

#: What the staff client sends for the record (what it decrypted from the patient record).
PATIENT = {
    "patientNumber": "8812345678",
    "lastName": "Weiß-Öztürk",
    "firstName": "Käthe",
    "dateOfBirth": "1980-02-29",
    "sex": "W",
}
#: The names as bytes in each character set, worked out from the code tables.
SURNAME = {"3": b"Wei\xdf-\xd6zt\xfcrk", "2": b"Wei\xe1-\x99zt\x81rk"}
FIRST_NAME = {"3": b"K\xe4the", "2": b"K\x84the"}


def hand_made_6310(charset_code: str, consent_id: str, hhmmss: bytes = b"100000") -> bytes:
    """The record for PATIENT's BOTOX consent signed on 30.11.2026 at 10:00 local time,
    receiver PVS, sender EINW. Every line length and 8100 (406 bytes) are counted by hand."""
    assert len(consent_id) == 36
    lines = [
        b"01380006310",                       # 13
        b"014810000406",                      # 14: the sum of all 19 lines
        b"0128315PVS",                        # 12
        b"0138316EINW",                       # 13
        b"0109206" + charset_code.encode(),   # 10
        b"014921802.10",                      # 14
        b"0193000" + b"8812345678",           # 19
        b"0203101" + SURNAME[charset_code],   # 20: eleven characters, one byte each
        b"0143102" + FIRST_NAME[charset_code],  # 14
        b"017310329021980",                   # 17
        b"01031102",                          # 10
        b"017620030112026",                   # 17
        b"0156201" + hhmmss,                  # 15
        b"0138402EINW",                       # 13
        b"0178410EW-BOTOX",                   # 17
        b"0368411Einwilligung Botulinumtoxin",  # 36
        b"0158420SIGNED",                     # 15
        b"0926220Einwilligung Botulinumtoxin elektronisch unterschrieben am 30.11.2026"
        b" um 10:00 Uhr.",                    # 92
        b"0456227" + consent_id.encode(),     # 45
    ]
    return b"".join(line + b"\r\n" for line in lines)


def signed_consent(client: falcon.testing.TestClient, team: Team, consent_type: str = "BOTOX") -> dict:
    """A consent the patient has signed (at the test clock's time)."""
    consent = create_consent(client, team, consent_type)
    result = submit(client, consent["token"], submit_body(client, team.practice, consent))
    assert result.status_code == 200, result.text
    return consent


def generate(client: falcon.testing.TestClient, token: str, consent_id: str,
             **fields) -> falcon.testing.Result:
    return call(client, "POST", "/api/gdt/generate", token=token,
                json={"consentId": consent_id, **PATIENT, **fields})


def set_gdt(client: falcon.testing.TestClient, team: Team, **fields) -> falcon.testing.Result:
    return call(client, "PATCH", "/api/gdt/settings", token=team.token(), json=fields)


def exchange_dir(root: Path, name: str = "praxis") -> Path:
    """A practice's exchange directory below the server's root, as clinic IT creates it."""
    directory = root / name
    directory.mkdir()
    return directory


def settle(path: Path) -> None:
    """Backdates a file so that the import takes it as completely written by the PVS."""
    past = time.time() - 60
    os.utime(path, (past, past))


def pvs_file(directory: Path, record: bytes, name: str = "EINWPVS.gdt") -> Path:
    """A file the PVS wrote into the exchange directory, settled."""
    path = directory / name
    path.write_bytes(record)
    settle(path)
    return path


def pvs_request(
    *tests: str,
    record_type: str = "6302",
    last_name: str = "Weiß-Öztürk",
    first_name: str = "Käthe",
    birth: str = "29021980",
    charset: Charset = CP437,
    receiver: str | None = "EINW",
) -> bytes:
    """A 6302 (or 6301) as a PVS writes it, asking for the consents with the given test ids."""
    fields = [("3000", "8812345678"), ("3101", last_name), ("3102", first_name), ("3103", birth),
              ("3110", "2"), ("8402", "EINW")]
    fields += [("8410", test) for test in tests]
    return write_record(record_type, fields, charset=charset, receiver=receiver, sender="PVS")


def visible_files(directory: Path) -> set[str]:
    return {entry.name for entry in directory.iterdir() if entry.is_file()}



def exchange_fixtures():
    """The `exchange_root` (an empty directory) and `settings` (with `gdt.exchange_root` set to it)
    fixtures of a GDT test module. Use as `exchange_root, settings = exchange_fixtures()`."""

    @pytest.fixture
    def exchange_root(tmp_path) -> Path:
        root = tmp_path / "gdt"
        root.mkdir()
        return root

    @pytest.fixture
    def settings(tmp_path, app_database_url, exchange_root):
        return make_settings(tmp_path, app_database_url, gdt={"exchange_root": str(exchange_root)})

    return exchange_root, settings


def import_fixtures():
    """The fixtures of a module that runs the import beside the API: `app_database` (the app's
    and the import's one connection: the application role on PostgreSQL), `app`, `services`
    (as the scheduler and `appliance gdt import` build them, on the app's database),
    `directory` (where the practice's PVS writes its requests) and `practice` (a practice with
    that exchange directory). Use as
    `app_database, app, services, directory, practice = import_fixtures()`."""

    @pytest.fixture
    def app_database(database, database_url, app_database_url):
        if app_database_url == database_url:
            yield database
            return
        app_database = open_database(app_database_url, pool_size=40)
        yield app_database
        app_database.close_all()

    @pytest.fixture
    def app(settings, app_database, clock):
        return create_app(settings, app_database, store=open_store(settings), clock=clock)

    @pytest.fixture
    def services(app, settings, app_database, clock):
        return build_services(settings, app_database, clock, None, DisabledMailer())

    @pytest.fixture
    def directory(exchange_root) -> Path:
        return exchange_dir(exchange_root)

    @pytest.fixture
    def practice(client, directory):
        founded = team(client)
        assert set_gdt(client, founded, exchangeDirectory=str(directory)).status_code == 200
        return founded

    return app_database, app, services, directory, practice
