"""Server-side checks and shared definitions of the crypto contract, version 2 (docs/crypto.md).

The server never holds a key that opens patient data, so it cannot check what a ciphertext
says. It can refuse what is malformed (wrong encodings, lengths, keys that are not keys, KDF
parameters a client should never be asked to run) and, since signatures are checked with
public keys, a staff record whose signature does not match what it stores. These functions do
exactly that; the client side lives in ``appliance.client.crypto``, which builds on the
definitions here (purposes, bindings, statements) so both sides spell them one way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from typing import Any

from nacl import bindings
from nacl.exceptions import BadSignatureError
from nacl.public import PublicKey, SealedBox
from nacl.pwhash import argon2id
from nacl.signing import VerifyKey
from nacl.utils import random as random_bytes

from appliance.forms.canonical import canonical_json

CONTRACT_VERSION = 2

PUBLIC_KEY_BYTES = 32
SIGNING_KEY_BYTES = 32
SIGNATURE_BYTES = 64
SYMMETRIC_KEY_BYTES = 32
SEAL_OVERHEAD = bindings.crypto_box_SEALBYTES  # 48: ephemeral public key + MAC
WRAPPED_KEY_BYTES = SEAL_OVERHEAD + SYMMETRIC_KEY_BYTES  # 80

# Practice vault: the X25519 secret key and the Ed25519 seed, wrapped with a key derived from
# the vault password.
VAULT_KDF = "argon2id13"
VAULT_SALT_BYTES = argon2id.SALTBYTES  # 16
VAULT_NONCE_BYTES = 24
VAULT_SECRET_BYTES = 32 + 32  # box secret key, signing seed
VAULT_CIPHERTEXT_BYTES = VAULT_SECRET_BYTES + 16  # + secretbox MAC
VAULT_OPSLIMIT_MIN = argon2id.OPSLIMIT_INTERACTIVE  # 2
VAULT_OPSLIMIT_MAX = 4
VAULT_MEMLIMIT_MIN = argon2id.MEMLIMIT_INTERACTIVE  # 64 MiB
#: 256 MiB: what a browser's WebAssembly Argon2id runs in a few seconds (1 GiB took 13-34 s).
VAULT_MEMLIMIT_MAX = 256 * 1024 * 1024
_VAULT_KEYS = frozenset({"v", "kdf", "opslimit", "memlimit", "salt", "nonce", "ciphertext"})

# Sealed values: a short JSON document sealed to the practice public key.
SEALED_MAX_PLAIN = 2048
_SEALED_MIN_PLAIN = 2

# Payload envelopes: secretstream XChaCha20-Poly1305 under a fresh key.
CHUNK_BYTES = 64 * 1024
STREAM_HEADER_BYTES = bindings.crypto_secretstream_xchacha20poly1305_HEADERBYTES  # 24
STREAM_CHUNK_OVERHEAD = bindings.crypto_secretstream_xchacha20poly1305_ABYTES  # 17
STREAM_MIN_BYTES = STREAM_HEADER_BYTES + STREAM_CHUNK_OVERHEAD

# Purposes, each for one kind of record; with the record's id they make a payload's
# additional data, so a ciphertext opens only as what it was made for, where it was put.
PURPOSE_CONSENT_ANSWERS = "consent.answers"
PURPOSE_CONSENT_COUNTERSIGNATURE = "consent.countersignature"
PURPOSE_CONSENT_ARCHIVE = "consent.archive"
PURPOSE_TREATMENT_PLAN = "treatment.plan"
PURPOSE_PHOTO = "photo"
PURPOSE_PHOTO_THUMBNAIL = "photo.thumbnail"
PURPOSE_AUDIT_EXPORT = "audit.export"
PURPOSES = frozenset(
    {
        PURPOSE_CONSENT_ANSWERS,
        PURPOSE_CONSENT_COUNTERSIGNATURE,
        PURPOSE_CONSENT_ARCHIVE,
        PURPOSE_TREATMENT_PLAN,
        PURPOSE_PHOTO,
        PURPOSE_PHOTO_THUMBNAIL,
        PURPOSE_AUDIT_EXPORT,
    }
)

#: The answers document (compact JSON, before encryption) is at most 512 KiB, so its
#: ciphertext in base64 plus the rest of a submit fits the smallest allowed JSON body limit.
ANSWERS_MAX_PLAIN = 512 * 1024
#: The countersignature document: a date and a note of at most 2000 characters fit many times.
COUNTERSIGNATURE_MAX_PLAIN = 16 * 1024

# lookupHash: fixed Argon2id parameters, so every client computes the same hash.
LOOKUP_SALT_BYTES = argon2id.SALTBYTES  # 16
LOOKUP_HASH_BYTES = 32
LOOKUP_OPSLIMIT = 3
LOOKUP_MEMLIMIT = 64 * 1024 * 1024

# Vault password change proof.
CHALLENGE_BYTES = 32
CHALLENGE_TTL_SECONDS = 5 * 60

#: Link tokens: 32 random bytes, base64url without padding.
LINK_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
#: Key fingerprints in link fragments: 16 bytes, base64url without padding.
KEY_FINGERPRINT = re.compile(r"^[A-Za-z0-9_-]{22}$")
_LINK_PROOF_DOMAIN = b"appliance/2/link-proof\x00"
_FINGERPRINT_DOMAIN = b"appliance/2/key-fingerprint\x00"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

_B64_ALPHABET = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_LOOKUP_HASH = re.compile(r"[0-9a-f]{64}")


def b64_length(size: int) -> int:
    """Characters of the base64 spelling of `size` bytes: the `maxLength` of an API field."""
    return 4 * -(-size // 3)


def payload_size(plain: int) -> int:
    """Ciphertext bytes of a `plain`-byte payload as writers cut it (docs/crypto.md)."""
    chunks = max(1, -(-plain // CHUNK_BYTES))
    return STREAM_HEADER_BYTES + plain + chunks * STREAM_CHUNK_OVERHEAD


def payload_limit(plain_max: int) -> int:
    """The most ciphertext a `plain_max`-byte payload may take: one empty final chunk more
    than `payload_size`, which a writer that does not know the length in advance adds."""
    return payload_size(plain_max) + STREAM_CHUNK_OVERHEAD


ANSWERS_MAX_BYTES = payload_limit(ANSWERS_MAX_PLAIN)
COUNTERSIGNATURE_MAX_BYTES = payload_limit(COUNTERSIGNATURE_MAX_PLAIN)
#: A photo's thumbnail (purpose photo.thumbnail): a small JPEG the staff client makes.
THUMBNAIL_MAX_PLAIN = 256 * 1024
THUMBNAIL_MAX_BYTES = payload_limit(THUMBNAIL_MAX_PLAIN)


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


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


# --- X25519 public keys --------------------------------------------------------------------

_P = 2**255 - 19
_ORDER = 2**252 + 27742317777372353535851937790883648493  # the prime subgroup's order
_A24 = 121665  # (486662 - 2) / 4
#: u-coordinates of the points of order 1, 2, 4 and 8 (libsodium's blocklist, reduced).
_SMALL_ORDER = frozenset({
    0, 1, _P - 1,
    325606250916557431795983626356110631294008115727848805560023387167927233504,
    39382357235489614581723060781553021112529911719440698176882885853963445705823,
})


def _ladder_z(u: int, scalar: int) -> int:
    """The projective Z of [scalar]P for the point with u-coordinate `u` (RFC 7748 ladder,
    unclamped): zero exactly when [scalar]P is the neutral element."""
    x2, z2, x3, z3, swap = 1, 0, u, 1, 0
    for bit in reversed(range(scalar.bit_length())):
        k = (scalar >> bit) & 1
        if swap ^ k:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = k
        a, b = (x2 + z2) % _P, (x2 - z2) % _P
        aa, bb = a * a % _P, b * b % _P
        e = (aa - bb) % _P
        c, d = (x3 + z3) % _P, (x3 - z3) % _P
        da, cb = d * a % _P, c * b % _P
        x3, z3 = (da + cb) ** 2 % _P, u * (da - cb) ** 2 % _P
        x2, z2 = aa * bb % _P, e * (aa + _A24 * e) % _P
    if swap:
        z2 = z3
    return z2


def x25519_key_problem(raw: bytes) -> str | None:
    """Why 32 bytes are not a practice public key, or None.

    A key a client generated is a canonical u-coordinate of a point of the prime-order
    subgroup. Anything else (the all-zero key, `01 00..00` and the other low-order points, a
    point with a small-order component, a point of the twist, a u >= p or the top bit set) is
    refused: sealing to it would protect nothing or depend on a peculiarity of the library.
    """
    if len(raw) != PUBLIC_KEY_BYTES:
        return f"must be base64 of {PUBLIC_KEY_BYTES} bytes"
    if raw[31] & 0x80:
        return "must have the top bit clear"
    u = int.from_bytes(raw, "little")
    if u >= _P:
        return "must be a canonical X25519 coordinate (below 2^255 - 19)"
    if u in _SMALL_ORDER:
        return "must not be a low-order point"
    rhs = (u * u * u + 486662 * u * u + u) % _P
    if pow(rhs, (_P - 1) // 2, _P) != 1:
        return "must be a point of Curve25519, not of its twist"
    if _ladder_z(u, _ORDER) != 0:
        return "must be a point of the prime-order subgroup (no small-order component)"
    return None


def validate_public_key(value: Any, field: str = "publicKey") -> bytes:
    """Check an X25519 public key: see `x25519_key_problem`."""
    raw = b64decode_strict(value, field, exact=PUBLIC_KEY_BYTES)
    problem = x25519_key_problem(raw)
    if problem:
        raise EnvelopeError(field, problem)
    return raw


def validate_signing_key(value: Any, field: str = "signingKey") -> bytes:
    """Check an Ed25519 public key: canonical, on the curve, in the prime-order subgroup."""
    raw = b64decode_strict(value, field, exact=SIGNING_KEY_BYTES)
    if not bindings.crypto_core_ed25519_is_valid_point(raw):
        raise EnvelopeError(field, "must be an Ed25519 public key of the prime-order subgroup")
    return raw


def key_fingerprint(public_key_b64: str) -> str:
    """What a staff client puts into a link's fragment (`#k=`): the patient page compares it
    with the key the server serves before encrypting anything to that key."""
    raw = b64decode_strict(public_key_b64, "publicKey", exact=PUBLIC_KEY_BYTES)
    return b64url(hashlib.sha256(_FINGERPRINT_DOMAIN + raw).digest()[:16])


# --- vault envelope ------------------------------------------------------------------------


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


# --- sealed values, payloads, lookup hashes ------------------------------------------------


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


def decode_payload(value: Any, field: str, *, max_bytes: int) -> bytes:
    """A payload sent as a base64 JSON string: strict base64, then the length checks."""
    return validate_stream_payload(
        b64decode_strict(value, field, max_len=max_bytes), field, max_bytes=max_bytes
    )


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


# --- bindings ------------------------------------------------------------------------------


def record_id(value: Any, field: str = "id") -> str:
    """A record id as bindings spell it: a UUID in lowercase hex with hyphens."""
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise EnvelopeError(field, "must be a lowercase UUID")
    return value


def payload_ad(purpose: str, record: str) -> bytes:
    """The additional data of every chunk of a payload: contract version, purpose, record."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown payload purpose {purpose!r}")
    return f"appliance/{CONTRACT_VERSION}/{purpose}/{record_id(record, 'record')}".encode("ascii")


