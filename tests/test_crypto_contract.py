"""Crypto contract v2 (docs/crypto.md): what clients produce opens, what is altered or moved to
another field, record or purpose is refused, and the server's checks refuse malformed keys,
envelopes and signatures naming the offending field."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import uuid

import pytest
from nacl.public import SealedBox
from nacl.pwhash import argon2id

from appliance import envelopes as env
from appliance.client import crypto

CHUNK = env.CHUNK_BYTES
CIPHER_CHUNK = CHUNK + env.STREAM_CHUNK_OVERHEAD
HEADER = env.STREAM_HEADER_BYTES


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def pattern(size: int) -> bytes:
    return bytes(i % 251 for i in range(size))


RECORD = str(uuid.uuid4())
OTHER = str(uuid.uuid4())


@pytest.fixture(scope="module")
def keys() -> crypto.PracticeKeys:
    return crypto.generate_practice_keys()


@pytest.fixture(scope="module")
def practice(keys: crypto.PracticeKeys) -> tuple[str, crypto.PracticeKeys]:
    """(public key, keys): what most tests need of a practice."""
    return keys.public_key, keys


@pytest.fixture(scope="module")
def vault(keys: crypto.PracticeKeys) -> dict:
    return crypto.make_vault_envelope(keys, "Vault-Passwort ÄÖÜß")


def field_of(excinfo: pytest.ExceptionInfo[env.EnvelopeError]) -> str:
    return excinfo.value.field


# --- strict base64 -------------------------------------------------------------------------


def test_strict_base64_accepts_canonical_padded_base64() -> None:
    raw = bytes(range(256))
    assert env.b64decode_strict(b64(raw), "x") == raw
    assert env.b64decode_strict("", "x") == b""


@pytest.mark.parametrize(
    "value",
    [
        b"AAAA",  # bytes, not str
        None,
        1234,
        "+/-_",  # urlsafe characters
        "-_8A",
        "AAAA AAAA",  # whitespace
        "AAAA\n",
        "AAAAAA",  # missing padding
        "AA=",
        "AB==",  # non-canonical trailing bits
        "A===",
        "=AAA",
        "!!!!",
    ],
)
def test_strict_base64_refuses_other_spellings(value: object) -> None:
    with pytest.raises(env.EnvelopeError) as excinfo:
        env.b64decode_strict(value, "salt")
    assert field_of(excinfo) == "salt"
    assert isinstance(excinfo.value, ValueError)


def test_strict_base64_checks_decoded_length() -> None:
    value = b64(bytes(10))
    assert env.b64decode_strict(value, "x", exact=10, min_len=10, max_len=10) == bytes(10)
    for kwargs in ({"exact": 11}, {"min_len": 11}, {"max_len": 9}):
        with pytest.raises(env.EnvelopeError) as excinfo:
            env.b64decode_strict(value, "x", **kwargs)
        assert excinfo.value.problem.startswith("must be base64 of")


def test_a_payload_sent_as_base64_is_decoded_strictly_then_bounded() -> None:
    good = b64(bytes(41))
    assert env.decode_payload(good, "encryptedAnswers", max_bytes=100) == bytes(41)
    for value in (good.rstrip("="), b64(bytes(40)), b64(bytes(101)), "AB==" * 20):
        with pytest.raises(env.EnvelopeError) as excinfo:
            env.decode_payload(value, "encryptedAnswers", max_bytes=100)
        assert excinfo.value.field == "encryptedAnswers"


# --- practice keys -------------------------------------------------------------------------

P = 2**255 - 19


def test_generated_public_keys_are_prime_order_points(keys: crypto.PracticeKeys) -> None:
    for _ in range(20):
        public = crypto.generate_practice_keys().public_key
        assert env.validate_public_key(public) == base64.b64decode(public)
    assert env.validate_signing_key(keys.signing_key) == bytes(keys.signing.verify_key)


def _point(u: int) -> bytes:
    return u.to_bytes(32, "little")


LOW_ORDER = [
    bytes(32), _point(1), _point(P - 1),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
]


@pytest.mark.parametrize("raw", LOW_ORDER)
def test_low_order_public_keys_are_refused_in_every_spelling(raw: bytes) -> None:
    """`01 00..00` was accepted by contract v1: sealing to it protects nothing."""
    with pytest.raises(env.EnvelopeError, match="low-order"):
        env.validate_public_key(b64(raw))
    with pytest.raises(env.EnvelopeError, match="top bit"):
        env.validate_public_key(b64(raw[:31] + bytes([raw[31] | 0x80])))


def test_twist_mixed_order_and_non_canonical_public_keys_are_refused(keys: crypto.PracticeKeys) -> None:
    u = int.from_bytes(base64.b64decode(keys.public_key), "little")
    cases = {
        _point(2): "twist",  # 2 is not the u of a curve point
        _point(pow(u, P - 2, P)): "prime-order subgroup",  # the key plus the point of order 2
        _point(P): "canonical", _point(P + 1): "canonical", b"\xff" * 31 + b"\x7f": "canonical",
    }
    for raw, problem in cases.items():
        with pytest.raises(env.EnvelopeError, match=problem):
            env.validate_public_key(b64(raw))


@pytest.mark.parametrize("raw", [bytes(range(31)), bytes(range(33))])
def test_public_key_of_wrong_length_is_refused(raw: bytes) -> None:
    with pytest.raises(env.EnvelopeError) as excinfo:
        env.validate_public_key(b64(raw))
    assert (excinfo.value.field, excinfo.value.problem) == ("publicKey", "must be base64 of 32 bytes")


def test_signing_keys_must_be_prime_order_ed25519_points() -> None:
    for raw in (bytes(32), b"\x01" + bytes(31), b"\xff" * 32, b"\xec" + b"\xff" * 30 + b"\x7f"):
        with pytest.raises(env.EnvelopeError) as excinfo:
            env.validate_signing_key(b64(raw))
        assert excinfo.value.field == "signingKey"


def test_the_key_fingerprint_is_16_bytes_of_a_domain_separated_hash(keys: crypto.PracticeKeys) -> None:
    fingerprint = env.key_fingerprint(keys.public_key)
    assert env.KEY_FINGERPRINT.fullmatch(fingerprint)
    digest = hashlib.sha256(b"appliance/2/key-fingerprint\x00" + base64.b64decode(keys.public_key)).digest()
    assert base64.urlsafe_b64decode(fingerprint + "==") == digest[:16]
    assert env.key_fingerprint(crypto.generate_practice_keys().public_key) != fingerprint


# --- vault envelope ------------------------------------------------------------------------


def test_vault_round_trip_holds_both_keys(keys: crypto.PracticeKeys, vault: dict) -> None:
    unlocked = crypto.unlock_vault(vault, "Vault-Passwort ÄÖÜß", public_key=keys.public_key,
                                   signing_key=keys.signing_key)
    assert unlocked == keys
    assert len(base64.b64decode(vault["ciphertext"])) == 80


def test_unlocking_refuses_served_keys_that_are_not_the_vaults(keys: crypto.PracticeKeys,
                                                               vault: dict) -> None:
    stranger = crypto.generate_practice_keys()
    with pytest.raises(crypto.KeyMismatch, match="public key"):
        crypto.unlock_vault(vault, "Vault-Passwort ÄÖÜß", public_key=stranger.public_key)
    with pytest.raises(crypto.KeyMismatch, match="signing key"):
        crypto.unlock_vault(vault, "Vault-Passwort ÄÖÜß", public_key=keys.public_key,
                            signing_key=stranger.signing_key)


def test_vault_envelope_from_client_passes_server_validation(vault: dict) -> None:
    checked = env.validate_vault_envelope(vault)
    assert checked == vault and checked is not vault
    assert json.loads(json.dumps(checked)) == checked
    assert (vault["v"], vault["opslimit"], vault["memlimit"]) == (2, 2, argon2id.MEMLIMIT_INTERACTIVE)


def test_wrong_vault_password_is_reported_as_locked(vault: dict) -> None:
    with pytest.raises(crypto.VaultLocked):
        crypto.unlock_vault(vault, "vault-passwort äöüß")


def test_vault_envelopes_use_fresh_salt_and_nonce(keys: crypto.PracticeKeys) -> None:
    first = crypto.make_vault_envelope(keys, "pw")
    second = crypto.make_vault_envelope(keys, "pw")
    assert first["salt"] != second["salt"] and first["nonce"] != second["nonce"]


def test_the_kdf_limits_stay_usable_in_a_browser(keys: crypto.PracticeKeys) -> None:
    """At most 256 MiB and 4 passes: what WebAssembly Argon2id runs in seconds (1 GiB took
    13-34 s); at least libsodium's INTERACTIVE limits."""
    assert (env.VAULT_OPSLIMIT_MIN, env.VAULT_OPSLIMIT_MAX) == (2, 4)
    assert (env.VAULT_MEMLIMIT_MIN, env.VAULT_MEMLIMIT_MAX) == (64 * 2**20, 256 * 2**20)
    for limits in ({"opslimit": 1}, {"opslimit": 5}, {"memlimit": 256 * 2**20 + 1},
                   {"memlimit": argon2id.MEMLIMIT_SENSITIVE}):
        with pytest.raises(ValueError, match="KDF limits"):
            crypto.make_vault_envelope(keys, "pw", **limits)


