"""Practice setup with the vault, practice details, and replacing the vault envelope."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import uuid

import peewee

from appliance import envelopes, tenancy
from appliance.clock import Clock, isoformat
from appliance.http.errors import ApiError, bad_envelope, conflict, not_found
from appliance.models import Practice, User, VaultChallenge
from appliance.principal import Principal
from appliance.services.accounts import Caller
from appliance.services.audit import Audit

DETAIL_FIELDS = {
    "name": "name",
    "contactEmail": "contact_email",
    "street": "street",
    "postalCode": "postal_code",
    "city": "city",
    "country": "country",
    "phone": "phone",
}


def practice_view(practice: Practice) -> dict:
    view = {api: getattr(practice, column) for api, column in DETAIL_FIELDS.items()}
    return {
        "id": str(practice.id),
        **view,
        "publicKey": practice.public_key,
        "signingKey": practice.signing_key,
        "encryptedPrivKey": practice.encrypted_priv_key,
        "lookupSalt": practice.lookup_salt,
        "vaultIdleMinutes": practice.vault_idle_minutes,
        "createdAt": isoformat(practice.created_at),
    }


def _envelope(value: object, field: str = "encryptedPrivKey") -> dict:
    try:
        return envelopes.validate_vault_envelope(value, field)
    except envelopes.EnvelopeError as exc:
        raise bad_envelope("the vault envelope is invalid", exc, prefix=field) from exc


def _challenge_hash(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


class Practices:
    def __init__(self, database: peewee.Database, audit: Audit, clock: Clock):
        self._db = database
        self._audit = audit
        self._clock = clock

    def create(self, principal: Principal, body: dict, caller: Caller) -> dict:
        """The caller founds a practice and becomes its first ADMIN."""
        try:
            envelopes.validate_public_key(body["publicKey"])
            envelopes.validate_signing_key(body["signingKey"])
        except envelopes.EnvelopeError as exc:
            raise bad_envelope("the practice keys are invalid", exc) from exc
        vault = _envelope(body["encryptedPrivKey"])
        now = self._clock.now()
        with tenancy.unscoped("founding a practice moves a user into it"), self._db.atomic():
            # The conditional update makes "at most one practice per user" hold under races.
            practice_id = uuid.uuid4()
            Practice.insert(
                id=practice_id,
                **{column: body.get(api, "").strip() for api, column in DETAIL_FIELDS.items()
                   if api in body},
                public_key=body["publicKey"],
                signing_key=body["signingKey"],
                encrypted_priv_key=vault,
                lookup_salt=base64.b64encode(secrets.token_bytes(envelopes.LOOKUP_SALT_BYTES)).decode(),
                created_at=now,
                updated_at=now,
            ).execute()
            moved = User.update(practice_id=practice_id, role="ADMIN", joined_at=now).where(
                User.id == principal.user_id, User.practice_id.is_null()
            ).execute()
            if not moved:
                raise conflict("already_member", "you already belong to a practice")
            self._audit.record(
                "PRACTICE_CREATED", ip=caller.ip, user_id=principal.user_id,
                practice_id=practice_id, entity_type="practice", entity_id=practice_id,
            )
            return practice_view(Practice.get_by_id(practice_id))

    def _own(self, principal: Principal) -> Practice:
        if principal.practice_id is None:
            raise not_found("practice")
        return Practice.get_by_id(principal.practice_id)

    def get(self, principal: Principal) -> dict:
        return practice_view(self._own(principal))

    def update(self, principal: Principal, body: dict, caller: Caller) -> dict:
        changes = {DETAIL_FIELDS[api]: value.strip() for api, value in body.items()}
        with self._db.atomic():
            practice = self._own(principal)
            if changes:
                changes["updated_at"] = self._clock.now()
                Practice.update(changes).where(Practice.id == practice.id).execute()
                self._audit.record(
                    "PRACTICE_SETTINGS_UPDATED", ip=caller.ip, user_id=principal.user_id,
                    practice_id=practice.id, entity_type="practice", entity_id=practice.id,
                    metadata={"fields": sorted(body)},
                )
            return practice_view(Practice.get_by_id(practice.id))

    def vault_challenge(self, principal: Principal) -> dict:
        """A random challenge sealed to the practice key: only the key holder can answer it."""
        practice = self._own(principal)
        public_key = base64.b64decode(practice.public_key)
        challenge, sealed = envelopes.seal_challenge(public_key)
        expires = self._clock.now() + dt.timedelta(seconds=envelopes.CHALLENGE_TTL_SECONDS)
        with self._db.atomic():
            row = VaultChallenge.create(
                id=uuid.uuid4(), challenge_hash=_challenge_hash(challenge), expires_at=expires
            )
        return {"challengeId": str(row.id), "sealedChallenge": sealed, "expiresAt": isoformat(expires)}

    def replace_vault(self, principal: Principal, body: dict, caller: Caller) -> dict:
        """Replaces the envelope only with proof of the secret key; the old one stays otherwise."""
        vault = _envelope(body["encryptedPrivKey"])
        try:
            answer = envelopes.b64decode_strict(
                body["challengeResponse"], "challengeResponse", exact=envelopes.CHALLENGE_BYTES
            )
            challenge_id = uuid.UUID(body["challengeId"])
        except (envelopes.EnvelopeError, ValueError) as exc:
            raise ApiError(403, "vault_proof_failed", "the challenge was not answered") from exc
        now = self._clock.now()
        with self._db.atomic():
            practice = self._own(principal)
            # Consumed whether or not the answer is right: one guess per challenge.
            consumed = VaultChallenge.update(used_at=now).where(
                VaultChallenge.id == challenge_id,
                VaultChallenge.used_at.is_null(),
                VaultChallenge.expires_at > now,
            ).execute()
            stored = VaultChallenge.get_or_none(VaultChallenge.id == challenge_id)
            proven = bool(consumed) and stored is not None and hmac.compare_digest(
                stored.challenge_hash, _challenge_hash(answer)
            )
            if proven:
                Practice.update(encrypted_priv_key=vault, updated_at=now).where(
                    Practice.id == practice.id
                ).execute()
                self._audit.record(
                    "VAULT_ENVELOPE_REPLACED", ip=caller.ip, user_id=principal.user_id,
                    practice_id=practice.id, entity_type="practice", entity_id=practice.id,
                )
        if not proven:
            raise ApiError(403, "vault_proof_failed", "the challenge answer is wrong or expired")
        return practice_view(Practice.get_by_id(practice.id))
