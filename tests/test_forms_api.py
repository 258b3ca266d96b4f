"""Form content over HTTP: the link shows the version and practice text it was made with, in any
of the catalogue's locales; a submit must name a hash published for it; staff read the
practice's forms; another practice's text is never visible."""

from __future__ import annotations

import psycopg2
import pytest

from appliance.forms.canonical import form_hash
from appliance.models import CONSENT_TYPES
from tests.support.api import assert_error, audit_entries, call, problem_fields
from tests.support.consent import (
    consent_body,
    consent_row,
    create_consent,
    form_fields,
    patient_rows,
    submit,
    submit_body,
    team,
)
from tests.test_forms_catalogue import published_lines

PRICES = {
    "title": "Preise und Ärztin",
    "paragraphs": ["Glabella: 290 €, Stirn: 250 €.", "Es behandelt Dr. med. Anna Weiß."],
}
NEW_PRICES = {"title": "Preise ab 2027", "paragraphs": ["Glabella: 310 €."]}


def _open(client, token, locale=None):
    return call(client, "GET", f"/api/consent/{token}" + (f"?locale={locale}" if locale else ""))


def _texts(client, practice, texts: dict):
    result = call(client, "PATCH", "/api/settings", token=practice.token(), json={"practiceTexts": texts})
    assert result.status_code == 200, result.text
    return result.json["practiceTexts"]


def _form(client, practice, path, role="ADMIN"):
    return call(client, "GET", f"/api/forms{path}", token=practice.token(role))


def _block(text: dict) -> dict:
    return {"title": text["title"], "blocks": [{"kind": "paragraph", "text": p} for p in text["paragraphs"]]}


def test_the_link_shows_its_form_in_its_locale_and_in_the_other_on_request(client):
    practice = team(client)
    created = create_consent(client, practice, "FILLER", locale="en")
    assert (created["formId"], created["formVersion"]) == ("filler", 1)

    english = _open(client, created["token"])
    assert english.status_code == 200, english.text
    form = english.json["form"]
    assert english.json["locales"] == ["de", "en"]
    assert (form["formId"], form["version"], form["locale"], form["type"]) == ("filler", 1, "en", "FILLER")
    assert form["title"] == "Information and consent: treatment with dermal fillers"
    assert form["practiceText"] is None
    assert form["formHash"] == form_hash(form)
    assert f"filler 1 en {form['formHash']}" in published_lines()

    german = _open(client, created["token"], "de").json["form"]
    assert (german["formId"], german["version"], german["locale"]) == ("filler", 1, "de")
    assert german["title"] == "Aufklärung und Einwilligung: Behandlung mit Fillern"
    assert german["formHash"] == form_hash(german) != form["formHash"]
    assert [f["id"] for g in german["fieldGroups"] for f in g["fields"]] == [
        f["id"] for g in form["fieldGroups"] for f in g["fields"]
    ]
    assert _open(client, created["token"], "en").json["form"] == form

    for unknown in ("fr", "EN", "de-DE", ""):
        result = (
            _open(client, created["token"], unknown)
            if unknown
            else call(client, "GET", f"/api/consent/{created['token']}?locale=")
        )
        assert_error(result, 400, "validation_failed")
        assert problem_fields(result) == {"locale"}


def test_a_submit_must_name_a_hash_published_for_its_consent_and_otherwise_changes_nothing(client):
    practice = team(client)
    _texts(client, practice, {"BOTOX": PRICES})
    created = create_consent(client, practice, "BOTOX")
    other = create_consent(client, practice, "FILLER")
    own = form_fields(client, created["token"])
    english = form_fields(client, created["token"], "en")
    plain = call(client, "GET", "/api/forms/botox/1?locale=de&practiceTextRevision=0", token=practice.token())
    body = submit_body(client, practice.practice, created)

    wrong = [
        ({**own, "formHash": "0" * 64}, "formHash"),
        ({**own, "formHash": form_fields(client, other["token"])["formHash"]}, "formHash"),  # another form
        ({**own, "formHash": plain.json["formHash"]}, "formHash"),  # the same form without the practice text
        ({**own, "formHash": english["formHash"]}, "formHash"),  # the English hash named as German
        ({**english, "formHash": own["formHash"]}, "formHash"),
        ({**own, "formId": "filler"}, "formId"),
        ({**own, "version": 2}, "version"),
    ]
    for named, field in wrong:
        result = submit(client, created["token"], {**body, **named})
        assert_error(result, 400, "unknown_form_hash")
        assert problem_fields(result) == {field}, named
    for named in ({**own, "formHash": "0" * 63}, {**own, "locale": "fr"}, {**own, "version": "1"}):
        assert_error(submit(client, created["token"], {**body, **named}), 400, "validation_failed")
    row = consent_row(created["id"])
    assert (row.status, row.encrypted_answers, row.form_hash, row.form_locale) == (
        "PENDING",
        None,
        None,
        None,
    )
    assert patient_rows() == [] and audit_entries("CONSENT_SUBMITTED") == []

    accepted = submit(client, created["token"], {**body, **english})
    assert accepted.status_code == 200, accepted.text
    row = consent_row(created["id"])
    assert (row.status, row.form_id, row.form_version, row.form_locale, row.form_hash) == (
        "SIGNED",
        "botox",
        1,
        "en",
        english["formHash"],
    )
    staff = call(client, "GET", f"/api/consent/practice/{created['id']}", token=practice.token()).json
    assert (
        staff["formId"],
        staff["formVersion"],
        staff["formLocale"],
        staff["formHash"],
        staff["practiceTextRevision"],
    ) == ("botox", 1, "en", english["formHash"], 1)


