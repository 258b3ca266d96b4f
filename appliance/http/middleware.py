"""Request plumbing: ids, client IP, headers, access logs, connections, and access control."""

from __future__ import annotations

import contextlib
import logging
import random
import re
import time
from typing import Protocol

import falcon
import peewee

from appliance import logs, tenancy
from appliance.http import entry
from appliance.http.client_ip import ClientIpResolver
from appliance.http.errors import ApiError
from appliance.http.operation import Operation
from appliance.http.text import check_request_target
from appliance.principal import Principal

access_log = logging.getLogger("appliance.access")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
BODY_METHODS = ("POST", "PUT", "PATCH")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}
#: (lower-case name, name, value): a resource's own header wins over the default.
_DEFAULT_HEADERS = tuple((name.lower(), name, value) for name, value in SECURITY_HEADERS.items())


class RequestContext:
    """Gives every request an id, a start time and its client IP; logs one line per request."""

    def __init__(self, resolver: ClientIpResolver, database: peewee.Database, max_body: int):
        self._resolver = resolver
        self._database = database
        self._max_body = max_body

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.started = time.perf_counter()
        env = req.env  # headers straight from the WSGI environ: no name conversion per look-up
        incoming = env.get("HTTP_X_REQUEST_ID")
        # A correlation id, not a secret: no system call (and GIL hand-over) per request.
        req.context.request_id = (
            incoming if incoming and REQUEST_ID.match(incoming) else f"{random.getrandbits(128):032x}"
        )
        req.context.client_ip = self._resolver.resolve(req.remote_addr, env.get("HTTP_X_FORWARDED_FOR"))
        trusted = self._resolver.is_trusted_proxy(req.remote_addr)
        req.context.from_trusted_proxy = trusted
        req.context.https = req.scheme == "https" or (
            trusted and env.get("HTTP_X_FORWARDED_PROTO") == "https")
        req.context.principal = None
        req.context.max_body = self._max_body
        length = req.content_length
        if length is not None and length > self._max_body and req.method in BODY_METHODS:
            # Refused before any resource reads it; resources with larger limits (uploads)
            # stream with their own bound.
            req.context.oversized = True
        else:
            req.context.oversized = False
        check_request_target(req)

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource, req_succeeded: bool
    ) -> None:
        if not self._database.is_closed():
            with contextlib.suppress(peewee.PeeweeException):
                self._database.close()
        present = resp.headers  # one copy of the few set, not a look-up per header
        resp.set_headers([("X-Request-Id", req.context.request_id),
                          *((name, value) for lower, name, value in _DEFAULT_HEADERS
                            if lower not in present)])
        if req.context.https:
            resp.set_header("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        logs.log_fields(access_log, logging.INFO, "request", {
            "request_id": req.context.request_id,
            "method": req.method,
            "route": req.uri_template or "(unmatched)",
            "status": resp.status_code,
            "duration_ms": round((time.perf_counter() - req.context.started) * 1000, 2),
        })


class Authenticator(Protocol):
    def authenticate(self, token: str, *, pending_2fa: bool = False) -> Principal: ...


class RateLimiter(Protocol):
    def hit(self, bucket: str, client_ip: str) -> None: ...


#: Rate-limit buckets on the LAN entry (appliance.services.container.rate_limits).
LAN_BUCKETS = {"auth": "auth_lan"}


class PlanGate(Protocol):
    """Billing's check of a staff request against the practice's plan; raises to refuse (402)."""

    def gate(self, template: str, method: str, principal: Principal) -> None: ...


class AccessControl:
    """The single gate: rate limit, authentication, role check and tenancy scope per route.

    Which operation a request hits is looked up from the route table, so a responder that
    declares no access rule cannot be reached at all.
    """

    def __init__(
        self,
        operations: dict[tuple[str, str], Operation],
        authenticator: Authenticator,
        limiter: RateLimiter,
        max_body: int,
        plan_gate: PlanGate | None = None,
        public_entry_header: str = "",
    ):
        self._operations = operations
        self._auth = authenticator
        self._limiter = limiter
        self._max_body = max_body
        self._plan_gate = plan_gate
        #: The entry mark's key in the WSGI environ (e.g. HTTP_X_APPLIANCE_ENTRY), or None.
        self._entry_key = ("HTTP_" + public_entry_header.upper().replace("-", "_")
                           if public_entry_header else None)

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource, params):
        if resource is None:
            return
        op = self._operations.get((req.uri_template, req.method))
        mark = req.env.get(self._entry_key) if self._entry_key else None
        if entry.is_public_entry(mark) and not entry.allowed_on_public_entry(
                req.uri_template, req.method, op):
            raise falcon.HTTPNotFound()  # the staff API does not exist on the internet entry
        req.context.lan_entry = entry.is_lan_entry(mark, req.context.from_trusted_proxy)
        if op is None:
            return  # Falcon's own responder answers: 405 with Allow, or OPTIONS

        req.context.operation = op
        if req.context.oversized and op.request_media is None:
            raise ApiError(413, "payload_too_large", f"the body exceeds {self._max_body} bytes")
        if op.rate_limit:
            bucket = LAN_BUCKETS.get(op.rate_limit, op.rate_limit) if req.context.lan_entry else op.rate_limit
            self._limiter.hit(bucket, req.context.client_ip)
        token = _bearer(req)
        if op.auth == "public":
            principal = None
        elif op.auth == "optional":
            principal = self._auth.authenticate(token) if token else None
        else:
            if not token:
                raise ApiError(
                    401, "unauthorized", "authentication required",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            principal = self._auth.authenticate(token, pending_2fa=op.auth == "pending_2fa")
        if op.roles is not None:
            if principal is None or principal.practice_id is None:
                raise ApiError(403, "no_practice", "this requires membership in a practice")
            if principal.role not in op.roles:
                raise ApiError(403, "forbidden", "your role may not do this")
        req.context.principal = principal
        if principal is not None and principal.practice_id is not None:
            if self._plan_gate is not None and op.auth == "user":
                # Staff requests only (billing exempts its own routes); public ones never.
                with tenancy.practice_scope(principal.practice_id):
                    self._plan_gate.gate(req.uri_template, req.method, principal)
            scope = tenancy.practice_scope(principal.practice_id)
            scope.__enter__()
            req.context.tenant_scope = scope

    def process_response(self, req, resp, resource, req_succeeded: bool) -> None:
        scope = getattr(req.context, "tenant_scope", None)
        if scope is not None:
            req.context.tenant_scope = None
            scope.__exit__(None, None, None)


def _bearer(req: falcon.Request) -> str | None:
    header = req.env.get("HTTP_AUTHORIZATION")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401, "unauthorized", "expected 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()
