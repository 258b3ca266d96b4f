"""Peewee models. Tables are created by the SQL migrations, never by the models."""

from appliance.models.accounts import (
    AuditEntry,
    AuthSession,
    LoginLockout,
    Practice,
    RateLimitHit,
    User,
    VaultChallenge,
)
from appliance.models.base import database
from appliance.models.billing import Payment, StripeEvent, Subscription
from appliance.models.consent import (
    CONSENT_TYPES,
    COUNTERSIGNABLE_STATUSES,
    SIGNED_STATUSES,
    ConsentArchive,
    ConsentForm,
    Patient,
)
from appliance.models.forms import PracticeFormText
from appliance.models.gdt import GdtImport, PracticeGdt
from appliance.models.jobs import AuditExport, JobRun
from appliance.models.photos import (
    LOGO_TYPES,
    PHOTO_TYPES,
    ObjectCleanup,
    Photo,
    PhotoThumbnail,
    PracticeLogo,
)
from appliance.models.team import INVITE_STATUSES, TeamInvite
from appliance.models.treatment import (
    BODY_REGIONS,
    DIAGRAM_TYPES,
    DOSE_UNITS,
    TECHNIQUES,
    TreatmentPlan,
    TreatmentTemplate,
)

__all__ = [
    "BODY_REGIONS",
    "CONSENT_TYPES",
    "COUNTERSIGNABLE_STATUSES",
    "DIAGRAM_TYPES",
    "DOSE_UNITS",
    "INVITE_STATUSES",
    "LOGO_TYPES",
    "PHOTO_TYPES",
    "SIGNED_STATUSES",
    "TECHNIQUES",
    "AuditEntry",
    "AuditExport",
    "AuthSession",
    "ConsentArchive",
    "ConsentForm",
    "GdtImport",
    "JobRun",
    "LoginLockout",
    "ObjectCleanup",
    "Patient",
    "Payment",
    "Photo",
    "PhotoThumbnail",
    "Practice",
    "PracticeFormText",
    "PracticeGdt",
    "PracticeLogo",
    "RateLimitHit",
    "StripeEvent",
    "Subscription",
    "TeamInvite",
    "TreatmentPlan",
    "TreatmentTemplate",
    "User",
    "VaultChallenge",
    "database",
]
