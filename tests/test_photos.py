"""Photos over HTTP: PostgreSQL with the S3 store (SeaweedFS), SQLite with the directory store.

Every failure path checks the same promise: no photo row without its object, no object
without its row, and nothing at all after a refused upload.
"""

from __future__ import annotations

import base64

import pytest

from appliance import envelopes
from appliance.client import crypto
from appliance.client.api import photo_statement
from tests.support import treatment
from tests.support.api import assert_error, audit_actions, audit_entries, call, keys_of, problem_fields
from tests.support.consent import create_consent, create_patient, submit, submit_body, team
from tests.support.photos import (
    IMAGE,
    cleanup_rows,
    encrypt_photo,
    multipart,
    object_keys,
    object_store_fixtures,
    photo_fields,
    photo_rows,
    post_form,
    random_id,
    upload,
)

LIMIT = 256 * 1024


settings, store, app = object_store_fixtures(max_photo_bytes=LIMIT)


@pytest.fixture
def praxis(client):
    return team(client, "ARZT", "EMPFANG")


@pytest.fixture
def patient(client, praxis):
    return create_patient(client, praxis)


def assert_nothing_stored(store) -> None:
    assert photo_rows() == []
    assert object_keys(store) == []
    assert cleanup_rows() == []


def uploaded(client, praxis, patient, image: bytes = IMAGE, role: str = "ARZT", metadata=None,
             **fields) -> tuple[dict, bytes]:
    wrapped_key, ciphertext = encrypt_photo(praxis.practice, image)
    if metadata is not None:  # sealed to the photo's id, which the ciphertext is bound to
        photo_id = photo_fields(patient["id"], wrapped_key)["id"]
        fields["encryptedMetadata"] = crypto.seal_field(praxis.practice["publicKey"], "photo.metadata",
                                                        photo_id, metadata)
    fields = photo_fields(patient["id"], wrapped_key, **fields)
    result = upload(client, praxis.token(role), fields, ciphertext)
    assert result.status_code == 201, result.text
    return result.json, ciphertext


def test_upload_list_download_decrypt_delete(client, praxis, patient, store):
    photo, ciphertext = uploaded(client, praxis, patient, metadata={"note": "vor Botox"},
                                 photoConsentGranted="true")
    assert photo["patientId"] == patient["id"] and photo["type"] == "BEFORE"
    assert photo["bodyRegion"] == "GLABELLA" and photo["takenAt"] == "2026-11-28T13:30:00.000Z"
    assert photo["photoConsentGranted"] is True and photo["sizeBytes"] == len(ciphertext)
    assert object_keys(store) == [f"{praxis.practice_id}/photos/{photo['id']}"]
    assert cleanup_rows() == []

    listed = call(client, "GET", f"/api/photos/patient/{patient['id']}", token=praxis.token("ARZT")).json
    assert listed["total"] == 1 and listed["items"] == [photo]

    download = call(client, "GET", f"/api/photos/{photo['id']}/download", token=praxis.token())
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert int(download.headers["Content-Length"]) == len(ciphertext)
    assert download.content == ciphertext
    record = call(client, "GET", f"/api/photos/{photo['id']}", token=praxis.token()).json
    keys = praxis.admin.keys
    assert crypto.decrypt_payload(keys, record["wrappedKey"], download.content,
                                  envelopes.PURPOSE_PHOTO, photo["id"]) == IMAGE
    assert crypto.open_field(keys, "photo.metadata", photo["id"], record["encryptedMetadata"]) == {
        "note": "vor Botox"}

    deleted = call(client, "DELETE", f"/api/photos/{photo['id']}", token=praxis.token("ARZT"))
    assert deleted.json == {"deleted": True, "objectRemoved": True}
    assert_nothing_stored(store)
    assert call(client, "GET", f"/api/photos/{photo['id']}", token=praxis.token()).status_code == 404
    actions = audit_actions()
    assert (actions["PHOTO_UPLOADED"], actions["PHOTO_VIEWED"], actions["PHOTO_DELETED"]) == (1, 1, 1)
    viewed = audit_entries("PHOTO_VIEWED")[0]
    assert viewed.entity_id == photo["id"] and str(viewed.user_id) == praxis.user_id("ADMIN")


def test_only_admin_and_arzt_work_with_photos(client, praxis, patient):
    photo, _ = uploaded(client, praxis, patient)
    for method, path in (("GET", f"/api/photos/{photo['id']}"),
                         ("GET", f"/api/photos/{photo['id']}/download"),
                         ("GET", f"/api/photos/patient/{patient['id']}"),
                         ("DELETE", f"/api/photos/{photo['id']}")):
        assert_error(call(client, method, path, token=praxis.token("EMPFANG")), 403, "forbidden")
    assert len(photo_rows()) == 1


