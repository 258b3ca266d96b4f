"""Client-side crypto for contract version 2 (see docs/crypto.md).

Everything that needs the vault password or a practice secret key happens here, in the
client, never on the server. The Python reference client and the test suite use this module;
the browser clients use `appliance/web/src/crypto/contract.js`, and both pass the test
vectors in docs/crypto.md.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from nacl import bindings
from nacl.exceptions import BadSignatureError, CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.pwhash import argon2id
from nacl.secret import SecretBox
from nacl.signing import SigningKey, VerifyKey
from nacl.utils import random as random_bytes
from zxcvbn import zxcvbn

from appliance import envelopes as env

ByteSource = bytes | bytearray | memoryview | BinaryIO | Iterable[bytes]

_TAG_MESSAGE = bindings.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL = bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL
_CIPHER_CHUNK_BYTES = env.CHUNK_BYTES + env.STREAM_CHUNK_OVERHEAD
#: zxcvbn's top score: at least 10^10 estimated guesses.
VAULT_PASSWORD_MIN_SCORE = 4


class DecryptionError(ValueError):
    """Data did not open or did not check out; never fall back to partial or unchecked data."""


class VaultLocked(DecryptionError):
    """The vault password is wrong (or the vault envelope was altered)."""


class KeyMismatch(DecryptionError):
    """The server serves practice keys that are not the ones in the vault."""


class BindingMismatch(DecryptionError):
    """A sealed value names another field or record: it was copied from elsewhere."""


class PayloadError(DecryptionError):
    """A payload is truncated, extended, tampered with, or meant for another key, purpose or
    record."""


class SignatureInvalid(DecryptionError):
    """A staff record's signature is missing or does not match what it says."""


class WeakVaultPassword(ValueError):
    """The vault password is too easy to guess for a key that protects every patient."""


_b64 = env.b64


# --- practice keys and vault ---------------------------------------------------------------


@dataclass(frozen=True)
class PracticeKeys:
    """The practice's secret keys, as the unlocked vault holds them."""

    box: PrivateKey
    signing: SigningKey

    @property
    def public_key(self) -> str:
        return _b64(bytes(self.box.public_key))

    @property
    def signing_key(self) -> str:
        return _b64(bytes(self.signing.verify_key))


def generate_practice_keys() -> PracticeKeys:
    """The practice's key pairs; only the public halves ever reach the server in clear."""
    return PracticeKeys(PrivateKey.generate(), SigningKey.generate())


def check_vault_password(password: str, user_inputs: Iterable[str] = ()) -> None:
    """Refuse a vault password a strength estimator rates below its top score. The server
    never sees the password, so only a client can check it (at creation and change)."""
    texts = [str(text) for text in user_inputs]
    words = [word for text in texts for word in re.split(r"[\W_]+", text.lower()) if word]
    result = zxcvbn(password, user_inputs=texts + words)
    if result["score"] < VAULT_PASSWORD_MIN_SCORE:
        hint = " ".join([result["feedback"].get("warning") or "", *result["feedback"]["suggestions"]])
        raise WeakVaultPassword(f"the vault password is too weak. {hint}".strip())


