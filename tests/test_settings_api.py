"""Practice settings over HTTP (ADMIN only): valid values round-trip, an invalid value is a 400
that changes nothing at all, and every change is audited."""

from __future__ import annotations

from tests.support.api import assert_error, audit_entries, call, problem_fields
from tests.support.consent import team

DEFAULTS = {
    "enabledConsentTypes": ["BOTOX", "CHEMICAL_PEEL", "FILLER", "LASER", "MICRONEEDLING", "PRP"],
    "defaultConsentExpiry": 7,
    "brandColor": "#0f766e",
    "timezone": "Europe/Berlin",
    "locale": "de",
    "publicBaseUrl": None,
    "practiceTexts": {},
    "impressumUrl": None,
    "privacyUrl": None,
    "vaultIdleMinutes": 15,
}


def _get(client, practice, role="ADMIN"):
    return call(client, "GET", "/api/settings", token=practice.token(role))


def _patch(client, practice, body, role="ADMIN"):
    return call(client, "PATCH", "/api/settings", token=practice.token(role), json=body)


def test_only_the_admin_reads_and_changes_the_settings(client):
    practice = team(client, "ARZT", "EMPFANG")
    result = _get(client, practice)
    assert result.status_code == 200, result.text
    assert result.json == DEFAULTS
    for role in ("ARZT", "EMPFANG"):
        assert_error(_get(client, practice, role), 403, "forbidden")
        assert_error(_patch(client, practice, {"locale": "en"}, role), 403, "forbidden")
    assert _get(client, practice).json == DEFAULTS
    assert audit_entries("PRACTICE_SETTINGS_UPDATED") == []


def test_valid_values_round_trip(client):
    practice = team(client)
    changes = [
        ({"enabledConsentTypes": ["PRP", "BOTOX"]}, {"enabledConsentTypes": ["BOTOX", "PRP"]}),
        ({"enabledConsentTypes": ["LASER"]}, {"enabledConsentTypes": ["LASER"]}),
        ({"defaultConsentExpiry": 1}, {"defaultConsentExpiry": 1}),
        ({"defaultConsentExpiry": 90}, {"defaultConsentExpiry": 90}),
        ({"brandColor": "#A1B2C3"}, {"brandColor": "#a1b2c3"}),
        ({"timezone": "America/New_York"}, {"timezone": "America/New_York"}),
        ({"locale": "en"}, {"locale": "en"}),
        ({"publicBaseUrl": "https://praxis.example/einwilligung/"},
         {"publicBaseUrl": "https://praxis.example/einwilligung"}),
        ({"publicBaseUrl": "http://192.168.10.5:8080"}, {"publicBaseUrl": "http://192.168.10.5:8080"}),
        ({"vaultIdleMinutes": 1}, {"vaultIdleMinutes": 1}),
        ({"vaultIdleMinutes": 240}, {"vaultIdleMinutes": 240}),
    ]
    expected = dict(DEFAULTS)
    for body, stored in changes:
        expected.update(stored)
        result = _patch(client, practice, body)
        assert result.status_code == 200, (body, result.text)
        assert result.json == expected, body
        assert _get(client, practice).json == expected, body

    everything = {"enabledConsentTypes": ["FILLER"], "defaultConsentExpiry": 14, "brandColor": "#123abc",
                  "timezone": "Europe/Vienna", "locale": "de", "publicBaseUrl": None,
                  "impressumUrl": "https://praxis.example/impressum", "privacyUrl": None,
                  "vaultIdleMinutes": 30}
    assert _patch(client, practice, everything).json == {**everything, "practiceTexts": {}}
    assert _get(client, practice).json == {**everything, "practiceTexts": {}}

    entries = audit_entries("PRACTICE_SETTINGS_UPDATED")
    assert len(entries) == len(changes) + 1
    last = max(entries, key=lambda e: len(e.metadata["fields"]))
    assert last.metadata == {"fields": sorted(everything)}
    assert (last.entity_type, last.entity_id) == ("settings", practice.practice_id)
    assert str(last.user_id) == practice.user_id()


