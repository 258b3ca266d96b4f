"""The isolation matrix (issue 12): practice A's members call every route with every id and
token of practice B, and never see or change anything of B.

Two practices are built once per engine with data in every tenant table
(tests/support/isolation.py). The routes come from the route table at collection time, one
test per (route, method), so a new route is a new test without anyone writing one. For each
route, each of A's roles calls it:

* a role the route does not allow: 403 `forbidden`, whatever ids it names;
* every path parameter with every id of B (a `{x:uuid}` parameter; of the audit log only
  some), or every id, link token and lookup hash of B (any other parameter): the answer is
  exactly the answer for an unknown value of the same kind, never a success, and 404 for a
  uuid parameter;
* every id field of the request (body, multipart field, query; a property with format uuid,
  or named `...Id` and accepting a uuid) with every id of B of the kind the name says (SLOT_TABLES; all of
  B's ids otherwise), the rest of the request being valid with A's own ids: the answer equals
  the answer for an unknown id, and the sample request must get as far as that id (an
  unknown id must not be refused as bad input). Usually a 404. A GET list filtered by B's id
  may succeed, but then only with exactly what an unknown id gives (an empty list). Replacing
  the vault with B's challenge answers 403 `vault_proof_failed`, as for an unknown challenge:
  a challenge is consumed by one guess, so unknown and foreign look alike there by design;
* the route as A uses it (A's own ids, a valid body; non-GET routes with a path parameter
  are left out, they would delete or change A's records): no 5xx.

No answer (body or headers) may contain a value of B: any stored value of B's rows that does
not occur in A's rows (ids, hashes, ciphertexts, names, addresses, IPs), B's link tokens, or
a slice of one of B's stored objects. B's rows, its members' sessions and its objects are
compared before and after each route: nothing of B may change.

Public routes are called too, except those whose token or signature is the credential: the
holder of a consent link or invite token may use it by design, whoever they are (below, with
reasons). `GET /api/public/logo/{id}` is public data by design: B's logo id serves B's logo
(what every patient of B sees before decrypting anything) and nothing else; every other id of
B answers 404.

The same world serves three more matrices. Bad input: on every route, each string of the valid
request (body, form field, query parameter, path parameter) in turn gets a NUL or, in JSON, a
lone surrogate, text that no database here can store. Each answer is a 4xx in the JSON error
shape, and nothing of A or B changes. Values at the edges (last, as they may be taken): every
declared property and query parameter in turn gets instants whose UTC form leaves the calendar,
the first and last day, numbers past any column and the longest text in wide characters.
Taken or refused, never a 5xx, and B never changes. Database down: every route's valid request
to the same app with an unreachable database answers 503 `database_unavailable` (readiness:
`not_ready`) or, if it needs no database, as usual; never a 500.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import re
import secrets
import uuid
from typing import Any

import falcon.testing
import jwt
import pytest

from appliance.app import create_app
from appliance.clock import FixedClock
from appliance.db import open_database
from appliance.http.body import FORMATS, Validator
from appliance.http.operation import Operation
from appliance.mail import DisabledMailer
from appliance.migrator import upgrade
from appliance.models import database as database_proxy
from appliance.resources.consent_archive import UPLOAD_FIELDS as ARCHIVE_FIELDS
from appliance.resources.photos import UPLOAD_FIELDS
from appliance.services.container import build_services
from appliance.storage import open_store
from tests.conftest import make_settings
from tests.support.api import auth_header, declared_operations, fresh_ip, open_session
from tests.support.isolation import (
    ROLES,
    Snapshot,
    Tenant,
    build_tenant,
    complete,
    digest,
    object_samples,
    sample_value,
    samples_for,
    secret_values,
    snapshot,
    tenant_tables,
)
from tests.support.photos import encrypt_photo, multipart
from tests.support.ports import free_port

#: HEAD (the patient links only) answers what GET answers, without a body, through the same
#: responder (appliance.http.head); tests/test_http_conventions.py checks that. The body is
#: what this matrix compares, so HEAD is left to that test.
OPERATIONS = {key: op for key, op in declared_operations().items() if key[1] != "HEAD"}

#: Public routes whose own credential is in the request; whoever holds it may use it.
CREDENTIAL_ROUTES = {
    ("/api/consent/{token}", "GET"): "the consent link token is the patient's credential",
    ("/api/consent/{token}/submit", "POST"): "the consent link token is the patient's credential",
    ("/api/consent/{token}/withdraw", "POST"): "the consent link token is the patient's credential",
    ("/api/team/invite/{token}", "GET"): "the invite token is the invited person's credential",
    ("/api/team/invite/{token}/accept", "POST"): "the invite token is the invited person's credential",
    ("/api/auth/login", "POST"): "e-mail and password are the credential; names no practice data",
    ("/api/auth/register", "POST"): "creates an account without a practice; names no practice data",
    ("/api/auth/sync", "POST"): "x-auth-secret is the credential (the SSO bridge)",
    ("/api/billing/webhook", "POST"): "the Stripe signature is the credential",
}
#: Public routes that serve one kind of practice data to anyone who has its id, by design.
PUBLIC_DATA = {("/api/public/logo/{id:uuid}", "GET"): "practice_logo"}
#: The text fields of multipart uploads (the declaration documents them in prose only).
MULTIPART_FIELDS = {("/api/photos", "POST"): UPLOAD_FIELDS,
                    ("/api/consent/practice/{id:uuid}/archive", "POST"): ARCHIVE_FIELDS}
#: The table a path parameter names: by the parameter's name, else by the path before it.
PARAM_TABLES = {"patient_id": "patient", "user_id": "app_user", "hash": "lookup_hash",
                "token": "consent_token", "form_id": "form_id", "version": "form_version"}
COLLECTION_TABLES = {
    "/api/patients/": "patient", "/api/consent/practice/": "consent_form",
    "/api/audit/exports/": "audit_export", "/api/treatment-plans/": "treatment_plan",
    "/api/treatment-templates/": "treatment_template", "/api/team/invites/": "team_invite",
    "/api/photos/": "photo", "/api/public/logo/": "practice_logo", "/api/auth/sessions/": "auth_session",
}
#: The table an id field of a body or query names; another id field gets every id of B.
SLOT_TABLES = {"patientId": "patient", "consentFormId": "consent_form", "consentId": "consent_form",
               "templateId": "treatment_template", "treatmentPlanId": "treatment_plan",
               "userId": "app_user", "challengeId": "vault_challenge"}
#: How a made-up value of each kind looks (the answer for it is what B's value must get).
UNKNOWN = {"uuid": lambda: str(uuid.uuid4()), "token": lambda: secrets.token_urlsafe(32),
           "hash": lambda: secrets.token_hex(32)}
#: Path parameters get at most this many ids of each table: all of every record kind the
#: builder makes, and six of the two dozen audit entries (no route names an entry by id).
MAX_IDS_PER_TABLE = 6
PARAM = re.compile(r"\{(\w+)(?::(\w+))?[^}]*\}")
#: A secret counts only as a whole value, not as part of a longer one (198.18.0.5 in 198.18.0.57).
WORD = re.compile(rb"[A-Za-z0-9_.-]")


@dataclasses.dataclass
class World:
    engine: str
    client: falcon.testing.TestClient
    app_database: Any
    owner: Any
    store: Any
    settings: Any
    clock: FixedClock
    a: Tenant
    b: Tenant
    tables: list[str]
    #: B's values that must never appear in an answer, as bytes.
    secrets: list[bytes]
    #: object key -> a slice of B's object.
    object_slices: dict[str, bytes]
    #: value -> (kind for UNKNOWN, what it is) of every id, token and lookup hash of B.
    b_values: dict[str, tuple[str, str]]
    #: table -> B's ids in it.
    b_ids: dict[str, list[str]]
    #: table (or lookup_hash, consent_token) -> the id of A's own record of that kind.
    a_base: dict[str, str]
    samples: dict[str, Any]
    files: dict[str, bytes]
    calls: int = 0

    def snapshot_b(self) -> Snapshot:
        return snapshot(self.owner, self.store, self.tables, self.b.practice_id)


def _truncate(database) -> None:
    tables = [t for t in database.get_tables() if t != "schema_migrations"]
    database.execute_sql(f"TRUNCATE {', '.join(tables)} CASCADE")


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def world(request, tmp_path_factory):
    """Practices A and B with data in every tenant table, built once per engine; the app runs
    as the application role on PostgreSQL, so row-level security applies as in production."""
    tmp = tmp_path_factory.mktemp(f"isolation-{request.param}")
    if request.param == "postgresql":
        owner_url, app_url = request.getfixturevalue("pg_databases")
        owner = open_database(owner_url, pool_size=4)
        _truncate(owner)
        app_database = open_database(app_url, pool_size=4)
    else:
        owner_url = app_url = f"sqlite:///{tmp / 'appliance.db'}"
        owner = app_database = open_database(owner_url)
        upgrade(owner)
    exchange_root = tmp / "gdt"
    exchange_root.mkdir()
    settings = make_settings(tmp, app_url, gdt={"exchange_root": str(exchange_root)})
    clock = FixedClock(dt.datetime(2026, 11, 30, 9, 0, 0))
    store = open_store(settings)
    client = falcon.testing.TestClient(create_app(settings, app_database, store=store, clock=clock))
    a, b = build_tenant(client, "A", exchange_root), build_tenant(client, "B", exchange_root)
    complete(build_services(settings, app_database, clock, store, DisabledMailer()), [a, b])
    # A session of A's that only the sessions routes name (ending it harms no other call).
    spare_token = open_session(settings, clock, a.user_id("ADMIN"))
    spare = jwt.decode(spare_token, options={"verify_signature": False})["sid"]

    tables = tenant_tables(owner)
    own, theirs = (snapshot(owner, store, tables, t.practice_id) for t in (a, b))
    b_values = {value: ("uuid", f"B's {table} id") for table in [*tables, "practice", "auth_session"]
                for value in theirs.ids(table)[:MAX_IDS_PER_TABLE]}
    b_values.update({value: ("token", f"B's {what} token") for what, value in b.tokens.items()})
    b_values.update({row["lookup_hash"]: ("hash", "B's patient lookupHash")
                     for row in theirs.rows["patient"]})
    a_base = {"patient": a.ids["patient"], "consent_form": a.ids["consent_signed"],
              "treatment_template": a.ids["template"], "treatment_plan": a.ids["plan"],
              "photo": a.ids["photo"], "practice_logo": a.ids["logo"], "team_invite": a.ids["invite"],
              "vault_challenge": a.ids["challenge"], "app_user": a.user_id("ADMIN"), "auth_session": spare,
              "audit_export": own.ids("audit_export")[0], "lookup_hash": a.lookup_hash,
              "consent_token": a.tokens["consent_pending"],
              # the form catalogue is the same for every practice; each adds only its own text
              "form_id": "botox", "form_version": "1"}
    _, photo = encrypt_photo(a.practice, b"\xff\xd8\xff\xe0" + secrets.token_bytes(500))
    found = World(
        engine=request.param, client=client, app_database=app_database, owner=owner, store=store,
        settings=settings, clock=clock, a=a, b=b, tables=tables,
        secrets=sorted({value.encode() for value in secret_values(theirs, own, list(b.tokens.values()))}),
        object_slices=object_samples(theirs), b_values=b_values,
        b_ids={table: theirs.ids(table) for table in [*tables, "practice"]}, a_base=a_base,
        samples=samples_for(a),
        files={"photo": photo, "other": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + secrets.token_bytes(300)},
    )
    yield found
    print(f"\nisolation matrix on {request.param}: {found.calls} requests")
    if request.param == "postgresql":
        _truncate(owner)
        app_database.close_all()
        owner.close_all()
    else:
        owner.close()


# --- one route ----------------------------------------------------------------------------


@dataclasses.dataclass
class Call:
    path: str
    query: dict[str, Any]
    body: Any = None
    form: dict[str, str] | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


def _code(result: falcon.testing.Result) -> str | None:
    if result.status_code < 400 or "json" not in (result.headers.get("content-type") or ""):
        return None
    return ((result.json or {}).get("error") or {}).get("code")


def _answer(result: falcon.testing.Result) -> tuple[int, str | None]:
    return result.status_code, _code(result)


def _is_id(name: str, schema: dict) -> bool:
    """A field that can hold a record's id: format uuid, or named *Id and accepting a uuid
    (a GDT receiverId, eight characters at most, is not one)."""
    if schema.get("format") == "uuid":
        return True
    return name.endswith("Id") and Validator(schema, format_checker=FORMATS).is_valid(str(uuid.uuid4()))


class RouteMatrix:
    """Every call of one (route, method) for every role of A; collects what went wrong."""

    def __init__(self, world: World, template: str, method: str, op: Operation):
        self.world, self.template, self.method, self.op = world, template, method, op
        self.client = world.client  # what the calls go to
        self.key = (template, method)
        self.params = [(m.group(1), m.group(2)) for m in PARAM.finditer(template)]
        self.failures: list[str] = []
        self.tokens: dict[str, str] = {}

    # ----- requests -----

    def _table_of(self, name: str) -> str | None:
        if name in PARAM_TABLES:
            return PARAM_TABLES[name]
        return COLLECTION_TABLES.get(self.template[: self.template.index("{" + name)])

    def _path(self, values: dict[str, str]) -> str:
        return PARAM.sub(lambda m: values[m.group(1)], self.template)

    def _own_path_values(self) -> dict[str, str] | None:
        """A's own record for every path parameter, or None when a parameter's kind is unknown."""
        values = {}
        for name, _ in self.params:
            table = self._table_of(name)
            if table not in self.world.a_base:
                return None
            values[name] = self.world.a_base[table]
        return values

    def _call(self, path_values: dict[str, str]) -> Call:
        """A valid request of A's: required query parameters, the largest page, a body from the
        declared schema with A's own ids and ciphertexts."""
        samples, query = self.world.samples, {}
        for param in self.op.query:
            if param["in"] != "query":
                continue
            if param["name"] == "limit":
                query["limit"] = param["schema"].get("maximum", 50)
            elif param.get("required"):
                query[param["name"]] = sample_value(param["name"], param["schema"], samples)
        call = Call(self._path(path_values), query)
        if self.key in MULTIPART_FIELDS:
            call.form = {k: str(v) for k, v in sample_value("", MULTIPART_FIELDS[self.key], samples).items()}
        elif self.op.request_media == "multipart/form-data":
            call.form = {}
        elif self.op.request is not None:
            call.body = sample_value("", self.op.request, samples)
        return call

    def _if_match(self, call: Call, own: bool) -> None:
        """A version precondition: the current one of A's record, "1" for anyone else's."""
        if not any(p["in"] == "header" and p["name"] == "If-Match" for p in self.op.query):
            return
        etag = '"1"'
        if own and (self.template, "GET") in OPERATIONS:
            current = self.world.client.simulate_get(call.path, headers=auth_header(self.tokens["ADMIN"]),
                                                     remote_addr=fresh_ip())
            etag = current.headers.get("etag") or etag
        call.headers["If-Match"] = etag

    def send(self, call: Call, role: str) -> falcon.testing.Result:
        self.world.calls += 1
        headers = {**auth_header(self.tokens[role]), **call.headers}
        client = self.client
        if call.form is not None:
            file = self.world.files["photo" if self.key in MULTIPART_FIELDS else "other"]
            body, content_type = multipart(call.form, file)
            return client.simulate_request(self.method, call.path, params=call.query or None, body=body,
                                           headers={**headers, "Content-Type": content_type},
                                           remote_addr=fresh_ip())
        if call.body is not None:  # JSON's ASCII form: it carries any string, lone surrogates too
            headers = {**headers, "Content-Type": "application/json"}
        return client.simulate_request(self.method, call.path, params=call.query or None,
                                       body=None if call.body is None else json.dumps(call.body),
                                       headers=headers, remote_addr=fresh_ip())

    # ----- checks -----

    def fail(self, role: str, what: str, problem: str) -> None:
        self.failures.append(f"{self.method} {self.template} as {role}, {what}: {problem}")

    def check_secrets(self, role: str, what: str, result: falcon.testing.Result,
                      allowed: bytes | None = None) -> None:
        headers = "\n".join(f"{k}: {v}" for k, v in result.headers.items() if k.lower() != "x-request-id")
        haystack = result.content + b"\n" + headers.encode()
        for secret in self.world.secrets:
            start = haystack.find(secret)
            while start != -1:
                end = start + len(secret)
                before, after = haystack[start - 1: start], haystack[end: end + 1]
                if not (before and WORD.match(before)) and not (after and WORD.match(after)):
                    self.fail(role, what, f"the answer ({result.status_code}) contains B's value "
                                          f"{secret[:24].decode(errors='replace')!r}")
                    break
                start = haystack.find(secret, start + 1)
        for key, piece in self.world.object_slices.items():
            if piece != allowed and piece in result.content:
                self.fail(role, what, f"the answer ({result.status_code}) contains B's object {key}")

    def compare(self, role: str, what: str, result: falcon.testing.Result, unknown: falcon.testing.Result,
                *, must_be: int | None = None) -> None:
        """B's value must get exactly what an unknown value gets, and never a success."""
        if _answer(result) != _answer(unknown):
            self.fail(role, what, f"answers {_answer(result)}, an unknown value {_answer(unknown)}")
        elif must_be is not None and result.status_code != must_be:
            self.fail(role, what, f"answers {_answer(result)}, expected {must_be}")
        elif result.status_code < 300 and (self.method != "GET" or result.content != unknown.content):
            self.fail(role, what, f"succeeds ({result.status_code}) with B's value")

    # ----- the matrix -----

    def run(self) -> list[str]:
        op, world = self.op, self.world
        callers = ("ADMIN",) if op.auth == "public" else ROLES
        # Sessions of this route's own, so that a logout here cannot end the next route's calls.
        self.tokens = {role: open_session(world.settings, world.clock, world.a.user_id(role))
                       for role in ROLES}
        for role in callers:
            if op.auth != "public" and op.roles is not None and role not in op.roles:
                self.refused(role)
                continue
            self.own_use(role)
            for name, converter in self.params:
                self.path_parameter(role, name, converter)
            for where, name in self.id_slots():
                self.id_slot(role, where, name)
        return self.failures

    def refused(self, role: str) -> None:
        first = next(iter(self.world.b_ids["patient"]))
        result = self.send(self._call({name: first for name, _ in self.params}), role)
        if _answer(result) != (403, "forbidden"):
            self.fail(role, "a role the route does not allow",
                      f"answers {_answer(result)}, expected 403 forbidden")
        self.check_secrets(role, "refused", result)

    def own_use(self, role: str) -> None:
        if self.params and self.method != "GET":
            return  # with A's own ids it would delete or change A's records
        values = self._own_path_values()
        if values is None:
            return
        result = self.send(self._call(values), role)
        if result.status_code >= 500:
            self.fail(role, "A's own request", f"answers {_answer(result)}")
        self.check_secrets(role, "A's own request", result)

    def path_parameter(self, role: str, name: str, converter: str | None) -> None:
        own = self._own_path_values() or {}
        values = [(v, kind, what) for v, (kind, what) in self.world.b_values.items()
                  if converter != "uuid" or kind == "uuid"]
        unknown: dict[str, falcon.testing.Result] = {}
        for kind in {kind for _, kind, _ in values}:
            call = self._call({**own, name: UNKNOWN[kind]()})
            self._if_match(call, own=False)
            unknown[kind] = self.send(call, role)
            if unknown[kind].status_code >= 500:
                self.fail(role, f"{{{name}}} unknown {kind}", f"answers {_answer(unknown[kind])}")
        public_table = PUBLIC_DATA.get(self.key)
        for value, kind, what in values:
            call = self._call({**own, name: value})
            self._if_match(call, own=False)
            for param in self.op.query:  # the most the route can do, e.g. confirmRetentionOverride
                if param["in"] == "query" and "true" in param.get("schema", {}).get("enum", []):
                    call.query[param["name"]] = "true"
            result = self.send(call, role)
            where = f"{{{name}}} = {what}"
            if public_table is not None and value in self.world.b_ids[public_table]:
                self.public_data(role, where, result, public_table, value)
                continue
            self.compare(role, where, result, unknown[kind], must_be=404 if converter == "uuid" else None)
            self.check_secrets(role, where, result)

    def public_data(self, role: str, where: str, result: falcon.testing.Result, table: str,
                    value: str) -> None:
        [(key, data)] = [(k, d) for k, d in self.world.snapshot_b().objects.items() if k.endswith(value)]
        if result.status_code != 200 or result.content != data:
            self.fail(role, where, f"answers {result.status_code}, expected B's {table} itself (public)")
        self.check_secrets(role, where, result, allowed=self.world.object_slices[key])

    def id_slots(self) -> list[tuple[str, str]]:
        slots = [("query", p["name"]) for p in self.op.query
                 if p["in"] == "query" and _is_id(p["name"], p.get("schema", {}))]
        schema = MULTIPART_FIELDS.get(self.key) or self.op.request or {}
        where = "form" if self.key in MULTIPART_FIELDS else "body"
        properties = schema.get("properties", {})
        return slots + [(where, name) for name, prop in properties.items() if _is_id(name, prop)]

    def id_slot(self, role: str, where: str, name: str) -> None:
        own = self._own_path_values()
        if own is None:
            self.fail(role, f"{where} {name}", "the matrix does not know what the path parameters name:"
                                               " add them to PARAM_TABLES or COLLECTION_TABLES")
            return
        table = SLOT_TABLES.get(name)
        values = self.world.b_ids[table] if table else [
            value for value, (kind, _) in self.world.b_values.items() if kind == "uuid"]

        def request(value: str) -> falcon.testing.Result:
            call = self._call(own)
            self._if_match(call, own=True)
            if where == "query":
                call.query[name] = value
            elif where == "form":
                call.form[name] = value
            else:
                call.body[name] = value
            return self.send(call, role)

        unknown = request(str(uuid.uuid4()))
        if unknown.status_code >= 500 or unknown.status_code == 400:
            self.fail(role, f"{where} {name} unknown", f"answers {_answer(unknown)}: the matrix's sample"
                                                       " request does not get as far as this id")
        for value in values:
            what = f"{where} {name} = {self.world.b_values.get(value, ('', 'B id'))[1]}"
            result = request(value)
            self.compare(role, what, result, unknown)
            self.check_secrets(role, what, result)


