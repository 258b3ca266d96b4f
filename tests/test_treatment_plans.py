"""Treatment plans over HTTP on PostgreSQL and SQLite: encrypted content, links that must stay
inside the practice and the patient, optimistic concurrency, and the audit trail."""

from __future__ import annotations

import base64
import uuid

import pytest

from appliance.services import treatment_plans
from tests.support.api import assert_error, audit_actions, audit_entries, call, problem_fields
from tests.support.consent import raw_dump
from tests.support.photos import encrypt_photo, photo_fields, upload
from tests.support.treatment import (
    PLAN,
    PLAN_SECRETS,
    assert_documented,
    create_consent,
    create_patient,
    create_plan,
    create_template,
    if_match,
    open_plan,
    plan_body,
    plan_row,
    plan_rows,
    practice,
    update_body,
)

PLANS = "/api/treatment-plans"


@pytest.fixture
def praxis(client):
    return practice(client)


@pytest.fixture
def patient(client, praxis):
    return create_patient(client, praxis)


def test_create_read_and_decrypt_a_plan_linked_to_consent_and_template(client, praxis, patient, database):
    consent = create_consent(client, praxis, patient["id"])
    template = create_template(client, praxis)
    body = plan_body(praxis, patient["id"], consentFormId=consent["id"], templateId=template["id"])
    created = call(client, "POST", PLANS, token=praxis.arzt.token, json=body)

    assert created.status_code == 201, created.text
    assert created.headers["ETag"] == '"1"'
    plan = created.json
    assert {k: plan[k] for k in ("patientId", "consentType", "consentFormId", "templateId",
                                 "performedAt", "version", "photoIds", "createdBy")} == {
        "patientId": patient["id"], "consentType": "BOTOX", "consentFormId": consent["id"],
        "templateId": template["id"], "performedAt": "2026-11-28T14:30:00.000Z", "version": 1,
        "photoIds": [], "createdBy": praxis.arzt.user_id,
    }
    assert plan["encryptedPlan"] == body["encryptedPlan"]
    assert_documented(client, "POST", PLANS, created)

    read = call(client, "GET", f"{PLANS}/{plan['id']}", token=praxis.admin.token)
    assert read.status_code == 200 and read.headers["ETag"] == '"1"'
    assert_documented(client, "GET", PLANS + "/{id}", read)
    listed = call(client, "GET", f"{PLANS}/patient/{patient['id']}", token=praxis.admin.token)
    assert_documented(client, "GET", PLANS + "/patient/{patient_id}", listed)
    assert open_plan(praxis, read.json) == PLAN
    assert bytes(plan_row(plan["id"]).encrypted_plan) == base64.b64decode(body["encryptedPlan"])

    assert audit_actions(praxis.arzt.user_id)["TREATMENT_PLAN_CREATED"] == 1
    assert audit_actions(praxis.admin.account.user_id)["TREATMENT_PLAN_VIEWED"] == 1
    (entry,) = audit_entries("TREATMENT_PLAN_CREATED")
    assert entry.entity_id == plan["id"] and entry.entity_type == "treatment_plan"
    assert entry.metadata == {"consentType": "BOTOX", "consentFormLinked": True, "templateLinked": True}
    dump = raw_dump(database)
    for secret in PLAN_SECRETS:
        assert secret.encode() not in dump, f"{secret!r} is stored in clear"


def test_performed_at_with_an_offset_is_stored_in_utc(client, praxis, patient):
    plan = create_plan(client, praxis, patient["id"], performedAt="2026-11-28T15:30:00+01:00")
    assert plan["performedAt"] == "2026-11-28T14:30:00.000Z"


def test_list_by_patient_is_paginated_newest_treatment_first_without_ciphertexts(client, praxis, patient):
    other = create_patient(client, praxis)
    times = ["2026-03-01T10:00:00Z", "2026-11-01T10:00:00Z", "2026-06-01T10:00:00Z"]
    ids = {t: create_plan(client, praxis, patient["id"], performedAt=t)["id"] for t in times}
    create_plan(client, praxis, other["id"])

    path = f"{PLANS}/patient/{patient['id']}"
    first = call(client, "GET", path + "?limit=2", token=praxis.arzt.token).json
    second = call(client, "GET", path + "?limit=2&page=2", token=praxis.arzt.token).json
    assert (first["total"], first["page"], first["limit"]) == (3, 1, 2)
    listed = [p["id"] for p in first["items"] + second["items"]]
    assert listed == [ids[times[1]], ids[times[2]], ids[times[0]]]
    assert all("encryptedPlan" not in p and "wrappedKey" not in p for p in first["items"])
    assert "TREATMENT_PLAN_VIEWED" not in audit_actions()

    assert_error(call(client, "GET", f"{PLANS}/patient/{uuid.uuid4()}", token=praxis.arzt.token),
                 404, "not_found")
    assert_error(call(client, "GET", path + "?limit=0", token=praxis.arzt.token), 400, "validation_failed")


