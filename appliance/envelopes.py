"""Server-side checks for the crypto contract, version 1 (see docs/crypto.md).

The server never holds a key that opens patient data, so it cannot check what a ciphertext
says. It can only refuse what is malformed: wrong encodings, wrong lengths, KDF parameters a
client should never be asked to run. These functions do exactly that and nothing more; the
client side lives in ``appliance.client.crypto``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from typing import Any

from nacl import bindings
from nacl.public import PublicKey, SealedBox
from nacl.pwhash import argon2id
from nacl.utils import random as random_bytes

CONTRACT_VERSION = 1

PUBLIC_KEY_BYTES = 32
SYMMETRIC_KEY_BYTES = 32
SEAL_OVERHEAD = bindings.crypto_box_SEALBYTES  # 48: ephemeral public key + MAC
WRAPPED_KEY_BYTES = SEAL_OVERHEAD + SYMMETRIC_KEY_BYTES  # 80

# Practice vault: the X25519 secret key, wrapped with a key derived from the vault password.
VAULT_KDF = "argon2id13"
VAULT_SALT_BYTES = argon2id.SALTBYTES  # 16
VAULT_NONCE_BYTES = 24
VAULT_CIPHERTEXT_BYTES = 32 + 16  # secret key + secretbox MAC
VAULT_OPSLIMIT_MIN = argon2id.OPSLIMIT_INTERACTIVE
VAULT_OPSLIMIT_MAX = argon2id.OPSLIMIT_SENSITIVE
VAULT_MEMLIMIT_MIN = argon2id.MEMLIMIT_INTERACTIVE
VAULT_MEMLIMIT_MAX = argon2id.MEMLIMIT_SENSITIVE
_VAULT_KEYS = frozenset({"v", "kdf", "opslimit", "memlimit", "salt", "nonce", "ciphertext"})

# Sealed values: a short JSON document sealed to the practice public key.
SEALED_MAX_PLAIN = 2048
_SEALED_MIN_PLAIN = 2

# Payload envelopes: secretstream XChaCha20-Poly1305 under a fresh key.
CHUNK_BYTES = 64 * 1024
STREAM_HEADER_BYTES = bindings.crypto_secretstream_xchacha20poly1305_HEADERBYTES  # 24
STREAM_CHUNK_OVERHEAD = bindings.crypto_secretstream_xchacha20poly1305_ABYTES  # 17
STREAM_MIN_BYTES = STREAM_HEADER_BYTES + STREAM_CHUNK_OVERHEAD

# Purposes are the additional data of every payload chunk: a ciphertext made for one use
# does not decrypt as another (an audit export cannot be replayed as a treatment plan).
PURPOSE_CONSENT_ANSWERS = "consent.answers"
PURPOSE_TREATMENT_PLAN = "treatment.plan"
PURPOSE_PHOTO = "photo"
PURPOSE_AUDIT_EXPORT = "audit.export"
PURPOSE_LOGO = "logo"
PURPOSES = frozenset(
    {
        PURPOSE_CONSENT_ANSWERS,
        PURPOSE_TREATMENT_PLAN,
        PURPOSE_PHOTO,
        PURPOSE_AUDIT_EXPORT,
        PURPOSE_LOGO,
    }
)

# lookupHash: fixed Argon2id parameters, so every client computes the same hash.
LOOKUP_SALT_BYTES = argon2id.SALTBYTES  # 16
LOOKUP_HASH_BYTES = 32
LOOKUP_OPSLIMIT = 3
LOOKUP_MEMLIMIT = 64 * 1024 * 1024

# Vault password change proof.
CHALLENGE_BYTES = 32
CHALLENGE_TTL_SECONDS = 5 * 60

_B64_ALPHABET = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_LOOKUP_HASH = re.compile(r"[0-9a-f]{64}")


class EnvelopeError(ValueError):
    """A client sent something that breaks the contract; ``field`` says where."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def b64decode_strict(
    value: Any,
    field: str,
    *,
    exact: int | None = None,
    min_len: int | None = None,
    max_len: int | None = None,
) -> bytes:
    """Decode standard, padded, canonical base64 and check the decoded length.

    One spelling per byte string: lenient decoding would let the same ciphertext arrive in
    several forms and hide client bugs (urlsafe alphabet, dropped padding) until decryption.
    """
    if not isinstance(value, str):
        raise EnvelopeError(field, "must be a base64 string")
    if len(value) % 4 or not _B64_ALPHABET.fullmatch(value):
        raise EnvelopeError(field, "must be standard base64 with padding")
    try:
        raw = base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise EnvelopeError(field, "must be standard base64 with padding") from exc
    if base64.b64encode(raw).decode("ascii") != value:
        raise EnvelopeError(field, "must be canonical base64")
    if exact is not None and len(raw) != exact:
        raise EnvelopeError(field, f"must be base64 of {exact} bytes")
    if min_len is not None and len(raw) < min_len:
        raise EnvelopeError(field, f"must be base64 of at least {min_len} bytes")
    if max_len is not None and len(raw) > max_len:
        raise EnvelopeError(field, f"must be base64 of at most {max_len} bytes")
    return raw