def test_client_checks_the_envelope_before_running_the_kdf(vault: dict) -> None:
    with pytest.raises(env.EnvelopeError) as excinfo:
        crypto.unlock_vault({**vault, "memlimit": 2**40}, "Vault-Passwort ÄÖÜß")
    assert excinfo.value.field == "memlimit"


def _with(vault: dict, **changes: object) -> dict:
    return {**vault, **changes}


BAD_VAULTS = [
    ("salt", lambda v: _with(v, salt=b64(bytes(15)))),
    ("salt", lambda v: _with(v, salt="not base64!!")),
    ("salt", lambda v: _with(v, salt=b64(bytes(16)).rstrip("="))),
    ("nonce", lambda v: _with(v, nonce=b64(bytes(23)))),
    ("nonce", lambda v: _with(v, nonce=None)),
    ("ciphertext", lambda v: _with(v, ciphertext=b64(bytes(48)))),  # one key: a v1 envelope
    ("ciphertext", lambda v: _with(v, ciphertext=b64(bytes(96)))),
    ("opslimit", lambda v: _with(v, opslimit=1)),
    ("opslimit", lambda v: _with(v, opslimit=5)),
    ("opslimit", lambda v: _with(v, opslimit=True)),
    ("opslimit", lambda v: _with(v, opslimit="2")),
    ("opslimit", lambda v: _with(v, opslimit=2.0)),
    ("memlimit", lambda v: _with(v, memlimit=argon2id.MEMLIMIT_INTERACTIVE - 1)),
    ("memlimit", lambda v: _with(v, memlimit=256 * 2**20 + 1)),
    ("memlimit", lambda v: _with(v, memlimit=float(argon2id.MEMLIMIT_INTERACTIVE))),
    ("v", lambda v: _with(v, v=1)),
    ("v", lambda v: _with(v, v=True)),
    ("v", lambda v: _with(v, v=2.0)),
    ("v", lambda v: _with(v, v="2")),
    ("kdf", lambda v: _with(v, kdf="scrypt")),
    ("hint", lambda v: _with(v, hint="name of the cat")),
    ("salt", lambda v: {k: x for k, x in v.items() if k != "salt"}),
    ("vault", lambda v: [v]),
    ("vault", lambda v: json.dumps(v)),
]


