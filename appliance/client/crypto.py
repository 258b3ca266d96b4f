"""Client-side crypto for contract version 1 (see docs/crypto.md).

Everything that needs the vault password or the practice secret key happens here, in the
client, never on the server. The Python reference client and the test suite use this module;
browser clients implement the same contract and are checked against the test vectors in
docs/crypto.md.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any, BinaryIO

from nacl import bindings
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.pwhash import argon2id
from nacl.secret import SecretBox
from nacl.utils import random as random_bytes

from appliance import envelopes as env

ByteSource = bytes | bytearray | memoryview | BinaryIO | Iterable[bytes]

_TAG_MESSAGE = bindings.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL = bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL
_CIPHER_CHUNK_BYTES = env.CHUNK_BYTES + env.STREAM_CHUNK_OVERHEAD

# The Unicode White_Space property, spelled out so other clients (JavaScript's \s differs)
# collapse exactly the same characters.
_WHITESPACE = re.compile(
    r"[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"
)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class DecryptionError(ValueError):
    """Data did not open; callers must never fall back to partial or unchecked plaintext."""


class VaultLocked(DecryptionError):
    """The vault password is wrong (or the vault envelope was altered)."""


class FieldMismatch(DecryptionError):
    """A sealed value names another field: it was copied from elsewhere."""


class PayloadError(DecryptionError):
    """A payload is truncated, extended, tampered with, or meant for another key or purpose."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# --- practice keys and vault ---------------------------------------------------------------


def generate_practice_keys() -> tuple[str, PrivateKey]:
    """Create the practice key pair; only the public half ever reaches the server in clear."""
    private_key = PrivateKey.generate()
    return _b64(bytes(private_key.public_key)), private_key


