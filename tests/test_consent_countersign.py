"""The physician's countersignature: ADMIN and ARZT confirm the information talk of a signed
consent with a document encrypted to the practice and signed over the answers they read; the
consent moves SIGNED (or PAID) -> COMPLETED once, audited; reception, other practices, other
states and forged signatures are refused with nothing changed."""

from __future__ import annotations

import base64
import uuid

import pytest

from appliance import envelopes, tenancy
from appliance.client import countersignature, crypto
from appliance.client.api import StaffClient
from appliance.client.in_process import InProcessSession
from appliance.models import ConsentForm
from tests.support.api import assert_error, audit_entries, call
from tests.support.consent import (
    assert_like_unknown,
    consent_row,
    countersign_body,
    create_consent,
    submit,
    submit_body,
    team,
)

SETUP = "test setup: a state the API reaches another way"


@pytest.fixture
def practice(client):
    return team(client, "ARZT", "EMPFANG")


def staff_client(client, practice, role: str = "ADMIN") -> StaffClient:
    """The reference client in-process, its vault open (the founder's keys, no Argon2 here)."""
    staff = StaffClient("http://in-process", session=InProcessSession(client.app))
    staff.token = practice.token(role)
    staff.keys, staff.practice = practice.admin.keys, practice.practice
    return staff


def signed_consent(client, practice, **fields) -> dict:
    consent = create_consent(client, practice, **fields)
    result = submit(client, consent["token"], submit_body(client, practice.practice, consent))
    assert result.status_code == 200, result.text
    return consent


def countersign(client, practice, consent_id: str, body: dict, role: str = "ARZT"):
    return call(client, "POST", f"/api/consent/practice/{consent_id}/countersignature",
                token=practice.token(role), json=body)


@pytest.mark.parametrize("role", ["ARZT", "ADMIN"])
def test_a_physician_countersigns_and_the_consent_is_completed(client, practice, clock, role):
    consent = signed_consent(client, practice)
    talk = clock.now().date().isoformat()
    staff = staff_client(client, practice, role)
    staff.read_consent(consent["id"])
    answer = staff.countersign_consent(consent["id"], talk, "Risiken besprochen; Fragen beantwortet.")
    assert answer["status"] == "COMPLETED"
    assert answer["countersignedBy"] == practice.user_id(role)
    assert answer["countersignature"]["countersignedAt"] == answer["countersignedAt"]

    stored = staff.get_consent(consent["id"])
    assert stored["status"] == "COMPLETED" and stored["countersignedAt"] is not None
    assert staff.read_countersignature(stored) == {"v": 2, "talkDate": talk,
                                                   "note": "Risiken besprochen; Fragen beantwortet."}
    listed = staff.list_consents(status="COMPLETED")["items"]
    assert [item["id"] for item in listed] == [consent["id"]]
    assert listed[0]["countersignedBy"] == practice.user_id(role)
    entry, = audit_entries("CONSENT_COUNTERSIGNED")
    assert str(entry.entity_id) == consent["id"] and str(entry.user_id) == practice.user_id(role)
    assert entry.metadata == {"previousStatus": "SIGNED"}


def test_a_paid_consent_can_be_countersigned(client, practice, clock):
    consent = signed_consent(client, practice)
    with tenancy.unscoped(SETUP):
        ConsentForm.update(status="PAID").where(ConsentForm.id == uuid.UUID(consent["id"])).execute()
    body = countersign_body(practice.practice, consent["id"], clock.now().date().isoformat())
    assert countersign(client, practice, consent["id"], body).json["status"] == "COMPLETED"


def test_a_second_countersignature_is_a_conflict_and_keeps_the_first(client, practice, clock):
    consent = signed_consent(client, practice)
    staff = staff_client(client, practice)
    staff.countersign_consent(consent["id"], "2026-01-02")
    second = countersign(client, practice, consent["id"],
                         countersign_body(practice.practice, consent["id"], "2026-01-03", "anders"))
    assert_error(second, 409, "already_countersigned")
    assert staff.read_countersignature(staff.get_consent(consent["id"]))["talkDate"] == "2026-01-02"
    assert len(audit_entries("CONSENT_COUNTERSIGNED")) == 1


