"""Every URL of the API in one table: where a feature lives is found here by its path."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.resources import auth, health, practice
from appliance.resources.openapi import OpenApi
from appliance.services.container import Services


@dataclass(frozen=True)
class Route:
    template: str
    resource: object
    suffix: str | None = None


def build_routes(services: Services) -> list[Route]:
    accounts, practices = services.accounts, services.practices
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
    ]
