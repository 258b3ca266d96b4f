"""`appliance demo`: a demo practice, its admin and vault, and a pending consent link.

It goes through the API in-process with the reference client, so what it creates is exactly
what a real client would: the practice key pair is generated here and only the public key and
the password-wrapped secret key reach the database.
"""

from __future__ import annotations

import secrets

from appliance.app import create_app
from appliance.client.api import StaffClient
from appliance.client.in_process import InProcessSession
from appliance.db import open_database
from appliance.migrator import upgrade
from appliance.settings import Settings
from appliance.storage import open_store


def create_demo(settings: Settings) -> dict[str, str]:
    database = open_database(settings.database_url, pool_size=2)
    upgrade(database)
    app = create_app(settings, database, store=open_store(settings))
    staff = StaffClient("http://in-process", session=InProcessSession(app))
    suffix = secrets.token_hex(3)
    email = f"admin-{suffix}@demo-praxis.example"
    password = secrets.token_urlsafe(12)
    vault_password = secrets.token_urlsafe(12)
    staff.register(email, password, "Dr. Demo Beispiel")
    practice = staff.create_practice(
        f"Demo-Praxis {suffix}", "datenschutz@demo-praxis.example", vault_password,
        street="Musterstraße 1", postalCode="50667", city="Köln",
    )
    consent = staff.create_consent("BOTOX")
    database.close()
    return {
        "practice": practice["name"],
        "email": email,
        "password": password,
        "vaultPassword": vault_password,
        "consentToken": consent["token"],
        "consentLink": consent["link"],
        "consentId": consent["id"],
        "form": f"{consent['formId']} v{consent['formVersion']}",
    }