#: Text the databases cannot store (appliance/http/text.py), put into a sample value.
UNSTORABLE = {"NUL": "\x00", "a lone surrogate": "\ud800"}


def _text_leaves(value: Any, path: tuple = ()) -> list[tuple]:
    """The paths of the strings in a JSON value (keys and indexes)."""
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _text_leaves(item, (*path, key))]
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value) for leaf in _text_leaves(item, (*path, index))]
    return []


def _spoil(text: str, bad: str) -> str:
    return text[:1] + bad + text[1:]


class BadText(RouteMatrix):
    """One allowed role of A sends the route's valid request with one string spoiled at a time:
    every body or form string, every query parameter, every path parameter. Each answer must
    be a 4xx in the JSON error shape (a 400 `validation_failed` when it is a 400), never a
    success and never a 5xx."""

    def prepare(self) -> None:
        """Sessions, and the current version of A's record for If-Match: reading a record is
        audited, so this comes before the snapshot that must not change."""
        self.tokens = {role: open_session(self.world.settings, self.world.clock, self.world.a.user_id(role))
                       for role in ROLES}
        self.values = self._own_path_values()
        self.precondition: dict[str, str] = {}
        if self.values is not None:
            call = self._call(self.values)
            self._if_match(call, own=True)
            self.precondition = call.headers

    def run(self) -> list[str]:
        op = self.op
        role = "ADMIN" if op.auth == "public" or op.roles is None or "ADMIN" in op.roles else op.roles[0]
        if self.values is None:
            return [f"{self.method} {self.template}: the matrix does not know what the path parameters name"]
        for what, call in self.requests(self.values):
            call.headers.update(self.precondition)
            self.check(role, what, self.send(call, role))
        return self.failures

    def requests(self, values: dict[str, str]):
        for name, bad in UNSTORABLE.items():
            for what, call in self.spoiled(values, bad):
                yield f"{what} with {name}", call

    def spoiled(self, values: dict[str, str], bad: str):
        base = self._call(values)
        for path in _text_leaves(base.body):
            call = self._call(values)
            call.body = copy.deepcopy(base.body)
            target = call.body
            for step in path[:-1]:
                target = target[step]
            if path:
                target[path[-1]] = _spoil(target[path[-1]], bad)
            else:
                call.body = _spoil(call.body, bad)
            yield f"body {'.'.join(map(str, path)) or '(body)'}", call
        if bad != UNSTORABLE["NUL"]:
            return  # a form or URL carries bytes (bad UTF-8 there is refused or becomes U+FFFD)
        for field in (base.form or {}):
            call = self._call(values)
            call.form = {**base.form, field: _spoil(base.form[field], bad)}
            yield f"form {field}", call
        for param in self.op.query:
            if param["in"] == "query":
                call = self._call(values)
                call.query[param["name"]] = _spoil(str(call.query.get(param["name"], "x")), bad)
                yield f"query {param['name']}", call
        for name, _ in self.params:
            yield f"path {{{name}}}", self._call({**values, name: _spoil(values[name], bad)})

    def check(self, role: str, what: str, result: falcon.testing.Result) -> None:
        if not 400 <= result.status_code < 500:
            self.fail(role, what, f"answers {_answer(result)}, expected a 4xx")
        elif _code(result) is None:
            self.fail(role, what, f"answers {result.status_code} without the JSON error shape")
        elif result.status_code == 400 and _code(result) != "validation_failed":
            self.fail(role, what, f"answers {_answer(result)}, expected 400 validation_failed")


