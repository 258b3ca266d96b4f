"""One JSON error shape for every failure: `{"error": {code, message, details}, "requestId"}`."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import falcon

from appliance.db import UNAVAILABLE_ERRORS

log = logging.getLogger("appliance.http")

#: Codes and messages for the errors Falcon raises by itself (routing, media, size).
FALCON_CODES = {
    400: ("bad_request", "the request is malformed"),
    404: ("not_found", "no such resource"),
    405: ("method_not_allowed", "this method is not allowed on this resource"),
    411: ("length_required", "a Content-Length header is required"),
    413: ("payload_too_large", "the body is too large"),
    415: ("unsupported_media_type", "unsupported content type"),
}


class ApiError(falcon.HTTPError):
    """An error the client can act on; `code` is stable, `message` is for people."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(falcon.code_to_http_status(status), headers=headers)
        self.code = code
        self.message = message
        self.details = details


def bad_request(message: str, details: Any = None, code: str = "validation_failed") -> ApiError:
    return ApiError(400, code, message, details)


def bad_envelope(message: str, exc, prefix: str = "") -> ApiError:
    """A 400 for an `envelopes.EnvelopeError`, naming the field (under `prefix` if given)."""
    field = f"{prefix}.{exc.field}" if prefix and exc.field != prefix else exc.field
    return bad_request(message, [{"field": field, "problem": exc.problem}])


def not_found(what: str = "resource") -> ApiError:
    """The same answer for ids that do not exist and ids of another practice."""
    return ApiError(404, "not_found", f"{what} not found")


def conflict(code: str, message: str) -> ApiError:
    return ApiError(409, code, message)


def error_body(req: falcon.Request, code: str, message: str, details: Any = None) -> dict:
    return {
        "error": {"code": code, "message": message, "details": details},
        "requestId": getattr(req.context, "request_id", None),
    }


def serialize_error(req: falcon.Request, resp: falcon.Response, exc: falcon.HTTPError) -> None:
    """Falcon's error serializer hook: every HTTPError leaves in the same JSON shape."""
    if isinstance(exc, ApiError):
        code, message, details = exc.code, exc.message, exc.details
    else:
        code, message = FALCON_CODES.get(exc.status_code, ("error", exc.title or "error"))
        message = exc.description or message
        details = None
    resp.content_type = falcon.MEDIA_JSON
    resp.media = error_body(req, code, message, details)


def handle_unavailable(req: falcon.Request, resp: falcon.Response, exc: Exception, params) -> None:
    """A database that is down or busy is the server's problem, not the client's: 503."""
    log.error(
        "dependency unavailable",
        extra={"request_id": req.context.request_id, "error_type": type(exc).__name__},
    )
    raise ApiError(
        503, "database_unavailable", "the database is not reachable; try again shortly",
        headers={"Retry-After": "5"},
    )


def handle_unexpected(req: falcon.Request, resp: falcon.Response, exc: Exception, params) -> None:
    """500 without a traceback in the response; the log gets the stack but not the message,
    because exception messages (e.g. constraint violations) can carry personal data."""
    if isinstance(exc, falcon.HTTPError):
        raise exc
    if isinstance(exc, UNAVAILABLE_ERRORS):
        handle_unavailable(req, resp, exc, params)
    log.error(
        "unhandled exception",
        extra={
            "request_id": getattr(req.context, "request_id", None),
            "error_type": f"{type(exc).__module__}.{type(exc).__name__}",
            "stack": "".join(traceback.format_tb(exc.__traceback__)),
        },
    )
    raise ApiError(500, "internal_error", "an internal error occurred; quote the request id")
