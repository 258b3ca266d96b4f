"""Every URL of the API in one table, and the pages beside it: where a feature lives is found
here by its path."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.http.assets import WebAssets
from appliance.resources import analytics as analytics_resources
from appliance.resources import (
    audit,
    auth,
    consent,
    consent_archive,
    forms,
    health,
    pages,
    patients,
    practice,
    settings,
    treatment,
)
from appliance.resources import billing as billing_resources
from appliance.resources import gdt as gdt_resources
from appliance.resources import logo as logo_resources
from appliance.resources import photos as photo_resources
from appliance.resources import team as team_resources
from appliance.resources.openapi import OpenApi
from appliance.services.container import Services


@dataclass(frozen=True)
class Route:
    template: str
    resource: object
    suffix: str | None = None


def build_routes(services: Services) -> list[Route]:
    accounts, practices, consents = services.accounts, services.practices, services.consents
    archives = services.consent_archives
    return [
        Route("/api/health", health.Health()),
        Route("/api/health/ready",
              health.Readiness(services.database, services.store, services.backup_replica,
                               min_free_mb=services.settings.storage.min_free_mb)),
        Route("/api/openapi.json", OpenApi()),
        Route("/api/auth/register", auth.Register(accounts)),
        Route("/api/auth/login", auth.Login(accounts, services.limiter)),
        Route("/api/auth/2fa/verify", auth.TwoFactorVerify(accounts)),
        Route("/api/auth/2fa/setup", auth.TwoFactorSetup(accounts)),
        Route("/api/auth/2fa/enable", auth.TwoFactorEnable(accounts)),
        Route("/api/auth/2fa/disable", auth.TwoFactorDisable(accounts)),
        Route("/api/auth/sync", auth.Sync(accounts)),
        Route("/api/auth/me", auth.Me(accounts)),
        Route("/api/auth/logout", auth.Logout(accounts)),
        Route("/api/auth/logout-everywhere", auth.LogoutEverywhere(accounts)),
        Route("/api/auth/sessions", auth.OwnSessions(accounts)),
        Route("/api/auth/sessions/{id:uuid}", auth.OwnSession(accounts)),
        Route("/api/auth/password", auth.Password(accounts)),
        Route("/api/practice", practice.PracticeResource(practices)),
        Route("/api/practice/vault/challenge", practice.VaultChallengeResource(practices)),
        Route("/api/practice/vault", practice.VaultResource(practices)),
        Route("/api/settings", settings.SettingsResource(services.practice_settings)),
        Route("/api/patients", patients.PatientCollection(services.patients)),
        Route("/api/patients/{id:uuid}", patients.PatientItem(services.patients)),
        Route("/api/patients/{id:uuid}/signature", patients.PatientSignature(services.patients)),
        Route("/api/patients/lookup/{hash}", patients.PatientLookup(services.patients)),
        Route("/api/consent", consent.ConsentCollection(consents)),
        Route("/api/consent/practice", consent.ConsentList(consents)),
        Route("/api/consent/practice/{id:uuid}", consent.ConsentItem(consents)),
        Route("/api/consent/practice/{id:uuid}/link", consent.ConsentLink(consents)),
        Route("/api/consent/practice/{id:uuid}/patient", consent.ConsentPatient(consents)),
        Route("/api/consent/practice/{id:uuid}/countersignature", consent.ConsentCountersignature(consents)),
        Route("/api/consent/practice/{id:uuid}/archive", consent_archive.ArchiveItem(archives)),
        Route("/api/consent/practice/{id:uuid}/archive/download", consent_archive.ArchiveDownload(archives)),
        Route("/api/consent/{token}", consent.PublicConsent(consents)),
        Route("/api/consent/{token}/submit", consent.PublicSubmit(consents)),
        Route("/api/consent/{token}/withdraw", consent.PublicWithdraw(consents)),
        Route("/api/consent/{token}/revoke", consent.ConsentRevoke(consents)),
        Route("/api/forms", forms.FormList(services.forms)),
        Route("/api/forms/{form_id}/{version:int}", forms.FormItem(services.forms)),
        Route("/api/audit", audit.AuditList(services.audit_log)),
        Route("/api/audit/export", audit.AuditExport(services.audit_log)),
        Route("/api/audit/verify", audit.AuditVerify(services.audit_log)),
        Route("/api/audit/vault-event", audit.VaultEvent(services.audit_log)),
        Route("/api/audit/exports", audit.AuditExports(services.audit_log)),
        Route("/api/audit/exports/{id:uuid}/download", audit.AuditExportDownload(services.audit_log)),
        Route("/api/treatment-plans", treatment.PlanCollection(services.treatment_plans)),
        Route("/api/treatment-plans/patient/{patient_id:uuid}",
              treatment.PatientPlans(services.treatment_plans)),
        Route("/api/treatment-plans/{id:uuid}", treatment.PlanItem(services.treatment_plans)),
        Route("/api/treatment-templates", treatment.TemplateCollection(services.treatment_templates)),
        Route("/api/treatment-templates/{id:uuid}", treatment.TemplateItem(services.treatment_templates)),
        Route("/api/team/members", team_resources.Members(services.team)),
        Route("/api/team/members/{user_id:uuid}", team_resources.Member(services.team)),
        Route("/api/team/members/{user_id:uuid}/role", team_resources.MemberRole(services.team)),
        Route("/api/team/invite", team_resources.InviteCreate(services.team)),
        Route("/api/team/invites", team_resources.Invites(services.team)),
        Route("/api/team/invites/{id:uuid}", team_resources.InviteItem(services.team)),
        Route("/api/team/invites/{id:uuid}/resend", team_resources.InviteResend(services.team)),
        Route("/api/team/invite/{token}", team_resources.PublicInvite(services.team)),
        Route("/api/team/invite/{token}/accept", team_resources.PublicAccept(services.team)),
        Route("/api/gdt/generate", gdt_resources.GdtGenerate(services.gdt)),
        Route("/api/gdt/settings", gdt_resources.GdtSettings(services.gdt)),
        Route("/api/photos", photo_resources.PhotoCollection(services.photos)),
        Route("/api/photos/patient/{patient_id:uuid}", photo_resources.PatientPhotos(services.photos)),
        Route("/api/photos/{id:uuid}", photo_resources.PhotoItem(services.photos)),
        Route("/api/photos/{id:uuid}/download", photo_resources.PhotoDownload(services.photos)),
        Route("/api/photos/{id:uuid}/thumbnail", photo_resources.PhotoThumbnailDownload(services.photos)),
        Route("/api/photos/{id:uuid}/consent", photo_resources.PhotoConsent(services.photos)),
        Route("/api/settings/logo", logo_resources.SettingsLogo(services.logo)),
        Route("/api/public/logo/{id:uuid}", logo_resources.PublicLogo(services.logo)),
        Route("/api/billing/subscription", billing_resources.BillingSubscription(services.billing)),
        Route("/api/billing/checkout", billing_resources.BillingCheckout(services.billing)),
        Route("/api/billing/portal", billing_resources.BillingPortal(services.billing)),
        Route("/api/billing/webhook", billing_resources.BillingWebhook(services.billing)),
        Route("/api/analytics/overview", analytics_resources.Overview(services.analytics)),
        Route("/api/analytics/by-type", analytics_resources.ByType(services.analytics)),
        Route("/api/analytics/by-period", analytics_resources.ByPeriod(services.analytics)),
        Route("/api/analytics/conversion", analytics_resources.Conversion(services.analytics)),
        Route("/api/analytics/revenue", analytics_resources.Revenue(services.analytics)),
    ]


#: The browser pages and their bundles: GET and HEAD only, no API operations (not in the
#: OpenAPI document). appliance.http.entry names those patients may reach from the internet.
def build_page_routes(assets: WebAssets) -> list[Route]:
    staff = pages.PageShell(assets, pages.STAFF_PAGE)
    return [
        Route("/consent/{token}", pages.PageShell(assets, pages.CONSENT_PAGE)),
        *(Route(path, staff) for path in pages.STAFF_APP_PATHS),
        Route("/assets/{name}", pages.StaticAssets(assets)),
    ]
