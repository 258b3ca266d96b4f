"""Links are made and signed by staff clients: a new link for a pending form replaces the old
one, nothing else gets one, and a link whose statement the practice did not sign is refused."""

from __future__ import annotations

import secrets
import uuid

from appliance import envelopes
from appliance.client import crypto
from tests.support.api import assert_error, call, keys_of, problem_fields
from tests.support.consent import (
    consent_body,
    consent_row,
    consent_rows,
    create_consent,
    create_patient,
    link_body,
    submit,
    submit_body,
    team,
)


def test_a_new_link_replaces_the_old_one(client):
    staff = team(client, "ARZT", "EMPFANG")
    consent = create_consent(client, staff)
    path = f"/api/consent/practice/{consent['id']}/link"
    assert call(client, "POST", path, token=staff.token("EMPFANG"),
                json=link_body(staff.practice, consent)).status_code == 403
    body = link_body(staff.practice, consent)
    fresh = call(client, "POST", path, token=staff.token("ARZT"), json=body)
    assert fresh.status_code == 201, fresh.text
    assert fresh.json["token"] == body["token"] != consent["token"]
    assert fresh.json["link"].endswith(body["token"])
    assert fresh.json["expiresAt"] == consent["expiresAt"]
    assert fresh.json["linkCommitment"] == envelopes.link_commitment(body["token"])
    assert fresh.json["signature"] == body["signature"]
    assert call(client, "GET", f"/api/consent/{consent['token']}").status_code == 404
    assert call(client, "GET", f"/api/consent/{fresh.json['token']}").status_code == 200

    sent = submit_body(client, staff.practice, {**consent, "token": body["token"]})
    assert submit(client, fresh.json["token"], sent).status_code == 200
    again = call(client, "POST", path, token=staff.token(), json=link_body(staff.practice, consent))
    assert again.status_code == 409 and again.json["error"]["code"] == "consent_not_pending"


def test_another_practices_form_gets_no_link(client):
    ours, theirs = team(client), team(client)
    foreign = create_consent(client, theirs)
    result = call(client, "POST", f"/api/consent/practice/{foreign['id']}/link", token=ours.token(),
                  json=link_body(ours.practice, foreign))
    assert result.status_code == 404
    assert call(client, "GET", f"/api/consent/{foreign['token']}").status_code == 200


def _signed(practice: dict, **statement) -> str:
    return crypto.sign_statement(keys_of(practice), "consent", statement)


def test_a_link_needs_the_practices_signature_of_exactly_this_consent(client):
    staff = team(client)
    patient = create_patient(client, staff)
    good = consent_body(staff.practice, "BOTOX", patient["id"])
    commitment = envelopes.link_commitment(good["token"])
    other_practice = team(client).practice
    wrong = [
        _signed(staff.practice, id=good["id"], type="FILLER", patientId=patient["id"],
                linkCommitment=commitment),
        _signed(staff.practice, id=good["id"], type="BOTOX", patientId=None, linkCommitment=commitment),
        _signed(staff.practice, id=str(uuid.uuid4()), type="BOTOX", patientId=patient["id"],
                linkCommitment=commitment),
        _signed(staff.practice, id=good["id"], type="BOTOX", patientId=patient["id"],
                linkCommitment=envelopes.link_commitment(secrets.token_urlsafe(32))),
        _signed(other_practice, id=good["id"], type="BOTOX", patientId=patient["id"],
                linkCommitment=commitment),
    ]
    for signature in wrong:
        result = call(client, "POST", "/api/consent", token=staff.token(), json={**good,
                                                                                 "signature": signature})
        assert_error(result, 400, "invalid_signature")
        assert problem_fields(result) == {"signature"}
    not_64_bytes = call(client, "POST", "/api/consent", token=staff.token(),
                        json={**good, "signature": "A" * 86 + "=="})
    assert_error(not_64_bytes, 400, "invalid_signature")
    for spoiled in ({"signature": "A" * 87}, {"token": good["token"][:-1]}, {"id": good["id"].upper()}):
        assert_error(call(client, "POST", "/api/consent", token=staff.token(), json={**good, **spoiled}),
                     400, "validation_failed")
    assert consent_rows() == []

    created = call(client, "POST", "/api/consent", token=staff.token(), json=good)
    assert created.status_code == 201, created.text
    row = consent_row(good["id"])
    assert (row.link_commitment, row.signature) == (commitment, good["signature"])


def test_a_new_link_needs_a_signature_of_its_own_token(client):
    staff = team(client)
    consent = create_consent(client, staff)
    path = f"/api/consent/practice/{consent['id']}/link"
    body = link_body(staff.practice, consent)
    replayed = {**body, "signature": consent["signature"]}  # the old link's statement
    assert_error(call(client, "POST", path, token=staff.token(), json=replayed), 400, "invalid_signature")
    assert consent_row(consent["id"]).signature == consent["signature"]
    assert call(client, "GET", f"/api/consent/{consent['token']}").status_code == 200


def test_ids_and_tokens_in_use_are_refused(client):
    staff, other = team(client), team(client)
    first = create_consent(client, staff)
    same_id = consent_body(staff.practice) | {"id": first["id"]}
    same_id["signature"] = _signed(staff.practice, id=first["id"], type="BOTOX", patientId=None,
                                   linkCommitment=envelopes.link_commitment(same_id["token"]))
    assert_error(call(client, "POST", "/api/consent", token=staff.token(), json=same_id), 409, "id_taken")
    theirs = consent_body(other.practice) | {"id": first["id"]}
    theirs["signature"] = _signed(other.practice, id=first["id"], type="BOTOX", patientId=None,
                                  linkCommitment=envelopes.link_commitment(theirs["token"]))
    assert_error(call(client, "POST", "/api/consent", token=other.token(), json=theirs), 409, "id_taken")
    reused = consent_body(staff.practice) | {"token": first["token"]}
    reused["signature"] = _signed(staff.practice, id=reused["id"], type="BOTOX", patientId=None,
                                  linkCommitment=first["linkCommitment"])
    assert_error(call(client, "POST", "/api/consent", token=staff.token(), json=reused), 409, "id_taken")
    assert [str(row.id) for row in consent_rows()] == [first["id"]]