@pytest.mark.parametrize("field", ["patientId", "consentFormId", "templateId"])
def test_foreign_ids_of_another_practice_answer_404_and_write_nothing(client, praxis, patient, field):
    stranger = practice(client)
    their_patient = create_patient(client, stranger)
    theirs = {
        "patientId": their_patient["id"],
        "consentFormId": create_consent(client, stranger, their_patient["id"])["id"],
        "templateId": create_template(client, stranger)["id"],
    }
    body = plan_body(praxis, patient["id"], **{field: theirs[field]})
    result = call(client, "POST", PLANS, token=praxis.arzt.token, json=body)

    assert_error(result, 404, "not_found")
    assert plan_rows() == [] and "TREATMENT_PLAN_CREATED" not in audit_actions()


def test_another_practice_cannot_see_change_or_delete_a_plan(client, praxis, patient):
    plan = create_plan(client, praxis, patient["id"])
    stranger = practice(client)
    for token in (stranger.admin.token, stranger.arzt.token):
        assert_error(call(client, "GET", f"{PLANS}/{plan['id']}", token=token), 404, "not_found")
        assert_error(call(client, "GET", f"{PLANS}/patient/{patient['id']}", token=token), 404, "not_found")
        assert_error(call(client, "PATCH", f"{PLANS}/{plan['id']}", token=token, headers=if_match(1),
                          json=update_body(stranger, plan)), 404, "not_found")
        assert_error(call(client, "DELETE", f"{PLANS}/{plan['id']}", token=token), 404, "not_found")
    row = plan_row(plan["id"])
    assert row.version == 1 and base64.b64encode(bytes(row.encrypted_plan)).decode() == plan["encryptedPlan"]
    assert set(audit_actions(stranger.admin.account.user_id)) & {
        "TREATMENT_PLAN_VIEWED", "TREATMENT_PLAN_UPDATED", "TREATMENT_PLAN_DELETED"} == set()


def test_a_consent_form_must_be_of_the_same_patient_and_type(client, praxis, patient):
    other = create_patient(client, praxis)
    cases = {
        "of another patient": create_consent(client, praxis, other["id"]),
        "without a patient yet": create_consent(client, praxis, None),
        "of another type": create_consent(client, praxis, patient["id"], "FILLER"),
    }
    for form in cases.values():
        result = call(client, "POST", PLANS, token=praxis.arzt.token,
                      json=plan_body(praxis, patient["id"], consentFormId=form["id"]))
        assert_error(result, 400, "consent_form_mismatch")
        assert problem_fields(result) == {"consentFormId"}
    assert plan_rows() == []
    fitting = create_consent(client, praxis, patient["id"], "FILLER")
    assert create_plan(client, praxis, patient["id"], consent_type="FILLER", consentFormId=fitting["id"])


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


INVALID_BODIES = [
    ({"encryptedPlan": "not base64!"}, "encryptedPlan"),
    ({"encryptedPlan": _b64(b"\x00" * 40)}, "encryptedPlan"),  # shorter than header + chunk
    ({"encryptedPlan": _b64(b"\x00" * (treatment_plans.MAX_PLAN_BYTES + 1))}, "encryptedPlan"),
    ({"wrappedKey": _b64(b"\x00" * 79)}, "wrappedKey"),
    ({"performedAt": "2026-11-28T14:30:00"}, "performedAt"),  # no offset: ambiguous
    ({"performedAt": "gestern"}, "performedAt"),
    ({"performedAt": "2026-11-28T14:30:00Z" + " " * 40}, "performedAt"),
    ({"consentType": "HYALURON"}, "consentType"),
    ({"patientId": "patient-1"}, "patientId"),
    ({"templateId": 17}, "templateId"),
    ({"plan": PLAN}, "(body)"),  # clear data is refused, not ignored
]


def test_invalid_plan_bodies_are_400_naming_the_field_and_write_nothing(client, praxis, patient):
    for changes, field in INVALID_BODIES:
        body = {**plan_body(praxis, patient["id"]), **changes}
        result = call(client, "POST", PLANS, token=praxis.arzt.token, json=body)
        assert_error(result, 400, "validation_failed")
        assert field in problem_fields(result), (changes, result.json)
    assert plan_rows() == [] and "TREATMENT_PLAN_CREATED" not in audit_actions()


