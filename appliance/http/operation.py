"""Declares, on each responder, who may call it and what it takes and returns.

The same declaration drives access control (one middleware), the OpenAPI document and the
role-matrix test, so the three can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

ADMIN, ARZT, EMPFANG = "ADMIN", "ARZT", "EMPFANG"
ROLES = (ADMIN, ARZT, EMPFANG)
MEMBERS = frozenset(ROLES)

Auth = Literal["public", "optional", "user", "pending_2fa"]


@dataclass(frozen=True)
class Operation:
    summary: str
    auth: Auth = "user"
    #: None: any logged-in user, with or without a practice. A set: a practice member whose
    #: role is in it; everyone else gets 403.
    roles: frozenset[str] | None = None
    request: dict | None = None
    response: dict | None = None
    #: Extra documented answers, status -> description.
    errors: dict[int, str] = field(default_factory=dict)
    #: Name of the per-IP rate-limit bucket this operation counts against.
    rate_limit: str | None = None
    description: str = ""
    #: A non-JSON request body (e.g. multipart), documented by media type.
    request_media: str | None = None
    #: A non-JSON response body (e.g. CSV), documented by media type.
    response_media: str | None = None
    tags: tuple[str, ...] = ()
    #: Query parameters (OpenAPI parameter objects).
    query: tuple[dict, ...] = ()
    #: POST answers 201 Created rather than 200.
    created: bool = False
    #: Whether answering needs the database (then an outage is a documented 503).
    database: bool = True


def operation(summary: str, **options) -> Callable:
    """Attaches an Operation to a responder method (`on_get`, `on_post_item`, ...)."""

    def attach(responder: Callable) -> Callable:
        responder.__operation__ = Operation(summary, **options)
        return responder

    return attach


def roles(*names: str) -> frozenset[str]:
    unknown = set(names) - MEMBERS
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    return frozenset(names)


def operation_of(responder: Callable) -> Operation | None:
    return getattr(responder, "__operation__", None)
