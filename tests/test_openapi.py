"""The OpenAPI document and the app's routes describe exactly the same endpoints."""

from __future__ import annotations

import falcon.inspect
import jsonschema

from appliance.openapi import openapi_path


def _app_routes(app) -> set[tuple[str, str]]:
    found = set()
    for route in falcon.inspect.inspect_routes(app):
        for method in route.methods:
            if not method.internal and method.method != "OPTIONS":
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
