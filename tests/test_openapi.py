"""The OpenAPI document and the app's routes describe exactly the same endpoints."""

from __future__ import annotations

import falcon.inspect
import jsonschema

from appliance.openapi import openapi_path
from tests.support.api import declared_pages


def _app_routes(app) -> set[tuple[str, str]]:
    """The API's routes: the browser pages beside it are no API operations."""
    pages = declared_pages()
    found = set()
    for route in falcon.inspect.inspect_routes(app):
        for method in route.methods:
            if method.internal or method.method == "OPTIONS" or (route.path, method.method) in pages:
                continue
            found.add((openapi_path(route.path), method.method.lower()))
    return found


def test_document_and_routes_match_both_ways(app, client):
    document = client.simulate_get("/api/openapi.json").json
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    routes = _app_routes(app)
    assert routes - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routes == set(), "documented operations that do not exist"


def test_every_operation_has_schemas_and_an_error_shape(client):
    document = client.simulate_get("/api/openapi.json").json
    assert document["openapi"].startswith("3.1")
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            assert op["summary"], where
            assert op["responses"], where
            if method in ("post", "put", "patch") and "requestBody" in op:
                schema = op["requestBody"]["content"].get("application/json", {}).get("schema")
                if schema is not None:
                    jsonschema.Draft202012Validator.check_schema(schema)
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/Error", where
            for name in [p["name"] for p in op["parameters"] if p["in"] == "path"]:
                assert "{" + name + "}" in path, where


def test_responses_match_their_declared_schema(client):
    document = client.simulate_get("/api/openapi.json").json
    health = document["paths"]["/api/health"]["get"]["responses"]["200"]
    schema = health["content"]["application/json"]["schema"]
    jsonschema.validate(client.simulate_get("/api/health").json, schema)


def test_the_shared_errors_follow_from_each_operations_declaration(client):
    """What the HTTP layer answers for every operation of a kind is documented on each: body
    errors on every operation with a body (the shared 400 text names the code of a cut or
    stalled body), 400 wherever there are parameters, 503 wherever the database is needed (all
    but liveness and this document)."""
    document = client.simulate_get("/api/openapi.json").json
    without_database = {("get", "/api/health"), ("get", "/api/openapi.json"), ("head", "/api/health"),
                        ("head", "/api/openapi.json")}
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            where, statuses = f"{method.upper()} {path}", set(op["responses"])
            if "requestBody" in op:
                assert {"400", "411", "413", "415"} <= statuses, where
                described = op["responses"]["400"]["description"]
                cut = ("upload_incomplete" if "multipart/form-data" in op["requestBody"]["content"]
                       else "body_incomplete")
                assert cut in described or not described.startswith("invalid request"), where
            if any(p["in"] == "query" for p in op["parameters"]) or "{" in path:
                assert "400" in statuses, where
            assert ("503" in statuses) == ((method, path) not in without_database), where
    change = document["paths"]["/api/auth/password"]["post"]["requestBody"]["content"]["application/json"]
    new_password = change["schema"]["properties"]["newPassword"]
    assert (new_password["minLength"], new_password["maxLength"]) == (10, 256)


def test_links_lead_from_what_a_post_creates_to_the_operations_on_it(client):
    document = client.simulate_get("/api/openapi.json").json
    operation_ids = {op["operationId"]: path
                     for path, ops in document["paths"].items() for op in ops.values()}
    created = document["paths"]["/api/patients"]["post"]["responses"]["201"]
    assert {link["operationId"] for link in created["links"].values()} >= {
        document["paths"]["/api/patients/{id}"][method]["operationId"] for method in ("get", "delete")}
    for path, operations in document["paths"].items():
        for op in operations.values():
            for link in op["responses"].get("201", {}).get("links", {}).values():
                target = operation_ids[link["operationId"]]
                assert target.startswith(path + "/{id}")
                assert link["parameters"] == {"path.id": "$response.body#/id"}
