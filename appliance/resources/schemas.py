"""JSON Schema fragments shared by request and response declarations."""

from __future__ import annotations

from appliance.services import passwords

EMAIL = {"type": "string", "format": "email", "minLength": 3, "maxLength": 254}
PASSWORD = {"type": "string", "minLength": 1, "maxLength": 256}
#: A password being set: what appliance.services.passwords accepts (its strength is checked there).
NEW_PASSWORD = {"type": "string", "minLength": passwords.MIN_LENGTH, "maxLength": passwords.MAX_LENGTH}
#: One line of text with something in it: no control characters and no Unicode line or
#: paragraph separators. Names end up in mail headers (a practice's name is in the subject),
#: where any line break would end the header or add one.
SINGLE_LINE = r"^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*\S[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$"
NAME = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": SINGLE_LINE}
UUID = {"type": "string", "format": "uuid"}
TIMESTAMP = {"type": "string", "format": "date-time"}
NULLABLE_UUID = {"type": ["string", "null"], "format": "uuid"}
ROLE = {"type": ["string", "null"], "enum": ["ADMIN", "ARZT", "EMPFANG", None]}
TOTP_CODE = {"type": "string", "pattern": "^[0-9]{6}$"}


def obj(required: list[str], properties: dict, *, extra: bool = False) -> dict:
    """An object schema that refuses unknown properties unless told otherwise."""
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": extra,
    }


USER = obj(
    ["id", "email", "name", "practiceId", "role"],
    {"id": UUID, "email": EMAIL, "name": NAME, "practiceId": NULLABLE_UUID, "role": ROLE},
    extra=True,
)
TOKEN_RESPONSE = obj(
    ["token", "expiresAt", "user"],
    {"token": {"type": "string"}, "expiresAt": TIMESTAMP, "user": USER},
)

# ----- contract v2 (docs/crypto.md): exact lengths, so the OpenAPI document states them -----

RECORD_ID = {"type": "string", "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
             "description": "chosen by the client (a random UUID, lowercase): the ciphertexts and"
             " the signature of the record name it (docs/crypto.md, bindings)"}
SIGNATURE = {"type": "string", "minLength": 88, "maxLength": 88,
             "description": "base64 of the 64-byte Ed25519 signature of the record's statement by"
             " the practice signing key (docs/crypto.md, signatures)"}
WRAPPED_KEY = {"type": "string", "minLength": 108, "maxLength": 108,
               "description": "the payload key sealed to the practice key: base64 of 80 bytes"}
SEALED = {"type": "string", "minLength": 68, "maxLength": 2796,
          "description": "a sealed value (docs/crypto.md): base64 of 50..2096 bytes"}
LOOKUP_HASH = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
LINK_TOKEN = {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$",
              "description": "the link token: 32 random bytes the staff client drew, base64url"
              " without padding; only its SHA-256 is stored"}
KEY_FINGERPRINT = {"type": "string", "pattern": "^[A-Za-z0-9_-]{22}$",
                   "description": "the practice key fingerprint the staff client computed"
                   " (docs/crypto.md); only used to write `#k=` into the e-mailed link"}


def payload_b64(max_bytes: int, purpose: str) -> dict:
    """A secretstream payload sent as a base64 string, with its exact maximum length."""
    return {"type": "string", "minLength": 56, "maxLength": 4 * -(-max_bytes // 3),
            "description": f"base64 secretstream payload, purpose {purpose} (docs/crypto.md),"
            f" 41..{max_bytes} bytes decoded"}
