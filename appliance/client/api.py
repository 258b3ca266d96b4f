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
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import requests
from nacl.public import PrivateKey

from appliance import envelopes
from appliance.client import crypto
from appliance.client.multipart import MultipartBody, ciphertext_size

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


#: The field name sealed into a photo's metadata (docs/crypto.md, sealed values).
PHOTO_METADATA_FIELD = "photo.metadata"


def _raise_for_error(response: requests.Response) -> None:
    """Turns the API's error shape (or a proxy's non-JSON error page) into an ApiError."""
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            error = {"code": "http_error", "message": response.text[:200]}
        raise ApiError(response.status_code, error["code"], error["message"], error.get("details"))


def _photo_answer(response: requests.Response) -> dict:
    """The JSON of a raw (non-`call`) photo request, or its ApiError."""
    _raise_for_error(response)
    return response.json()


class _Http:
    def __init__(self, base_url: str, session: requests.Session | None = None, timeout: float = 30):
        self.base_url = base_url.rstrip("/")
        self.http = session or requests.Session()
        self.timeout = timeout
        self.token: str | None = None

    def call(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
             **params: Any) -> Any:
        headers = {**({"Authorization": f"Bearer {self.token}"} if self.token else {}), **(headers or {})}
        response = self.http.request(
            method, self.base_url + path, json=body, headers=headers, timeout=self.timeout,
            params={k: v for k, v in params.items() if v is not None} or None,
        )
        _raise_for_error(response)
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

    def new_consent_link(self, consent_id: str, patient_email: str | None = None) -> dict:
        """A fresh link for a pending form; the old one stops working."""
        body = {"patientEmail": patient_email} if patient_email else {}
        return self.call("POST", f"/api/consent/practice/{consent_id}/link", body)

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

    # ----- audit exports -----

    def audit_exports(self) -> dict:
        return self.call("GET", "/api/audit/exports")

    def audit_export_csv(self, export: dict) -> str:
        """Downloads a nightly export and opens it: decrypt with the vault key, then gunzip."""
        response = self.http.get(f"{self.base_url}/api/audit/exports/{export['id']}/download",
                                 headers={"Authorization": f"Bearer {self.token}"}, timeout=self.timeout)
        if response.status_code != 200:
            raise ApiError(response.status_code, "download_failed", response.text[:200])
        packed = crypto.decrypt_payload(self._key(), export["wrappedKey"], response.content,
                                        envelopes.PURPOSE_AUDIT_EXPORT)
        return gzip.decompress(packed).decode("utf-8-sig")

    # ----- treatment plans: the plan is JSON encrypted here, the server stores ciphertext -----

    def _sealed_plan(self, patient_id: str, plan: dict) -> dict[str, str]:
        """The plan bound to its patient: a reader refuses a ciphertext copied to another one."""
        document = json.dumps({"v": 1, "patientId": patient_id, "plan": plan}, ensure_ascii=False,
                              separators=(",", ":"))
        wrapped_key, ciphertext = crypto.encrypt_payload(
            self._practice()["publicKey"], document.encode(), envelopes.PURPOSE_TREATMENT_PLAN
        )
        return {"encryptedPlan": base64.b64encode(ciphertext).decode(), "wrappedKey": wrapped_key}

    def create_plan(self, patient_id: str, consent_type: str, plan: dict, performed_at: str,
                    consent_form_id: str | None = None, template_id: str | None = None) -> dict:
        body = {"patientId": patient_id, "consentType": consent_type, "performedAt": performed_at,
                **self._sealed_plan(patient_id, plan)}
        if consent_form_id is not None:
            body["consentFormId"] = consent_form_id
        if template_id is not None:
            body["templateId"] = template_id
        return self.call("POST", "/api/treatment-plans", body)

    def get_plan(self, plan_id: str) -> dict:
        return self.call("GET", f"/api/treatment-plans/{plan_id}")

    def list_plans(self, patient_id: str, page: int = 1, limit: int = 50) -> dict:
        return self.call("GET", f"/api/treatment-plans/patient/{patient_id}", page=page, limit=limit)

    def update_plan(self, record: dict, plan: dict, **changes: Any) -> dict:
        """Replaces the plan of `record` (as read, with its version) and the API fields in
        `changes` (performedAt, consentType, consentFormId, templateId). A 412 means someone
        else saved first: read it again, decrypt, apply the change and retry."""
        body = {**changes, **self._sealed_plan(record["patientId"], plan)}
        return self.call("PATCH", f"/api/treatment-plans/{record['id']}", body,
                         headers={"If-Match": f'"{record["version"]}"'})

    def delete_plan(self, plan_id: str) -> dict:
        return self.call("DELETE", f"/api/treatment-plans/{plan_id}")

    def decrypt_plan(self, record: dict) -> dict:
        """The clear plan of a record from get_plan, with the unlocked vault."""
        plain = crypto.decrypt_payload(
            self._key(), record["wrappedKey"], base64.b64decode(record["encryptedPlan"]),
            envelopes.PURPOSE_TREATMENT_PLAN,
        )
        document = json.loads(plain)
        if document.get("v") != 1:
            raise ValueError("unsupported treatment plan version")
        if document.get("patientId") != record["patientId"]:
            raise ValueError("this plan ciphertext belongs to another patient")
        return document["plan"]

    # ----- end of treatment plans -----

    # ----- photos: encrypted here while the file is read; the server stores ciphertext -----

    def upload_photo(self, patient_id: str, image: BinaryIO, photo_type: str, body_region: str,
                     taken_at: str, *, consent_form_id: str | None = None,
                     treatment_plan_id: str | None = None, photo_consent_granted: bool = False,
                     metadata: Any = None) -> dict:
        """Encrypts `image` (a binary file, read from its current position) as it streams out:
        neither this client nor the server holds the photo whole. `metadata` (any JSON value,
        e.g. a caption) is sealed to the practice key."""
        public_key = self._practice()["publicKey"]
        start = image.tell()
        plain_size = image.seek(0, 2) - start
        image.seek(start)
        wrapped_key, chunks = crypto.encrypt_payload_stream(public_key, image, envelopes.PURPOSE_PHOTO)
        optional = {"consentFormId": consent_form_id, "treatmentPlanId": treatment_plan_id,
                    "encryptedMetadata": None if metadata is None
                    else crypto.seal_field(public_key, PHOTO_METADATA_FIELD, metadata)}
        fields = {"patientId": patient_id, "type": photo_type, "bodyRegion": body_region,
                  "takenAt": taken_at, "wrappedKey": wrapped_key,
                  "photoConsentGranted": "true" if photo_consent_granted else "false",
                  **{name: value for name, value in optional.items() if value is not None}}
        body = MultipartBody(fields, chunks, ciphertext_size(plain_size), "photo.enc")
        response = self.http.post(f"{self.base_url}/api/photos", data=body, timeout=self.timeout,
                                  headers={"Authorization": f"Bearer {self.token}",
                                           "Content-Type": body.content_type})
        return _photo_answer(response)

    def list_photos(self, patient_id: str, **filters: Any) -> dict:
        """Filters: type, bodyRegion, treatmentPlanId, page, limit."""
        return self.call("GET", f"/api/photos/patient/{patient_id}", **filters)

    def get_photo(self, photo_id: str) -> dict:
        return self.call("GET", f"/api/photos/{photo_id}")

    def photo_ciphertext(self, photo_id: str) -> Iterator[bytes]:
        """The stored ciphertext, streamed; raises if fewer bytes arrive than announced."""
        response = self.http.get(f"{self.base_url}/api/photos/{photo_id}/download", stream=True,
                                 headers={"Authorization": f"Bearer {self.token}"}, timeout=self.timeout)
        if response.status_code != 200:
            _photo_answer(response)
        expected = int(response.headers["Content-Length"])

        def pieces() -> Iterator[bytes]:
            received = 0
            with response:
                for piece in response.iter_content(envelopes.CHUNK_BYTES):
                    received += len(piece)
                    yield piece
            if received != expected:
                raise ApiError(502, "download_incomplete", f"got {received} of {expected} bytes")

        return pieces()

    def read_photo(self, photo_id: str, out: BinaryIO | None = None) -> bytes | None:
        """Downloads and decrypts a photo: into `out` piece by piece, or returned whole. When it
        raises, discard what was written: only a complete, authenticated stream is the photo."""
        record = self.get_photo(photo_id)
        plain = crypto.decrypt_payload_stream(self._key(), record["wrappedKey"],
                                              self.photo_ciphertext(photo_id), envelopes.PURPOSE_PHOTO)
        if out is None:
            return b"".join(plain)
        for piece in plain:
            out.write(piece)
        return None

    def photo_metadata(self, record: dict) -> Any:
        """The clear metadata of a photo record, or None."""
        if not record.get("encryptedMetadata"):
            return None
        return crypto.open_field(self._key(), PHOTO_METADATA_FIELD, record["encryptedMetadata"])

    def set_photo_consent(self, photo_id: str, granted: bool) -> dict:
        return self.call("PATCH", f"/api/photos/{photo_id}/consent", {"photoConsentGranted": granted})

    def delete_photo(self, photo_id: str) -> dict:
        return self.call("DELETE", f"/api/photos/{photo_id}")

    # ----- end of photos -----


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