def test_a_form_sent_before_the_practice_text_changed_keeps_what_it_named(client):
    practice = team(client)
    before = create_consent(client, practice, "BOTOX")  # no practice text yet
    assert _texts(client, practice, {"BOTOX": PRICES})["BOTOX"] | {"createdAt": None} == {
        **PRICES,
        "revision": 1,
        "createdAt": None,
    }
    first = create_consent(client, practice, "BOTOX")
    assert _texts(client, practice, {"BOTOX": PRICES})["BOTOX"]["revision"] == 1  # unchanged: no revision
    assert _texts(client, practice, {"BOTOX": NEW_PRICES})["BOTOX"]["revision"] == 2
    second = create_consent(client, practice, "BOTOX")
    assert _texts(client, practice, {"BOTOX": None}) == {}
    third = create_consent(client, practice, "BOTOX")

    shown = {
        name: _open(client, c["token"]).json["form"]
        for name, c in (("before", before), ("first", first), ("second", second), ("third", third))
    }
    assert shown["before"]["practiceText"] is None and shown["third"]["practiceText"] is None
    assert shown["first"]["practiceText"] == _block(PRICES)
    assert shown["second"]["practiceText"] == _block(NEW_PRICES)
    assert shown["before"]["formHash"] == shown["third"]["formHash"]
    assert len({shown[n]["formHash"] for n in ("before", "first", "second")}) == 3
    for name, revision in (("before", 0), ("first", 1), ("second", 2)):
        again = _form(client, practice, f"/botox/1?locale=de&practiceTextRevision={revision}")
        assert again.status_code == 200, again.text
        assert again.json == shown[name], name
    revisions = [
        call(client, "GET", f"/api/consent/practice/{c['id']}", token=practice.token()).json[
            "practiceTextRevision"
        ]
        for c in (before, first, second, third)
    ]
    assert revisions == [None, 1, 2, None]

    # The first link's patient signs what they were shown, not today's text.
    assert_error(
        submit(
            client,
            first["token"],
            submit_body(client, practice.practice, first, **form_fields(client, second["token"])),
        ),
        400,
        "unknown_form_hash",
    )
    signed = submit(client, first["token"], submit_body(client, practice.practice, first))
    assert signed.status_code == 200, signed.text
    assert consent_row(first["id"]).form_hash == shown["first"]["formHash"]
    entries = audit_entries("PRACTICE_SETTINGS_UPDATED")
    assert [e.metadata.get("practiceTextTypes") for e in entries] == [["BOTOX"], [], ["BOTOX"], ["BOTOX"]]