def test_update_needs_the_version_read_and_refuses_a_lost_update(client, praxis, patient):
    plan = create_plan(client, praxis, patient["id"])
    path = f"{PLANS}/{plan['id']}"
    mine = update_body(praxis, plan, {**PLAN, "notes": "meine Änderung"})
    theirs = update_body(praxis, plan, {**PLAN, "notes": "Änderung der Kollegin"})

    assert_error(call(client, "PATCH", path, token=praxis.arzt.token, json=mine), 428,
                 "precondition_required")
    for header in ('W/"1"', "*", "1", '"1", "2"', '"x"'):
        bad = call(client, "PATCH", path, token=praxis.arzt.token, json=mine, headers={"If-Match": header})
        assert_error(bad, 400, "invalid_precondition")

    first = call(client, "PATCH", path, token=praxis.arzt.token, json=mine, headers=if_match(1))
    assert first.status_code == 200, first.text
    assert first.json["version"] == 2 and first.headers["ETag"] == '"2"'
    assert first.json["updatedBy"] == praxis.arzt.user_id
    assert_documented(client, "PATCH", PLANS + "/{id}", first)
    lost = call(client, "PATCH", path, token=praxis.admin.token, json=theirs, headers=if_match(1))
    body = assert_error(lost, 412, "version_mismatch")
    assert body["error"]["details"] == {"currentVersion": 2} and lost.headers["ETag"] == '"2"'

    stored = call(client, "GET", path, token=praxis.arzt.token).json
    assert open_plan(praxis, stored)["notes"] == "meine Änderung"
    assert audit_actions()["TREATMENT_PLAN_UPDATED"] == 1
    (entry,) = audit_entries("TREATMENT_PLAN_UPDATED")
    assert entry.metadata == {"version": 2, "fields": []}

    theirs = update_body(praxis, stored, {**PLAN, "notes": "Änderung der Kollegin"})
    again = call(client, "PATCH", path, token=praxis.admin.token, json=theirs, headers=if_match(2))
    assert again.status_code == 200 and again.json["version"] == 3
    assert_error(call(client, "PATCH", f"{PLANS}/{uuid.uuid4()}", token=praxis.arzt.token, json=mine,
                      headers=if_match(1)), 404, "not_found")


def test_update_changes_and_checks_the_links(client, praxis, patient):
    template = create_template(client, praxis)
    plan = create_plan(client, praxis, patient["id"], templateId=template["id"])
    path = f"{PLANS}/{plan['id']}"
    others_form = create_consent(client, praxis, create_patient(client, praxis)["id"])
    refused = call(client, "PATCH", path, token=praxis.arzt.token, headers=if_match(1),
                   json=update_body(praxis, plan, consentFormId=others_form["id"]))
    assert_error(refused, 400, "consent_form_mismatch")
    assert plan_row(plan["id"]).version == 1

    form = create_consent(client, praxis, patient["id"], "FILLER")
    changed = call(client, "PATCH", path, token=praxis.arzt.token, headers=if_match(1), json=update_body(
        praxis, plan, consentFormId=form["id"], consentType="FILLER", templateId=None,
        performedAt="2026-11-29T08:00:00Z"))
    assert changed.status_code == 200, changed.text
    assert {k: changed.json[k] for k in ("consentFormId", "consentType", "templateId", "performedAt")} == {
        "consentFormId": form["id"], "consentType": "FILLER", "templateId": None,
        "performedAt": "2026-11-29T08:00:00.000Z"}
    # Changing the type alone must still fit the linked consent form.
    mismatch = call(client, "PATCH", path, token=praxis.arzt.token, headers=if_match(2),
                    json=update_body(praxis, changed.json, consentType="BOTOX"))
    assert_error(mismatch, 400, "consent_form_mismatch")
    missing = call(client, "PATCH", path, token=praxis.arzt.token, headers=if_match(2),
                   json=update_body(praxis, changed.json, templateId=str(uuid.uuid4())))
    assert_error(missing, 404, "not_found")
    assert plan_row(plan["id"]).version == 2


def test_delete_removes_the_plan_and_is_audited(client, praxis, patient):
    plan = create_plan(client, praxis, patient["id"])
    deleted = call(client, "DELETE", f"{PLANS}/{plan['id']}", token=praxis.admin.token)
    assert deleted.status_code == 200 and deleted.json == {"deleted": True, "photosUnlinked": 0}
    assert_documented(client, "DELETE", PLANS + "/{id}", deleted)
    assert_error(call(client, "GET", f"{PLANS}/{plan['id']}", token=praxis.admin.token), 404, "not_found")
    assert_error(call(client, "DELETE", f"{PLANS}/{plan['id']}", token=praxis.admin.token), 404, "not_found")
    assert plan_rows() == []
    (entry,) = audit_entries("TREATMENT_PLAN_DELETED")
    assert entry.entity_id == plan["id"] and entry.metadata == {"consentType": "BOTOX", "photosUnlinked": 0}


