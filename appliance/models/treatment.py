"""Treatment templates (clear practice knowledge) and treatment plans (ciphertext per patient)."""

from __future__ import annotations

import peewee

from appliance.models.base import JSONField, TenantModel

#: Body regions of domain.md (shared with photos).
BODY_REGIONS = ("FOREHEAD", "GLABELLA", "PERIORBITAL", "CHEEKS", "NASOLABIAL", "LIPS", "CHIN",
                "JAWLINE", "NECK", "DECOLLETE", "HANDS", "SCALP", "OTHER")
#: The drawings a client renders points on; x and y are percent of the drawing.
DIAGRAM_TYPES = ("FACE_FRONT", "FACE_LEFT", "FACE_RIGHT", "NECK_DECOLLETE", "HANDS", "SCALP")
#: Injection techniques a template point may name.
TECHNIQUES = ("BOLUS", "LINEAR_THREADING", "FANNING", "CROSS_HATCHING", "MICRODROPLET",
              "SERIAL_PUNCTURE", "DEPOT", "CANNULA")
#: Units (botulinum) or millilitres (fillers, PRP).
DOSE_UNITS = ("U", "ml")


class TreatmentTemplate(TenantModel):
    name = peewee.TextField()
    type = peewee.TextField()
    body_region = peewee.TextField()
    diagram_type = peewee.TextField()
    points = JSONField()
    notes = peewee.TextField(default="")
    created_by = peewee.UUIDField(null=True)
    created_at = peewee.DateTimeField()
    updated_at = peewee.DateTimeField()


class TreatmentPlan(TenantModel):
    patient_id = peewee.UUIDField()
    consent_form_id = peewee.UUIDField(null=True)
    template_id = peewee.UUIDField(null=True)
    consent_type = peewee.TextField()
    performed_at = peewee.DateTimeField()
    encrypted_plan = peewee.BlobField()
    wrapped_key = peewee.TextField()
    signature = peewee.TextField(null=True)
    #: Optimistic concurrency: every update names the version it read and increments it.
    version = peewee.IntegerField(default=1)
    created_by = peewee.UUIDField(null=True)
    updated_by = peewee.UUIDField(null=True)
    created_at = peewee.DateTimeField()
    updated_at = peewee.DateTimeField()
