"""Builds the services once, from the collaborators handed to the app factory."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import peewee

from appliance.billing.enforcement import PlanEnforcement
from appliance.billing.stripe_gateway import StripeGateway
from appliance.clock import Clock
from appliance.forms import catalogue
from appliance.mail import Mailer
from appliance.outbox import Outbox
from appliance.replica import BackupReplica, backup_replica
from appliance.services.accounts import Accounts
from appliance.services.analytics import Analytics
from appliance.services.audit import Audit
from appliance.services.audit_log import AuditLog
from appliance.services.billing import Billing
from appliance.services.consent_archives import ConsentArchives
from appliance.services.consents import Consents
from appliance.services.forms import Forms
from appliance.services.gdt import Gdt
from appliance.services.logo import Logo
from appliance.services.objects import Objects
from appliance.services.patients import Patients
from appliance.services.photos import Photos
from appliance.services.practice_settings import PracticeSettings
from appliance.services.practices import Practices
from appliance.services.ratelimit import DatabaseRateLimiter
from appliance.services.sessions import Sessions
from appliance.services.team import NoSeatLimit, Team
from appliance.services.treatment_plans import TreatmentPlans
from appliance.services.treatment_templates import TreatmentTemplates
from appliance.settings import Settings
from appliance.storage import open_store

#: Per-IP limits: bucket -> (requests, seconds). Consent tokens carry 256 bits, so the public
#: limit only has to stop floods, not guessing; it leaves room for a patient's retries.
RATE_LIMITS = {"auth": (5, 60), "consent_public": (60, 60), "team_public": (60, 60), "webhook": (60, 60),
               # Logins on the LAN entry, per account and address (resources.auth.Login).
               "auth_account": (5, 60)}


def rate_limits(settings: Settings) -> dict[str, tuple[int, int]]:
    """RATE_LIMITS plus the LAN entry's sign-in budget per address (a terminal server's
    whole staff shares one), from the configuration."""
    return {**RATE_LIMITS, "auth_lan": (settings.auth.lan_requests_per_minute, 60)}


@dataclass(frozen=True)
class Services:
    settings: Settings
    database: peewee.Database
    clock: Clock
    store: object | None
    audit: Audit
    sessions: Sessions
    limiter: DatabaseRateLimiter
    accounts: Accounts
    practices: Practices
    practice_settings: PracticeSettings
    patients: Patients
    consents: Consents
    forms: Forms
    audit_log: AuditLog
    treatment_plans: TreatmentPlans
    treatment_templates: TreatmentTemplates
    team: Team
    gdt: Gdt

    objects: Objects
    photos: Photos
    consent_archives: ConsentArchives
    logo: Logo
    billing: Billing
    #: None when billing is disabled: no limits, no subscription checks.
    plan_enforcement: PlanEnforcement | None
    analytics: Analytics
    #: The streaming replica backups read (database.backup_url); None: backups read the primary.
    backup_replica: BackupReplica | None

def build_services(
    settings: Settings, database: peewee.Database, clock: Clock, store, mailer: Mailer
) -> Services:
    forms = Forms(catalogue.packaged())  # first: a broken catalogue refuses before anything opens
    audit = Audit(database, clock)
    sessions = Sessions(settings.auth.jwt_secret, settings.auth.access_token_ttl, clock)
    lockout_key = hashlib.sha256(b"appliance lockout key|" + settings.auth.jwt_secret.encode()).digest()
    accounts = Accounts(database, sessions, audit, clock, settings.auth.sync_secret, lockout_key)
    ip_key = hashlib.sha256(b"appliance rate-limit key|" + settings.auth.jwt_secret.encode()).digest()
    store = store if store is not None else open_store(settings)
    objects = Objects(database, store, clock)
    photos = Photos(database, audit, clock, store, objects, settings.storage.max_photo_bytes)
    archives = ConsentArchives(database, audit, clock, store, objects, settings.storage.max_archive_bytes)
    patients = Patients(database, audit, clock, photos=photos, archives=archives)
    billing = settings.billing
    enforcement = PlanEnforcement(database, clock) if billing.enabled else None
    gateway = StripeGateway(
        billing.stripe_secret_key, billing.stripe_webhook_secret, api_base=billing.stripe_api_base,
        timeout=billing.request_timeout,
    ) if billing.enabled else None
    outbox = Outbox(mailer, database, clock)
    consents = Consents(database, audit, clock, outbox, settings.app.public_base_url, forms,
                        quota=enforcement, legal_links=(settings.app.impressum_url, settings.app.privacy_url))
    return Services(
        settings=settings,
        database=database,
        clock=clock,
        store=store,
        audit=audit,
        sessions=sessions,
        limiter=DatabaseRateLimiter(database, clock, ip_key, rate_limits(settings)),
        accounts=accounts,
        practices=Practices(database, audit, clock),
        practice_settings=PracticeSettings(database, audit, clock, forms),
        patients=patients,
        consents=consents,
        forms=forms,
        audit_log=AuditLog(database, audit, clock, store),
        treatment_plans=TreatmentPlans(database, audit, clock),
        treatment_templates=TreatmentTemplates(database, audit, clock),
        # Billing replaces NoSeatLimit with its plan limits (the team-size seam).
        team=Team(database, sessions, accounts, audit, clock, outbox, settings.app.public_base_url,
                  seats=enforcement or NoSeatLimit()),
        gdt=Gdt(database, audit, clock, consents, patients, settings.gdt.exchange_root),
        objects=objects,
        photos=photos,
        consent_archives=archives,
        logo=Logo(database, audit, clock, store, objects, settings.app.public_base_url),
        billing=Billing(database, audit, clock, billing, gateway, enforcement),
        plan_enforcement=enforcement,
        analytics=Analytics(database, clock, enforcement),
        backup_replica=backup_replica(settings),
    )