def _vault_key(password: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    return argon2id.kdf(
        SecretBox.KEY_SIZE,
        password.encode("utf-8"),
        salt,
        opslimit=opslimit,
        memlimit=memlimit,
    )


def make_vault_envelope(
    keys: PracticeKeys,
    password: str,
    *,
    opslimit: int = argon2id.OPSLIMIT_INTERACTIVE,
    memlimit: int = argon2id.MEMLIMIT_INTERACTIVE,
) -> dict[str, Any]:
    """Wrap both practice secret keys with the vault password, in the form the server stores."""
    if not (
        env.VAULT_OPSLIMIT_MIN <= opslimit <= env.VAULT_OPSLIMIT_MAX
        and env.VAULT_MEMLIMIT_MIN <= memlimit <= env.VAULT_MEMLIMIT_MAX
    ):
        raise ValueError("KDF limits outside the range the server accepts")
    salt = random_bytes(env.VAULT_SALT_BYTES)
    nonce = random_bytes(env.VAULT_NONCE_BYTES)
    box = SecretBox(_vault_key(password, salt, opslimit, memlimit))
    secrets = bytes(keys.box) + bytes(keys.signing)
    return {
        "v": env.CONTRACT_VERSION,
        "kdf": env.VAULT_KDF,
        "opslimit": opslimit,
        "memlimit": memlimit,
        "salt": _b64(salt),
        "nonce": _b64(nonce),
        "ciphertext": _b64(box.encrypt(secrets, nonce).ciphertext),
    }


def unlock_vault(envelope: dict[str, Any], password: str, *, public_key: str | None = None,
                 signing_key: str | None = None) -> PracticeKeys:
    """Recover the practice keys. The envelope is checked first, so a tampered one cannot
    make the client run an absurd KDF; the keys the server serves, when given, must be the
    vault's, or the client would encrypt to (and trust signatures of) someone else's keys."""
    checked = env.validate_vault_envelope(envelope)
    salt = base64.b64decode(checked["salt"])
    nonce = base64.b64decode(checked["nonce"])
    ciphertext = base64.b64decode(checked["ciphertext"])
    box = SecretBox(_vault_key(password, salt, checked["opslimit"], checked["memlimit"]))
    try:
        secrets = box.decrypt(ciphertext, nonce)
    except CryptoError as exc:
        raise VaultLocked("wrong vault password (or the vault envelope was altered)") from exc
    keys = PracticeKeys(PrivateKey(secrets[:32]), SigningKey(secrets[32:]))
    if public_key is not None and public_key != keys.public_key:
        raise KeyMismatch("the server serves a public key that is not the vault's")
    if signing_key is not None and signing_key != keys.signing_key:
        raise KeyMismatch("the server serves a signing key that is not the vault's")
    return keys


def open_challenge(keys: PracticeKeys, sealed_b64: str) -> str:
    """Open the server's password change challenge: proof that we hold the secret key."""
    sealed = env.b64decode_strict(
        sealed_b64, "challenge", exact=env.SEAL_OVERHEAD + env.CHALLENGE_BYTES
    )
    try:
        challenge = SealedBox(keys.box).decrypt(sealed)
    except CryptoError as exc:
        raise DecryptionError("challenge was not sealed to this practice key") from exc
    return _b64(challenge)


# --- signatures ----------------------------------------------------------------------------


def sign_statement(keys: PracticeKeys, kind: str, fields: dict[str, Any]) -> str:
    """The practice's signature of a staff record (base64 of 64 bytes)."""
    return _b64(keys.signing.sign(env.statement(kind, fields)).signature)


def verify_statement(keys: PracticeKeys, kind: str, fields: dict[str, Any], signature: Any) -> None:
    """Check a staff record with the vault's own signing key, never with a key the server
    serves: a database writer could replace that one."""
    if signature is None:
        raise SignatureInvalid(f"the {kind} carries no signature")
    try:
        raw = env.b64decode_strict(signature, "signature", exact=env.SIGNATURE_BYTES)
        VerifyKey(bytes(keys.signing.verify_key)).verify(env.statement(kind, fields), raw)
    except (env.EnvelopeError, BadSignatureError) as exc:
        raise SignatureInvalid(f"the {kind} signature does not match the record") from exc


# --- sealed values -------------------------------------------------------------------------


def seal_field(public_key_b64: str, field: str, record: str, value: Any) -> str:
    """Seal a short value to the practice, bound to the field and record it is stored in."""
    public_key = PublicKey(env.validate_public_key(public_key_b64))
    document = json.dumps(
        {"v": env.CONTRACT_VERSION, "field": field, "record": env.record_id(record, "record"),
         "value": value},
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode("utf-8")
    if len(document) > env.SEALED_MAX_PLAIN:
        raise ValueError(f"{field}: more than {env.SEALED_MAX_PLAIN} bytes to seal")
    return _b64(SealedBox(public_key).encrypt(document))


def open_field(keys: PracticeKeys, field: str, record: str, sealed_b64: str) -> Any:
    """Open a sealed value and refuse it if it was sealed for another field or record."""
    sealed = env.b64decode_strict(sealed_b64, field, min_len=env.SEAL_OVERHEAD)
    try:
        plain = SealedBox(keys.box).decrypt(sealed)
    except CryptoError as exc:
        raise DecryptionError(f"{field}: does not open with this practice key") from exc
    try:
        document = json.loads(plain.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecryptionError(f"{field}: not a sealed value document") from exc
    if (
        not isinstance(document, dict)
        or set(document) != {"v", "field", "record", "value"}
        or type(document["v"]) is not int
        or document["v"] != env.CONTRACT_VERSION
        or not isinstance(document["field"], str)
        or not isinstance(document["record"], str)
    ):
        raise DecryptionError(f"{field}: not a version {env.CONTRACT_VERSION} sealed value")
    if document["field"] != field:
        raise BindingMismatch(f"{field}: sealed value belongs to field {document['field']!r}")
    if document["record"] != record:
        raise BindingMismatch(f"{field}: sealed value belongs to another record")
    return document["value"]


# --- payloads ------------------------------------------------------------------------------


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
    public_key_b64: str, plaintext: ByteSource, purpose: str, record: str
) -> tuple[str, Iterator[bytes]]:
    """Encrypt a large payload for one record without holding it in memory.

    Returns the wrapped key at once and an iterator of ciphertext pieces (header first).
    """
    ad = env.payload_ad(purpose, record)
    public_key = PublicKey(env.validate_public_key(public_key_b64))
    key = bindings.crypto_secretstream_xchacha20poly1305_keygen()
    wrapped = _b64(SealedBox(public_key).encrypt(key))
    return wrapped, _encrypt_chunks(key, plaintext, ad)


def encrypt_payload(
    public_key_b64: str, plaintext: ByteSource, purpose: str, record: str
) -> tuple[str, bytes]:
    """Encrypt a payload in one go; see ``encrypt_payload_stream``."""
    wrapped, chunks = encrypt_payload_stream(public_key_b64, plaintext, purpose, record)
    return wrapped, b"".join(chunks)


def _unwrap_key(keys: PracticeKeys, wrapped_key_b64: str) -> bytes:
    wrapped = env.validate_wrapped_key(wrapped_key_b64)
    try:
        return SealedBox(keys.box).decrypt(wrapped)
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
                "(tampered, cut, extended, wrong key, purpose or record)"
            ) from exc
        if last and tag != _TAG_FINAL:
            raise PayloadError("truncated: the stream ends without a final chunk")
        if not last and tag == _TAG_FINAL:
            raise PayloadError("trailing data after the final chunk")
        if not last and tag != _TAG_MESSAGE:
            raise PayloadError(f"chunk {index} has an unexpected tag {tag}")
        yield plain


def decrypt_payload_stream(
    keys: PracticeKeys, wrapped_key_b64: str, ciphertext: ByteSource, purpose: str, record: str
) -> Iterator[bytes]:
    """Decrypt a payload piece by piece, from input cut at arbitrary boundaries.

    Each yielded piece is authenticated, but only an iterator that finishes without error
    proves the payload complete: discard what was yielded when it raises ``PayloadError``.
    The wrapped key is opened before returning, so a wrong key fails at the call.
    """
    ad = env.payload_ad(purpose, record)
    key = _unwrap_key(keys, wrapped_key_b64)
    return _decrypt_chunks(key, ciphertext, ad)


def decrypt_payload(
    keys: PracticeKeys, wrapped_key_b64: str, ciphertext: ByteSource, purpose: str, record: str
) -> bytes:
    """Decrypt a whole payload; see ``decrypt_payload_stream``."""
    return b"".join(decrypt_payload_stream(keys, wrapped_key_b64, ciphertext, purpose, record))
