"""The reference client: HTTP plus the crypto contract, as a staff client and a patient page do.

Everything secret happens here, never on the server: the vault password derives the key that
opens the practice secret key; identities and answers are sealed to the practice public key.

    staff = StaffClient("http://127.0.0.1:8000")
    staff.login("admin@praxis.de", "password")
    staff.unlock_vault("vault password")
    consent = staff.create_consent("BOTOX")
    PatientClient("http://127.0.0.1:8000").submit(consent["token"], identity, answers, png)
    staff.read_answers(consent["id"])
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import requests
from nacl.public import PrivateKey

from appliance import envelopes
from appliance.client import crypto

IDENTITY_FIELDS = {
    "firstName": "encryptedFirstName",
    "lastName": "encryptedLastName",
    "dateOfBirth": "encryptedDateOfBirth",
    "email": "encryptedEmail",
    "phone": "encryptedPhone",
}


class ApiError(Exception):
    """An error answer of the appliance, with its stable code."""

    def __init__(self, status: int, code: str, message: str, details: Any = None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details


@dataclass(frozen=True)
class Identity:
    first_name: str
    last_name: str
    date_of_birth: str  # YYYY-MM-DD
    email: str | None = None
    phone: str | None = None

    def values(self) -> dict[str, str]:
        values = {"firstName": self.first_name, "lastName": self.last_name,
                  "dateOfBirth": self.date_of_birth, "email": self.email, "phone": self.phone}
        return {k: v for k, v in values.items() if v is not None}


def sealed_identity(public_key: str, lookup_salt: str, identity: Identity) -> dict[str, str]:
    """The request fields for an identity: each value sealed and bound to its field name."""
    body = {
        IDENTITY_FIELDS[name]: crypto.seal_field(public_key, f"patient.{name}", value)
        for name, value in identity.values().items()
    }
    body["lookupHash"] = crypto.lookup_hash(
        lookup_salt, identity.last_name, identity.first_name, identity.date_of_birth
    )
    return body


class _Http:
    def __init__(self, base_url: str, session: requests.Session | None = None, timeout: float = 30):
        self.base_url = base_url.rstrip("/")
        self.http = session or requests.Session()
        self.timeout = timeout
        self.token: str | None = None

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = self.http.request(
            method, self.base_url + path, json=body, headers=headers, timeout=self.timeout,
            params={k: v for k, v in params.items() if v is not None} or None,
        )
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                error = {"code": "http_error", "message": response.text[:200]}
            raise ApiError(response.status_code, error["code"], error["message"], error.get("details"))
        return response.json() if response.content else None


class StaffClient(_Http):
    """A practice member's client: accounts, the vault, patients and consents."""

    private_key: PrivateKey | None = None
    practice: dict | None = None

    def register(self, email: str, password: str, name: str) -> dict:
        answer = self.call("POST", "/api/auth/register", {"email": email, "password": password,
                                                            "name": name})
        self.token = answer["token"]
        return answer["user"]

    def login(self, email: str, password: str) -> dict:
        answer = self.call("POST", "/api/auth/login", {"email": email, "password": password})
        if answer.get("twoFactorRequired"):
            raise ApiError(401, "two_factor_required", "call verify_2fa with a TOTP code")
        self.token = answer["token"]
        return answer["user"]

    def create_practice(self, name: str, contact_email: str, vault_password: str, **details: str) -> dict:
        """Generates the practice key pair here; the server only gets the public key and the
        secret key wrapped with the vault password."""
        public_key, private_key = crypto.generate_practice_keys()
        body = {"name": name, "contactEmail": contact_email, "publicKey": public_key,
                "encryptedPrivKey": crypto.make_vault_envelope(private_key, vault_password), **details}
        self.practice = self.call("POST", "/api/practice", body)
        self.private_key = private_key
        return self.practice

    def unlock_vault(self, vault_password: str) -> None:
        self.practice = self.call("GET", "/api/practice")
        self.private_key = crypto.unlock_vault(self.practice["encryptedPrivKey"], vault_password)

    def change_vault_password(self, new_password: str) -> None:
        challenge = self.call("POST", "/api/practice/vault/challenge")
        self.practice = self.call("PUT", "/api/practice/vault", {
            "challengeId": challenge["challengeId"],
            "challengeResponse": crypto.open_challenge(self._key(), challenge["sealedChallenge"]),
            "encryptedPrivKey": crypto.make_vault_envelope(self._key(), new_password),
        })

    def _key(self) -> PrivateKey:
        if self.private_key is None:
            raise RuntimeError("unlock the vault first")
        return self.private_key

    def _practice(self) -> dict:
        if self.practice is None:
            self.practice = self.call("GET", "/api/practice")
        return self.practice

    def create_patient(self, identity: Identity) -> dict:
        practice = self._practice()
        body = sealed_identity(practice["publicKey"], practice["lookupSalt"], identity)
        return self.call("POST", "/api/patients", body)

    def find_patient(self, identity: Identity) -> dict:
        practice = self._practice()
        digest = crypto.lookup_hash(practice["lookupSalt"], identity.last_name,
                                    identity.first_name, identity.date_of_birth)
        return self.call("GET", f"/api/patients/lookup/{digest}")

    def decrypt_patient(self, patient: dict) -> dict[str, Any]:
        """The clear identity of a patient record, with the unlocked vault."""
        return {
            name: crypto.open_field(self._key(), f"patient.{name}", patient[api])
            for name, api in IDENTITY_FIELDS.items() if patient.get(api)
        }

    def list_patients(self, page: int = 1, limit: int = 50) -> dict:
        return self.call("GET", "/api/patients", page=page, limit=limit)

    def get_patient(self, patient_id: str) -> dict:
        return self.call("GET", f"/api/patients/{patient_id}")

    def delete_patient(self, patient_id: str, override_retention: bool = False) -> dict:
        flag = "true" if override_retention else None
        return self.call("DELETE", f"/api/patients/{patient_id}", confirmRetentionOverride=flag)

    def create_consent(self, consent_type: str, patient_id: str | None = None,
                       patient_email: str | None = None, locale: str | None = None) -> dict:
        body = {"type": consent_type, "patientId": patient_id, "patientEmail": patient_email,
                "locale": locale}
        return self.call("POST", "/api/consent", {k: v for k, v in body.items() if v is not None})

    def list_consents(self, **filters: Any) -> dict:
        return self.call("GET", "/api/consent/practice", **filters)

    def revoke_consent(self, token_or_id: str, reason: str | None = None) -> dict:
        return self.call("PATCH", f"/api/consent/{token_or_id}/revoke",
                         {"reason": reason} if reason else {})

    def read_answers(self, consent_id: str) -> dict:
        """Decrypts a submitted consent: the answers and the signature image."""
        form = self.call("GET", f"/api/consent/practice/{consent_id}")
        if not form["encryptedAnswers"]:
            raise ApiError(409, "not_submitted", "the consent has no answers yet")
        plain = crypto.decrypt_payload(
            self._key(), form["wrappedKey"], base64.b64decode(form["encryptedAnswers"]),
            envelopes.PURPOSE_CONSENT_ANSWERS,
        )
        document = json.loads(plain)
        document["signature"]["data"] = base64.b64decode(document["signature"]["data"])
        return document

    def settings(self, **changes: Any) -> dict:
        if changes:
            return self.call("PATCH", "/api/settings", changes)
        return self.call("GET", "/api/settings")


