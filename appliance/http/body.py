"""Reads and validates JSON request bodies: 411, 413, 415 and 400 answered before any work."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import falcon
import jsonschema
import jsonschema.validators

from appliance.clock import parse_utc
from appliance.http.errors import ApiError, bad_request
from appliance.http.text import PROBLEM, unstorable_fields
from appliance.mail import is_addr_spec


def _ecma_pattern(validator, pattern: str, instance: Any, schema: dict):
    """`pattern` as JSON Schema means it: Python's `$` also matches before a final newline,
    which would let "DE\n" through `^[A-Z]{2}$`; ECMA-262's `$` does not."""
    if not isinstance(instance, str):
        return
    if not re.search(pattern, instance) or (pattern.endswith("$") and instance.endswith("\n")):
        yield jsonschema.ValidationError(f"does not match {pattern!r}")


Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, {"pattern": _ecma_pattern}
)
FORMATS = jsonschema.FormatChecker()
FORMATS.checkers = dict(Validator.FORMAT_CHECKER.checkers)
# Exactly one RFC 5321 mailbox (appliance.mail.addr_spec): no lists, brackets, names or encoded
# words that would reach a second mailbox. Surrounding spaces are tolerated (the services trim
# them); line breaks never are.
FORMATS.checks("email")(lambda value: not isinstance(value, str) or is_addr_spec(value.strip(" ")))
_validators: dict[int, jsonschema.Draft202012Validator] = {}
#: No request body nests this deep (the deepest, a treatment template, has 3 levels); deeper
#: input is refused before the schema check and the text scan walk it.
MAX_DEPTH = 32


def _validator(schema: dict) -> jsonschema.Draft202012Validator:
    key = id(schema)
    if key not in _validators:
        Validator.check_schema(schema)
        _validators[key] = Validator(schema, format_checker=FORMATS)
    return _validators[key]


def _problem(error: jsonschema.ValidationError) -> dict[str, str]:
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        path = f"{path}.{missing}" if path else missing
        return {"field": path, "problem": "is required"}
    if error.validator == "additionalProperties":
        unknown = error.message.split("(")[-1].rstrip(")")
        return {"field": path or "(body)", "problem": f"has unknown properties: {unknown}"}
    if error.validator in ("maxLength", "minLength", "maximum", "minimum", "maxItems", "minItems"):
        return {"field": path, "problem": f"violates {error.validator} {error.validator_value}"}
    if error.validator == "type":
        return {"field": path or "(body)", "problem": f"must be of type {error.validator_value}"}
    if error.validator == "enum":
        allowed = ", ".join(map(str, error.validator_value))
        return {"field": path, "problem": f"must be one of {allowed}"}
    if error.validator == "format":
        return {"field": path, "problem": f"is not a valid {error.validator_value}"}
    if error.validator == "pattern":
        return {"field": path, "problem": "has an invalid format"}
    # Other messages quote the submitted value, which may be a password: name the rule only.
    return {"field": path or "(body)", "problem": f"fails the {error.validator} rule"}


def _deeper_than(data: Any, limit: int) -> bool:
    """Whether containers nest more than `limit` levels (iteratively: no recursion to exhaust)."""
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth == limit:
                return True
            stack += [(item, depth + 1) for item in (value.values() if isinstance(value, dict) else value)]
    return False


def validate(data: Any, schema: dict | None) -> Any:
    """Raises a 400 listing every problem, each with its field, or returns the data. Text that
    cannot be stored and nesting deeper than any request needs are refused under any schema,
    or without one."""
    if _deeper_than(data, MAX_DEPTH):
        raise bad_request("the request body is invalid",
                          [{"field": "(body)", "problem": f"nests deeper than {MAX_DEPTH} levels"}])
    unstorable = unstorable_fields(data)
    if unstorable:
        raise bad_request("the request body is invalid",
                          [{"field": field, "problem": PROBLEM} for field in unstorable[:20]])
    if schema is None:
        return data
    errors = sorted(_validator(schema).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        problems = [_problem(e) for e in errors[:20]]
        raise bad_request("the request body is invalid", problems)
    return data


def instant_field(value: str, field: str) -> dt.datetime:
    """A body field holding an RFC 3339 date-time with its offset, as naive UTC (400 otherwise;
    a time without zone is ambiguous)."""
    try:
        return parse_utc(value)
    except ValueError as exc:
        raise bad_request(f"{field} is invalid", [{
            "field": field, "problem": "must be an ISO 8601 date-time with offset, e.g. 2026-11-30T09:00:00Z",
        }]) from exc


def read_raw(req: falcon.Request, limit: int) -> bytes:
    """Reads the body, refusing it without a length (411) or past `limit` bytes (413)."""
    chunked = "chunked" in (req.get_header("Transfer-Encoding") or "").lower()
    if req.content_length is None and not chunked:
        raise ApiError(411, "length_required", "a Content-Length header is required")
    if req.content_length is not None and req.content_length > limit:
        raise ApiError(413, "payload_too_large", f"the body exceeds {limit} bytes")
    # With chunked encoding there is no length for Falcon's bounded stream: gunicorn's input
    # de-chunks and ends at the last chunk, so read it directly, never more than limit + 1.
    stream = req.stream if req.content_length is None else req.bounded_stream
    data = b""
    while len(data) <= limit:
        try:
            chunk = stream.read(limit + 1 - len(data))
        except Exception as exc:  # the client cut the connection, or stalled past server.body_timeout
            raise bad_request("the body ended before it was complete", code="body_incomplete") from exc
        if not chunk:
            break
        data += chunk
    if len(data) > limit:
        raise ApiError(413, "payload_too_large", f"the body exceeds {limit} bytes")
    return data


def read_json(req: falcon.Request, schema: dict | None, limit: int) -> Any:
    """The parsed and validated JSON body of a request."""
    if (req.content_type or "").split(";")[0].strip().lower() != "application/json":
        raise ApiError(415, "unsupported_media_type", "the body must be application/json")
    raw = read_raw(req, limit)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad_request("the body is not valid JSON", None, code="invalid_json") from exc
    except RecursionError as exc:  # the parser's own limit, far below what the body size allows
        raise bad_request("the body nests too deeply", None, code="invalid_json") from exc
    return validate(data, schema)


def json_body(req: falcon.Request) -> Any:
    """The body of the current request, validated against its operation's declared schema."""
    return read_json(req, req.context.operation.request, req.context.max_body)


def optional_json_body(req: falcon.Request) -> Any:
    """Like `json_body`, but an empty request body counts as an empty object."""
    if not req.content_length and "chunked" not in (req.get_header("Transfer-Encoding") or "").lower():
        return validate({}, req.context.operation.request)
    return json_body(req)
