"""Treatment templates: named presets of injection points per consent type and body region.

They are practice knowledge, not patient data, so they are stored and validated in clear.
The JSON Schema of the resource bounds every field; this module adds what a schema cannot
say (finite numbers, names unique per practice and type) and writes the audit entry.
"""

from __future__ import annotations

import math
import uuid

import peewee

from appliance.clock import Clock, isoformat
from appliance.http.errors import ApiError, bad_request, conflict, not_found
from appliance.http.pagination import Page
from appliance.models import TreatmentPlan, TreatmentTemplate
from appliance.principal import Principal
from appliance.services.accounts import Caller
from appliance.services.audit import Audit

#: API name -> column of the template fields a request may set.
FIELDS = {
    "name": "name",
    "type": "type",
    "bodyRegion": "body_region",
    "diagramType": "diagram_type",
    "points": "points",
    "notes": "notes",
}


def _duplicate() -> ApiError:
    return conflict("duplicate_template", "this practice has a template of this type with this name")


def template_view(template: TreatmentTemplate) -> dict:
    return {
        "id": str(template.id),
        **{api: getattr(template, column) for api, column in FIELDS.items()},
        "createdAt": isoformat(template.created_at),
        "updatedAt": isoformat(template.updated_at),
    }


def template_columns(body: dict) -> dict:
    """Column -> value of the fields in a (schema-valid) body, the name trimmed. Refuses NaN
    and infinities, which Python's JSON parser accepts but no other client could read back."""
    problems = [
        {"field": f"points.{index}.{key}", "problem": "must be a finite number"}
        for index, point in enumerate(body.get("points", []))
        for key in ("x", "y", "units")
        if not math.isfinite(point[key])
    ]
    if problems:
        raise bad_request("the template is invalid", problems)
    columns = {FIELDS[api]: value for api, value in body.items()}
    if "name" in columns:
        columns["name"] = columns["name"].strip()
    return columns


class TreatmentTemplates:
    def __init__(self, database: peewee.Database, audit: Audit, clock: Clock):
        self._db = database
        self._audit = audit
        self._clock = clock

    def list(self, page: Page, consent_type: str | None, body_region: str | None) -> dict:
        query = TreatmentTemplate.select()
        if consent_type:
            query = query.where(TreatmentTemplate.type == consent_type)
        if body_region:
            query = query.where(TreatmentTemplate.body_region == body_region)
        total = query.count()
        order = (TreatmentTemplate.name, TreatmentTemplate.type, TreatmentTemplate.id)
        rows = page.apply(query.order_by(*order))
        return page.envelope([template_view(t) for t in rows], total)

    def _record(self, principal: Principal, caller: Caller, template: TreatmentTemplate,
                change: str, **extra) -> None:
        """The name stays out of the metadata: staff may type anything into it."""
        self._audit.record(
            "TEMPLATE_CHANGED", ip=caller.ip, user_id=principal.user_id,
            practice_id=principal.practice_id, entity_type="treatment_template",
            entity_id=template.id,
            metadata={"change": change, "type": template.type, "bodyRegion": template.body_region,
                      **extra},
        )

    @staticmethod
    def _name_taken(consent_type: str, name: str, except_id: uuid.UUID | None = None) -> bool:
        query = TreatmentTemplate.select().where(
            TreatmentTemplate.type == consent_type, TreatmentTemplate.name == name
        )
        if except_id is not None:
            query = query.where(TreatmentTemplate.id != except_id)
        return query.exists()

    def create(self, principal: Principal, body: dict, caller: Caller) -> dict:
        columns = template_columns(body)
        now = self._clock.now()
        try:
            with self._db.atomic():
                if self._name_taken(columns["type"], columns["name"]):
                    raise _duplicate()
                template = TreatmentTemplate.create(
                    id=uuid.uuid4(), created_by=principal.user_id, created_at=now, updated_at=now,
                    **{"notes": "", **columns},
                )
                self._record(principal, caller, template, "created", points=len(template.points))
        except peewee.IntegrityError as exc:  # lost a race with a create of the same name
            raise _duplicate() from exc
        return template_view(TreatmentTemplate.get_by_id(template.id))

    def _get(self, template_id: uuid.UUID) -> TreatmentTemplate:
        template = TreatmentTemplate.get_or_none(TreatmentTemplate.id == template_id)
        if template is None:
            raise not_found("treatment template")
        return template

    def update(self, principal: Principal, template_id: uuid.UUID, body: dict, caller: Caller) -> dict:
        """Changes the given fields; the plans made from the template keep what they recorded."""
        columns = template_columns(body)
        now = self._clock.now()
        try:
            with self._db.atomic():
                current = self._get(template_id)
                consent_type = columns.get("type", current.type)
                name = columns.get("name", current.name)
                if self._name_taken(consent_type, name, except_id=current.id):
                    raise _duplicate()
                TreatmentTemplate.update(updated_at=now, **columns).where(
                    TreatmentTemplate.id == current.id
                ).execute()
                template = TreatmentTemplate.get_by_id(current.id)
                self._record(principal, caller, template, "updated", fields=sorted(body))
        except peewee.IntegrityError as exc:
            raise _duplicate() from exc
        return template_view(template)

    def delete(self, principal: Principal, template_id: uuid.UUID, caller: Caller) -> dict:
        """Plans made from the template lose the link (ON DELETE SET NULL), not their data."""
        with self._db.atomic():
            template = self._get(template_id)
            in_use = TreatmentPlan.select().where(TreatmentPlan.template_id == template.id).count()
            TreatmentTemplate.delete().where(TreatmentTemplate.id == template.id).execute()
            self._record(principal, caller, template, "deleted", plansUnlinked=in_use)
        return {"deleted": True, "plansUnlinked": in_use}