@pytest.mark.parametrize(("field", "spoil"), BAD_VAULTS)
def test_malformed_vault_envelope_is_refused_naming_the_field(vault: dict, field: str, spoil) -> None:
    with pytest.raises(env.EnvelopeError) as excinfo:
        env.validate_vault_envelope(spoil(vault))
    assert excinfo.value.field == field


@pytest.mark.parametrize("password", ["pw", "Praxis2026!", "passwort123", "Sommer2026"])
def test_weak_vault_passwords_are_refused(password: str) -> None:
    with pytest.raises(crypto.WeakVaultPassword):
        crypto.check_vault_password(password)


def test_strong_vault_passwords_pass_and_the_practices_own_words_do_not_count() -> None:
    crypto.check_vault_password("Tresor im Keller, 2026!")
    crypto.check_vault_password("praxisberger!köln")
    with pytest.raises(crypto.WeakVaultPassword):
        crypto.check_vault_password("praxisberger!köln", ["Praxis Berger", "kontakt@koeln.example", "köln"])


# --- sealed values -------------------------------------------------------------------------


def test_sealed_field_round_trip(practice: tuple[str, crypto.PracticeKeys]) -> None:
    public_b64, keys = practice
    for value in ["Weiß-Müller", "", {"street": "Königsallee 1", "zip": "40212"}, None, 42]:
        sealed = crypto.seal_field(public_b64, "patient.lastName", RECORD, value)
        env.validate_sealed_value(sealed, "lastName")
        assert crypto.open_field(keys, "patient.lastName", RECORD, sealed) == value