def test_staff_list_the_enabled_forms_and_read_any_version(client):
    practice = team(client, "ARZT", "EMPFANG")
    _texts(client, practice, {"PRP": PRICES})
    filler = create_consent(client, practice, "FILLER")
    call(
        client,
        "PATCH",
        "/api/settings",
        token=practice.token(),
        json={"enabledConsentTypes": ["PRP", "BOTOX"]},
    )

    for role in ("ADMIN", "ARZT", "EMPFANG"):
        listed = _form(client, practice, "", role)
        assert listed.status_code == 200, listed.text
        assert [i["type"] for i in listed.json["items"]] == ["BOTOX", "PRP"]
    botox, prp = listed.json["items"]
    assert (prp["formId"], prp["version"], prp["locales"], prp["practiceTextRevision"]) == (
        "prp",
        1,
        ["de", "en"],
        1,
    )
    assert botox["practiceTextRevision"] is None
    for item in (botox, prp):
        for locale in ("de", "en"):
            single = _form(
                client, practice, f"/{item['formId']}/{item['version']}?locale={locale}", "EMPFANG"
            ).json
            assert single["formHash"] == item["formHashes"][locale] == form_hash(single)
            assert single["title"] == item["titles"][locale]
    assert _form(client, practice, "/prp/1?locale=de").json["practiceText"] == _block(PRICES)
    assert _form(client, practice, "/prp/1").json["locale"] == "de"  # the practice's locale
    call(client, "PATCH", "/api/settings", token=practice.token(), json={"locale": "en"})
    assert _form(client, practice, "/prp/1").json["locale"] == "en"

    # A type switched off: no longer listed or sent, but its forms stay readable and its links work.
    assert _form(client, practice, "/filler/1?locale=de").status_code == 200
    assert _open(client, filler["token"]).json["form"]["formId"] == "filler"
    assert_error(
        call(client, "POST", "/api/consent", token=practice.token(),
             json=consent_body(practice.practice, "FILLER")),
        400,
        "consent_type_disabled",
    )

    for path in (
        "/botox/2",
        "/tattoo/1",
        "/botox/0",
        "/botox/x",
        "/BOTOX/1",
        "/prp/1?practiceTextRevision=2",
    ):
        assert_error(_form(client, practice, path), 404, "not_found")
    for path in (
        "/botox/1?locale=fr",
        "/botox/1?practiceTextRevision=-1",
        "/botox/1?practiceTextRevision=x",
        "/botox/1?practiceTextRevision=1.0",
    ):
        assert_error(_form(client, practice, path), 400, "validation_failed")
    assert_error(call(client, "GET", "/api/forms"), 401, "unauthorized")


def test_another_practices_text_is_never_shown(client):
    ours, theirs = team(client), team(client)
    secret = {"title": "Preise der anderen Praxis", "paragraphs": ["Nur für Patienten von Dr. Fremd: 199 €."]}
    _texts(client, theirs, {"BOTOX": secret, "PRP": secret})
    their_link = create_consent(client, theirs, "BOTOX")
    our_link = create_consent(client, ours, "BOTOX")

    answers = [
        _form(client, ours, ""),
        _form(client, ours, "/botox/1?locale=de"),
        _form(client, ours, "/botox/1?locale=en"),
        _open(client, our_link["token"]),
        call(client, "GET", "/api/settings", token=ours.token()),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert "Dr. Fremd" not in answer.text and "anderen Praxis" not in answer.text
    # Their revision 1 is not ours: we have none.
    assert_error(_form(client, ours, "/botox/1?practiceTextRevision=1"), 404, "not_found")
    assert _form(client, ours, "").json["items"][0]["practiceTextRevision"] is None
    assert _open(client, our_link["token"]).json["form"]["practiceText"] is None
    assert _open(client, their_link["token"]).json["form"]["practiceText"]["title"] == secret["title"]
    # Our submit cannot name their hash, nor theirs ours.
    assert_error(
        submit(
            client,
            our_link["token"],
            submit_body(client, ours.practice, our_link, **form_fields(client, their_link["token"])),
        ),
        400,
        "unknown_form_hash",
    )


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_the_application_role_cannot_change_a_practice_text_revision(client, pg_databases):
    practice = team(client)
    _texts(client, practice, {"LASER": PRICES})
    connection = psycopg2.connect(pg_databases[1])
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT set_config('app.practice_id', %s, false)", (practice.practice_id,))
        cursor.execute("SELECT count(*) FROM practice_form_text")
        assert cursor.fetchone()[0] == 1
        for statement in (
            "UPDATE practice_form_text SET title = 'geändert'",
            "DELETE FROM practice_form_text",
            "TRUNCATE practice_form_text",
        ):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cursor.execute(statement)
            connection.rollback()
            cursor.execute("SELECT set_config('app.practice_id', %s, false)", (practice.practice_id,))
    finally:
        connection.close()


def test_every_consent_type_has_a_form_and_a_link_of_each_serves_it(client):
    practice = team(client)
    for consent_type in CONSENT_TYPES:
        created = create_consent(client, practice, consent_type)
        form = _open(client, created["token"]).json["form"]
        assert form["type"] == consent_type and form["formHash"] == form_hash(form)
