"""Audit endpoints: list, CSV export and chain verification (ADMIN), vault events (members)."""

from __future__ import annotations

import re
import uuid

import falcon

from appliance.http import pagination, query
from appliance.http.body import json_body
from appliance.http.errors import bad_request
from appliance.http.operation import ADMIN, MEMBERS, operation, roles
from appliance.resources.auth import caller
from appliance.resources.schemas import TIMESTAMP, UUID, obj
from appliance.services.audit import ACTIONS
from appliance.services.audit_log import AuditFilter, AuditLog

TAGS = ("Audit",)
ENTITY_TYPE = re.compile(r"^[a-z_]{1,40}$")
FILTERS = (
    {"name": "action", "in": "query", "schema": {"enum": sorted(ACTIONS)}},
    {"name": "from", "in": "query", "schema": {"type": "string"},
     "description": "ISO 8601 date or date-time (UTC when no offset)"},
    {"name": "to", "in": "query", "schema": {"type": "string"},
     "description": "ISO 8601 date (whole day included) or date-time"},
    {"name": "userId", "in": "query", "schema": UUID},
    {"name": "entityType", "in": "query", "schema": {"type": "string", "pattern": ENTITY_TYPE.pattern}},
)
ENTRY = obj(
    ["id", "seq", "action", "createdAt", "hash"],
    {"id": UUID, "seq": {"type": "integer"}, "action": {"enum": sorted(ACTIONS)},
     "userId": {"type": ["string", "null"]}, "entityType": {"type": ["string", "null"]},
     "entityId": {"type": ["string", "null"]}, "ip": {"type": ["string", "null"]},
     "metadata": {"type": "object"}, "createdAt": TIMESTAMP, "hash": {"type": "string"}},
)


def filters_of(req: falcon.Request) -> AuditFilter:
    user_id = req.get_param("userId")
    entity_type = req.get_param("entityType")
    try:
        parsed_user = uuid.UUID(user_id) if user_id is not None else None
    except ValueError as exc:
        raise bad_request("query parameter userId is invalid",
                          [{"field": "userId", "problem": "must be a UUID"}]) from exc
    if entity_type is not None and not ENTITY_TYPE.match(entity_type):
        raise bad_request("query parameter entityType is invalid",
                          [{"field": "entityType", "problem": "must be lower-case letters"}])
    return AuditFilter(
        action=query.choice(req, "action", sorted(ACTIONS)),
        start=query.instant(req, "from"),
        end=query.instant(req, "to", end_of_day=True),
        user_id=parsed_user,
        entity_type=entity_type,
    )


class AuditList:
    def __init__(self, log: AuditLog):
        self._log = log

    @operation(
        "The practice's audit log, newest first", roles=roles(ADMIN), tags=TAGS,
        response=pagination.envelope_schema(ENTRY), query=(*pagination.PARAMETERS, *FILTERS),
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._log.list(pagination.page_of(req), filters_of(req))


class AuditExport:
    def __init__(self, log: AuditLog):
        self._log = log

    @operation(
        "The audit log as CSV for the data-protection officer (audited as AUDIT_EXPORTED)",
        roles=roles(ADMIN), tags=TAGS, response_media="text/csv",
        query=(*FILTERS, {"name": "dialect", "in": "query", "schema": {"enum": ["de", "rfc4180"]},
                          "description": "de (default): German header, ';' and a UTF-8 BOM, as"
                          " German spreadsheet programs expect; rfc4180: English header and ','"}),
        description="Streamed in chronological order; timestamps in the practice time zone; cells"
        " that a spreadsheet would evaluate as a formula are prefixed with an apostrophe.",
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        dialect = query.choice(req, "dialect", ["de", "rfc4180"]) or "de"
        filters = filters_of(req)
        resp.content_type = "text/csv; charset=utf-8"
        resp.downloadable_as = "audit-log.csv"
        resp.stream = self._log.export(req.context.principal, filters, dialect, caller(req))


class AuditVerify:
    def __init__(self, log: AuditLog):
        self._log = log

    @operation(
        "Verify the practice's audit hash chain", roles=roles(ADMIN), tags=TAGS,
        response=obj(["chain", "ok", "entries"],
                     {"chain": {"type": "string"}, "ok": {"type": "boolean"},
                      "entries": {"type": "integer"}, "headHash": {"type": "string"},
                      "firstBroken": {"type": "integer"}, "problem": {"type": "string"},
                      "anchors": {"type": "array", "items": obj(
                          ["seq", "hash", "source"],
                          {"seq": {"type": "integer"}, "hash": {"type": "string"},
                           "source": {"type": "string"}})}}),
        description="ok is false when an entry is missing, out of order or altered, or when the"
        " chain no longer holds the head the newest nightly export recorded (its newest entries"
        " were removed); firstBroken names the first such entry by its sequence number, anchors"
        " the export record the chain was compared with.",
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._log.verify(req.context.principal)


class VaultEvent:
    def __init__(self, log: AuditLog):
        self._log = log

    @operation(
        "Record that the caller unlocked or locked the vault in their client",
        roles=MEMBERS, tags=TAGS,
        request=obj(["event"], {"event": {"enum": ["VAULT_UNLOCKED", "VAULT_LOCKED"]}}),
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._log.vault_event(req.context.principal, json_body(req)["event"], caller(req))
        resp.status = falcon.HTTP_204


EXPORT = obj(
    ["id", "createdAt", "rangeEnd", "rows", "headHash", "sizeBytes", "wrappedKey"],
    {"id": UUID, "createdAt": TIMESTAMP, "rangeStart": {"type": ["string", "null"]},
     "rangeEnd": TIMESTAMP, "firstSeq": {"type": ["integer", "null"]},
     "lastSeq": {"type": ["integer", "null"]}, "rows": {"type": "integer"},
     "headHash": {"type": "string"}, "sizeBytes": {"type": "integer"},
     "wrappedKey": {"type": "string"}},
)


class AuditExports:
    def __init__(self, log: AuditLog):
        self._log = log

    @operation(
        "The nightly encrypted audit exports", roles=roles(ADMIN), tags=TAGS,
        response=pagination.envelope_schema(EXPORT), query=tuple(pagination.PARAMETERS),
        description="Each export holds the entries since the previous one as gzip CSV, encrypted"
        " to the practice key (payload envelope, purpose audit.export); headHash is the chain"
        " hash of its last entry.",
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._log.exports(pagination.page_of(req))


class AuditExportDownload:
    def __init__(self, log: AuditLog):
        self._log = log

    @operation(
        "Download one encrypted audit export", roles=roles(ADMIN), tags=TAGS,
        response_media="application/octet-stream",
        errors={404: "no such export in this practice", 503: "the object store is unreachable"},
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        content = self._log.download_export(req.context.principal, id, caller(req))
        resp.content_type = "application/octet-stream"
        resp.content_length = content.size
        resp.downloadable_as = f"audit-export-{id}.csv.gz.enc"
        resp.stream = content