def test_sealed_plaintext_is_compact_utf8_json_naming_field_and_record(
    practice: tuple[str, crypto.PracticeKeys],
) -> None:
    public_b64, keys = practice
    sealed = crypto.seal_field(public_b64, "patient.lastName", RECORD, "Weiß")
    plain = SealedBox(keys.box).decrypt(base64.b64decode(sealed))
    assert plain == f'{{"v":2,"field":"patient.lastName","record":"{RECORD}","value":"Weiß"}}'.encode()


def test_a_sealed_value_moved_to_another_field_or_record_is_detected(
    practice: tuple[str, crypto.PracticeKeys],
) -> None:
    public_b64, keys = practice
    sealed = crypto.seal_field(public_b64, "patient.firstName", RECORD, "Anna")
    with pytest.raises(crypto.BindingMismatch, match="field"):
        crypto.open_field(keys, "patient.lastName", RECORD, sealed)
    with pytest.raises(crypto.BindingMismatch, match="record"):
        crypto.open_field(keys, "patient.firstName", OTHER, sealed)


def test_sealed_value_for_another_practice_does_not_open(practice: tuple[str, crypto.PracticeKeys]) -> None:
    sealed = crypto.seal_field(crypto.generate_practice_keys().public_key, "patient.lastName", RECORD, "Anna")
    with pytest.raises(crypto.DecryptionError) as excinfo:
        crypto.open_field(practice[1], "patient.lastName", RECORD, sealed)
    assert not isinstance(excinfo.value, crypto.BindingMismatch)


@pytest.mark.parametrize("plain", [b'"Anna"', b'{"v":1,"field":"patient.lastName","value":"Anna"}',
                                   b'{"v":2,"field":"patient.lastName","value":"Anna"}'])
def test_sealed_documents_of_another_shape_are_refused(practice: tuple[str, crypto.PracticeKeys],
                                                       plain: bytes) -> None:
    keys = practice[1]
    bare = SealedBox(keys.box.public_key).encrypt(plain)
    with pytest.raises(crypto.DecryptionError, match="not a version 2 sealed value"):
        crypto.open_field(keys, "patient.lastName", RECORD, b64(bare))


def test_sealing_refuses_bad_keys_records_and_oversized_values(practice: tuple[str,
                                                                               crypto.PracticeKeys]) -> None:
    with pytest.raises(env.EnvelopeError):
        crypto.seal_field(b64(b"\x01" + bytes(31)), "patient.lastName", RECORD, "Anna")
    with pytest.raises(env.EnvelopeError):
        crypto.seal_field(practice[0], "patient.lastName", RECORD.upper(), "Anna")
    with pytest.raises(ValueError, match="2048"):
        crypto.seal_field(practice[0], "photo.metadata", RECORD, "x" * 2048)


def test_sealed_value_length_bounds() -> None:
    assert env.validate_sealed_value(b64(bytes(50)), "note") == bytes(50)
    assert env.validate_sealed_value(b64(bytes(48 + 2048)), "note") == bytes(48 + 2048)
    for size in (0, 49, 48 + 2049):
        with pytest.raises(env.EnvelopeError) as excinfo:
            env.validate_sealed_value(b64(bytes(size)), "note")
        assert excinfo.value.field == "note"


# --- payloads ------------------------------------------------------------------------------


def test_the_additional_data_names_version_purpose_and_record() -> None:
    assert env.payload_ad("photo", RECORD) == f"appliance/2/photo/{RECORD}".encode()
    for purpose, record in (("logo", RECORD), ("photos", RECORD), ("photo", RECORD.upper()), ("photo", "x")):
        with pytest.raises(ValueError):
            env.payload_ad(purpose, record)


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 100])
def test_payload_round_trip_and_framing(practice: tuple[str, crypto.PracticeKeys], size: int) -> None:
    public_b64, keys = practice
    plaintext = pattern(size)
    wrapped, ciphertext = crypto.encrypt_payload(public_b64, plaintext, env.PURPOSE_PHOTO, RECORD)
    assert len(ciphertext) == env.payload_size(size)
    assert env.validate_wrapped_key(wrapped)
    assert crypto.decrypt_payload(keys, wrapped, ciphertext, env.PURPOSE_PHOTO, RECORD) == plaintext