class PatientClient(_Http):
    """What the patient's browser does with a consent link: no account, only the token."""

    def open(self, token: str) -> dict:
        return self.call("GET", f"/api/consent/{token}")

    def submit(self, token: str, identity: Identity, answers: dict, signature_png: bytes,
               comprehension: dict | None = None) -> dict:
        form = self.open(token)
        document = {"v": 1, "type": form["type"], "answers": answers,
                    "signature": {"format": "png", "data": base64.b64encode(signature_png).decode()}}
        wrapped_key, ciphertext = crypto.encrypt_payload(
            form["publicKey"], json.dumps(document, ensure_ascii=False).encode(),
            envelopes.PURPOSE_CONSENT_ANSWERS,
        )
        sealed = sealed_identity(form["publicKey"], form["lookupSalt"], identity)
        body = {
            "encryptedAnswers": base64.b64encode(ciphertext).decode(),
            "wrappedKey": wrapped_key,
            "lookupHash": sealed.pop("lookupHash"),
            "patient": sealed,
        }
        if comprehension is not None:
            body["comprehension"] = comprehension
        return self.call("POST", f"/api/consent/{token}/submit", body)

    def withdraw(self, token: str, reason: str | None = None) -> dict:
        return self.call("POST", f"/api/consent/{token}/withdraw", {"reason": reason} if reason else {})
