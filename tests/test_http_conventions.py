"""Every error leaves in one JSON shape; ids, headers and client IPs follow the conventions."""

from __future__ import annotations

import json
import logging

import falcon
import falcon.testing
import pytest

from appliance.app import create_app
from appliance.http.client_ip import ClientIpResolver
from appliance.http.operation import operation
from appliance.storage import open_store
from tests.conftest import make_settings


def assert_error(result, status: int, code: str) -> dict:
    assert result.status_code == status, result.text
    body = result.json
    assert set(body) == {"error", "requestId"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["requestId"] == result.headers["X-Request-Id"]
    assert result.headers["Content-Type"].startswith("application/json")
    return body


class Boom:
    @operation("raises", auth="public")
    def on_get(self, req, resp):
        raise RuntimeError("secret patient name Müller must not leak")


def test_unknown_route_is_a_json_404(client):
    assert_error(client.simulate_get("/api/does-not-exist"), 404, "not_found")


def test_wrong_method_is_a_json_405_with_allow(client):
    result = client.simulate_delete("/api/health")
    assert_error(result, 405, "method_not_allowed")
    assert "GET" in result.headers["Allow"]


def test_malformed_json_is_a_400(client):
    result = client.simulate_post(
        "/api/auth/login", body=b'{"email": ', headers={"Content-Type": "application/json"}
    )
    assert_error(result, 400, "invalid_json")


@pytest.mark.parametrize(("depth", "code"), [(40, "validation_failed"), (100_000, "invalid_json")])
def test_deep_nesting_is_a_400(client, depth, code):
    """Deeper than any request needs (40), and deeper than the JSON parser can go (100 000,
    well inside the body limit): both refused before anything walks the value."""
    nested = "[" * depth + "]" * depth
    body = f'{{"email": "a@praxis.example", "password": "xxxxxxxxxxxx", "name": {nested}}}'
    result = client.simulate_post("/api/auth/register", body=body,
                                  headers={"Content-Type": "application/json"})
    details = assert_error(result, 400, code)["error"]["details"]
    if code == "validation_failed":
        assert details == [{"field": "(body)", "problem": "nests deeper than 32 levels"}]


def test_wrong_content_type_is_a_415(client):
    result = client.simulate_post(
        "/api/auth/login", body=b"email=a&password=b",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error(result, 415, "unsupported_media_type")


def test_oversized_body_is_a_413_before_reading(client, settings):
    big = b'{"email": "' + b"a" * (settings.server.max_body_bytes + 10) + b'"}'
    result = client.simulate_post(
        "/api/auth/login", body=big, headers={"Content-Type": "application/json"}
    )
    assert_error(result, 413, "payload_too_large")


def test_missing_length_is_a_411(client):
    result = client.simulate_request(
        "POST", "/api/auth/login", headers={"Content-Type": "application/json"}
    )
    assert_error(result, 411, "length_required")


def test_validation_errors_name_each_field_without_echoing_values(client):
    result = client.simulate_post(
        "/api/auth/register", json={"email": 5, "password": "hunter2-secret", "extra": 1}
    )
    body = assert_error(result, 400, "validation_failed")
    fields = {d["field"] for d in body["error"]["details"]}
    assert {"email", "name", "(body)"} <= fields
    assert "hunter2" not in result.text


def test_text_no_database_can_store_is_a_400_naming_where(client):
    """tests/test_isolation_matrix.py sends it into every string of every route; here, where the
    answer says it was: nested values, property names, the query string and the path."""
    body = {"email": "a@praxis.example", "password": "x" * 12, "name": "ok",
            "tags": ["fine", "bad\ud800"], "nested": {"deep": "nul\x00"}, "key\x00": 1}
    result = client.simulate_post("/api/auth/register", body=json.dumps(body),
                                  headers={"Content-Type": "application/json"})
    query = client.simulate_get("/api/health", query_string="probe=a%00b")
    path = client.simulate_get("/api/consent/abc%00def")
    fields = [[d["field"] for d in assert_error(answer, 400, "validation_failed")["error"]["details"]]
              for answer in (result, query, path)]
    assert fields == [["tags.1", "nested.deep", "(a property name)"], ["probe"], ["(path)"]]
    assert "\x00" not in result.text + query.text + path.text and "\\u0000" not in result.text


def test_exception_in_handler_is_a_json_500_without_traceback(app, caplog):
    app.add_route("/api/test/boom", Boom())
    client = falcon.testing.TestClient(app)
    with caplog.at_level(logging.ERROR):
        result = client.simulate_get("/api/test/boom", headers={"X-Request-Id": "req-12345678"})
    body = assert_error(result, 500, "internal_error")
    assert body["requestId"] == "req-12345678"
    assert "Traceback" not in result.text and "Müller" not in result.text
    logged = [r for r in caplog.records if r.getMessage() == "unhandled exception"]
    assert logged and logged[0].request_id == "req-12345678"
    assert "Müller" not in json.dumps(logged[0].__dict__, default=str)


def test_request_id_is_generated_or_taken_when_well_formed(client):
    generated = client.simulate_get("/api/health").headers["X-Request-Id"]
    assert len(generated) == 32
    assert client.simulate_get(
        "/api/health", headers={"X-Request-Id": "abcdefgh-1234"}
    ).headers["X-Request-Id"] == "abcdefgh-1234"
    hostile = client.simulate_get("/api/health", headers={"X-Request-Id": "x\" onload=1"})
    assert hostile.headers["X-Request-Id"] != "x\" onload=1"


def test_security_headers_and_hsts_only_behind_tls(tmp_path, database, clock, database_url):
    settings = make_settings(tmp_path, database_url, server={"trusted_proxies": ["10.0.0.0/8"]})
    client = falcon.testing.TestClient(create_app(settings, database, store=open_store(settings),
                                                  clock=clock))
    plain = client.simulate_get("/api/health")
    assert plain.headers["X-Content-Type-Options"] == "nosniff"
    assert plain.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in plain.headers["Content-Security-Policy"]
    assert plain.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in plain.headers
    spoofed = client.simulate_get("/api/health", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in spoofed.headers
    proxied = client.simulate_get(
        "/api/health", headers={"X-Forwarded-Proto": "https"}, remote_addr="10.1.2.3"
    )
    assert proxied.headers["Strict-Transport-Security"].startswith("max-age=")


def test_access_log_names_the_route_template_not_the_path(client, caplog):
    with caplog.at_level(logging.INFO, logger="appliance.access"):
        client.simulate_get("/api/health/ready")
        client.simulate_post("/api/auth/login", json={"email": "anna@example.de", "password": "x" * 12})
    lines = [r for r in caplog.records if r.name == "appliance.access"]
    assert [r.route for r in lines] == ["/api/health/ready", "/api/auth/login"]
    assert all(isinstance(r.duration_ms, float) and r.status for r in lines)
    assert "anna@example.de" not in caplog.text


@pytest.mark.parametrize(
    ("remote", "header", "expected"),
    [
        ("203.0.113.9", None, "203.0.113.9"),
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # untrusted peer: header ignored
        ("10.0.0.2", "1.2.3.4", "1.2.3.4"),
        ("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.7", "1.2.3.4"),  # spoofed left part skipped
        ("10.0.0.2", "10.0.0.5, 10.0.0.7", "10.0.0.5"),
        ("10.0.0.2", "not-an-ip", "10.0.0.2"),
        ("::1", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_ip_trusts_forwarded_for_only_from_proxies(remote, header, expected):
    assert ClientIpResolver(["10.0.0.0/8", "::1"]).resolve(remote, header) == expected


def test_pagination_parameters_are_validated(client):
    # /api/openapi.json takes no pagination; the convention is tested on its helper.
    from appliance.http.pagination import page_of

    class Req:
        def __init__(self, **params):
            self.params = params

        def get_param(self, name):
            return self.params.get(name)

    page = page_of(Req(limit="20", page="3"))
    assert (page.limit, page.offset) == (20, 40)
    assert page_of(Req()).limit == 50
    for bad in ({"limit": "0"}, {"limit": "201"}, {"page": "0"}, {"page": "x"}):
        with pytest.raises(falcon.HTTPError) as caught:
            page_of(Req(**bad))
        assert caught.value.status_code == 400


@pytest.mark.parametrize(
    ("value", "schema"),
    [
        ("DE\n", {"type": "string", "pattern": "^[A-Z]{2}$"}),
        ("a@x.de\r\nBcc: b@y.de", {"type": "string", "format": "email"}),
        ("a b@x.de", {"type": "string", "format": "email"}),
    ],
)
def test_schema_checks_are_strict_about_newlines_and_mailboxes(value, schema):
    from appliance.http.body import validate

    with pytest.raises(falcon.HTTPError) as caught:
        validate({"v": value}, {"type": "object", "properties": {"v": schema}})
    assert caught.value.status_code == 400
    assert validate({"v": "DE" if "pattern" in schema else "a@x.de"},
                    {"type": "object", "properties": {"v": schema}})