def test_only_a_consent_the_patient_signed_is_countersigned(client, practice, clock):
    pending = create_consent(client, practice)
    body = countersign_body(practice.practice, pending["id"], "2026-01-02", answers_sha256="00" * 32)
    assert_error(countersign(client, practice, pending["id"], body), 409, "consent_not_signed")
    revoked = signed_consent(client, practice)
    body = countersign_body(practice.practice, revoked["id"], "2026-01-02")
    call(client, "PATCH", f"/api/consent/{revoked['id']}/revoke", token=practice.token(), json={})
    assert_error(countersign(client, practice, revoked["id"], body), 409, "consent_not_signed")
    assert consent_row(revoked["id"]).countersignature is None


def test_reception_is_refused_and_another_practice_sees_nothing(client, practice, clock):
    consent = signed_consent(client, practice)
    body = countersign_body(practice.practice, consent["id"], "2026-01-02")
    assert_error(countersign(client, practice, consent["id"], body, role="EMPFANG"), 403, "forbidden")
    other = team(client, "ARZT")
    foreign = countersign(client, other, consent["id"], body)
    unknown = countersign(client, other, str(uuid.uuid4()), body)
    assert_like_unknown(foreign, unknown)
    assert consent_row(consent["id"]).status == "SIGNED"
    assert audit_entries("CONSENT_COUNTERSIGNED") == []


def test_a_signature_over_other_answers_or_a_broken_payload_is_refused(client, practice, clock):
    consent = signed_consent(client, practice)
    forged = countersign_body(practice.practice, consent["id"], "2026-01-02", answers_sha256="ab" * 32)
    assert_error(countersign(client, practice, consent["id"], forged), 400, "invalid_signature")
    good = countersign_body(practice.practice, consent["id"], "2026-01-02")
    for change in ({"encryptedCountersignature": "AAAA"}, {"wrappedKey": "AAAA"},
                   {"encryptedCountersignature": "-" + good["encryptedCountersignature"][1:]},
                   {"signature": forged["signature"]}):
        result = countersign(client, practice, consent["id"], {**good, **change})
        assert result.status_code == 400, (change, result.text)
    too_large = base64.b64encode(b"\x00" * (envelopes.COUNTERSIGNATURE_MAX_BYTES + 1)).decode()
    assert countersign(client, practice, consent["id"],
                       {**good, "encryptedCountersignature": too_large}).status_code == 400
    assert consent_row(consent["id"]).status == "SIGNED"
    assert countersign(client, practice, consent["id"], good).status_code == 200


def test_a_countersignature_moved_to_another_consent_does_not_open_there(client, practice, clock):
    """The document is bound to its consent: a database writer who copies it elsewhere gets a
    countersignature no reader accepts."""
    first, second = signed_consent(client, practice), signed_consent(client, practice)
    staff = staff_client(client, practice)
    staff.countersign_consent(first["id"], "2026-01-02")
    source = consent_row(first["id"])
    with tenancy.unscoped(SETUP):
        ConsentForm.update(
            status="COMPLETED", countersignature=source.countersignature,
            countersignature_wrapped_key=source.countersignature_wrapped_key,
            countersignature_signature=source.countersignature_signature,
            countersigned_at=source.countersigned_at,
        ).where(ConsentForm.id == uuid.UUID(second["id"])).execute()
    with pytest.raises(crypto.SignatureInvalid):
        staff.read_countersignature(staff.get_consent(second["id"]))


@pytest.mark.parametrize("document", [
    {"v": 2, "talkDate": "2026-02-30", "note": None},
    {"v": 2, "talkDate": "2026-01-02"},
    {"v": 2, "talkDate": "2026-01-02", "note": ""},
    {"v": 2, "talkDate": "2026-01-02", "note": "x" * 2001},
    {"v": True, "talkDate": "2026-01-02", "note": None},
    {"v": 2, "talkDate": "2026-01-02", "note": None, "by": "x"},
])
def test_the_reference_client_refuses_a_document_that_breaks_the_contract(document):
    with pytest.raises(countersignature.CountersignatureInvalid):
        countersignature.check_document(document)
