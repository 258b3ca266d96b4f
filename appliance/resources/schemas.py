"""JSON Schema fragments shared by request and response declarations."""

from __future__ import annotations

EMAIL = {"type": "string", "format": "email", "minLength": 3, "maxLength": 254}
PASSWORD = {"type": "string", "minLength": 1, "maxLength": 256}
NAME = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"}
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