def _vault_key(password: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    return argon2id.kdf(
        SecretBox.KEY_SIZE,
        password.encode("utf-8"),
        salt,
        opslimit=opslimit,
        memlimit=memlimit,
    )


def make_vault_envelope(
    private_key: PrivateKey,
    password: str,
    *,
    opslimit: int = argon2id.OPSLIMIT_INTERACTIVE,
    memlimit: int = argon2id.MEMLIMIT_INTERACTIVE,
) -> dict[str, Any]:
    """Wrap the practice secret key with the vault password, in the form the server stores."""
    if not (
        env.VAULT_OPSLIMIT_MIN <= opslimit <= env.VAULT_OPSLIMIT_MAX
        and env.VAULT_MEMLIMIT_MIN <= memlimit <= env.VAULT_MEMLIMIT_MAX
    ):
        raise ValueError("KDF limits outside the range the server accepts")
    salt = random_bytes(env.VAULT_SALT_BYTES)
    nonce = random_bytes(env.VAULT_NONCE_BYTES)
    box = SecretBox(_vault_key(password, salt, opslimit, memlimit))
    return {
        "v": env.CONTRACT_VERSION,
        "kdf": env.VAULT_KDF,
        "opslimit": opslimit,
        "memlimit": memlimit,
        "salt": _b64(salt),
        "nonce": _b64(nonce),
        "ciphertext": _b64(box.encrypt(bytes(private_key), nonce).ciphertext),
    }


def unlock_vault(envelope: dict[str, Any], password: str) -> PrivateKey:
    """Recover the practice secret key; the envelope is checked first so a tampered one
    cannot make the client run an absurd KDF."""
    checked = env.validate_vault_envelope(envelope)
    salt = base64.b64decode(checked["salt"])
    nonce = base64.b64decode(checked["nonce"])
    ciphertext = base64.b64decode(checked["ciphertext"])
    box = SecretBox(_vault_key(password, salt, checked["opslimit"], checked["memlimit"]))
    try:
        secret = box.decrypt(ciphertext, nonce)
    except CryptoError as exc:
        raise VaultLocked("wrong vault password (or the vault envelope was altered)") from exc
    return PrivateKey(secret)


def open_challenge(private_key: PrivateKey, sealed_b64: str) -> str:
    """Open the server's password change challenge: proof that we hold the secret key."""
    sealed = env.b64decode_strict(
        sealed_b64, "challenge", exact=env.SEAL_OVERHEAD + env.CHALLENGE_BYTES
    )
    try:
        challenge = SealedBox(private_key).decrypt(sealed)
    except CryptoError as exc:
        raise DecryptionError("challenge was not sealed to this practice key") from exc
    return _b64(challenge)


# --- sealed values -------------------------------------------------------------------------


def seal_field(public_key_b64: str, field: str, value: Any) -> str:
    """Seal a short value to the practice; the field name inside binds it to its place."""
    public_key = PublicKey(env.validate_public_key(public_key_b64))
    document = json.dumps(
        {"v": env.CONTRACT_VERSION, "field": field, "value": value},
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode("utf-8")
    return _b64(SealedBox(public_key).encrypt(document))


def open_field(private_key: PrivateKey, field: str, sealed_b64: str) -> Any:
    """Open a sealed value and refuse it if it was sealed for another field."""
    sealed = env.b64decode_strict(sealed_b64, field, min_len=env.SEAL_OVERHEAD)
    try:
        plain = SealedBox(private_key).decrypt(sealed)
    except CryptoError as exc:
        raise DecryptionError(f"{field}: does not open with this practice key") from exc
    try:
        document = json.loads(plain.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecryptionError(f"{field}: not a sealed value document") from exc
    if (
        not isinstance(document, dict)
        or set(document) != {"v", "field", "value"}
        or type(document["v"]) is not int
        or document["v"] != env.CONTRACT_VERSION
        or not isinstance(document["field"], str)
    ):
        raise DecryptionError(f"{field}: not a version {env.CONTRACT_VERSION} sealed value")
    if document["field"] != field:
        raise FieldMismatch(f"{field}: sealed value belongs to field {document['field']!r}")
    return document["value"]


# --- payloads ------------------------------------------------------------------------------


def _purpose_ad(purpose: str) -> bytes:
    if purpose not in env.PURPOSES:
        raise ValueError(f"unknown payload purpose {purpose!r}")
    return purpose.encode("utf-8")


def _pieces(source: ByteSource) -> Iterator[bytes]:
    """Yield the bytes of a buffer, a binary file or an iterable of byte chunks."""
    if isinstance(source, bytes | bytearray | memoryview):
        yield bytes(source)
    elif hasattr(source, "read"):
        while piece := source.read(env.CHUNK_BYTES):
            yield bytes(piece)
    else:
        for piece in source:
            yield bytes(piece)


def _frames(pieces: Iterable[bytes], size: int) -> Iterator[tuple[bytes, bool]]:
    """Re-cut pieces into frames of ``size`` bytes, flagging the last one.

    A frame is only emitted as not-last once more bytes follow it, so the last frame holds
    0..size bytes and is empty only if there were no bytes at all.
    """
    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        start = 0
        while len(buffer) - start > size:
            yield bytes(buffer[start : start + size]), False
            start += size
        del buffer[:start]
    yield bytes(buffer), True


def _encrypt_chunks(key: bytes, plaintext: ByteSource, ad: bytes) -> Iterator[bytes]:
    state = bindings.crypto_secretstream_xchacha20poly1305_state()
    yield bindings.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    for frame, last in _frames(_pieces(plaintext), env.CHUNK_BYTES):
        tag = _TAG_FINAL if last else _TAG_MESSAGE
        yield bindings.crypto_secretstream_xchacha20poly1305_push(state, frame, ad, tag)


def encrypt_payload_stream(
    public_key_b64: str, plaintext: ByteSource, purpose: str
) -> tuple[str, Iterator[bytes]]:
    """Encrypt a large payload without holding it in memory.

    Returns the wrapped key at once and an iterator of ciphertext pieces (header first).
    """
    ad = _purpose_ad(purpose)
    public_key = PublicKey(env.validate_public_key(public_key_b64))
    key = bindings.crypto_secretstream_xchacha20poly1305_keygen()
    wrapped = _b64(SealedBox(public_key).encrypt(key))
    return wrapped, _encrypt_chunks(key, plaintext, ad)


def encrypt_payload(public_key_b64: str, plaintext: ByteSource, purpose: str) -> tuple[str, bytes]:
    """Encrypt a payload in one go; see ``encrypt_payload_stream``."""
    wrapped, chunks = encrypt_payload_stream(public_key_b64, plaintext, purpose)
    return wrapped, b"".join(chunks)


def _unwrap_key(private_key: PrivateKey, wrapped_key_b64: str) -> bytes:
    wrapped = env.validate_wrapped_key(wrapped_key_b64)
    try:
        return SealedBox(private_key).decrypt(wrapped)
    except CryptoError as exc:
        raise PayloadError("wrappedKey: does not open with this practice key") from exc


def _split_header(pieces: Iterator[bytes]) -> tuple[bytes, Iterator[bytes]]:
    head = b""
    for piece in pieces:
        head += piece
        if len(head) >= env.STREAM_HEADER_BYTES:
            break
    if len(head) < env.STREAM_HEADER_BYTES:
        raise PayloadError("truncated: incomplete stream header")
    rest = itertools.chain([head[env.STREAM_HEADER_BYTES :]], pieces)
    return head[: env.STREAM_HEADER_BYTES], rest


def _decrypt_chunks(key: bytes, ciphertext: ByteSource, ad: bytes) -> Iterator[bytes]:
    header, rest = _split_header(_pieces(ciphertext))
    state = bindings.crypto_secretstream_xchacha20poly1305_state()
    bindings.crypto_secretstream_xchacha20poly1305_init_pull(state, header, key)
    for index, (frame, last) in enumerate(_frames(rest, _CIPHER_CHUNK_BYTES)):
        if not frame:
            raise PayloadError("truncated: no chunk after the stream header")
        if len(frame) < env.STREAM_CHUNK_OVERHEAD:
            raise PayloadError("truncated: incomplete last chunk")
        try:
            plain, tag = bindings.crypto_secretstream_xchacha20poly1305_pull(state, frame, ad)
        except CryptoError as exc:
            raise PayloadError(
                f"chunk {index} failed authentication "
                "(tampered, cut, extended, wrong key or wrong purpose)"
            ) from exc
        if last and tag != _TAG_FINAL:
            raise PayloadError("truncated: the stream ends without a final chunk")
        if not last and tag == _TAG_FINAL:
            raise PayloadError("trailing data after the final chunk")
        if not last and tag != _TAG_MESSAGE:
            raise PayloadError(f"chunk {index} has an unexpected tag {tag}")
        yield plain


def decrypt_payload_stream(
    private_key: PrivateKey, wrapped_key_b64: str, ciphertext: ByteSource, purpose: str
) -> Iterator[bytes]:
    """Decrypt a payload piece by piece, from input cut at arbitrary boundaries.

    Each yielded piece is authenticated, but only an iterator that finishes without error
    proves the payload complete: discard what was yielded when it raises ``PayloadError``.
    The wrapped key is opened before returning, so a wrong key fails at the call.
    """
    ad = _purpose_ad(purpose)
    key = _unwrap_key(private_key, wrapped_key_b64)
    return _decrypt_chunks(key, ciphertext, ad)


def decrypt_payload(
    private_key: PrivateKey, wrapped_key_b64: str, ciphertext: ByteSource, purpose: str
) -> bytes:
    """Decrypt a whole payload; see ``decrypt_payload_stream``."""
    return b"".join(decrypt_payload_stream(private_key, wrapped_key_b64, ciphertext, purpose))


# --- lookupHash ----------------------------------------------------------------------------


def _normalise_name(value: str, field: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string")
    folded = unicodedata.normalize("NFKC", value).casefold()
    name = _WHITESPACE.sub(" ", folded).strip(" ")
    if not name:
        raise ValueError(f"{field} must not be empty")
    if "|" in name:
        raise ValueError(f"{field} must not contain '|' (it separates the parts)")
    return name


def normalise_identity(last_name: str, first_name: str, date_of_birth: str) -> str:
    """Spell a patient identity one way, so every client finds the same patient."""
    if not isinstance(date_of_birth, str) or not _ISO_DATE.fullmatch(date_of_birth):
        raise ValueError("date_of_birth must be written YYYY-MM-DD")
    try:
        date.fromisoformat(date_of_birth)
    except ValueError as exc:
        raise ValueError("date_of_birth is not a real date") from exc
    last = _normalise_name(last_name, "last_name")
    first = _normalise_name(first_name, "first_name")
    return f"{last}|{first}|{date_of_birth}"


def lookup_hash(lookup_salt_b64: str, last_name: str, first_name: str, date_of_birth: str) -> str:
    """Derive the lookupHash: salted per practice and slow, because names x birth dates is
    a small space that a fast hash would give away to anyone holding the database."""
    salt = env.b64decode_strict(lookup_salt_b64, "lookupSalt", exact=env.LOOKUP_SALT_BYTES)
    identity = normalise_identity(last_name, first_name, date_of_birth)
    digest = argon2id.kdf(
        env.LOOKUP_HASH_BYTES,
        identity.encode("utf-8"),
        salt,
        opslimit=env.LOOKUP_OPSLIMIT,
        memlimit=env.LOOKUP_MEMLIMIT,
    )
    return digest.hex()
