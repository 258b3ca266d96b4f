"""The practice logo: recognised by its bytes, replaced cleanly, public only through its URL."""

from __future__ import annotations

import pytest

from appliance.services.logo import MAX_LOGO_BYTES
from tests.support.api import assert_error, audit_entries, call, fresh_ip, problem_fields
from tests.support.consent import create_consent, team
from tests.support.photos import (
    JPEG,
    PNG,
    WEBP,
    logo_rows,
    multipart,
    object_keys,
    object_store_fixtures,
    post_form,
    random_id,
)

LOGO = "/api/settings/logo"


settings, store, app = object_store_fixtures()


@pytest.fixture
def praxis(client):
    return team(client, "ARZT")


def send_logo(client, token: str, data: bytes, filename: str = "logo.png"):
    body, content_type = multipart({}, data, filename=filename)
    return post_form(client, LOGO, token, body, content_type)


def public_path(url: str) -> str:
    return url.removeprefix("https://consent.example.test")


def fetch(client, url: str):
    return client.simulate_get(public_path(url), remote_addr=fresh_ip())


@pytest.mark.parametrize("image,content_type", [(PNG, "image/png"), (JPEG, "image/jpeg"),
                                                (WEBP, "image/webp")], ids=["png", "jpeg", "webp"])
def test_a_logo_is_recognised_by_its_bytes_and_served_publicly(client, praxis, store, image, content_type):
    uploaded = send_logo(client, praxis.token(), image, filename="logo.gif")
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json["contentType"] == content_type and uploaded.json["sizeBytes"] == len(image)
    url = uploaded.json["logoUrl"]
    assert url.startswith("https://consent.example.test/api/public/logo/")
    served = fetch(client, url)  # no login
    assert served.status_code == 200 and served.content == image
    assert served.headers["Content-Type"] == content_type
    assert served.headers["Content-Length"] == str(len(image))
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert call(client, "GET", LOGO, token=praxis.token()).json == uploaded.json
    assert object_keys(store) == [f"{praxis.practice_id}/logo/{url.rsplit('/', 1)[1]}"]


def test_the_public_consent_page_gets_the_logo_url(client, praxis):
    consent = create_consent(client, praxis)
    opened = client.simulate_get(f"/api/consent/{consent['token']}", remote_addr=fresh_ip())
    assert opened.json["practice"]["logoUrl"] is None
    url = send_logo(client, praxis.token(), PNG).json["logoUrl"]
    opened = client.simulate_get(f"/api/consent/{consent['token']}", remote_addr=fresh_ip())
    assert opened.json["practice"]["logoUrl"] == url
    assert fetch(client, url).content == PNG


def test_replacing_the_logo_removes_the_old_one(client, praxis, store):
    first = send_logo(client, praxis.token(), PNG).json["logoUrl"]
    second = send_logo(client, praxis.token(), JPEG).json["logoUrl"]
    assert first != second
    assert fetch(client, first).status_code == 404
    assert fetch(client, second).content == JPEG
    assert len(logo_rows()) == 1
    assert object_keys(store) == [f"{praxis.practice_id}/logo/{second.rsplit('/', 1)[1]}"]
    changes = [e.metadata["logo"] for e in audit_entries("PRACTICE_SETTINGS_UPDATED")]
    assert sorted(changes) == ["replaced", "uploaded"]


def test_deleting_the_logo(client, praxis, store):
    url = send_logo(client, praxis.token(), WEBP).json["logoUrl"]
    deleted = call(client, "DELETE", LOGO, token=praxis.token())
    assert deleted.status_code == 204
    assert fetch(client, url).status_code == 404
    assert logo_rows() == [] and object_keys(store) == []
    assert_error(call(client, "DELETE", LOGO, token=praxis.token()), 404, "not_found")
    assert_error(call(client, "GET", LOGO, token=praxis.token()), 404, "not_found")


@pytest.mark.parametrize("content", [
    b"<script>alert(document.cookie)</script>",
    b"#!/bin/sh\nrm -rf /\n",
    b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    b"GIF89a" + bytes(100),
    b"",
])
def test_a_logo_that_is_not_a_png_jpeg_or_webp_is_refused(client, praxis, store, content):
    result = send_logo(client, praxis.token(), content, filename="logo.png")  # declared as PNG
    assert_error(result, 400, "unsupported_image")
    assert problem_fields(result) == {"file"}
    assert logo_rows() == [] and object_keys(store) == []


def test_a_logo_over_2_mib_is_refused(client, praxis, store):
    assert_error(send_logo(client, praxis.token(), PNG + bytes(MAX_LOGO_BYTES)), 413, "payload_too_large")
    assert logo_rows() == [] and object_keys(store) == []


def test_the_public_logo_url_serves_nothing_but_logos(client, praxis):
    send_logo(client, praxis.token(), PNG)
    assert client.simulate_get(f"/api/public/logo/{random_id()}", remote_addr=fresh_ip()).status_code == 404
    assert client.simulate_get(f"/api/public/logo/{praxis.practice_id}",
                               remote_addr=fresh_ip()).status_code == 404
    assert client.simulate_get("/api/public/logo/..%2f..%2fetc%2fpasswd",
                               remote_addr=fresh_ip()).status_code == 404


def test_each_practice_manages_only_its_own_logo(client, praxis):
    url = send_logo(client, praxis.token(), PNG).json["logoUrl"]
    other = team(client)
    assert_error(call(client, "DELETE", LOGO, token=other.token()), 404, "not_found")
    assert_error(call(client, "GET", LOGO, token=other.token()), 404, "not_found")
    assert fetch(client, url).content == PNG
    assert_error(send_logo(client, praxis.token("ARZT"), PNG), 403, "forbidden")


def test_head_on_the_logo_answers_its_headers_without_the_bytes(client, praxis):
    """nginx forwards HEAD wherever it forwards GET (link previews use it)."""
    url = send_logo(client, praxis.token(), PNG).json["logoUrl"]
    head = client.simulate_head(public_path(url), remote_addr=fresh_ip(),
                                headers={"X-Appliance-Entry": "public"})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == str(len(PNG)) and head.headers["Content-Type"] == "image/png"
    assert client.simulate_head(f"/api/public/logo/{random_id()}", remote_addr=fresh_ip()).status_code == 404
