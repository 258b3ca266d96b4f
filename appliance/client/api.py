"""The reference client: HTTP plus the crypto contract, as a staff client and a patient page do.

Everything secret happens here, never on the server: the vault password derives the key that
opens the practice secret key; identities and answers are sealed to the practice public key.

    staff = StaffClient("http://127.0.0.1:8000")
    staff.login("admin@praxis.de", "password")
    staff.unlock_vault("vault password")
    consent = staff.create_consent("BOTOX")
    PatientClient("http://127.0.0.1:8000").submit(consent["link"], identity, filled, png)
    staff.read_consent(consent["id"])
"""

from __future__ import annotations

import base64
import gzip
import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import requests

from appliance import envelopes
from appliance.client import answers, countersignature, crypto, lookup
from appliance.client.multipart import MultipartBody, ciphertext_size
from appliance.clock import isoformat, parse_utc

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


def sealed_identity(keys: crypto.PracticeKeys, lookup_salt: str, identity: Identity,
                    patient_id: str | None = None) -> dict[str, str]:
    """A signed POST /api/patients body: each value sealed to its field and the patient's id
    (a new random one unless given), the lookupHash, the practice's signature."""
    patient_id = patient_id or str(uuid.uuid4())
    body = {
        IDENTITY_FIELDS[name]: crypto.seal_field(keys.public_key, f"patient.{name}", patient_id, value)
        for name, value in identity.values().items()
    }
    body["lookupHash"] = lookup.lookup_hash(
        lookup_salt, identity.last_name, identity.first_name, identity.date_of_birth
    )
    body["signature"] = crypto.sign_statement(keys, "patient", patient_statement(patient_id, body))
    return {"id": patient_id, **body}


def patient_statement(patient_id: str, record: dict) -> dict:
    return {"id": patient_id, "lookupHash": record["lookupHash"],
            **{api: record.get(api) for api in IDENTITY_FIELDS.values()}}


def plan_statement(plan_id: str, record: dict) -> dict:
    return {"id": plan_id, **{name: record.get(name) for name in (
        "patientId", "consentType", "consentFormId", "performedAt", "version", "wrappedKey")}}


def photo_statement(record: dict) -> dict:
    return {name: record.get(name) for name in envelopes.STATEMENT_FIELDS["photo"]}