def validate_public_key(value: Any, field: str = "publicKey") -> bytes:
    """Check an X25519 public key; the all-zero key would make every sealed box worthless."""
    raw = b64decode_strict(value, field, exact=PUBLIC_KEY_BYTES)
    if raw == bytes(PUBLIC_KEY_BYTES):
        raise EnvelopeError(field, "must not be the all-zero key")
    return raw


def _kdf_limit(obj: dict[str, Any], field: str, low: int, high: int) -> int:
    value = obj[field]
    if isinstance(value, bool) or not isinstance(value, int):
        raise EnvelopeError(field, "must be an integer")
    if not low <= value <= high:
        raise EnvelopeError(field, f"must be between {low} and {high}")
    return value


def validate_vault_envelope(obj: Any, field: str = "vault") -> dict[str, Any]:
    """Check the practice vault envelope and return it normalised for storage as JSON.

    The KDF limits are bounded both ways: too weak makes the password guessable from a
    database dump, too strong lets a tampered envelope hang every staff member's browser.
    """
    if not isinstance(obj, dict):
        raise EnvelopeError(field, "must be a JSON object")
    unknown = sorted(map(str, set(obj) - _VAULT_KEYS))
    if unknown:
        raise EnvelopeError(unknown[0], "unknown key in vault envelope")
    missing = sorted(_VAULT_KEYS - set(obj))
    if missing:
        raise EnvelopeError(missing[0], "is required")
    version = obj["v"]
    if type(version) is not int or version != CONTRACT_VERSION:
        raise EnvelopeError("v", f"must be {CONTRACT_VERSION}")
    if obj["kdf"] != VAULT_KDF:
        raise EnvelopeError("kdf", f"must be {VAULT_KDF!r}")
    opslimit = _kdf_limit(obj, "opslimit", VAULT_OPSLIMIT_MIN, VAULT_OPSLIMIT_MAX)
    memlimit = _kdf_limit(obj, "memlimit", VAULT_MEMLIMIT_MIN, VAULT_MEMLIMIT_MAX)
    b64decode_strict(obj["salt"], "salt", exact=VAULT_SALT_BYTES)
    b64decode_strict(obj["nonce"], "nonce", exact=VAULT_NONCE_BYTES)
    b64decode_strict(obj["ciphertext"], "ciphertext", exact=VAULT_CIPHERTEXT_BYTES)
    return {
        "v": CONTRACT_VERSION,
        "kdf": VAULT_KDF,
        "opslimit": opslimit,
        "memlimit": memlimit,
        "salt": obj["salt"],
        "nonce": obj["nonce"],
        "ciphertext": obj["ciphertext"],
    }


def validate_sealed_value(value: Any, field: str, *, max_plain: int = SEALED_MAX_PLAIN) -> bytes:
    """Check a sealed box by length: the server cannot open it, but can bound its size."""
    return b64decode_strict(
        value,
        field,
        min_len=SEAL_OVERHEAD + _SEALED_MIN_PLAIN,
        max_len=SEAL_OVERHEAD + max_plain,
    )


def validate_wrapped_key(value: Any, field: str = "wrappedKey") -> bytes:
    """Check a payload key sealed to the practice: always exactly 80 bytes."""
    return b64decode_strict(value, field, exact=WRAPPED_KEY_BYTES)


def validate_stream_payload(data: Any, field: str, *, max_bytes: int) -> bytes:
    """Check a whole secretstream payload by length (header plus at least one chunk)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise EnvelopeError(field, "must be binary data")
    size = len(data)
    if size < STREAM_MIN_BYTES:
        raise EnvelopeError(field, f"must be at least {STREAM_MIN_BYTES} bytes")
    if size > max_bytes:
        raise EnvelopeError(field, f"must be at most {max_bytes} bytes")
    return bytes(data)


def stream_header_ok(first_bytes: bytes) -> bool:
    """Tell a streamed upload early whether a full secretstream header arrived.

    Only the length can be checked; the caller must still require ``STREAM_MIN_BYTES`` in
    total and enforce its size limit while the rest streams in.
    """
    return len(first_bytes) >= STREAM_HEADER_BYTES


def validate_lookup_hash(value: Any, field: str = "lookupHash") -> str:
    """Check a lookupHash: 64 lowercase hex characters, one spelling per patient."""
    if not isinstance(value, str) or not _LOOKUP_HASH.fullmatch(value):
        raise EnvelopeError(field, "must be 64 lowercase hex characters")
    return value


def seal_challenge(public_key_bytes: bytes) -> tuple[bytes, str]:
    """Issue a vault password change challenge only the holder of the secret key can open.

    Returns the plain challenge (store it, valid for ``CHALLENGE_TTL_SECONDS``, one use) and
    the sealed box to send to the client.
    """
    challenge = random_bytes(CHALLENGE_BYTES)
    sealed = SealedBox(PublicKey(public_key_bytes)).encrypt(challenge)
    return challenge, base64.b64encode(sealed).decode("ascii")


def challenge_response_ok(challenge: bytes, response_b64: Any) -> bool:
    """Compare the client's opened challenge with the stored one in constant time."""
    try:
        answer = b64decode_strict(response_b64, "challengeResponse", exact=CHALLENGE_BYTES)
    except EnvelopeError:
        return False
    return len(challenge) == CHALLENGE_BYTES and hmac.compare_digest(answer, challenge)
