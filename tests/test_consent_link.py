"""A new link for a pending form replaces the old one; nothing else gets one."""

from __future__ import annotations

from tests.support.api import call
from tests.support.consent import create_consent, patient_body, submit, submit_body, team


def test_a_new_link_replaces_the_old_one(client):
    staff = team(client, "ARZT", "EMPFANG")
    consent = create_consent(client, staff)
    path = f"/api/consent/practice/{consent['id']}/link"
    assert call(client, "POST", path, token=staff.token("EMPFANG")).status_code == 403
    fresh = call(client, "POST", path, token=staff.token("ARZT"))
    assert fresh.status_code == 201, fresh.text
    assert fresh.json["token"] != consent["token"] and fresh.json["link"].endswith(fresh.json["token"])
    assert fresh.json["expiresAt"] == consent["expiresAt"]
    assert call(client, "GET", f"/api/consent/{consent['token']}").status_code == 404
    assert call(client, "GET", f"/api/consent/{fresh.json['token']}").status_code == 200

    body = submit_body(staff.practice, patient_body(staff.practice))
    assert submit(client, fresh.json["token"], body).status_code == 200
    again = call(client, "POST", path, token=staff.token())
    assert again.status_code == 409 and again.json["error"]["code"] == "consent_not_pending"


def test_another_practices_form_gets_no_link(client):
    ours, theirs = team(client), team(client)
    foreign = create_consent(client, theirs)
    result = call(client, "POST", f"/api/consent/practice/{foreign['id']}/link", token=ours.token())
    assert result.status_code == 404
    assert call(client, "GET", f"/api/consent/{foreign['token']}").status_code == 200
