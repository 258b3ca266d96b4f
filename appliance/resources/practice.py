"""Practice endpoints: found a practice with its vault, read it, edit it, replace the vault."""

from __future__ import annotations

import falcon

from appliance.http.body import json_body
from appliance.http.operation import ADMIN, operation, roles
from appliance.resources.auth import caller
from appliance.resources.schemas import EMAIL, NAME, TIMESTAMP, UUID, obj
from appliance.resources.settings import VAULT_IDLE_MINUTES
from appliance.services.practices import Practices

TAGS = ("Practice",)
TEXT = {"type": "string", "maxLength": 200}
VAULT = {
    "type": "object",
    "description": "The vault envelope of docs/crypto.md: the practice's two secret keys"
    " wrapped with a key derived (Argon2id) from the vault password, which the server never"
    " sees. The server cannot check the password's strength; clients do, at creation and change.",
}
DETAILS = {
    "name": NAME,
    "contactEmail": EMAIL,
    "street": TEXT,
    "postalCode": {"type": "string", "maxLength": 16},
    "city": TEXT,
    "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
    "phone": {"type": "string", "maxLength": 40},
}
PUBLIC_KEY = {"type": "string", "minLength": 44, "maxLength": 44,
              "description": "base64 of the practice's 32-byte X25519 public key (docs/crypto.md)"}
SIGNING_KEY = {"type": "string", "minLength": 44, "maxLength": 44,
               "description": "base64 of the practice's 32-byte Ed25519 public key (docs/crypto.md)"}
PRACTICE = obj(
    ["id", "name", "contactEmail", "publicKey", "signingKey", "encryptedPrivKey", "lookupSalt",
     "vaultIdleMinutes"],
    {**DETAILS, "id": UUID, "publicKey": PUBLIC_KEY, "signingKey": SIGNING_KEY,
     "encryptedPrivKey": VAULT, "lookupSalt": {"type": "string"}, "vaultIdleMinutes": VAULT_IDLE_MINUTES,
     "createdAt": TIMESTAMP},
)


class PracticeResource:
    def __init__(self, practices: Practices):
        self._practices = practices

    @operation(
        "Create a practice (the caller becomes its ADMIN)",
        created=True, tags=TAGS, response=PRACTICE,
        request=obj(["name", "contactEmail", "publicKey", "signingKey", "encryptedPrivKey"],
                    {**DETAILS, "publicKey": PUBLIC_KEY, "signingKey": SIGNING_KEY,
                     "encryptedPrivKey": VAULT}),
        errors={400: "invalid details, keys or vault envelope",
                409: "the caller already belongs to a practice (already_member)"},
        description="The client generates both key pairs and the vault envelope wrapping their"
        " secret halves (docs/crypto.md); a public key that is not a prime-order point is refused."
        " The server generates the practice's 16-byte lookupSalt.",
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._practices.create(req.context.principal, json_body(req), caller(req))
        resp.status = falcon.HTTP_201

    @operation(
        "The caller's practice, with what a staff client needs to unlock the vault",
        tags=TAGS, response=PRACTICE, errors={404: "the caller has no practice yet"},
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._practices.get(req.context.principal)

    @operation(
        "Edit name, contact and address", roles=roles(ADMIN), tags=TAGS, response=PRACTICE,
        request={**obj([], DETAILS), "minProperties": 1},
    )
    def on_patch(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._practices.update(req.context.principal, json_body(req), caller(req))


class VaultChallengeResource:
    def __init__(self, practices: Practices):
        self._practices = practices

    @operation(
        "Get a challenge sealed to the practice key (step 1 of a vault password change)",
        roles=roles(ADMIN), tags=TAGS,
        response=obj(["challengeId", "sealedChallenge", "expiresAt"],
                     {"challengeId": UUID, "sealedChallenge": {"type": "string"},
                      "expiresAt": TIMESTAMP}),
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._practices.vault_challenge(req.context.principal)


class VaultResource:
    def __init__(self, practices: Practices):
        self._practices = practices

    @operation(
        "Replace the vault envelope (step 2: prove the key by the opened challenge)",
        roles=roles(ADMIN), tags=TAGS, response=PRACTICE,
        request=obj(["challengeId", "challengeResponse", "encryptedPrivKey"],
                    {"challengeId": UUID, "challengeResponse": {"type": "string", "maxLength": 44},
                     "encryptedPrivKey": VAULT}),
        errors={403: "the challenge answer is wrong, used or expired (vault_proof_failed)"},
    )
    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._practices.replace_vault(req.context.principal, json_body(req), caller(req))


