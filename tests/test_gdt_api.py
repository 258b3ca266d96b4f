"""POST /api/gdt/generate and the GDT settings: the hand-made record as a download, the
identity used for one file only, the exchange directory written once and only inside the
root clinic IT configured, and another practice's consent answering like an unknown one."""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid

import pytest

from appliance.gdt.record import parse_record
from tests.support.api import assert_error, audit_entries, call, problem_fields
from tests.support.consent import (
    app_client,
    assert_like_unknown,
    create_consent,
    raw_dump,
    team,
)
from tests.support.gdt import (
    PATIENT,
    exchange_dir,
    exchange_fixtures,
    generate,
    hand_made_6310,
    set_gdt,
    signed_consent,
    visible_files,
)

exchange_root, settings = exchange_fixtures()

#: The hand-made records carry the time of signing: 30 Nov 2026, 10:00 in Berlin.
pytestmark = pytest.mark.calendar(dt.datetime(2026, 11, 30, 9, 0, 0))


# --- the record as a download --------------------------------------------------------------


def test_a_signed_consent_downloads_as_the_hand_made_record(client):
    practice = team(client, "EMPFANG", "ARZT")
    consent = signed_consent(client, practice)
    result = generate(client, practice.token("EMPFANG"), consent["id"])
    assert result.status_code == 200, result.text
    assert result.headers["Content-Type"] == "application/octet-stream"
    assert result.headers["Content-Disposition"] == 'attachment; filename="EINW_PVS_EINW_20261130100000.gdt"'
    assert result.content == hand_made_6310("3", consent["id"])

    assert set_gdt(client, practice, charset="CP437").status_code == 200
    again = generate(client, practice.token("ARZT"), consent["id"])
    assert again.content == hand_made_6310("2", consent["id"])


def test_the_identity_is_used_for_the_file_only(client, database, caplog):
    practice = team(client)
    consent = signed_consent(client, practice)
    with caplog.at_level(logging.DEBUG):
        assert generate(client, practice.token(), consent["id"]).status_code == 200
    dump = raw_dump(database)
    logged = caplog.text + "".join(repr(record.__dict__) for record in caplog.records)
    for value in ("Käthe", "Weiß", "Öztürk", PATIENT["patientNumber"], "29021980"):
        assert value.encode() not in dump and value not in logged, value
    [entry] = audit_entries("GDT_EXPORTED")
    assert entry.entity_id == consent["id"] and str(entry.user_id) == practice.admin.account.user_id
    assert entry.metadata == {"type": "BOTOX", "recordType": "6310", "charset": "ISO-8859-1",
                              "receiverId": "PVS", "exchange": False}


def test_another_practices_consent_answers_like_an_unknown_one(client):
    mine, theirs = team(client), team(client)
    consent = signed_consent(client, theirs)
    foreign = generate(client, mine.token(), consent["id"])
    unknown = generate(client, mine.token(), str(uuid.uuid4()))
    assert_like_unknown(foreign, unknown)
    assert audit_entries("GDT_EXPORTED") == []


def test_a_consent_the_patient_has_not_signed_has_no_record(client):
    practice = team(client)
    pending = create_consent(client, practice)
    assert_error(generate(client, practice.token(), pending["id"]), 409, "consent_not_signed")


def test_a_revoked_consent_reports_both_dates(client, clock, settings):
    practice = team(client)
    consent = signed_consent(client, practice, "LASER")
    clock.advance(days=1, minutes=15)
    practice.renew(settings, clock)
    revoked = call(client, "PATCH", f"/api/consent/{consent['id']}/revoke", token=practice.token(), json={})
    assert revoked.status_code == 200, revoked.text
    record = parse_record(generate(client, practice.token(), consent["id"]).content)
    assert record.value("8420") == "REVOKED" and record.value("8410") == "EW-LASER"
    assert record.value("6220").endswith("am 30.11.2026 um 10:00 Uhr, widerrufen am 01.12.2026 um 10:15 Uhr.")


UNWRITABLE = [("ISO-8859-1", "lastName", "Łukasiewicz"), ("CP437", "firstName", "Søren"),
              ("CP437", "lastName", "Müller¤")]


def test_a_character_the_set_cannot_write_is_refused_naming_the_field(client):
    practice = team(client)
    consent = signed_consent(client, practice)
    for charset, field, value in UNWRITABLE:
        set_gdt(client, practice, charset=charset)
        result = generate(client, practice.token(), consent["id"], **{field: value})
        assert_error(result, 400, "gdt_not_encodable")
        assert problem_fields(result) == {field}
        assert charset in result.json["error"]["details"][0]["problem"]
    assert audit_entries("GDT_EXPORTED") == []


