"""The archive copy of a completed consent: ADMIN and ARZT store it once, encrypted and signed,
in the object store (PostgreSQL with S3, SQLite with the directory store) and fetch it; the
server never sees the PDF; refusals and a store that is down leave nothing behind; the
patient's erasure removes it."""

from __future__ import annotations

import hashlib
import secrets
import uuid

import pytest

from appliance import envelopes
from appliance.app import create_app
from appliance.client import crypto
from appliance.client.api import Identity, PatientClient, StaffClient
from tests.conftest import make_settings
from tests.support.api import assert_error, audit_actions, audit_entries, call
from tests.support.consent import (
    ARCHIVE_PDF,
    archive_fields,
    archive_upload,
    assert_like_unknown,
    countersign_body,
    create_patient,
    raw_dump,
    team,
)
from tests.support.forms import SIGNATURE, fill
from tests.support.photos import (
    cleanup_rows,
    multipart,
    object_keys,
    object_store_fixtures,
    post_form,
)
from tests.test_consent_countersign import countersign, signed_consent
from tests.test_photos_failures import DownStore, falcon_client

LIMIT = 128 * 1024
PDF = ARCHIVE_PDF

settings, store, app = object_store_fixtures(max_archive_bytes=LIMIT)


@pytest.fixture
def practice(client):
    return team(client, "ARZT", "EMPFANG")


def completed_consent(client, practice, **fields) -> dict:
    consent = signed_consent(client, practice, **fields)
    body = countersign_body(practice.practice, consent["id"], "2026-01-02")
    assert countersign(client, practice, consent["id"], body).status_code == 200
    return consent


def post_archive(client, practice, consent_id: str, upload: tuple[bytes, str] | None = None,
                 role: str = "ARZT"):
    """Stores `upload` (the PDF for this consent unless given) for the consent."""
    upload = upload or archive_upload(practice.practice, consent_id)
    return post_form(client, f"/api/consent/practice/{consent_id}/archive", practice.token(role), *upload)


def get_archive(client, practice, consent_id: str, path: str = "archive", role: str = "ADMIN"):
    return call(client, "GET", f"/api/consent/practice/{consent_id}/{path}", token=practice.token(role))


def decrypted(practice, consent_id: str, record: dict, ciphertext: bytes) -> bytes:
    statement = {"consentId": consent_id, "wrappedKey": record["wrappedKey"]}
    crypto.verify_statement(practice.admin.keys, "consent.archive", statement, record["signature"])
    return crypto.decrypt_payload(practice.admin.keys, record["wrappedKey"], ciphertext,
                                  envelopes.PURPOSE_CONSENT_ARCHIVE, consent_id)


@pytest.mark.parametrize("role", ["ARZT", "ADMIN"])
def test_stored_once_fetched_and_decrypted_by_staff(client, practice, store, database, role):
    consent = completed_consent(client, practice)
    stored = post_archive(client, practice, consent["id"], role=role)
    assert stored.status_code == 201, stored.text
    record = stored.json
    assert record["consentId"] == consent["id"] and record["createdBy"] == practice.user_id(role)
    assert record["sizeBytes"] == envelopes.payload_size(len(PDF))
    assert get_archive(client, practice, consent["id"]).json == record
    assert get_archive(client, practice, consent["id"], "").json["archive"] == record
    keys = object_keys(store)
    assert len(keys) == 1 and keys[0].startswith(f"{practice.practice_id}/archives/")
    assert cleanup_rows() == []

    download = get_archive(client, practice, consent["id"], "archive/download", "ARZT")
    assert download.status_code == 200 and download.headers["Content-Type"] == "application/octet-stream"
    assert int(download.headers["Content-Length"]) == record["sizeBytes"]
    assert decrypted(practice, consent["id"], record, download.content) == PDF
    assert PDF[:4096] not in raw_dump(database) and PDF[:4096] not in download.content
    assert audit_actions()["CONSENT_ARCHIVED"] == 1 and audit_actions()["CONSENT_ARCHIVE_VIEWED"] == 1
    assert audit_entries("CONSENT_ARCHIVED")[0].metadata == {"sizeBytes": record["sizeBytes"]}

    # One archive copy per consent: a second is refused and the first stays as it was.
    again = post_archive(client, practice, consent["id"],
                         archive_upload(practice.practice, consent["id"], b"%PDF-2"))
    assert_error(again, 409, "archive_exists")
    assert len(object_keys(store)) == 1 and cleanup_rows() == []
    assert get_archive(client, practice, consent["id"], "archive/download").content == download.content


