"""Appliance installations for the backup tests: a site's database URLs and object store, the
environment `appliance` commands run with, and data made through the API."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import falcon.testing

from appliance.app import create_app
from appliance.db import open_database
from appliance.storage import open_store
from tests.conftest import JWT_SECRET, make_settings
from tests.support.consent import create_consent, create_patient, submit, submit_body, team
from tests.support.photos import encrypt_photo, photo_fields, upload


@dataclass
class Site:
    """One appliance installation: its database URLs and object store settings."""

    owner_url: str
    app_url: str
    admin_url: str
    storage: dict

    def environment(self, data_dir: Path) -> dict[str, str]:
        env = {"APPLIANCE_APP_DATA_DIR": str(data_dir), "APPLIANCE_DATABASE_URL": self.app_url,
               "APPLIANCE_AUTH_JWT_SECRET": JWT_SECRET}
        if self.owner_url != self.app_url:
            env["APPLIANCE_DATABASE_OWNER_URL"] = self.owner_url
        env.update({f"APPLIANCE_STORAGE_{k.upper()}": str(v).lower() if isinstance(v, bool) else str(v)
                    for k, v in self.storage.items()})
        return env

    def settings(self, tmp_path: Path):
        return make_settings(tmp_path, self.app_url, database={"owner_url": self.owner_url}
                             if self.owner_url != self.app_url else {}, storage=self.storage)


def fill(site: Site, tmp_path: Path) -> dict:
    """Practice, patient, signed consent and two photos, made through the API as the app role."""
    settings = site.settings(tmp_path)
    database = open_database(site.app_url, pool_size=4)
    try:
        client = falcon.testing.TestClient(create_app(settings, database, store=open_store(settings)))
        practice = team(client, "ARZT")
        patient = create_patient(client, practice)
        consent = create_consent(client, practice)
        body = submit_body(client, practice.practice, consent)
        assert submit(client, consent["token"], body).status_code == 200
        for _ in range(2):
            wrapped_key, ciphertext = encrypt_photo(practice.practice, secrets.token_bytes(70_000))
            answer = upload(client, practice.token("ARZT"), photo_fields(patient["id"], wrapped_key),
                            ciphertext)
            assert answer.status_code == 201, answer.text
    finally:
        getattr(database, "close_all", database.close)()
    return {"token": practice.token("ARZT"), "patient": patient["id"]}