def test_the_other_set_writes_what_this_one_cannot(client):
    practice = team(client)
    consent = signed_consent(client, practice)
    result = generate(client, practice.token(), consent["id"], firstName="Søren")
    assert result.status_code == 200 and b"S\xf8ren" in result.content


BAD_INPUT = [
    ({"lastName": "Müller\r\n0143101Evil"}, "lastName"),
    ({"firstName": "   "}, "firstName"),
    ({"dateOfBirth": "29.02.1980"}, "dateOfBirth"),
    ({"dateOfBirth": "1981-02-29"}, "dateOfBirth"),
    ({"patientNumber": "12345678901"}, "patientNumber"),
    ({"lastName": "x" * 29}, "lastName"),
    ({"sex": "D"}, "sex"),
    ({"receiverId": "NEUNZEICH"}, "receiverId"),
    ({"receiverId": "../etc"}, "receiverId"),
    ({"receiverId": "EINW2"}, "receiverId"),
    ({"exchange": "yes"}, "exchange"),
    ({"note": "x"}, "(body)"),
]


def test_bad_input_is_a_400_naming_the_field(client):
    practice = team(client)
    consent = signed_consent(client, practice)
    for fields, field in BAD_INPUT:
        result = generate(client, practice.token(), consent["id"], **fields)
        assert_error(result, 400, "validation_failed")
        assert field in problem_fields(result), fields
    assert audit_entries("GDT_EXPORTED") == []


# --- the exchange directory ----------------------------------------------------------------


def test_the_exchange_file_is_written_once_until_the_pvs_picks_it_up(client, exchange_root):
    practice = team(client)
    directory = exchange_dir(exchange_root)
    assert set_gdt(client, practice, exchangeDirectory=str(directory)).status_code == 200
    first, second = signed_consent(client, practice), signed_consent(client, practice, "FILLER")

    result = generate(client, practice.token(), first["id"], exchange=True)
    assert result.status_code == 200, result.text
    assert result.headers["X-Gdt-Exchange-File"] == "PVSEINW.gdt"
    assert visible_files(directory) == {"PVSEINW.gdt"}  # no temporary file left behind
    assert (directory / "PVSEINW.gdt").read_bytes() == result.content == hand_made_6310("3", first["id"])

    busy = generate(client, practice.token(), second["id"], exchange=True)
    assert_error(busy, 409, "gdt_exchange_busy")
    assert (directory / "PVSEINW.gdt").read_bytes() == result.content
    assert len(audit_entries("GDT_EXPORTED")) == 1

    other_pvs = generate(client, practice.token(), second["id"], exchange=True, receiverId="MEDI")
    assert other_pvs.headers["X-Gdt-Exchange-File"] == "MEDIEINW.gdt"
    assert parse_record((directory / "MEDIEINW.gdt").read_bytes()).value("8315") == "MEDI"

    (directory / "PVSEINW.gdt").unlink()  # the PVS read it
    assert generate(client, practice.token(), second["id"], exchange=True).status_code == 200
    assert parse_record((directory / "PVSEINW.gdt").read_bytes()).value("6227") == second["id"]
    assert visible_files(directory) == {"PVSEINW.gdt", "MEDIEINW.gdt"}


def test_an_exported_file_is_readable_for_the_share_group_under_the_units_umask(client, exchange_root):
    """The units run with UMask=0077; the PVS reads the share as another user of its group."""
    practice = team(client)
    directory = exchange_dir(exchange_root)
    assert set_gdt(client, practice, exchangeDirectory=str(directory)).status_code == 200
    consent = signed_consent(client, practice)
    previous = os.umask(0o077)
    try:
        assert generate(client, practice.token(), consent["id"], exchange=True).status_code == 200
    finally:
        os.umask(previous)
    assert (directory / "PVSEINW.gdt").stat().st_mode & 0o777 == 0o660


def test_without_a_usable_exchange_directory_nothing_is_written_or_audited(client, exchange_root):
    practice = team(client)
    consent = signed_consent(client, practice)
    assert_error(generate(client, practice.token(), consent["id"], exchange=True), 409, "gdt_exchange_off")
    directory = exchange_dir(exchange_root)
    set_gdt(client, practice, exchangeDirectory=str(directory))
    directory.rmdir()  # the share is not mounted
    result = generate(client, practice.token(), consent["id"], exchange=True)
    assert_error(result, 503, "gdt_exchange_unavailable")
    assert result.headers["Retry-After"]
    assert audit_entries("GDT_EXPORTED") == []