INSTANT_EDGES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59Z"]
DAY_EDGES = ["0001-01-01", "9999-12-31"]


def _extremes(schema: dict) -> list[Any]:
    """Values at or past the edges of what a property takes: instants whose UTC form leaves the
    calendar, days at its ends, numbers past any column, the longest text in wide characters."""
    kinds = schema.get("type") if isinstance(schema.get("type"), list) else [schema.get("type")]
    if schema.get("format") == "date-time":
        return INSTANT_EDGES
    if schema.get("format") == "date":
        return DAY_EDGES
    if "integer" in kinds or "number" in kinds:
        edges = [10**30, -10**30, schema.get("maximum"), schema.get("minimum")]
        return [edge for edge in edges if edge is not None] + ([1e308] if "number" in kinds else [])
    if "string" not in kinds or {"enum", "format"} & set(schema):
        return []
    longest = ["€" * schema["maxLength"]] if "maxLength" in schema else []
    if "pattern" in schema:  # only the longest text, if the pattern takes it
        return [text for text in longest if Validator(schema, format_checker=FORMATS).is_valid(text)]
    return longest + INSTANT_EDGES + DAY_EDGES  # free text may be parsed as anything, instants too


def _slots(schema: dict, value: Any, path: tuple = ()) -> list[tuple[tuple, dict]]:
    """(path, schema) of every property the schema declares, optional ones too, inside the
    objects and first array items of `value`."""
    found = []
    for name, prop in (schema.get("properties") or {}).items():
        found.append(((*path, name), prop))
        inner = value.get(name) if isinstance(value, dict) else None
        if isinstance(inner, dict):
            found += _slots(prop, inner, (*path, name))
        elif isinstance(inner, list) and inner and isinstance(inner[0], dict):
            found += _slots(prop.get("items", {}), inner[0], (*path, name, 0))
    return found