def test_an_oversized_upload_is_refused_with_413_and_nothing_is_stored(client, praxis, patient, store):
    wrapped_key, ciphertext = encrypt_photo(praxis.practice, IMAGE + bytes(LIMIT))
    fields = photo_fields(patient["id"], wrapped_key)
    # Declared far beyond the limit: refused before a byte of the body is read.
    assert_error(upload(client, praxis.token(), fields, ciphertext + bytes(LIMIT)), 413, "payload_too_large")
    assert_nothing_stored(store)
    # Just over the limit: the stream is cut while it is stored, the partial object removed.
    _, just_over = encrypt_photo(praxis.practice, bytes(LIMIT - 24 - 4 * 17 + 1))
    assert len(just_over) == LIMIT + 1
    assert_error(upload(client, praxis.token(), fields, just_over), 413, "payload_too_large")
    assert_nothing_stored(store)
    _, at_limit = encrypt_photo(praxis.practice, bytes(LIMIT - 24 - 4 * 17))
    assert upload(client, praxis.token(), fields, at_limit).status_code == 201


def test_a_file_without_a_secretstream_header_is_refused(client, praxis, patient, store):
    wrapped_key, _ = encrypt_photo(praxis.practice)
    fields = photo_fields(patient["id"], wrapped_key)
    for short in (b"", b"\x00" * 23, b"\x00" * 40):
        result = upload(client, praxis.token(), fields, short)
        assert_error(result, 400, "invalid_payload")
        assert problem_fields(result) == {"file"}
    assert_nothing_stored(store)


def test_form_fields_are_checked_before_the_file_is_read(client, praxis, patient, store):
    wrapped_key, ciphertext = encrypt_photo(praxis.practice)
    good = photo_fields(patient["id"], wrapped_key)
    cases = [
        ({**good, "type": "DURING"}, "type"),
        ({**good, "bodyRegion": "ELBOW"}, "bodyRegion"),
        ({**good, "takenAt": "yesterday"}, "takenAt"),
        ({**good, "takenAt": "2026-11-28T14:30:00"}, "takenAt"),  # no offset
        ({**good, "wrappedKey": base64.b64encode(bytes(79)).decode()}, "wrappedKey"),
        ({**good, "encryptedMetadata": "not base64!"}, "encryptedMetadata"),
        ({**good, "patientId": "not-a-uuid"}, "patientId"),
        ({**good, "photoConsentGranted": "yes"}, "photoConsentGranted"),
        ({**good, "secret": "x"}, "secret"),
        ({k: v for k, v in good.items() if k != "wrappedKey"}, "wrappedKey"),
    ]
    for fields, field in cases:
        result = upload(client, praxis.token(), fields, ciphertext)
        assert result.status_code == 400, (field, result.text)
        assert field in problem_fields(result), (field, result.json)
    assert_error(upload(client, praxis.token(), good, ciphertext, after={"type": "AFTER"}), 400,
                 "validation_failed")
    body, content_type = multipart(good, None)
    assert problem_fields(post_form(client, "/api/photos", praxis.token(), body, content_type)) == {"file"}
    assert_error(call(client, "POST", "/api/photos", token=praxis.token(), json=good), 415,
                 "unsupported_media_type")
    assert_nothing_stored(store)


def test_links_must_name_the_same_patient_of_the_same_practice(client, praxis, patient, store, clock):
    other_patient = create_patient(client, praxis)
    consent = create_consent(client, praxis, patientId=other_patient["id"])
    assert submit(client, consent["token"], submit_body(client, praxis.practice, consent)).status_code == 200
    wrapped_key, ciphertext = encrypt_photo(praxis.practice)
    fields = photo_fields(patient["id"], wrapped_key, consentFormId=consent["id"])
    result = upload(client, praxis.token(), fields, ciphertext)
    assert_error(result, 400, "validation_failed")
    assert problem_fields(result) == {"consentFormId"}

    elsewhere = team(client)
    foreign_patient = create_patient(client, elsewhere)
    foreign_consent = create_consent(client, elsewhere, patientId=foreign_patient["id"])
    for fields in (photo_fields(foreign_patient["id"], wrapped_key),
                   photo_fields(patient["id"], wrapped_key, consentFormId=foreign_consent["id"]),
                   photo_fields(patient["id"], wrapped_key, treatmentPlanId=random_id())):
        assert_error(upload(client, praxis.token(), fields, ciphertext), 404, "not_found")
    assert_nothing_stored(store)

    linked, _ = uploaded(client, praxis, other_patient, consentFormId=consent["id"])
    assert linked["consentFormId"] == consent["id"]


