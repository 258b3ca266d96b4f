"""The GDT import: a 6302 the PVS leaves in the exchange directory becomes a patient sealed to
the practice key and a PENDING consent; a bad file is moved to rejected/ with its reason;
every file is acted on once, and one practice's files never reach another practice."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import uuid

import peewee
import pytest

from appliance import tenancy
from appliance.client import crypto, lookup
from appliance.client.api import Identity
from appliance.gdt.exchange import ImportResult
from appliance.gdt.record import ISO_8859_1
from appliance.models import GdtImport
from tests.conftest import ROOT
from tests.support.api import audit_actions, audit_entries, call
from tests.support.consent import consent_rows, create_patient, patient_body, patient_rows, raw_dump, team
from tests.support.gdt import (
    exchange_dir,
    exchange_fixtures,
    import_fixtures,
    pvs_file,
    pvs_request,
    set_gdt,
    visible_files,
)

CLEAR = ("Käthe", "Weiß", "Öztürk", "8812345678", "1980-02-29", "29021980")


exchange_root, settings = exchange_fixtures()
app_database, app, services, directory, practice = import_fixtures()


@pytest.fixture
def gdt(services):
    """The import service."""
    return services.gdt


def opened(practice, patient) -> dict:
    """The identity as staff read it after unlocking the vault."""
    keys = practice.admin.keys
    return {name: crypto.open_field(keys, f"patient.{name}", str(patient.id),
                                    getattr(patient, f"encrypted_{column}"))
            for name, column in (("firstName", "first_name"), ("lastName", "last_name"),
                                 ("dateOfBirth", "date_of_birth"))}


def test_a_6302_becomes_a_sealed_patient_and_a_pending_consent(client, gdt, practice, directory, database,
                                                                 clock):
    path = pvs_file(directory, pvs_request("EW-BOTOX"))
    assert gdt.import_all() == {uuid.UUID(practice.practice_id): ImportResult(imported=1, rejected=0)}

    [patient] = patient_rows()
    assert str(patient.practice_id) == practice.practice_id
    assert opened(practice, patient) == {"firstName": "Käthe", "lastName": "Weiß-Öztürk",
                                         "dateOfBirth": "1980-02-29"}
    # The hash a patient's browser computes for the same person: the records meet.
    digest = lookup.lookup_hash(practice.practice["lookupSalt"], "Weiß-Öztürk", "Käthe", "1980-02-29")
    assert patient.lookup_hash == digest
    assert patient.signature is None  # the server cannot sign: staff confirm the patient
    [pending] = consent_rows()
    assert (pending.signature, pending.link_commitment) == (None, None)  # no link issued yet
    found = call(client, "GET", f"/api/patients/lookup/{digest}", token=practice.token())
    assert found.json["id"] == str(patient.id)

    [consent] = consent_rows()
    assert (consent.type, consent.status, consent.patient_id) == ("BOTOX", "PENDING", patient.id)
    assert consent.created_by is None and consent.expires_at == clock.now() + dt.timedelta(days=7)

    assert not path.exists() and visible_files(directory) == set()
    [processed] = (directory / "processed").iterdir()
    assert processed.name.endswith("_EINWPVS.gdt") and processed.read_bytes() == pvs_request("EW-BOTOX")

    dump = raw_dump(database)
    for value in CLEAR:
        assert value.encode() not in dump, value
    actions = audit_actions()
    assert actions["GDT_IMPORTED"] == actions["PATIENT_CREATED"] == actions["CONSENT_CREATED"] == 1
    [entry] = audit_entries("GDT_IMPORTED")
    assert entry.metadata == {"recordType": "6302", "patientCreated": True, "consentTypes": ["BOTOX"]}


def test_a_known_patient_is_found_and_6301_only_registers(client, gdt, practice, directory):
    known = create_patient(client, practice, patient_body(
        practice.practice, Identity("Käthe", "Weiß-Öztürk", "1980-02-29")))
    pvs_file(directory, pvs_request("EW-FILLER", "ew-botox", "EW-FILLER"), "EINWPVS1.gdt")
    pvs_file(directory, pvs_request(record_type="6301", first_name="Erika", last_name="Muster",
                                             charset=ISO_8859_1), "EINWPVS2.gdt")
    assert gdt.import_all()[uuid.UUID(practice.practice_id)] == ImportResult(imported=2, rejected=0)

    patients = {str(p.id): opened(practice, p)["firstName"] for p in patient_rows()}
    assert patients[known["id"]] == "Käthe" and sorted(patients.values()) == ["Erika", "Käthe"]
    consents = consent_rows()
    assert sorted(c.type for c in consents) == ["BOTOX", "FILLER"]
    assert {str(c.patient_id) for c in consents} == {known["id"]}


def corrupt_8100(data: bytes) -> bytes:
    return data[:20] + b"99999" + data[25:]


def corrupt_line_7(data: bytes) -> bytes:
    lines = data.split(b"\r\n")
    lines[6] = b"099" + lines[6][3:]
    return b"\r\n".join(lines)


BAD_FILES = [
    (corrupt_8100(pvs_request("EW-BOTOX")), "line 2: 8100 says 99999 bytes"),
    (corrupt_line_7(pvs_request("EW-BOTOX")), "line 7: declares 099 bytes"),
    (pvs_request("EW-BOTOX")[:-1], "does not end with CR LF"),
    (b"\x00" * 50, "line 1:"),
    (pvs_request("EKG-12"), "8410 'EKG-12' is not a consent test id"),
    (pvs_request(), "a 6302 needs an 8410"),
    (pvs_request("EW-BOTOX", record_type="6310"), "record type 6310 is not handled"),
    (pvs_request("EW-BOTOX", receiver="ANDERE"), "8315 addresses 'ANDERE'"),
    (pvs_request("EW-BOTOX", birth="30021980"), "3103 (date of birth) is not a real date"),
    (pvs_request("EW-BOTOX", first_name=" "), "3102 (first name) is missing"),
    (pvs_request("EW-BOTOX", last_name="Weiß|Öztürk"), "must not contain '|'"),
]


def test_a_bad_file_is_moved_to_rejected_with_its_reason(client, gdt, practice, directory):
    assert set_gdt(client, practice, tolerate=[]).status_code == 200  # strict: no quirk accepted
    for number, (record, _) in enumerate(BAD_FILES):
        pvs_file(directory, record, f"EINWPVS{number:02d}.gdt")
    result = gdt.import_all()[uuid.UUID(practice.practice_id)]
    assert result == ImportResult(imported=0, rejected=len(BAD_FILES))
    assert visible_files(directory) == set()
    rejected = directory / "rejected"
    for number, (record, reason) in enumerate(BAD_FILES):
        [moved] = rejected.glob(f"*_EINWPVS{number:02d}.gdt")
        assert moved.read_bytes() == record
        explanation = (rejected / (moved.name + ".reason.txt")).read_text(encoding="utf-8")
        assert reason in explanation, (number, explanation)
        for value in CLEAR:
            assert value not in explanation
    assert patient_rows() == [] and consent_rows() == []


def test_a_type_the_practice_has_not_enabled_is_rejected_and_nothing_is_kept(client, gdt, practice,
                                                                             directory):
    call(client, "PATCH", "/api/settings", token=practice.token(), json={"enabledConsentTypes": ["FILLER"]})
    pvs_file(directory, pvs_request("EW-FILLER", "EW-BOTOX"))
    assert gdt.import_all()[uuid.UUID(practice.practice_id)] == ImportResult(imported=0, rejected=1)
    [reason] = (directory / "rejected").glob("*.reason.txt")
    assert "not enabled" in reason.read_text()
    assert patient_rows() == [] and consent_rows() == []  # not even the FILLER or the patient
    assert audit_entries("GDT_IMPORTED") == []


def test_a_file_acted_on_but_not_moved_aside_is_not_acted_on_twice(gdt, practice, directory):
    path = pvs_file(directory, pvs_request("EW-PRP"))
    mtime_ns = path.stat().st_mtime_ns
    gdt.import_all()
    # As if the run had stopped between its commit and the move: the same file is back.
    [processed] = (directory / "processed").iterdir()
    path.write_bytes(processed.read_bytes())
    os.utime(path, ns=(mtime_ns, mtime_ns))
    gdt.import_all()
    assert len(consent_rows()) == 1 and len(patient_rows()) == 1
    assert visible_files(directory) == set()
    with tenancy.unscoped("test inspection"):
        assert GdtImport.select().count() == 1
    # The PVS asking again later (a new file) is a new request.
    pvs_file(directory, pvs_request("EW-PRP"))
    gdt.import_all()
    assert len(consent_rows()) == 2 and len(patient_rows()) == 1


def test_only_settled_files_addressed_to_us_are_read(gdt, practice, directory, tmp_path):
    fresh = directory / "EINWPVS.gdt"
    fresh.write_bytes(pvs_request("EW-BOTOX"))
    os.utime(fresh, (time.time() + 60, time.time() + 60))  # the PVS is still writing it
    pvs_file(directory, pvs_request("EW-BOTOX"), "EKG1PVS.gdt")  # for another device
    pvs_file(directory, pvs_request("EW-BOTOX"), "PVSEINW.gdt")  # ours, waiting for the PVS
    pvs_file(directory, pvs_request("EW-BOTOX"), "EINWPVS.txt")
    secret = tmp_path / "secret.gdt"
    secret.write_bytes(pvs_request("EW-BOTOX"))
    (directory / "EINWLINK.gdt").symlink_to(secret)
    before = visible_files(directory) | {"EINWLINK.gdt"}
    assert gdt.import_all()[uuid.UUID(practice.practice_id)] == ImportResult(imported=0, rejected=0)
    assert {p.name for p in directory.iterdir()} == before
    assert consent_rows() == []


def test_each_practice_imports_only_from_its_own_directory(client, gdt, exchange_root):
    first, second = team(client), team(client)
    for each, name in ((first, "erste"), (second, "zweite")):
        result = set_gdt(client, each, exchangeDirectory=str(exchange_dir(exchange_root, name)))
        assert result.status_code == 200
    pvs_file(exchange_root / "erste", pvs_request("EW-BOTOX", first_name="Anna"))
    pvs_file(exchange_root / "zweite", pvs_request("EW-LASER", first_name="Berta"))
    gdt.import_all()
    for each, name, consent_type in ((first, "Anna", "BOTOX"), (second, "Berta", "LASER")):
        [patient] = [p for p in patient_rows() if str(p.practice_id) == each.practice_id]
        assert opened(each, patient)["firstName"] == name
        [consent] = [c for c in consent_rows() if str(c.practice_id) == each.practice_id]
        assert consent.type == consent_type and consent.patient_id == patient.id


def test_a_directory_that_is_gone_skips_that_practice_only(client, gdt, practice, directory, exchange_root):
    other = team(client)
    set_gdt(client, other, exchangeDirectory=str(exchange_dir(exchange_root, "andere")))
    pvs_file(exchange_root / "andere", pvs_request("EW-BOTOX"))
    directory.rmdir()
    results = gdt.import_all()
    assert "does not exist" in results[uuid.UUID(practice.practice_id)]
    assert results[uuid.UUID(other.practice_id)] == ImportResult(imported=1, rejected=0)


def test_a_database_failure_leaves_the_file_for_the_next_run(gdt, practice, directory, monkeypatch):
    path = pvs_file(directory, pvs_request("EW-BOTOX"))

    def down(*args, **kwargs):
        raise peewee.OperationalError("connection lost")

    monkeypatch.setattr(gdt._consents, "create_unlinked", down)
    with pytest.raises(peewee.OperationalError):
        gdt.import_all()
    assert path.read_bytes() == pvs_request("EW-BOTOX")
    assert patient_rows() == [] and consent_rows() == []
    monkeypatch.undo()
    assert gdt.import_all()[uuid.UUID(practice.practice_id)] == ImportResult(imported=1, rejected=0)


def test_the_command_imports_like_the_scheduler(tmp_path, app_database_url, practice, directory,
                                                exchange_root):
    pvs_file(directory, pvs_request("EW-BOTOX"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
    env.update(APPLIANCE_CONFIG=str(ROOT / "config" / "appliance.dev.toml"),
               APPLIANCE_APP_DATA_DIR=str(tmp_path / "var"), APPLIANCE_DATABASE_URL=app_database_url,
               APPLIANCE_GDT_EXCHANGE_ROOT=str(exchange_root))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "appliance", "gdt", "import", *args], env=env,
                              cwd=ROOT, capture_output=True, text=True, timeout=60)

    done = run("--practice", practice.practice_id)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (f"{practice.practice_id}: 1 imported (0 with a tolerated quirk), 0 rejected,"
                           " 0 other files skipped\n")
    assert [c.type for c in consent_rows()] == ["BOTOX"]
    assert run("--practice", "nicht-eine-id").returncode == 2
    assert run("--practice", str(uuid.uuid4())).returncode == 2
