"""The list convention: `?limit=` (1..200, default 50) and `?page=` (from 1); responses carry
`items`, `total`, `page`, `limit`."""

from __future__ import annotations

from dataclasses import dataclass

import falcon

from appliance.http.errors import bad_request

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

#: Query parameters of every paginated list, for the OpenAPI document.
PARAMETERS = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                 "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
]


@dataclass(frozen=True)
class Page:
    limit: int
    page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit

    def apply(self, query):
        return query.limit(self.limit).offset(self.offset)

    def envelope(self, items: list, total: int) -> dict:
        return {"items": items, "total": total, "page": self.page, "limit": self.limit}


def _int_param(req: falcon.Request, name: str, default: int, low: int, high: int) -> int:
    raw = req.get_param(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise bad_request(
            f"query parameter {name} is invalid",
            [{"field": name, "problem": f"must be an integer from {low} to {high}"}],
        )
    return int(raw)


def page_of(req: falcon.Request) -> Page:
    return Page(
        limit=_int_param(req, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        page=_int_param(req, "page", 1, 1, 1_000_000),
    )


def envelope_schema(item: dict) -> dict:
    return {
        "type": "object",
        "required": ["items", "total", "page", "limit"],
        "properties": {
            "items": {"type": "array", "items": item},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "limit": {"type": "integer"},
        },
    }