def test_a_photo_may_be_linked_to_a_treatment_plan_and_filtered_by_it(client, praxis, patient):
    staff = treatment.Practice(praxis.admin, praxis.members["ARZT"])
    plan = call(client, "POST", "/api/treatment-plans", token=praxis.token("ARZT"),
                json=treatment.plan_body(staff, patient["id"]))
    assert plan.status_code == 201, plan.text
    with_plan, _ = uploaded(client, praxis, patient, treatmentPlanId=plan.json["id"], type="AFTER")
    uploaded(client, praxis, patient, bodyRegion="LIPS")
    path = f"/api/photos/patient/{patient['id']}"
    by_plan = call(client, "GET", f"{path}?treatmentPlanId={plan.json['id']}", token=praxis.token()).json
    assert [p["id"] for p in by_plan["items"]] == [with_plan["id"]]
    assert call(client, "GET", f"{path}?type=AFTER", token=praxis.token()).json["total"] == 1
    assert call(client, "GET", f"{path}?bodyRegion=LIPS", token=praxis.token()).json["total"] == 1
    page = call(client, "GET", f"{path}?limit=1&page=2", token=praxis.token()).json
    assert (page["total"], len(page["items"]), page["page"]) == (2, 1, 2)
    for query, field in (("type=SIDE", "type"), ("bodyRegion=KNEE", "bodyRegion"),
                         ("treatmentPlanId=x", "treatmentPlanId")):
        assert problem_fields(call(client, "GET", f"{path}?{query}", token=praxis.token())) == {field}
    # Deleting the plan only unlinks the photo.
    assert call(client, "DELETE", f"/api/treatment-plans/{plan.json['id']}",
                token=praxis.token()).status_code == 200
    assert call(client, "GET", f"/api/photos/{with_plan['id']}",
                token=praxis.token()).json["treatmentPlanId"] is None


def _consent_flag(photo: dict, granted: bool, practice: dict) -> dict:
    """The PATCH body: the flag and the practice's signature of the photo with it."""
    statement = {**photo_statement(photo), "photoConsentGranted": granted}
    return {"photoConsentGranted": granted,
            "signature": crypto.sign_statement(keys_of(practice), "photo", statement)}


def test_the_consent_flag_changes_are_signed_and_audited(client, praxis, patient):
    photo, _ = uploaded(client, praxis, patient)
    assert photo["photoConsentGranted"] is False
    path = f"/api/photos/{photo['id']}/consent"
    unsigned = {"photoConsentGranted": True, "signature": photo["signature"]}  # signs False
    assert_error(call(client, "PATCH", path, token=praxis.token("ARZT"), json=unsigned), 400,
                 "invalid_signature")
    assert_error(call(client, "PATCH", path, token=praxis.token("ARZT"), json={"photoConsentGranted": True}),
                 400, "validation_failed")
    body = _consent_flag(photo, True, praxis.practice)
    changed = call(client, "PATCH", path, token=praxis.token("ARZT"), json=body)
    assert changed.json["photoConsentGranted"] is True and changed.json["signature"] == body["signature"]
    call(client, "PATCH", path, token=praxis.token("ARZT"), json=body)
    assert problem_fields(call(client, "PATCH", path, token=praxis.token(),
                               json={**body, "photoConsentGranted": "yes"})) == {"photoConsentGranted"}
    entries = audit_entries("PHOTO_CONSENT_CHANGED")
    assert [e.metadata for e in entries] == [{"granted": True}]


def test_another_practices_photo_answers_like_one_that_does_not_exist(client, praxis, patient, store):
    photo, _ = uploaded(client, praxis, patient)
    intruder = team(client)
    for method, path, body in (("GET", f"/api/photos/{photo['id']}", None),
                               ("GET", f"/api/photos/{photo['id']}/download", None),
                               ("DELETE", f"/api/photos/{photo['id']}", None),
                               ("PATCH", f"/api/photos/{photo['id']}/consent",
                                _consent_flag(photo, True, intruder.practice)),
                               ("GET", f"/api/photos/patient/{patient['id']}", None)):
        foreign = call(client, method, path, token=intruder.token(), json=body)
        elsewhere = path.replace(photo["id"], random_id()).replace(patient["id"], random_id())
        unknown = call(client, method, elsewhere, token=intruder.token(), json=body)
        assert foreign.status_code == unknown.status_code == 404, (path, foreign.text)
        assert foreign.json["error"] == unknown.json["error"]
    assert len(photo_rows()) == 1 and len(object_keys(store)) == 1
    assert audit_actions()["PHOTO_VIEWED"] == 0