INVALID = [
    ({"vaultIdleMinutes": 0}, "vaultIdleMinutes"),
    ({"vaultIdleMinutes": 241}, "vaultIdleMinutes"),
    ({"vaultIdleMinutes": 15.5}, "vaultIdleMinutes"),
    ({"vaultIdleMinutes": None}, "vaultIdleMinutes"),
    ({"defaultConsentExpiry": 0}, "defaultConsentExpiry"),
    ({"defaultConsentExpiry": 91}, "defaultConsentExpiry"),
    ({"defaultConsentExpiry": "7"}, "defaultConsentExpiry"),
    ({"defaultConsentExpiry": 7.5}, "defaultConsentExpiry"),
    ({"brandColor": "red"}, "brandColor"),
    ({"brandColor": "#12345"}, "brandColor"),
    ({"brandColor": "#1234567"}, "brandColor"),
    ({"brandColor": "#aabbcc\n"}, "brandColor"),
    ({"timezone": "Mars/Base"}, "timezone"),
    ({"timezone": "Europe"}, "timezone"),  # a directory of the zone database
    ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"timezone": ""}, "timezone"),
    ({"timezone": "localtime"}, "timezone"),  # whatever the server is set to
    ({"timezone": "Factory"}, "timezone"),
    ({"locale": "fr"}, "locale"),
    ({"publicBaseUrl": "ftp://x"}, "publicBaseUrl"),
    ({"publicBaseUrl": "praxis.example"}, "publicBaseUrl"),
    ({"publicBaseUrl": "https://"}, "publicBaseUrl"),
    ({"publicBaseUrl": "https://praxis.example/?ref=mail"}, "publicBaseUrl"),
    ({"publicBaseUrl": "https://praxis.example/#top"}, "publicBaseUrl"),
    ({"publicBaseUrl": "https://praxis.example/\n"}, "publicBaseUrl"),
    ({"publicBaseUrl": "https://praxis.example/ein willigung"}, "publicBaseUrl"),
    ({"publicBaseUrl": "https://admin:geheim@praxis.example"}, "publicBaseUrl"),
    ({"publicBaseUrl": "https://praxis.example:99999"}, "publicBaseUrl"),
    ({"enabledConsentTypes": ["TATTOO"]}, "enabledConsentTypes.0"),
    ({"enabledConsentTypes": ["BOTOX", "BOTOX"]}, "enabledConsentTypes"),
    ({"enabledConsentTypes": "BOTOX"}, "enabledConsentTypes"),
    ({"enabledConsentTypes": []}, "enabledConsentTypes"),
    ({"logoUrl": "https://praxis.example/logo.png"}, "(body)"),
    ({}, "(body)"),
    ([], "(body)"),
    # one bad value spoils the whole change, whichever check finds it
    ({"locale": "en", "brandColor": "red"}, "brandColor"),
    ({"locale": "en", "timezone": "Mars/Base"}, "timezone"),
    ({"defaultConsentExpiry": 30, "publicBaseUrl": "ftp://x"}, "publicBaseUrl"),
    # the practice's own text per consent type: a title and plain-text paragraphs, within limits
    ({"practiceTexts": {"TATTOO": None}}, "practiceTexts"),
    ({"practiceTexts": {"BOTOX": {"title": "Preise"}}}, "practiceTexts.BOTOX.paragraphs"),
    ({"practiceTexts": {"BOTOX": {"title": "", "paragraphs": ["x"]}}}, "practiceTexts.BOTOX.title"),
    ({"practiceTexts": {"BOTOX": {"title": "   ", "paragraphs": ["x"]}}}, "practiceTexts.BOTOX.title"),
    ({"practiceTexts": {"BOTOX": {"title": "x" * 121, "paragraphs": ["x"]}}}, "practiceTexts.BOTOX.title"),
    ({"practiceTexts": {"BOTOX": {"title": "Preise", "paragraphs": []}}}, "practiceTexts.BOTOX.paragraphs"),
    ({"practiceTexts": {"BOTOX": {"title": "Preise", "paragraphs": ["x"] * 11}}},
     "practiceTexts.BOTOX.paragraphs"),
    ({"practiceTexts": {"BOTOX": {"title": "Preise", "paragraphs": ["Zeile 1\nZeile 2"]}}},
     "practiceTexts.BOTOX.paragraphs.0"),
    ({"practiceTexts": {"BOTOX": {"title": "Preise\t", "paragraphs": ["x"]}}}, "practiceTexts.BOTOX.title"),
    ({"practiceTexts": {"BOTOX": {"title": "Preise", "paragraphs": ["x" * 2001]}}},
     "practiceTexts.BOTOX.paragraphs.0"),
    ({"practiceTexts": {"BOTOX": {"title": "Preise", "paragraphs": ["x" * 2000] * 3}}},
     "practiceTexts.BOTOX"),
    ({"practiceTexts": {"BOTOX": {"title": "Preise", "paragraphs": ["x"], "html": "<b>"}}},
     "practiceTexts.BOTOX"),
    ({"locale": "en", "practiceTexts": {"BOTOX": {"title": "Preise", "paragraphs": [" "]}}},
     "practiceTexts.BOTOX.paragraphs.0"),
]


def test_an_invalid_value_changes_nothing(client):
    practice = team(client)
    custom = {"enabledConsentTypes": ["BOTOX", "FILLER"], "defaultConsentExpiry": 10, "brandColor": "#334455",
              "timezone": "Europe/Zurich", "locale": "de", "publicBaseUrl": "https://praxis.example",
              "impressumUrl": None, "privacyUrl": "https://praxis.example/datenschutz",
              "vaultIdleMinutes": 20}
    assert _patch(client, practice, custom).status_code == 200
    audited = len(audit_entries("PRACTICE_SETTINGS_UPDATED"))

    for body, field in INVALID:
        result = _patch(client, practice, body)
        assert_error(result, 400, "validation_failed")
        assert field in problem_fields(result), (body, result.json)
        assert _get(client, practice).json == {**custom, "practiceTexts": {}}, body
    assert len(audit_entries("PRACTICE_SETTINGS_UPDATED")) == audited


def test_every_member_reads_the_vault_idle_time_with_the_practice(client):
    """The staff app locks the vault after it; reception too, so it is not an ADMIN setting
    to read."""
    practice = team(client, "ARZT", "EMPFANG")
    assert _patch(client, practice, {"vaultIdleMinutes": 5}).status_code == 200
    for role in ("ADMIN", "ARZT", "EMPFANG"):
        result = call(client, "GET", "/api/practice", token=practice.token(role))
        assert result.status_code == 200 and result.json["vaultIdleMinutes"] == 5, role