class EdgeValues(BadText):
    """One allowed role of A sends the route's valid request with one value at an edge at a
    time (`_extremes`): every declared body property, optional ones too, and every query
    parameter. Such a value may be taken or refused; never with a 5xx."""

    def requests(self, values: dict[str, str]):
        if self.method == "DELETE":
            return  # ids only; with A's own ids it would take A's records away from the routes after it
        base = self._call(values)
        for path, prop in _slots(self.op.request or {}, base.body):
            for value in _extremes(prop):
                call = self._call(values)
                call.body = copy.deepcopy(base.body)
                target = call.body
                for step in path[:-1]:
                    target = target[step]
                target[path[-1]] = value
                yield f"body {'.'.join(map(str, path))} = {value!r:.40}", call
        for (field,), prop in _slots(MULTIPART_FIELDS.get(self.key, {}), base.form):
            for value in _extremes(prop):
                call = self._call(values)
                call.form = {**base.form, field: str(value)}
                yield f"form {field} = {value!r:.40}", call
        for param in self.op.query:
            if param["in"] != "query":
                continue
            for value in _extremes(param.get("schema", {})):
                call = self._call(values)
                call.query[param["name"]] = value
                yield f"query {param['name']} = {value!r:.40}", call

    def check(self, role: str, what: str, result: falcon.testing.Result) -> None:
        if result.status_code >= 500:
            self.fail(role, what, f"answers {_answer(result)}")
        elif result.status_code >= 400 and _code(result) is None:
            self.fail(role, what, f"answers {result.status_code} without the JSON error shape")


