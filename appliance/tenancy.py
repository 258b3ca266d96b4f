"""The one place where tenant isolation is enforced in the application.

Every request that acts for a practice runs inside `practice_scope(practice_id)`; every
tenant-owned model (see `appliance.models.base.TenantModel`) adds the practice filter to its
SELECT, UPDATE and DELETE and stamps it on INSERT. Work that must cross practices (login,
public token lookups, scheduled jobs) says so explicitly with `unscoped(reason)`, which is
easy to find and review. Outside of either, touching tenant data raises instead of leaking.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass


class TenancyError(RuntimeError):
    """A programming error: tenant data touched without a scope, or with the wrong practice."""


@dataclass(frozen=True)
class _Scope:
    practice_id: uuid.UUID | None
    reason: str


_scope: ContextVar[_Scope | None] = ContextVar("appliance_tenant_scope", default=None)


@contextlib.contextmanager
def practice_scope(practice_id: uuid.UUID) -> Iterator[None]:
    if not isinstance(practice_id, uuid.UUID):
        raise TenancyError("practice_scope needs a UUID")
    token = _scope.set(_Scope(practice_id, "practice"))
    try:
        yield
    finally:
        _scope.reset(token)


@contextlib.contextmanager
def unscoped(reason: str) -> Iterator[None]:
    """Explicitly crosses practices; `reason` documents why at the call site."""
    token = _scope.set(_Scope(None, reason))
    try:
        yield
    finally:
        _scope.reset(token)


def current() -> uuid.UUID | None:
    """The practice of the current scope, or None inside `unscoped`. Raises outside any scope."""
    scope = _scope.get()
    if scope is None:
        raise TenancyError("tenant data accessed outside practice_scope/unscoped")
    return scope.practice_id


def postgres_scope_sql() -> str:
    """The statement that tells PostgreSQL's row-level security who is asking.

    Prefixed to every statement (transaction-local settings), so the database enforces the
    same scope as the code, statement by statement, even across savepoint rollbacks. The
    practice id comes from a UUID object, never from text a client sent.
    """
    scope = _scope.get()
    practice = str(scope.practice_id) if scope and scope.practice_id else ""
    cross = "on" if scope and scope.practice_id is None else ""
    return (
        f"SELECT set_config('app.practice_id', '{practice}', true),"
        f" set_config('app.cross_practice', '{cross}', true); "
    )