def compact_json(value: Any) -> bytes:
    """A plan as its payload holds it: UTF-8 JSON without spaces (it has fractions, so it is
    not canonical JSON; nothing hashes it)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def instant(value: str) -> str:
    """An instant as the API renders it, which is how statements name it."""
    return isoformat(parse_utc(value))


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


def _raw_answer(response: requests.Response) -> dict:
    """The JSON of a raw (non-`call`) request (uploads, downloads), or its ApiError."""
    _raise_for_error(response)
    return response.json()


#: What requests raises when the connection broke before the whole answer arrived.
DROPPED = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


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

    keys: crypto.PracticeKeys | None = None
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

    def logout(self) -> None:
        self.call("POST", "/api/auth/logout")
        self.token = None

    def logout_everywhere(self) -> None:
        """Ends every session of this account, on every device."""
        self.call("POST", "/api/auth/logout-everywhere")
        self.token = None

    def sessions(self) -> list[dict]:
        """This account's live sessions (id, createdAt, expiresAt, current), newest first."""
        return self.call("GET", "/api/auth/sessions")["items"]

    def end_session(self, session_id: str) -> None:
        """Ends one of this account's sessions (its token stops working); ending the current
        one signs this client out."""
        current = any(item["id"] == session_id and item["current"] for item in self.sessions())
        self.call("DELETE", f"/api/auth/sessions/{session_id}")
        if current:
            self.token = None

    def vault_event(self, event: str) -> None:
        """Reports VAULT_UNLOCKED or VAULT_LOCKED for the audit log, as the staff app does."""
        self.call("POST", "/api/audit/vault-event", {"event": event})

    def create_practice(self, name: str, contact_email: str, vault_password: str, **details: str) -> dict:
        """Generates the practice keys here; the server only gets the public keys and the
        secret keys wrapped with the vault password, which must be strong."""
        crypto.check_vault_password(vault_password, [name, contact_email, *details.values()])
        keys = crypto.generate_practice_keys()
        body = {"name": name, "contactEmail": contact_email, "publicKey": keys.public_key,
                "signingKey": keys.signing_key,
                "encryptedPrivKey": crypto.make_vault_envelope(keys, vault_password), **details}
        self.practice = self.call("POST", "/api/practice", body)
        self.keys = keys
        return self.practice

    def unlock_vault(self, vault_password: str) -> None:
        """Unlocks, then checks that the keys the server serves are the vault's."""
        self.practice = self.call("GET", "/api/practice")
        self.keys = crypto.unlock_vault(self.practice["encryptedPrivKey"], vault_password,
                                        public_key=self.practice["publicKey"],
                                        signing_key=self.practice["signingKey"])

    def change_vault_password(self, new_password: str) -> None:
        practice = self._practice()
        crypto.check_vault_password(new_password, [practice["name"], practice["contactEmail"]])
        challenge = self.call("POST", "/api/practice/vault/challenge")
        envelope = crypto.make_vault_envelope(self._keys(), new_password)
        # The new envelope must open to the same keys before it replaces the old one.
        crypto.unlock_vault(envelope, new_password, public_key=practice["publicKey"],
                            signing_key=practice["signingKey"])
        self.practice = self.call("PUT", "/api/practice/vault", {
            "challengeId": challenge["challengeId"],
            "challengeResponse": crypto.open_challenge(self._keys(), challenge["sealedChallenge"]),
            "encryptedPrivKey": envelope,
        })

    def _keys(self) -> crypto.PracticeKeys:
        if self.keys is None:
            raise RuntimeError("unlock the vault first")
        return self.keys

    def _practice(self) -> dict:
        if self.practice is None:
            self.practice = self.call("GET", "/api/practice")
        return self.practice

    # ----- patients: sealed to their id, signed by the practice -----

    def create_patient(self, identity: Identity) -> dict:
        body = sealed_identity(self._keys(), self._practice()["lookupSalt"], identity)
        return self.call("POST", "/api/patients", body)

    def find_patient(self, identity: Identity) -> dict:
        digest = lookup.lookup_hash(self._practice()["lookupSalt"], identity.last_name,
                                    identity.first_name, identity.date_of_birth)
        return self.call("GET", f"/api/patients/lookup/{digest}")

    def decrypt_patient(self, patient: dict, *, allow_unconfirmed: bool = False) -> dict[str, Any]:
        """The clear identity of a patient record, after checking the practice's signature.
        A patient the GDT import made carries none until staff confirm it: such a record is
        only opened with `allow_unconfirmed`, to be checked and confirmed."""
        if patient.get("signature") is not None or not allow_unconfirmed:
            crypto.verify_statement(self._keys(), "patient", patient_statement(patient["id"], patient),
                                    patient.get("signature"))
        return {
            name: crypto.open_field(self._keys(), f"patient.{name}", patient["id"], patient[api])
            for name, api in IDENTITY_FIELDS.items() if patient.get(api)
        }

    def confirm_patient(self, patient: dict) -> dict:
        """Signs a patient the GDT import made, once its identity opens (a person checked it)."""
        self.decrypt_patient(patient, allow_unconfirmed=True)
        signature = crypto.sign_statement(self._keys(), "patient", patient_statement(patient["id"], patient))
        return self.call("PUT", f"/api/patients/{patient['id']}/signature", {"signature": signature})

    def list_patients(self, page: int = 1, limit: int = 50) -> dict:
        return self.call("GET", "/api/patients", page=page, limit=limit)

    def get_patient(self, patient_id: str) -> dict:
        return self.call("GET", f"/api/patients/{patient_id}")

    def delete_patient(self, patient_id: str, override_retention: bool = False) -> dict:
        flag = "true" if override_retention else None
        return self.call("DELETE", f"/api/patients/{patient_id}", confirmRetentionOverride=flag)

    # ----- consents: the link is drawn and signed here -----

    def _link_fields(self, consent_id: str, consent_type: str, patient_id: str | None,
                     patient_email: str | None) -> tuple[str, dict]:
        token = secrets.token_urlsafe(32)
        statement = {"id": consent_id, "type": consent_type, "patientId": patient_id,
                     "linkCommitment": envelopes.link_commitment(token)}
        fields = {"token": token, "signature": crypto.sign_statement(self._keys(), "consent", statement)}
        if patient_email is not None:
            fields.update(patientEmail=patient_email,
                          keyFingerprint=envelopes.key_fingerprint(self._keys().public_key))
        return token, fields

    def _with_fragment(self, answer: dict) -> dict:
        """The link as staff hand it out: with the key fingerprint in the fragment."""
        fingerprint = envelopes.key_fingerprint(self._keys().public_key)
        return {**answer, "link": f"{answer['link']}#k={fingerprint}"}

    def create_consent(self, consent_type: str, patient_id: str | None = None,
                       patient_email: str | None = None, locale: str | None = None) -> dict:
        consent_id = str(uuid.uuid4())
        _, fields = self._link_fields(consent_id, consent_type, patient_id, patient_email)
        body = {"id": consent_id, "type": consent_type, "patientId": patient_id, "locale": locale, **fields}
        answer = self.call("POST", "/api/consent", {k: v for k, v in body.items() if v is not None})
        return self._with_fragment(answer)

    def get_consent(self, consent_id: str) -> dict:
        return self.call("GET", f"/api/consent/practice/{consent_id}")

    def list_consents(self, **filters: Any) -> dict:
        return self.call("GET", "/api/consent/practice", **filters)

    def new_consent_link(self, consent_id: str, patient_email: str | None = None) -> dict:
        """A fresh link for a pending form; the old one stops working."""
        consent = self.get_consent(consent_id)
        _, fields = self._link_fields(consent_id, consent["type"], consent["patientId"], patient_email)
        return self._with_fragment(self.call("POST", f"/api/consent/practice/{consent_id}/link", fields))

    def revoke_consent(self, token_or_id: str, reason: str | None = None) -> dict:
        return self.call("PATCH", f"/api/consent/{token_or_id}/revoke",
                         {"reason": reason} if reason else {})

    def verify_consent(self, consent: dict) -> None:
        """The consent statement: signed by the practice when its link was issued."""
        statement = {name: consent.get(name) for name in envelopes.STATEMENT_FIELDS["consent"]}
        crypto.verify_statement(self._keys(), "consent", statement, consent.get("signature"))

    def form_document(self, form_id: str, version: int, locale: str,
                      practice_text_revision: int | None) -> dict:
        """A published form document as the consent named it (with the practice's text of then)."""
        return self.call("GET", f"/api/forms/{form_id}/{version}", locale=locale,
                         practiceTextRevision=practice_text_revision)

    def read_consent(self, consent_id: str, form: dict | None = None) -> dict:
        """Decrypts a submitted consent and checks everything contract v2 lets a reader check
        (docs/crypto.md, reading a consent). Raises on anything that does not check out;
        returns the answers document with `identityMismatch`: whether the identity the patient
        gave differs from the linked patient's (staff must look, it may be a typo or a forgery).
        """
        consent = self.get_consent(consent_id)
        if not consent.get("encryptedAnswers"):
            raise ApiError(409, "not_submitted", "the consent has no answers yet")
        self.verify_consent(consent)
        plain = crypto.decrypt_payload(
            self._keys(), consent["wrappedKey"], base64.b64decode(consent["encryptedAnswers"]),
            envelopes.PURPOSE_CONSENT_ANSWERS, consent_id,
        )
        try:
            document = json.loads(plain)
        except ValueError as exc:
            raise answers.AnswersInvalid("the answers are not JSON") from exc
        if form is None:
            form = self.form_document(consent["formId"], consent["formVersion"], consent["formLocale"],
                                      consent.get("practiceTextRevision"))
        answers.check_document(document, form)
        for stored, key in (("formId", "formId"), ("formVersion", "version"), ("formLocale", "locale"),
                            ("formHash", "formHash")):
            if consent.get(stored) != document[key]:
                raise answers.AnswersInvalid(f"{key}: the stored form is not the one the answers name")
        if envelopes.commitment_of_proof(document["linkProof"]) != consent["linkCommitment"]:
            raise answers.AnswersInvalid("linkProof: the answers did not come through the signed link")
        identity = document["identity"]
        sealed = {name: crypto.open_field(self._keys(), answers.identity_field(name), consent_id, value)
                  for name, value in self._sealed_identity(consent).items()}
        if sealed != identity:
            raise answers.AnswersInvalid("identity: the sealed copy differs from the answers")
        salt = self._practice()["lookupSalt"]
        digest = lookup.lookup_hash(salt, identity["lastName"], identity["firstName"],
                                    identity["dateOfBirth"])
        mismatch = digest != consent["lookupHash"]
        if consent["patientId"] is not None:
            mismatch = mismatch or digest != self.get_patient(consent["patientId"])["lookupHash"]
        return {**document, "identityMismatch": mismatch}

    def countersign_consent(self, consent_id: str, talk_date: str, note: str | None = None) -> dict:
        """The physician's confirmation of the information talk (YYYY-MM-DD, optional note):
        encrypted to the practice, signed over the answers this client read; the consent
        becomes COMPLETED. Read it with `read_consent` first: this signs what was read."""
        consent = self.get_consent(consent_id)
        if not consent.get("encryptedAnswers"):
            raise ApiError(409, "not_submitted", "the consent has no answers yet")
        self.verify_consent(consent)
        wrapped_key, ciphertext = crypto.encrypt_payload(
            self._keys().public_key, countersignature.make_document(talk_date, note),
            envelopes.PURPOSE_CONSENT_COUNTERSIGNATURE, consent_id)
        statement = {"consentId": consent_id, "wrappedKey": wrapped_key,
                     "answersSha256": answers.submission_digest(consent["encryptedAnswers"])}
        return self.call("POST", f"/api/consent/practice/{consent_id}/countersignature", {
            "encryptedCountersignature": base64.b64encode(ciphertext).decode("ascii"),
            "wrappedKey": wrapped_key,
            "signature": crypto.sign_statement(self._keys(), "consent.countersignature", statement),
        })

    def read_countersignature(self, consent: dict) -> dict | None:
        """The countersignature document of a consent (as GET answers it), checked against the
        answers it names; None when there is none."""
        record = consent.get("countersignature")
        if record is None:
            return None
        statement = {"consentId": consent["id"], "wrappedKey": record["wrappedKey"],
                     "answersSha256": answers.submission_digest(consent["encryptedAnswers"])}
        crypto.verify_statement(self._keys(), "consent.countersignature", statement, record.get("signature"))
        plain = crypto.decrypt_payload(
            self._keys(), record["wrappedKey"], base64.b64decode(record["encryptedCountersignature"]),
            envelopes.PURPOSE_CONSENT_COUNTERSIGNATURE, consent["id"])
        return countersignature.parse_document(plain)

    def archive_consent(self, consent_id: str, pdf: BinaryIO) -> dict:
        """Stores the archive copy of a COMPLETED consent: `pdf` (a binary file, read from its
        current position) encrypted here as it streams out, bound to the consent and signed."""
        start = pdf.tell()
        plain_size = pdf.seek(0, 2) - start
        pdf.seek(start)
        wrapped_key, chunks = crypto.encrypt_payload_stream(
            self._practice()["publicKey"], pdf, envelopes.PURPOSE_CONSENT_ARCHIVE, consent_id)
        signature = crypto.sign_statement(self._keys(), "consent.archive",
                                          {"consentId": consent_id, "wrappedKey": wrapped_key})
        body = MultipartBody({"wrappedKey": wrapped_key, "signature": signature}, chunks,
                             ciphertext_size(plain_size), "archive.pdf.enc")
        response = self.http.post(f"{self.base_url}/api/consent/practice/{consent_id}/archive", data=body,
                                  timeout=self.timeout, headers={"Authorization": f"Bearer {self.token}",
                                                                 "Content-Type": body.content_type})
        return _raw_answer(response)

    def consent_archive(self, consent_id: str) -> dict:
        return self.call("GET", f"/api/consent/practice/{consent_id}/archive")

    def read_consent_archive(self, consent_id: str, out: BinaryIO | None = None) -> bytes | None:
        """Downloads, checks and decrypts the archive copy: into `out`, or returned whole. When
        it raises, discard what was written."""
        record = self.consent_archive(consent_id)
        crypto.verify_statement(self._keys(), "consent.archive",
                                {"consentId": consent_id, "wrappedKey": record["wrappedKey"]},
                                record.get("signature"))
        plain = crypto.decrypt_payload_stream(
            self._keys(), record["wrappedKey"],
            self._ciphertext(f"/api/consent/practice/{consent_id}/archive/download"),
            envelopes.PURPOSE_CONSENT_ARCHIVE, consent_id)
        if out is None:
            return b"".join(plain)
        for piece in plain:
            out.write(piece)
        return None

    @staticmethod
    def _sealed_identity(consent: dict) -> dict[str, str]:
        sealed = consent.get("identity") or {}
        return {name: sealed[api] for name, api in answers.SEALED_IDENTITY.items() if sealed.get(api)}

    def link_consent_patient(self, consent_id: str, patient_id: str) -> dict:
        """The staff decision after reading a consent: this submission belongs to that patient."""
        consent = self.get_consent(consent_id)
        statement = {"id": consent_id, "type": consent["type"], "patientId": patient_id,
                     "linkCommitment": consent["linkCommitment"]}
        signature = crypto.sign_statement(self._keys(), "consent", statement)
        return self.call("PUT", f"/api/consent/practice/{consent_id}/patient",
                         {"patientId": patient_id, "signature": signature})

    def patient_from_consent(self, consent_id: str) -> dict:
        """Creates a patient from a consent's submitted identity and links the consent to it."""
        consent = self.get_consent(consent_id)
        sealed = self._sealed_identity(consent)
        identity = {name: crypto.open_field(self._keys(), answers.identity_field(name), consent_id, value)
                    for name, value in sealed.items()}
        patient = self.create_patient(Identity(identity["firstName"], identity["lastName"],
                                               identity["dateOfBirth"], identity.get("email"),
                                               identity.get("phone")))
        self.link_consent_patient(consent_id, patient["id"])
        return patient

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
        packed = crypto.decrypt_payload(self._keys(), export["wrappedKey"], response.content,
                                        envelopes.PURPOSE_AUDIT_EXPORT, export["id"])
        return gzip.decompress(packed).decode("utf-8-sig")

    # ----- treatment plans: JSON encrypted here, bound to the plan's id, signed -----

    def _sealed_plan(self, plan_id: str, statement: dict, plan: dict) -> dict[str, str]:
        wrapped_key, ciphertext = crypto.encrypt_payload(
            self._practice()["publicKey"], compact_json(plan), envelopes.PURPOSE_TREATMENT_PLAN, plan_id
        )
        signed = {**statement, "wrappedKey": wrapped_key}
        return {"encryptedPlan": base64.b64encode(ciphertext).decode(), "wrappedKey": wrapped_key,
                "signature": crypto.sign_statement(self._keys(), "treatment.plan",
                                                   plan_statement(plan_id, signed))}

    def create_plan(self, patient_id: str, consent_type: str, plan: dict, performed_at: str,
                    consent_form_id: str | None = None, template_id: str | None = None) -> dict:
        plan_id = str(uuid.uuid4())
        statement = {"patientId": patient_id, "consentType": consent_type, "consentFormId": consent_form_id,
                     "performedAt": instant(performed_at), "version": 1}
        body = {"id": plan_id, "patientId": patient_id, "consentType": consent_type,
                "performedAt": performed_at, **self._sealed_plan(plan_id, statement, plan)}
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
        merged = {**record, **changes}
        statement = {"patientId": record["patientId"], "consentType": merged["consentType"],
                     "consentFormId": merged["consentFormId"], "performedAt": instant(merged["performedAt"]),
                     "version": record["version"] + 1}
        body = {**changes, **self._sealed_plan(record["id"], statement, plan)}
        return self.call("PATCH", f"/api/treatment-plans/{record['id']}", body,
                         headers={"If-Match": f'"{record["version"]}"'})

    def delete_plan(self, plan_id: str) -> dict:
        return self.call("DELETE", f"/api/treatment-plans/{plan_id}")

    def decrypt_plan(self, record: dict) -> dict:
        """The clear plan of a record from get_plan: signed by the practice, bound to its id."""
        crypto.verify_statement(self._keys(), "treatment.plan", plan_statement(record["id"], record),
                                record.get("signature"))
        plain = crypto.decrypt_payload(
            self._keys(), record["wrappedKey"], base64.b64decode(record["encryptedPlan"]),
            envelopes.PURPOSE_TREATMENT_PLAN, record["id"],
        )
        return json.loads(plain)

    # ----- photos: encrypted here while the file is read, bound to the photo's id, signed -----

    def upload_photo(self, patient_id: str, image: BinaryIO, photo_type: str, body_region: str,
                     taken_at: str, *, consent_form_id: str | None = None,
                     treatment_plan_id: str | None = None, photo_consent_granted: bool = False,
                     metadata: Any = None, thumbnail: bytes | None = None) -> dict:
        """Encrypts `image` (a binary file, read from its current position) as it streams out:
        neither this client nor the server holds the photo whole. `metadata` (any JSON value,
        e.g. a caption) is sealed to the practice key. `thumbnail` (a small image the caller
        made, at most 256 KiB) travels with it as its own payload (purpose photo.thumbnail),
        signed with the photo's id."""
        body = self.photo_body(patient_id, image, photo_type, body_region, taken_at,
                               consent_form_id=consent_form_id, treatment_plan_id=treatment_plan_id,
                               photo_consent_granted=photo_consent_granted, metadata=metadata,
                               thumbnail=thumbnail)
        response = self.http.post(f"{self.base_url}/api/photos", data=body, timeout=self.timeout,
                                  headers={"Authorization": f"Bearer {self.token}",
                                           "Content-Type": body.content_type})
        return _raw_answer(response)

    def photo_body(self, patient_id: str, image: BinaryIO, photo_type: str, body_region: str,
                   taken_at: str, *, consent_form_id: str | None = None,
                   treatment_plan_id: str | None = None, photo_consent_granted: bool = False,
                   metadata: Any = None, thumbnail: bytes | None = None) -> MultipartBody:
        """The signed multipart body of a new photo (and its thumbnail), its ciphertext made as
        the body is read (bench/upload.py times the upload of such a body apart from its
        encryption)."""
        public_key = self._practice()["publicKey"]
        photo_id = str(uuid.uuid4())
        start = image.tell()
        plain_size = image.seek(0, 2) - start
        image.seek(start)
        wrapped_key, chunks = crypto.encrypt_payload_stream(public_key, image, envelopes.PURPOSE_PHOTO,
                                                            photo_id)
        sealed_metadata = None if metadata is None else crypto.seal_field(
            public_key, PHOTO_METADATA_FIELD, photo_id, metadata)
        statement = {"id": photo_id, "patientId": patient_id, "consentFormId": consent_form_id,
                     "type": photo_type, "bodyRegion": body_region, "takenAt": instant(taken_at),
                     "photoConsentGranted": photo_consent_granted, "wrappedKey": wrapped_key,
                     "encryptedMetadata": sealed_metadata}
        optional = {"consentFormId": consent_form_id, "treatmentPlanId": treatment_plan_id,
                    "encryptedMetadata": sealed_metadata}
        fields = {"id": photo_id, "patientId": patient_id, "type": photo_type, "bodyRegion": body_region,
                  "takenAt": taken_at, "wrappedKey": wrapped_key,
                  "photoConsentGranted": "true" if photo_consent_granted else "false",
                  "signature": crypto.sign_statement(self._keys(), "photo", statement),
                  **{name: value for name, value in optional.items() if value is not None}}
        parts = {}
        if thumbnail is not None:
            thumb_key, thumb_cipher = crypto.encrypt_payload(public_key, thumbnail,
                                                             envelopes.PURPOSE_PHOTO_THUMBNAIL, photo_id)
            fields["thumbnailWrappedKey"] = thumb_key
            fields["thumbnailSignature"] = crypto.sign_statement(
                self._keys(), "photo.thumbnail", {"photoId": photo_id, "wrappedKey": thumb_key})
            parts["thumbnail"] = thumb_cipher
        return MultipartBody(fields, chunks, ciphertext_size(plain_size), "photo.enc", parts)

    def list_photos(self, patient_id: str, **filters: Any) -> dict:
        """Filters: type, bodyRegion, treatmentPlanId, page, limit."""
        return self.call("GET", f"/api/photos/patient/{patient_id}", **filters)

    def get_photo(self, photo_id: str) -> dict:
        return self.call("GET", f"/api/photos/{photo_id}")

    def verify_photo(self, record: dict) -> None:
        crypto.verify_statement(self._keys(), "photo", photo_statement(record), record.get("signature"))

    def read_photo_thumbnail(self, record: dict) -> bytes | None:
        """The photo's thumbnail in clear (None when it has none), after its signature: the
        statement photo.thumbnail names the photo's id and the thumbnail's wrapped key."""
        thumbnail = record.get("thumbnail")
        if thumbnail is None:
            return None
        crypto.verify_statement(self._keys(), "photo.thumbnail",
                                {"photoId": record["id"], "wrappedKey": thumbnail["wrappedKey"]},
                                thumbnail.get("signature"))
        return crypto.decrypt_payload(self._keys(), thumbnail["wrappedKey"],
                                      b"".join(self._ciphertext(f"/api/photos/{record['id']}/thumbnail")),
                                      envelopes.PURPOSE_PHOTO_THUMBNAIL, record["id"])

    def photo_ciphertext(self, photo_id: str) -> Iterator[bytes]:
        return self._ciphertext(f"/api/photos/{photo_id}/download")

    def _ciphertext(self, path: str) -> Iterator[bytes]:
        """A stored ciphertext, streamed; raises if fewer bytes arrive than announced."""
        response = self.http.get(f"{self.base_url}{path}", stream=True,
                                 headers={"Authorization": f"Bearer {self.token}"}, timeout=self.timeout)
        if response.status_code != 200:
            _raw_answer(response)
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
        self.verify_photo(record)
        plain = crypto.decrypt_payload_stream(self._keys(), record["wrappedKey"],
                                              self.photo_ciphertext(photo_id), envelopes.PURPOSE_PHOTO,
                                              photo_id)
        if out is None:
            return b"".join(plain)
        for piece in plain:
            out.write(piece)
        return None

    def photo_metadata(self, record: dict) -> Any:
        """The clear metadata of a photo record, or None."""
        self.verify_photo(record)
        if not record.get("encryptedMetadata"):
            return None
        return crypto.open_field(self._keys(), PHOTO_METADATA_FIELD, record["id"],
                                 record["encryptedMetadata"])

    def set_photo_consent(self, photo_id: str, granted: bool) -> dict:
        record = self.get_photo(photo_id)
        self.verify_photo(record)
        signature = crypto.sign_statement(self._keys(), "photo",
                                          {**photo_statement(record), "photoConsentGranted": granted})
        return self.call("PATCH", f"/api/photos/{photo_id}/consent",
                         {"photoConsentGranted": granted, "signature": signature})

    def delete_photo(self, photo_id: str) -> dict:
        return self.call("DELETE", f"/api/photos/{photo_id}")

    # ----- end of photos -----