class DatabaseDown(BadText):
    """One allowed role of A sends the route's valid request to an app whose database cannot be
    reached: a 503 naming the database (or not_ready from readiness), or an answer that needed
    no database at all, never a 500."""

    def requests(self, values: dict[str, str]):
        yield "its own request", self._call(values)

    def check(self, role: str, what: str, result: falcon.testing.Result) -> None:
        if result.status_code >= 500 and _answer(result) not in (
                (503, "database_unavailable"), (503, "not_ready")):
            self.fail(role, what, f"answers {_answer(result)} with the database down")


# --- the tests ----------------------------------------------------------------------------

EACH_ROUTE = pytest.mark.parametrize("route", sorted(OPERATIONS),
                                     ids=[f"{m} {t}" for t, m in sorted(OPERATIONS)])


def _changed(label: str, route: tuple[str, str], before: dict, after: dict) -> list[str]:
    """A failure naming what of a practice's rows and objects changed, if anything did."""
    names = sorted(name for name in {*before, *after} if before.get(name) != after.get(name))
    return [f"{route[1]} {route[0]} changed {label}'s {', '.join(names)}"] if names else []


def test_both_practices_have_rows_in_every_tenant_table(world):
    """A tenant table the builder leaves empty would go unchecked: a new table fails here."""
    for tenant in (world.a, world.b):
        rows = snapshot(world.owner, world.store, world.tables, tenant.practice_id).rows
        assert {"patient", "consent_form", "app_user", "audit_log", "photo"} <= set(world.tables)
        empty = [table for table in world.tables if not rows[table]]
        assert not empty, f"practice {tenant.label} has no rows in {empty}: add them to build_tenant/complete"
        statuses = {row["status"] for row in rows["consent_form"]}
        assert {"PENDING", "SIGNED", "REVOKED"} <= statuses