def link_proof(token: str) -> str:
    """What a patient's submission carries inside its ciphertext to show it came through the
    link: derived from the token, which the database does not hold (only its SHA-256)."""
    if not isinstance(token, str) or not LINK_TOKEN.fullmatch(token):
        raise EnvelopeError("token", "must be 43 base64url characters (32 bytes)")
    return hashlib.sha256(_LINK_PROOF_DOMAIN + token.encode("ascii")).hexdigest()


def link_commitment(token: str) -> str:
    """The hash of the link proof, which staff sign when they issue the link."""
    return commitment_of_proof(link_proof(token))


def commitment_of_proof(proof: str) -> str:
    return hashlib.sha256(bytes.fromhex(proof)).hexdigest()


# --- staff statements: what the practice signing key signs ---------------------------------

#: kind -> the fields of its statement, besides "v" and "kind" (docs/crypto.md, "Signatures").
STATEMENT_FIELDS: dict[str, tuple[str, ...]] = {
    "patient": ("id", "lookupHash", "encryptedFirstName", "encryptedLastName",
                "encryptedDateOfBirth", "encryptedEmail", "encryptedPhone"),
    "consent": ("id", "type", "patientId", "linkCommitment"),
    "treatment.plan": ("id", "patientId", "consentType", "consentFormId", "performedAt",
                       "version", "wrappedKey"),
    "photo": ("id", "patientId", "consentFormId", "type", "bodyRegion", "takenAt",
              "photoConsentGranted", "wrappedKey", "encryptedMetadata"),
    "consent.countersignature": ("consentId", "answersSha256", "wrappedKey"),
    "consent.archive": ("consentId", "wrappedKey"),
    "photo.thumbnail": ("photoId", "wrappedKey"),
}