def test_a_payload_moved_to_another_record_or_purpose_does_not_open(
    practice: tuple[str, crypto.PracticeKeys],
) -> None:
    public_b64, keys = practice
    wrapped, ciphertext = crypto.encrypt_payload(public_b64, b"plan", env.PURPOSE_TREATMENT_PLAN, RECORD)
    for purpose, record in ((env.PURPOSE_TREATMENT_PLAN, OTHER), (env.PURPOSE_CONSENT_ANSWERS, RECORD)):
        with pytest.raises(crypto.PayloadError, match="purpose or record"):
            crypto.decrypt_payload(keys, wrapped, ciphertext, purpose, record)


def test_payload_keys_are_fresh_per_payload(practice: tuple[str, crypto.PracticeKeys]) -> None:
    first = crypto.encrypt_payload(practice[0], b"same", env.PURPOSE_PHOTO, RECORD)
    second = crypto.encrypt_payload(practice[0], b"same", env.PURPOSE_PHOTO, RECORD)
    assert first[0] != second[0] and first[1] != second[1]


def test_payload_encrypts_from_iterables_and_files(practice: tuple[str, crypto.PracticeKeys]) -> None:
    public_b64, keys = practice
    plaintext = pattern(2 * CHUNK + 777)
    pieces = [plaintext[i : i + 1000] for i in range(0, len(plaintext), 1000)]
    for source in (pieces, iter(pieces), io.BytesIO(plaintext), bytearray(plaintext)):
        wrapped, stream = crypto.encrypt_payload_stream(public_b64, source, env.PURPOSE_PHOTO, RECORD)
        out = list(stream)
        assert [len(c) for c in out] == [HEADER, CIPHER_CHUNK, CIPHER_CHUNK, 777 + 17]
        assert crypto.decrypt_payload(keys, wrapped, b"".join(out), "photo", RECORD) == plaintext


@pytest.mark.parametrize("seed", range(4))
def test_streaming_decrypt_accepts_arbitrarily_rechunked_input(
    practice: tuple[str, crypto.PracticeKeys], seed: int
) -> None:
    public_b64, keys = practice
    plaintext = pattern(3 * CHUNK + 4321)
    wrapped, ciphertext = crypto.encrypt_payload(public_b64, plaintext, env.PURPOSE_AUDIT_EXPORT, RECORD)
    rng = random.Random(seed)
    sizes = [1, 7, 17, 24, 25, CIPHER_CHUNK - 1, CIPHER_CHUNK, CIPHER_CHUNK + 1, 100_000]
    pieces, at = [], 0
    while at < len(ciphertext):
        step = rng.choice(sizes)
        pieces.append(ciphertext[at : at + step])
        at += step
    out = crypto.decrypt_payload_stream(keys, wrapped, iter(pieces), "audit.export", RECORD)
    assert b"".join(out) == plaintext


def test_decryptor_accepts_an_empty_final_chunk_after_full_chunks(
    practice: tuple[str, crypto.PracticeKeys],
) -> None:
    """A writer that does not know the length ends with an empty FINAL chunk."""
    from nacl import bindings as b

    keys = practice[1]
    key = b.crypto_secretstream_xchacha20poly1305_keygen()
    state = b.crypto_secretstream_xchacha20poly1305_state()
    ad = env.payload_ad("photo", RECORD)
    ciphertext = b.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    ciphertext += b.crypto_secretstream_xchacha20poly1305_push(state, pattern(CHUNK), ad, 0)
    ciphertext += b.crypto_secretstream_xchacha20poly1305_push(
        state, b"", ad, b.crypto_secretstream_xchacha20poly1305_TAG_FINAL
    )
    assert len(ciphertext) == env.payload_limit(CHUNK)
    wrapped = b64(SealedBox(keys.box.public_key).encrypt(key))
    assert crypto.decrypt_payload(keys, wrapped, ciphertext, "photo", RECORD) == pattern(CHUNK)


@pytest.fixture(scope="module")
def two_chunk_payload(practice: tuple[str, crypto.PracticeKeys]) -> tuple[str, bytes]:
    return crypto.encrypt_payload(practice[0], pattern(CHUNK + 100), env.PURPOSE_TREATMENT_PLAN, RECORD)