def test_the_exceptions_name_real_routes():
    for key in (*CREDENTIAL_ROUTES, *PUBLIC_DATA):
        assert key in OPERATIONS and OPERATIONS[key].auth == "public", key
    for key in MULTIPART_FIELDS:
        assert OPERATIONS[key].request_media == "multipart/form-data", key


@EACH_ROUTE
def test_practice_a_cannot_reach_practice_b(world, route):
    template, method = route
    if route in CREDENTIAL_ROUTES:
        pytest.skip(f"by design: {CREDENTIAL_ROUTES[route]}")
    database_proxy.initialize(world.app_database)
    before = digest(world.snapshot_b())
    failures = RouteMatrix(world, template, method, OPERATIONS[route]).run()
    failures += _changed("B", route, before, digest(world.snapshot_b()))
    assert not failures, f"{len(failures)} problems:\n" + "\n".join(failures[:60])


@EACH_ROUTE
def test_text_no_database_can_store_is_refused_and_changes_nothing(world, route):
    """NUL and lone surrogates in any string a route takes: PostgreSQL cannot store the first,
    neither engine the second; the client gets a 4xx and nothing of A or B changes."""
    template, method = route
    database_proxy.initialize(world.app_database)
    matrix = BadText(world, template, method, OPERATIONS[route])
    matrix.prepare()
    tenants = (world.a.practice_id, world.b.practice_id)
    before = [digest(snapshot(world.owner, world.store, world.tables, tenant)) for tenant in tenants]
    failures = matrix.run()
    after = [digest(snapshot(world.owner, world.store, world.tables, tenant)) for tenant in tenants]
    for label, old, new in zip("AB", before, after, strict=True):
        failures += _changed(label, route, old, new)
    assert not failures, f"{len(failures)} problems:\n" + "\n".join(failures[:60])