def test_reception_and_other_practices_cannot_store_or_fetch(client, practice, store):
    consent = completed_consent(client, practice)
    upload = archive_upload(practice.practice, consent["id"])
    assert_error(post_archive(client, practice, consent["id"], upload, "EMPFANG"), 403, "forbidden")
    assert post_archive(client, practice, consent["id"], upload).status_code == 201
    for path in ("archive", "archive/download"):
        assert_error(call(client, "GET", f"/api/consent/practice/{consent['id']}/{path}",
                          token=practice.token("EMPFANG")), 403, "forbidden")
    other = team(client, "ARZT")
    for path in ("archive", "archive/download"):
        foreign = call(client, "GET", f"/api/consent/practice/{consent['id']}/{path}", token=other.token())
        unknown = call(client, "GET", f"/api/consent/practice/{uuid.uuid4()}/{path}", token=other.token())
        assert_like_unknown(foreign, unknown)
    foreign = post_archive(client, other, consent["id"], archive_upload(other.practice, consent["id"]))
    unknown = post_archive(client, other, str(uuid.uuid4()), archive_upload(other.practice, consent["id"]))
    assert_like_unknown(foreign, unknown)
    assert len(object_keys(store)) == 1 and audit_actions()["CONSENT_ARCHIVE_VIEWED"] == 0


def test_refused_uploads_leave_nothing(client, practice, store):
    signed = signed_consent(client, practice)
    assert_error(post_archive(client, practice, signed["id"]),
                 409, "consent_not_completed")
    consent = completed_consent(client, practice)
    assert_error(get_archive(client, practice, consent["id"]), 404, "not_found")
    other = completed_consent(client, practice)
    refusals = [
        (archive_upload(practice.practice, consent["id"], signed_for=other["id"]), 400, "invalid_signature"),
        (multipart({"wrappedKey": "AAAA", "signature": "AAAA"}, b"x" * 100), 400, "validation_failed"),
        (archive_upload(practice.practice, consent["id"], PDF * 2), 413, "payload_too_large"),
    ]
    fields, _ = archive_fields(practice.practice, consent["id"])
    refusals.append((multipart(fields, b"\x00" * 10), 400, "invalid_payload"))
    for upload, status, code in refusals:
        assert_error(post_archive(client, practice, consent["id"], upload), status, code)
    assert object_keys(store) == [] and cleanup_rows() == []
    assert audit_actions()["CONSENT_ARCHIVED"] == 0
    # A copy bound to another consent is stored (the server cannot tell) but opens nowhere.
    moved = post_archive(client, practice, consent["id"],
                         archive_upload(practice.practice, consent["id"], record=other["id"]))
    download = get_archive(client, practice, consent["id"], "archive/download")
    with pytest.raises(crypto.PayloadError):
        decrypted(practice, consent["id"], moved.json, download.content)


def test_a_store_that_is_down_answers_503_and_keeps_nothing(tmp_path, database_url, database, clock, client,
                                                            practice):
    consent = completed_consent(client, practice)
    down = falcon_client(create_app(make_settings(tmp_path, database_url), database, store=DownStore(),
                                    clock=clock))
    assert_error(post_archive(down, practice, consent["id"]),
                 503, "object_store_unavailable")
    assert get_archive(client, practice, consent["id"]).status_code == 404
    assert audit_actions()["CONSENT_ARCHIVED"] == 0
    # Up again: the same upload is accepted.
    assert post_archive(client, practice, consent["id"]).status_code == 201


def test_erasing_the_patient_removes_the_archive_copy(client, practice, store):
    patient = create_patient(client, practice)
    consent = completed_consent(client, practice, patientId=patient["id"])
    assert post_archive(client, practice, consent["id"]).status_code == 201
    erased = call(client, "DELETE", f"/api/patients/{patient['id']}?confirmRetentionOverride=true",
                  token=practice.token())
    assert erased.status_code == 200, erased.text
    assert object_keys(store) == [] and cleanup_rows() == []
    assert audit_entries("PATIENT_DELETED")[0].metadata["consentArchives"] == 1


def test_countersign_archive_and_read_back_with_the_reference_client(live_server, tmp_path):
    server = live_server()
    staff = StaffClient(server.url)
    staff.register("arzt@praxis-archiv.de", "ein-langes-passwort", "Dr. Archiv")
    staff.create_practice("Praxis Archiv", "arzt@praxis-archiv.de", "Tresor im Keller, 2026!")
    consent = staff.create_consent("BOTOX")
    patient = PatientClient(server.url)
    form = patient.open(consent["token"])["form"]
    patient.submit(consent["link"], Identity("Eva", "Akte", "1980-05-17"), fill(form), SIGNATURE, form=form)
    staff.read_consent(consent["id"], form)
    completed = staff.countersign_consent(consent["id"], "2026-01-02", "Aufklärung erfolgt.")
    assert completed["status"] == "COMPLETED"
    assert staff.read_countersignature(staff.get_consent(consent["id"]))["note"] == "Aufklärung erfolgt."
    pdf = tmp_path / "archiv.pdf"
    pdf.write_bytes(b"%PDF-1.7\n" + secrets.token_bytes(200_000))  # more than 3 chunks
    with pdf.open("rb") as handle:
        record = staff.archive_consent(consent["id"], handle)
    assert record["sizeBytes"] == envelopes.payload_size(pdf.stat().st_size)
    assert hashlib.sha256(staff.read_consent_archive(consent["id"])).digest() == \
        hashlib.sha256(pdf.read_bytes()).digest()