@pytest.mark.parametrize(
    "cut", [0, 10, HEADER, HEADER + 5, HEADER + CIPHER_CHUNK, HEADER + CIPHER_CHUNK + 16, -1]
)
def test_truncated_payload_is_refused(
    practice: tuple[str, crypto.PracticeKeys], two_chunk_payload: tuple[str, bytes], cut: int
) -> None:
    wrapped, ciphertext = two_chunk_payload
    with pytest.raises(crypto.PayloadError):
        crypto.decrypt_payload(practice[1], wrapped, ciphertext[:cut], "treatment.plan", RECORD)


def test_payload_cut_at_a_chunk_boundary_is_reported_as_truncated(
    practice: tuple[str, crypto.PracticeKeys], two_chunk_payload: tuple[str, bytes]
) -> None:
    wrapped, ciphertext = two_chunk_payload
    with pytest.raises(crypto.PayloadError, match="without a final chunk"):
        crypto.decrypt_payload(practice[1], wrapped, ciphertext[: HEADER + CIPHER_CHUNK],
                               "treatment.plan", RECORD)


@pytest.mark.parametrize("extra", [b"\x00", bytes(17), bytes(CIPHER_CHUNK)])
def test_trailing_data_after_the_final_chunk_is_refused(
    practice: tuple[str, crypto.PracticeKeys], two_chunk_payload: tuple[str, bytes], extra: bytes
) -> None:
    wrapped, ciphertext = two_chunk_payload
    with pytest.raises(crypto.PayloadError):
        crypto.decrypt_payload(practice[1], wrapped, ciphertext + extra, "treatment.plan", RECORD)


def test_trailing_data_after_a_full_final_chunk_is_named(practice: tuple[str, crypto.PracticeKeys]) -> None:
    public_b64, keys = practice
    wrapped, ciphertext = crypto.encrypt_payload(public_b64, pattern(CHUNK), "photo", RECORD)
    with pytest.raises(crypto.PayloadError, match="trailing data"):
        crypto.decrypt_payload(keys, wrapped, ciphertext + bytes(40), "photo", RECORD)


@pytest.mark.parametrize("position", [0, HEADER - 1, HEADER, HEADER + 1000, -1])
def test_tampered_payload_is_refused(
    practice: tuple[str, crypto.PracticeKeys], two_chunk_payload: tuple[str, bytes], position: int
) -> None:
    wrapped, ciphertext = two_chunk_payload
    spoiled = bytearray(ciphertext)
    spoiled[position] ^= 0x01
    with pytest.raises(crypto.PayloadError):
        crypto.decrypt_payload(practice[1], wrapped, bytes(spoiled), "treatment.plan", RECORD)


def test_payload_for_another_practice_fails_at_the_call(two_chunk_payload: tuple[str, bytes]) -> None:
    wrapped, ciphertext = two_chunk_payload
    with pytest.raises(crypto.PayloadError, match="wrappedKey"):
        crypto.decrypt_payload_stream(crypto.generate_practice_keys(), wrapped, ciphertext,
                                      "treatment.plan", RECORD)


def test_wrapped_key_is_exactly_80_bytes() -> None:
    assert env.validate_wrapped_key(b64(bytes(80))) == bytes(80)
    for size in (79, 81, 32):
        with pytest.raises(env.EnvelopeError) as excinfo:
            env.validate_wrapped_key(b64(bytes(size)))
        assert excinfo.value.field == "wrappedKey"


def test_stream_payload_length_checks() -> None:
    assert env.validate_stream_payload(bytes(41), "photo", max_bytes=100) == bytes(41)
    for data in (bytes(40), bytes(101), "x" * 50):
        with pytest.raises(env.EnvelopeError) as excinfo:
            env.validate_stream_payload(data, "photo", max_bytes=100)
        assert excinfo.value.field == "photo"
    assert not env.stream_header_ok(bytes(23))
    assert env.stream_header_ok(bytes(24))


def test_purposes_and_limits_are_the_documented_ones() -> None:
    assert {"consent.answers", "consent.countersignature", "consent.archive",
                            "treatment.plan", "photo", "photo.thumbnail", "audit.export"} == env.PURPOSES
    assert env.THUMBNAIL_MAX_BYTES == 262253
    assert env.ANSWERS_MAX_BYTES == 524465 and env.b64_length(env.ANSWERS_MAX_BYTES) == 699288
    # The whole submit fits the smallest JSON body limit the configuration allows.
    assert env.b64_length(env.ANSWERS_MAX_BYTES) + 5 * 2796 + 4096 < 1024 * 1024


