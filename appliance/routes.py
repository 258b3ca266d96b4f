"""Every URL of the API in one table: where a feature lives is found here by its path."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.resources import audit, auth, consent, health, patients, practice, settings, treatment
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
    return [
        Route("/api/health", health.Health()),
        Route("/api/health/ready", health.Readiness(services.database, services.store)),
        Route("/api/openapi.json", OpenApi()),
        Route("/api/auth/register", auth.Register(accounts)),
        Route("/api/auth/login", auth.Login(accounts)),
        Route("/api/auth/2fa/verify", auth.TwoFactorVerify(accounts)),
        Route("/api/auth/2fa/setup", auth.TwoFactorSetup(accounts)),
        Route("/api/auth/2fa/enable", auth.TwoFactorToggle(accounts, enable=True)),
        Route("/api/auth/2fa/disable", auth.TwoFactorToggle(accounts, enable=False)),
        Route("/api/auth/sync", auth.Sync(accounts)),
        Route("/api/auth/me", auth.Me(accounts)),
        Route("/api/auth/logout", auth.Logout(accounts)),
        Route("/api/auth/password", auth.Password(accounts)),
        Route("/api/practice", practice.PracticeResource(practices)),
        Route("/api/practice/vault/challenge", practice.VaultChallengeResource(practices)),
        Route("/api/practice/vault", practice.VaultResource(practices)),
        Route("/api/settings", settings.SettingsResource(services.practice_settings)),
        Route("/api/patients", patients.PatientCollection(services.patients)),
        Route("/api/patients/{id:uuid}", patients.PatientItem(services.patients)),
        Route("/api/patients/lookup/{hash}", patients.PatientLookup(services.patients)),
        Route("/api/consent", consent.ConsentCollection(consents)),
        Route("/api/consent/practice", consent.ConsentList(consents)),
        Route("/api/consent/practice/{id:uuid}", consent.ConsentItem(consents)),
        Route("/api/consent/{token}", consent.PublicConsent(consents)),
        Route("/api/consent/{token}/submit", consent.PublicSubmit(consents)),
        Route("/api/consent/{token}/withdraw", consent.PublicWithdraw(consents)),
        Route("/api/consent/{token}/revoke", consent.ConsentRevoke(consents)),
        Route("/api/audit", audit.AuditList(services.audit_log)),
        Route("/api/audit/export", audit.AuditExport(services.audit_log)),
        Route("/api/audit/verify", audit.AuditVerify(services.audit_log)),
        Route("/api/audit/vault-event", audit.VaultEvent(services.audit_log)),
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
    ]
