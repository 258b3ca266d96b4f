"""The role matrix: every route the app serves, called by every practice role, answers 403
exactly for the roles its declaration leaves out; the declarations agree with the spec.

Both parts read the routes from the app itself, so they grow with every route added.
"""

from __future__ import annotations

import re
from pathlib import Path

import falcon.inspect
import pytest

from appliance.http.operation import MEMBERS, ROLES, Operation
from tests.support.api import (
    call,
    declared_operations,
    declared_pages,
    fill_path,
    founder,
    member_with_role,
    open_session,
    register,
)

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT.parent / "shared" / "spec" / "api-endpoints.md"
BODY_METHODS = ("POST", "PUT", "PATCH")
NO_PRACTICE = "(no practice)"
ENDS_EVERY_SESSION = {"/api/auth/logout-everywhere"}


def served_routes(app: falcon.App) -> set[tuple[str, str]]:
    """(template, METHOD) of every responder Falcon routes to, without its own defaults."""
    return {
        (route.path, method.method)
        for route in falcon.inspect.inspect_routes(app)
        for method in route.methods
        if not method.internal
    }


def test_the_route_table_is_what_the_app_serves(app):
    assert served_routes(app) == set(declared_operations()) | declared_pages()


def _expectation(op: Operation, role: str) -> str:
    """'forbidden', 'no_practice', or 'allowed' for a caller with `role` (or no practice)."""
    if op.roles is None:
        return "allowed"
    if role == NO_PRACTICE:
        return "no_practice"
    return "allowed" if role in op.roles else "forbidden"


def _table_counts(database, tables: list[str]) -> dict[str, int]:
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {table})" for table in tables)
    return dict(zip(tables, database.execute_sql(sql).fetchone(), strict=True))


def test_every_route_refuses_exactly_the_roles_it_does_not_declare(
    app, client, database, settings, clock
):
    operations = declared_operations()
    assert served_routes(app) == set(operations) | declared_pages()
    admin = founder(client)
    users = {"ADMIN": admin.account.user_id}
    for role in ROLES:
        if role != "ADMIN":
            users[role] = member_with_role(client, admin.practice["id"], role).user_id
    users[NO_PRACTICE] = register(client).user_id

    calls = [(template, method, op, role, _expectation(op, role))
             for (template, method), op in sorted(operations.items()) for role in users]
    # A session per call, so that a logout or password change cannot end the next call's.
    with database.atomic():  # one commit for all of them
        tokens = [open_session(settings, clock, users[role]) for _, _, _, role, _ in calls]
    # Refused calls go first, as one batch that must not write anything; signing out everywhere
    # ends every session of its user, so it goes last.
    order = sorted(range(len(calls)),
                   key=lambda i: (calls[i][4] == "allowed", calls[i][0] in ENDS_EVERY_SESSION))
    tables = sorted(set(database.get_tables()) - {"schema_migrations", "rate_limit_hit", "auth_session"})
    before = _table_counts(database, tables)
    wrong, refusals_checked = [], False
    for index in order:
        template, method, op, role, expected = calls[index]
        if expected == "allowed" and not refusals_checked:
            changed = {t: n for t, n in _table_counts(database, tables).items() if n != before[t]}
            if changed:
                wrong.append(f"refused requests wrote to the database: {changed}")
            refusals_checked = True
        result = call(client, method, fill_path(template), token=tokens[index],
                      json={} if method in BODY_METHODS else None)
        status = result.status_code
        code = (result.json or {}).get("error", {}).get("code") if status >= 400 else None
        where = f"{method} {template} as {role}"
        if expected == "allowed":
            if status == 403:
                wrong.append(f"{where}: 403 {code}, but the route allows it")
            elif op.auth in ("user", "optional") and status == 401:
                wrong.append(f"{where}: 401, the session was not accepted")
        elif (status, code) != (403, expected):
            wrong.append(f"{where}: {status} {code}, expected 403 {expected}")
    assert refusals_checked and not wrong, "\n".join(wrong)


# --- the declarations against the specification --------------------------------------------


def spec_rows(text: str) -> list[tuple[str, str, str]]:
    """(METHOD, path, access) of every endpoint table row; access is the Roles/Auth cell."""
    rows, header = [], None
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("|"):
            header = None
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if header is None:
            header = cells
            continue
        if all(set(cell) <= set("-: ") for cell in cells):
            continue
        row = dict(zip(header, cells, strict=False))
        access = row.get("Roles", row.get("Auth"))
        if "Method" in row and "Path" in row and access is not None:
            rows.append((row["Method"].upper(), row["Path"], access))
    return rows


def _shape(path: str) -> str:
    """A path with every parameter (`:id`, `{id}`, `{id:uuid}`) written `{}`."""
    return re.sub(r":\w+", "{}", re.sub(r"\{[^}]*\}", "{}", path)).rstrip("/")


def _disagreement(op: Operation, access: str) -> str | None:
    if access in ("Public", "No"):
        ok = op.auth == "public" and op.roles is None
        want = "public"
    elif access == "Special":  # a credential of its own (e.g. x-auth-secret), not a session
        ok = op.auth == "public" and op.roles is None
        want = "no session (its own credential)"
    elif access == "Authenticated":
        ok = op.auth == "user" and (op.roles is None or op.roles == MEMBERS)
        want = "any logged-in user"
    else:
        wanted = {role.strip() for role in access.split(",")}
        if not wanted <= set(ROLES):
            return f"unknown access {access!r} in the spec"
        ok = op.auth == "user" and op.roles == wanted
        want = f"roles {sorted(wanted)}"
    if ok:
        return None
    declared = sorted(op.roles) if op.roles is not None else None
    return f"spec says {want}; declared auth={op.auth!r} roles={declared}"


def test_declared_roles_match_the_spec():
    if not SPEC.is_file():
        pytest.skip(f"the endpoint spec {SPEC} is not present next to the repository")
    operations = {(_shape(template), method): op
                  for (template, method), op in declared_operations().items()}
    rows = spec_rows(SPEC.read_text(encoding="utf-8"))
    assert len(rows) > 40, "the spec tables were not parsed"
    compared, wrong = [], []
    for method, path, access in rows:
        op = operations.get((_shape(path), method))
        if op is None:
            continue  # not built yet
        compared.append(f"{method} {path}")
        problem = _disagreement(op, access)
        if problem:
            wrong.append(f"{method} {path}: {problem}")
    assert {"POST /api/auth/login", "GET /api/practice"} <= set(compared)
    assert not [shape for shape, _ in operations if re.search(r"[:}]\}|\{[^}]", shape)]
    assert not wrong, "\n".join(wrong)