# --- signatures ----------------------------------------------------------------------------


def test_a_statement_is_canonical_json_with_every_field(keys: crypto.PracticeKeys) -> None:
    fields = {"id": RECORD, "type": "BOTOX", "linkCommitment": "ab" * 32}
    commitment = "ab" * 32
    assert env.statement("consent", fields) == (
        f'{{"id":"{RECORD}","kind":"consent","linkCommitment":"{commitment}","patientId":null,'
        '"type":"BOTOX","v":2}').encode()
    with pytest.raises(ValueError, match="no fields"):
        env.statement("consent", {**fields, "status": "SIGNED"})


def test_signatures_verify_only_for_what_they_sign(keys: crypto.PracticeKeys) -> None:
    fields = {"consentId": RECORD, "answersSha256": "cd" * 32, "wrappedKey": b64(bytes(80))}
    signature = crypto.sign_statement(keys, "consent.countersignature", fields)
    crypto.verify_statement(keys, "consent.countersignature", fields, signature)
    env.verify_statement(bytes(keys.signing.verify_key), "consent.countersignature", fields, signature)
    for changed in ({**fields, "answersSha256": "ce" * 32}, {**fields, "consentId": OTHER}):
        with pytest.raises(crypto.SignatureInvalid):
            crypto.verify_statement(keys, "consent.countersignature", changed, signature)
    with pytest.raises(crypto.SignatureInvalid):
        crypto.verify_statement(crypto.generate_practice_keys(), "consent.countersignature", fields,
                                signature)
    with pytest.raises(crypto.SignatureInvalid):
        crypto.verify_statement(keys, "consent.countersignature", fields, None)
    with pytest.raises(env.EnvelopeError, match="64 bytes"):
        env.verify_statement(bytes(keys.signing.verify_key), "consent.countersignature", fields,
                             b64(bytes(63)))


def test_link_proof_and_commitment(keys: crypto.PracticeKeys) -> None:
    token = "q3X8nV0c7sJ2mRk5tLw9yPzA1bC4dE6fG8hI0jK2lMn"
    proof = env.link_proof(token)
    assert proof == hashlib.sha256(b"appliance/2/link-proof\x00" + token.encode()).hexdigest()
    assert env.link_commitment(token) == hashlib.sha256(bytes.fromhex(proof)).hexdigest()
    assert proof != hashlib.sha256(token.encode()).hexdigest()  # not the stored token hash
    for bad in (token[:-1], token + "A", token.replace("q", "+")):
        with pytest.raises(env.EnvelopeError):
            env.link_proof(bad)


# --- vault password change proof -----------------------------------------------------------


def test_challenge_round_trip(practice: tuple[str, crypto.PracticeKeys]) -> None:
    public_b64, keys = practice
    challenge, sealed = env.seal_challenge(base64.b64decode(public_b64))
    assert len(challenge) == env.CHALLENGE_BYTES
    assert len(base64.b64decode(sealed)) == env.SEAL_OVERHEAD + env.CHALLENGE_BYTES
    assert env.challenge_response_ok(challenge, crypto.open_challenge(keys, sealed))


def test_wrong_or_malformed_challenge_response_is_refused(practice: tuple[str, crypto.PracticeKeys]) -> None:
    challenge, _ = env.seal_challenge(base64.b64decode(practice[0]))
    other = bytes(b ^ 1 for b in challenge)
    for response in (b64(other), b64(challenge[:31]), "not base64", None, challenge):
        assert not env.challenge_response_ok(challenge, response)


def test_challenge_for_another_practice_does_not_open(practice: tuple[str, crypto.PracticeKeys]) -> None:
    _, sealed = env.seal_challenge(base64.b64decode(crypto.generate_practice_keys().public_key))
    with pytest.raises(crypto.DecryptionError):
        crypto.open_challenge(practice[1], sealed)


def test_constants() -> None:
    assert env.CONTRACT_VERSION == 2
    assert env.CHUNK_BYTES == 65536
    assert env.STREAM_HEADER_BYTES == 24
    assert env.CHALLENGE_TTL_SECONDS == 300
    assert (env.LOOKUP_OPSLIMIT, env.LOOKUP_MEMLIMIT) == (3, 67108864)