def statement(kind: str, fields: dict[str, Any]) -> bytes:
    """The bytes a staff signature covers: the record's fields (absent ones as null) with
    the contract version and the kind, as canonical JSON (RFC 8785)."""
    names = STATEMENT_FIELDS[kind]
    unknown = set(fields) - set(names)
    if unknown:
        raise ValueError(f"{kind} statements have no fields {sorted(unknown)}")
    return canonical_json(
        {"v": CONTRACT_VERSION, "kind": kind, **{name: fields.get(name) for name in names}}
    )


def verify_statement(signing_key: bytes, kind: str, fields: dict[str, Any], signature: Any,
                     field: str = "signature") -> None:
    """Raise unless `signature` (base64) is the practice's signature of this statement."""
    raw = b64decode_strict(signature, field, exact=SIGNATURE_BYTES)
    try:
        VerifyKey(signing_key).verify(statement(kind, fields), raw)
    except BadSignatureError as exc:
        raise EnvelopeError(field, f"is not the practice's signature of this {kind}") from exc


# --- vault password change proof -----------------------------------------------------------


def seal_challenge(public_key_bytes: bytes) -> tuple[bytes, str]:
    """Issue a vault password change challenge only the holder of the secret key can open.

    Returns the plain challenge (store it, valid for ``CHALLENGE_TTL_SECONDS``, one use) and
    the sealed box to send to the client.
    """
    challenge = random_bytes(CHALLENGE_BYTES)
    sealed = SealedBox(PublicKey(public_key_bytes)).encrypt(challenge)
    return challenge, b64(sealed)


def challenge_response_ok(challenge: bytes, response_b64: Any) -> bool:
    """Compare the client's opened challenge with the stored one in constant time."""
    try:
        answer = b64decode_strict(response_b64, "challengeResponse", exact=CHALLENGE_BYTES)
    except EnvelopeError:
        return False
    return len(challenge) == CHALLENGE_BYTES and hmac.compare_digest(answer, challenge)