def _photo(client, praxis, patient_id: str, plan_id: str | None = None) -> str:
    wrapped_key, ciphertext = encrypt_photo(praxis.data, b"\xff\xd8\xff\xe0" + bytes(500))
    fields = photo_fields(patient_id, wrapped_key, treatmentPlanId=plan_id)
    result = upload(client, praxis.arzt.token, fields, ciphertext)
    assert result.status_code == 201, result.text
    return result.json["id"]


def test_a_plan_lists_its_photos_and_deleting_it_keeps_them(client, praxis, patient):
    plan = create_plan(client, praxis, patient["id"])
    other_plan = create_plan(client, praxis, patient["id"])
    linked = sorted(_photo(client, praxis, patient["id"], plan["id"]) for _ in range(2))
    elsewhere = _photo(client, praxis, patient["id"], other_plan["id"])
    _photo(client, praxis, patient["id"])

    read = call(client, "GET", f"{PLANS}/{plan['id']}", token=praxis.arzt.token).json
    assert read["photoIds"] == linked
    deleted = call(client, "DELETE", f"{PLANS}/{plan['id']}", token=praxis.arzt.token).json
    assert deleted == {"deleted": True, "photosUnlinked": 2}
    for photo_id, plan_id in [(linked[0], None), (linked[1], None), (elsewhere, other_plan["id"])]:
        photo = call(client, "GET", f"/api/photos/{photo_id}", token=praxis.arzt.token)
        assert photo.status_code == 200 and photo.json["treatmentPlanId"] == plan_id
    listed = call(client, "GET", f"/api/photos/patient/{patient['id']}", token=praxis.arzt.token).json
    assert listed["total"] == 4
    (entry,) = audit_entries("TREATMENT_PLAN_DELETED")
    assert entry.metadata == {"consentType": "BOTOX", "photosUnlinked": 2}




def test_erasing_a_patient_with_a_recent_plan_needs_the_override_and_removes_the_plan(client, praxis):
    patient = create_patient(client, praxis)
    create_plan(client, praxis, patient["id"])
    path = f"/api/patients/{patient['id']}"
    refused = call(client, "DELETE", path, token=praxis.admin.token)
    assert_error(refused, 409, "retention_period")
    assert refused.json["error"]["details"]["treatmentPlansInRetention"] == 1
    assert len(plan_rows()) == 1
    erased = call(client, "DELETE", path + "?confirmRetentionOverride=true", token=praxis.admin.token)
    assert erased.status_code == 200, erased.text
    assert plan_rows() == []
    [entry] = audit_entries("PATIENT_DELETED")
    assert entry.metadata["treatmentPlans"] == 1 and entry.metadata["retentionOverride"] is True


def test_a_plan_needs_the_practices_signature_of_exactly_what_it_stores(client, praxis, patient):
    other = create_patient(client, praxis)
    body = plan_body(praxis, patient["id"])
    for bad in (body | {"patientId": other["id"]}, body | {"performedAt": "2026-11-28T14:31:00Z"},
                body | {"consentType": "FILLER"}, body | {"id": str(uuid.uuid4())},
                body | {"wrappedKey": plan_body(praxis, patient["id"])["wrappedKey"]}):
        result = call(client, "POST", PLANS, token=praxis.arzt.token, json=bad)
        assert_error(result, 400, "invalid_signature")
        assert problem_fields(result) == {"signature"}
    assert plan_rows() == []
    created = call(client, "POST", PLANS, token=praxis.arzt.token, json=body)
    assert created.status_code == 201 and created.json["signature"] == body["signature"]

    update = update_body(praxis, created.json, {**PLAN, "notes": "geändert"})
    for stale in ({**update, "signature": body["signature"]},  # the version-1 statement
                  update_body(praxis, {**created.json, "version": 2})):  # signs version 3
        result = call(client, "PATCH", f"{PLANS}/{body['id']}", token=praxis.arzt.token, headers=if_match(1),
                      json=stale)
        assert_error(result, 400, "invalid_signature")
    assert plan_row(body["id"]).version == 1
    again = call(client, "POST", PLANS, token=praxis.arzt.token, json=body)
    assert_error(again, 409, "id_taken")
