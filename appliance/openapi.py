"""Builds the OpenAPI 3.1 document from the routes and their declared operations."""

from __future__ import annotations

import re

from appliance import __version__
from appliance.http.operation import Operation

CONVERTER = re.compile(r"\{(\w+):(\w+)\}")
PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")
SLUG = re.compile(r"[^a-z0-9]+")
DATABASE_DOWN = "the database is unreachable (database_unavailable); nothing changed"
BEARER = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}

ERROR = {
    "type": "object",
    "required": ["error", "requestId"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {},
            },
        },
        "requestId": {"type": "string"},
    },
}


def openapi_path(template: str) -> str:
    """Falcon's `{id:uuid}` is OpenAPI's `{id}`."""
    return CONVERTER.sub(r"{\1}", template)


def _parameters(template: str) -> list[dict]:
    params = []
    for name, converter in PARAM.findall(template):
        schema = {"type": "string", "format": "uuid"} if converter == "uuid" else {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _access_text(op: Operation) -> str:
    if op.auth == "public":
        return "Public."
    if op.auth == "pending_2fa":
        return "Requires the 2FA-pending token from login."
    if op.roles is None:
        return "Any authenticated user."
    return "Roles: " + ", ".join(sorted(op.roles)) + "."


def _operation(template: str, method: str, op: Operation) -> dict:
    doc: dict = {
        "summary": op.summary,
        "description": (op.description + "\n\n" if op.description else "") + _access_text(op),
        "operationId": method.lower() + "_" + SLUG.sub("_", template.lower()).strip("_"),
        "parameters": _parameters(template) + list(op.query or []),
        "responses": {},
    }
    if op.tags:
        doc["tags"] = list(op.tags)
    if op.auth not in ("public",):
        doc["security"] = [{"bearer": []}]
    if op.request is not None:
        doc["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": op.request}},
        }
    elif op.request_media:
        doc["requestBody"] = {"required": True, "content": {op.request_media: {}}}
    ok = "201" if method == "POST" and op.created else "200"
    if op.response is not None:
        doc["responses"][ok] = {
            "description": "success",
            "content": {(op.response_media or "application/json"): {"schema": op.response}},
        }
    elif op.response_media:
        doc["responses"][ok] = {"description": "success", "content": {op.response_media: {}}}
    else:
        doc["responses"]["204"] = {"description": "success, no content"}
    errors = common_errors(template, op)
    for status, text in sorted(errors.items()):
        doc["responses"][str(status)] = {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    return doc


def common_errors(template: str, op: Operation) -> dict[int, str]:
    """Every status an operation can answer, from its declaration: what the shared HTTP layer
    answers for its body, parameters, token, role, rate limit and database, then its own."""
    errors: dict[int, str] = {}
    has_body = op.request is not None or op.request_media is not None
    parameters = PARAM.search(template) is not None or any(p.get("in") in ("query", "header")
                                                            for p in op.query)
    if has_body or parameters:
        errors[400] = "invalid request (body, path or query parameter)"
    if has_body:  # it stalled past server.body_timeout or ended before its length
        cut = ("upload_incomplete or invalid_form" if op.request_media == "multipart/form-data"
               else "body_incomplete")
        errors[400] += f"; a cut or stalled body: {cut}"
    if op.auth in ("user", "pending_2fa", "optional"):
        errors[401] = "missing, invalid or expired token"
    if op.roles is not None:
        errors[403] = "not allowed for this role"
    if has_body:
        errors[411] = "no Content-Length (and not chunked)"
        errors[413] = "the body is larger than allowed (payload_too_large)"
        errors[415] = "the body has the wrong media type (unsupported_media_type)"
    if op.rate_limit:
        errors[429] = "too many requests; see Retry-After"
    if op.database:
        errors[503] = DATABASE_DOWN
    for status, text in op.errors.items():
        errors[status] = f"{DATABASE_DOWN}; or {text}" if status == 503 and op.database else text
    return errors


def _link_created_items(paths: dict[str, dict]) -> None:
    """OpenAPI links from what a POST creates to the operations on it (`{path}/{id}` and below,
    with the new `id`), so that stateful tools (schemathesis) reach the items they made."""
    for path, methods in paths.items():
        created = methods.get("post", {}).get("responses", {}).get("201")
        if created is None or "id" not in _properties(created):
            continue
        links = {}
        for item_path, item_methods in paths.items():
            if not item_path.startswith(path + "/{id}"):
                continue
            for doc in item_methods.values():
                links[doc["operationId"]] = {"operationId": doc["operationId"],
                                             "parameters": {"path.id": "$response.body#/id"}}
        if links:
            created["links"] = links


def _properties(response: dict) -> dict:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return schema.get("properties", {})


def build_document(operations: dict[tuple[str, str], Operation]) -> dict:
    paths: dict[str, dict] = {}
    for (template, method), op in sorted(operations.items()):
        paths.setdefault(openapi_path(template), {})[method.lower()] = _operation(
            template, method, op
        )
    _link_created_items(paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "appliance",
            "version": __version__,
            "description": "DSGVO-konforme digitale Einwilligungen: a self-hosted, zero-knowledge"
            " consent server. Errors always have the shape of the Error schema.",
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR},
            "securitySchemes": {"bearer": BEARER},
        },
    }