@EACH_ROUTE
def test_values_at_the_edges_never_answer_5xx(world, route):
    """Last, as these may be taken: A's records change, B's never do."""
    template, method = route
    database_proxy.initialize(world.app_database)
    matrix = EdgeValues(world, template, method, OPERATIONS[route])
    matrix.prepare()
    before = digest(world.snapshot_b())
    failures = matrix.run()
    failures += _changed("B", route, before, digest(world.snapshot_b()))
    assert not failures, f"{len(failures)} problems:\n" + "\n".join(failures[:60])


@pytest.fixture(scope="module")
def database_down(world, tmp_path_factory):
    """The world's app, but with a database that cannot be reached: a closed port for
    PostgreSQL, a directory in place of the file for SQLite."""
    if world.engine == "postgresql":
        url = f"postgresql://appliance@127.0.0.1:{free_port()}/appliance"
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('not-a-database-file')}"
    unreachable = open_database(url, connect_timeout=1)
    app = create_app(world.settings, unreachable, store=world.store, clock=world.clock)
    return falcon.testing.TestClient(app), unreachable


@EACH_ROUTE
def test_with_the_database_down_no_route_answers_500(world, database_down, route):
    template, method = route
    database_proxy.initialize(world.app_database)
    matrix = DatabaseDown(world, template, method, OPERATIONS[route])
    matrix.prepare()
    matrix.client, unreachable = database_down
    before = digest(world.snapshot_b())
    database_proxy.initialize(unreachable)  # the models' database is one per process, as in serve
    try:
        failures = matrix.run()
    finally:
        database_proxy.initialize(world.app_database)
    failures += _changed("B", route, before, digest(world.snapshot_b()))
    assert not failures, f"{len(failures)} problems:\n" + "\n".join(failures[:60])