# --- the settings --------------------------------------------------------------------------


def test_settings_default_to_off_and_change_together(client, exchange_root):
    practice = team(client)
    result = call(client, "GET", "/api/gdt/settings", token=practice.token())
    requests = {"requestMapping": [], "defaultConsentType": None,
                "tolerate": ["LF_LINE_ENDS", "TRAILING_CTRL_Z", "WRONG_RECORD_LENGTH"]}
    assert result.json == {"exchangeDirectory": None, "senderId": "EINW", "defaultReceiverId": "PVS",
                           "charset": "ISO-8859-1", "exchangeRoot": str(exchange_root), **requests}
    directory = exchange_dir(exchange_root)
    changed = set_gdt(client, practice, exchangeDirectory=str(directory) + "/", senderId="CONSENT1",
                      defaultReceiverId="MEDISTAR", charset="CP437")
    assert changed.status_code == 200, changed.text
    assert changed.json == {"exchangeDirectory": os.path.realpath(directory), "senderId": "CONSENT1",
                            "defaultReceiverId": "MEDISTAR", "charset": "CP437",
                            "exchangeRoot": str(exchange_root), **requests}
    assert call(client, "GET", "/api/gdt/settings", token=practice.token()).json == changed.json
    [entry] = audit_entries("PRACTICE_SETTINGS_UPDATED")
    assert entry.metadata == {"fields": ["charset", "defaultReceiverId", "exchangeDirectory", "senderId"],
                              "section": "gdt"}
    off = set_gdt(client, practice, exchangeDirectory=None)
    assert off.json["exchangeDirectory"] is None


def test_the_exchange_directory_must_lie_inside_the_root(client, exchange_root, tmp_path):
    practice = team(client)
    outside = tmp_path / "outside"
    outside.mkdir()
    (exchange_root / "escape").symlink_to(outside)
    exchange_dir(exchange_root, "praxis")
    for path in ("praxis", "/etc", str(exchange_root), str(exchange_root / "missing"),
                 str(exchange_root / "escape"), str(exchange_root / "praxis" / ".." / ".." / "outside")):
        result = set_gdt(client, practice, exchangeDirectory=path)
        assert_error(result, 400, "validation_failed")
        assert problem_fields(result) == {"exchangeDirectory"}, path
    assert call(client, "GET", "/api/gdt/settings", token=practice.token()).json["exchangeDirectory"] is None


def test_two_practices_never_share_or_nest_exchange_directories(client, exchange_root):
    first, second = team(client), team(client)
    parent = exchange_dir(exchange_root, "gruppenpraxis")
    used = parent / "dr-berger"
    (used / "archiv").mkdir(parents=True)
    assert set_gdt(client, first, exchangeDirectory=str(used)).status_code == 200
    for path in (used, parent, used / "archiv", parent / ".." / "gruppenpraxis" / "dr-berger"):
        result = set_gdt(client, second, exchangeDirectory=str(path))
        assert_error(result, 400, "validation_failed")
        assert "already in use" in result.json["error"]["details"][0]["problem"], path
    (parent / "dr-sommer").mkdir()
    assert set_gdt(client, second, exchangeDirectory=str(parent / "dr-sommer")).status_code == 200


def test_a_server_without_exchange_root_refuses_every_directory(tmp_path, database_url, database, clock):
    client = app_client(tmp_path, database_url, database, clock)
    practice = team(client)
    result = set_gdt(client, practice, exchangeDirectory=str(tmp_path))
    assert_error(result, 400, "validation_failed")
    assert "gdt.exchange_root" in result.json["error"]["details"][0]["problem"]
    assert call(client, "GET", "/api/gdt/settings", token=practice.token()).json["exchangeRoot"] is None


CONFUSABLE = [({"senderId": "PVS"}, "senderId"), ({"defaultReceiverId": "EINWX"}, "defaultReceiverId"),
              ({"senderId": "ÄRZTE"}, "senderId"), ({"charset": "UTF-8"}, "charset"), ({}, "(body)")]


def test_gdt_ids_that_would_confuse_file_names_are_refused(client):
    practice = team(client)
    for fields, field in CONFUSABLE:
        result = set_gdt(client, practice, **fields)
        assert_error(result, 400, "validation_failed")
        assert field in problem_fields(result), fields
    assert audit_entries("PRACTICE_SETTINGS_UPDATED") == []