def form_named(document: dict) -> dict:
    """The submit fields that name the form document the patient was shown (stored in clear)."""
    return {"formId": document["formId"], "version": document["version"], "locale": document["locale"],
            "formHash": document["formHash"]}


def _link_token(link: str) -> tuple[str, str | None]:
    """The token of a consent link, and the key fingerprint of its `#k=` fragment if any."""
    token, _, fragment = link.rsplit("/", 1)[-1].partition("#")
    return token, fragment[2:] if fragment.startswith("k=") else None


class PatientClient(_Http):
    """What the patient's browser does with a consent link: no account, only the link."""

    def open(self, token: str, locale: str | None = None) -> dict:
        """The link's consent: practice, key, and the form document to show (`form`)."""
        return self.call("GET", f"/api/consent/{token}", locale=locale)

    def submit(self, link: str, identity: Identity, filled: dict, signature: dict,
               locale: str | None = None, form: dict | None = None) -> dict:
        """Submits a consent through its link (`.../consent/<token>#k=<fingerprint>`): `filled`
        holds answers, comprehension and declaration as the patient gave them; `signature` is
        the answers document's signature (`answers.png_signature(png)`); `form` the document
        the patient was shown, when not the one the link serves."""
        token, _ = _link_token(link)
        consent = self.open(token, locale)
        if form is not None:
            consent = {**consent, "form": form}
        return self.send(token, self.submission(link, consent, identity, filled, signature))

    def send(self, token: str, body: dict) -> dict:
        """POSTs a submission with a fresh Idempotency-Key and, when the connection drops
        before the answer arrives, once more with the same key: a submit that had committed
        then answers as the first time did instead of 409 already_submitted."""
        path, headers = f"/api/consent/{token}/submit", {"Idempotency-Key": secrets.token_urlsafe(24)}
        try:
            return self.call("POST", path, body, headers=headers)
        except DROPPED:
            return self.call("POST", path, body, headers=headers)

    @staticmethod
    def submission(link: str, consent: dict, identity: Identity, filled: dict, signature: dict) -> dict:
        """The submit body for `consent` as `open` answered it (with the form the patient was
        shown): the answers document encrypted and signed, the identity sealed with its
        lookupHash (Argon2id, the slow part), all bound to the form and the link. One body can
        be sent many times (the one-submission rule)."""
        token, fingerprint = _link_token(link)
        return answers.build_submission(
            consent, token, identity.values(), filled["answers"], filled["comprehension"],
            filled["declaration"], signature, key_fingerprint=fingerprint,
        )

    def withdraw(self, token: str, reason: str | None = None) -> dict:
        return self.call("POST", f"/api/consent/{token}/withdraw", {"reason": reason} if reason else {})
