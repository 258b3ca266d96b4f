"""Crypto contract v1 (docs/crypto.md): what clients produce opens, what is altered is refused,
and the server's checks refuse malformed envelopes naming the offending field."""

from __future__ import annotations

import base64
import io
import json
import random

import pytest
from nacl.public import PrivateKey, SealedBox
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


@pytest.fixture(scope="module")
def practice() -> tuple[str, PrivateKey]:
    return crypto.generate_practice_keys()


@pytest.fixture(scope="module")
def vault(practice: tuple[str, PrivateKey]) -> dict:
    return crypto.make_vault_envelope(practice[1], "Vault-Passwort ÄÖÜß")


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


# --- public keys ---------------------------------------------------------------------------


def test_public_key_of_32_bytes_is_accepted(practice: tuple[str, PrivateKey]) -> None:
    public_b64, private_key = practice
    assert env.validate_public_key(public_b64) == bytes(private_key.public_key)


@pytest.mark.parametrize("raw", [bytes(range(31)), bytes(range(33))])
def test_public_key_of_wrong_length_is_refused(raw: bytes) -> None:
    with pytest.raises(env.EnvelopeError) as excinfo:
        env.validate_public_key(b64(raw))
    assert str(excinfo.value) == "publicKey: must be base64 of 32 bytes"
    assert (excinfo.value.field, excinfo.value.problem) == (
        "publicKey",
        "must be base64 of 32 bytes",
    )


def test_all_zero_public_key_is_refused() -> None:
    with pytest.raises(env.EnvelopeError, match="all-zero"):
        env.validate_public_key(b64(bytes(32)))


# --- vault envelope ------------------------------------------------------------------------


def test_vault_round_trip(practice: tuple[str, PrivateKey], vault: dict) -> None:
    public_b64, private_key = practice
    unlocked = crypto.unlock_vault(vault, "Vault-Passwort ÄÖÜß")
    assert bytes(unlocked) == bytes(private_key)
    assert b64(bytes(unlocked.public_key)) == public_b64


def test_vault_envelope_from_client_passes_server_validation(vault: dict) -> None:
    checked = env.validate_vault_envelope(vault)
    assert checked == vault
    assert checked is not vault
    assert json.loads(json.dumps(checked)) == checked
    assert vault["opslimit"] == argon2id.OPSLIMIT_INTERACTIVE
    assert vault["memlimit"] == argon2id.MEMLIMIT_INTERACTIVE


def test_wrong_vault_password_is_reported_as_locked(vault: dict) -> None:
    with pytest.raises(crypto.VaultLocked):
        crypto.unlock_vault(vault, "vault-passwort äöüß")


def test_vault_envelopes_use_fresh_salt_and_nonce(practice: tuple[str, PrivateKey]) -> None:
    first = crypto.make_vault_envelope(practice[1], "pw")
    second = crypto.make_vault_envelope(practice[1], "pw")
    assert first["salt"] != second["salt"]
    assert first["nonce"] != second["nonce"]


def test_client_refuses_to_make_an_envelope_the_server_would_refuse(
    practice: tuple[str, PrivateKey],
) -> None:
    with pytest.raises(ValueError, match="KDF limits"):
        crypto.make_vault_envelope(practice[1], "pw", opslimit=1)
    with pytest.raises(ValueError, match="KDF limits"):
        crypto.make_vault_envelope(practice[1], "pw", memlimit=argon2id.MEMLIMIT_SENSITIVE * 2)


def test_client_checks_the_envelope_before_running_the_kdf(vault: dict) -> None:
    absurd = {**vault, "memlimit": 2**40}
    with pytest.raises(env.EnvelopeError) as excinfo:
        crypto.unlock_vault(absurd, "Vault-Passwort ÄÖÜß")
    assert excinfo.value.field == "memlimit"


def _with(vault: dict, **changes: object) -> dict:
    return {**vault, **changes}


BAD_VAULTS = [
    ("salt", lambda v: _with(v, salt=b64(bytes(15)))),
    ("salt", lambda v: _with(v, salt=b64(bytes(17)))),
    ("salt", lambda v: _with(v, salt="not base64!!")),
    ("salt", lambda v: _with(v, salt=b64(bytes(16)).rstrip("="))),
    ("nonce", lambda v: _with(v, nonce=b64(bytes(23)))),
    ("nonce", lambda v: _with(v, nonce=b64(b"\xfb\xff" * 12).replace("+", "-").replace("/", "_"))),
    ("nonce", lambda v: _with(v, nonce=None)),
    ("ciphertext", lambda v: _with(v, ciphertext=b64(bytes(47)))),
    ("ciphertext", lambda v: _with(v, ciphertext=b64(bytes(64)))),
    ("opslimit", lambda v: _with(v, opslimit=argon2id.OPSLIMIT_INTERACTIVE - 1)),
    ("opslimit", lambda v: _with(v, opslimit=argon2id.OPSLIMIT_SENSITIVE + 1)),
    ("opslimit", lambda v: _with(v, opslimit=True)),
    ("opslimit", lambda v: _with(v, opslimit="2")),
    ("memlimit", lambda v: _with(v, memlimit=argon2id.MEMLIMIT_INTERACTIVE - 1)),
    ("memlimit", lambda v: _with(v, memlimit=argon2id.MEMLIMIT_SENSITIVE + 1)),
    ("memlimit", lambda v: _with(v, memlimit=float(argon2id.MEMLIMIT_INTERACTIVE))),
    ("memlimit", lambda v: _with(v, memlimit=True)),
    ("v", lambda v: _with(v, v=2)),
    ("v", lambda v: _with(v, v=True)),
    ("v", lambda v: _with(v, v=1.0)),
    ("kdf", lambda v: _with(v, kdf="scrypt")),
    ("hint", lambda v: _with(v, hint="name of the cat")),
    ("salt", lambda v: {k: x for k, x in v.items() if k != "salt"}),
    ("vault", lambda v: [v]),
    ("vault", lambda v: json.dumps(v)),
]


@pytest.mark.parametrize(("field", "spoil"), BAD_VAULTS)
def test_malformed_vault_envelope_is_refused_naming_the_field(
    vault: dict, field: str, spoil
) -> None:
    with pytest.raises(env.EnvelopeError) as excinfo:
        env.validate_vault_envelope(spoil(vault))
    assert excinfo.value.field == field


# --- sealed values -------------------------------------------------------------------------


def test_sealed_field_round_trip(practice: tuple[str, PrivateKey]) -> None:
    public_b64, private_key = practice
    for value in ["Weiß-Müller", "", {"street": "Königsallee 1", "zip": "40212"}, None, 42]:
        sealed = crypto.seal_field(public_b64, "lastName", value)
        env.validate_sealed_value(sealed, "lastName")
        assert crypto.open_field(private_key, "lastName", sealed) == value


def test_sealed_plaintext_is_compact_utf8_json_naming_the_field(
    practice: tuple[str, PrivateKey],
) -> None:
    public_b64, private_key = practice
    sealed = crypto.seal_field(public_b64, "lastName", "Weiß")
    plain = SealedBox(private_key).decrypt(base64.b64decode(sealed))
    assert plain == '{"v":1,"field":"lastName","value":"Weiß"}'.encode()


def test_sealed_value_copied_into_another_field_is_detected(
    practice: tuple[str, PrivateKey],
) -> None:
    public_b64, private_key = practice
    sealed = crypto.seal_field(public_b64, "firstName", "Anna")
    with pytest.raises(crypto.FieldMismatch, match="firstName"):
        crypto.open_field(private_key, "lastName", sealed)


def test_sealed_value_for_another_practice_does_not_open(
    practice: tuple[str, PrivateKey],
) -> None:
    other_public, _ = crypto.generate_practice_keys()
    sealed = crypto.seal_field(other_public, "lastName", "Anna")
    with pytest.raises(crypto.DecryptionError) as excinfo:
        crypto.open_field(practice[1], "lastName", sealed)
    assert not isinstance(excinfo.value, crypto.FieldMismatch)


def test_sealed_bare_value_without_field_name_is_refused(
    practice: tuple[str, PrivateKey],
) -> None:
    private_key = practice[1]
    bare = SealedBox(private_key.public_key).encrypt(b'"Anna"')
    with pytest.raises(crypto.DecryptionError, match="not a version 1 sealed value"):
        crypto.open_field(private_key, "lastName", b64(bare))


def test_sealing_to_a_malformed_public_key_is_refused() -> None:
    with pytest.raises(env.EnvelopeError):
        crypto.seal_field(b64(bytes(32)), "lastName", "Anna")


def test_sealed_value_length_bounds() -> None:
    assert env.validate_sealed_value(b64(bytes(50)), "note") == bytes(50)
    assert env.validate_sealed_value(b64(bytes(48 + 2048)), "note") == bytes(48 + 2048)
    for size in (0, 49, 48 + 2049):
        with pytest.raises(env.EnvelopeError) as excinfo:
            env.validate_sealed_value(b64(bytes(size)), "note")
        assert excinfo.value.field == "note"
    assert env.validate_sealed_value(b64(bytes(48 + 4000)), "note", max_plain=4000)


# --- payloads ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 100])
def test_payload_round_trip_and_framing(practice: tuple[str, PrivateKey], size: int) -> None:
    public_b64, private_key = practice
    plaintext = pattern(size)
    wrapped, ciphertext = crypto.encrypt_payload(public_b64, plaintext, env.PURPOSE_PHOTO)
    chunks = max(1, -(-size // CHUNK))
    assert len(ciphertext) == HEADER + size + chunks * env.STREAM_CHUNK_OVERHEAD
    assert env.validate_wrapped_key(wrapped)
    assert env.validate_stream_payload(ciphertext, "photo", max_bytes=len(ciphertext))
    assert crypto.decrypt_payload(private_key, wrapped, ciphertext, env.PURPOSE_PHOTO) == plaintext


def test_payload_keys_are_fresh_per_payload(practice: tuple[str, PrivateKey]) -> None:
    first = crypto.encrypt_payload(practice[0], b"same", env.PURPOSE_LOGO)
    second = crypto.encrypt_payload(practice[0], b"same", env.PURPOSE_LOGO)
    assert first[0] != second[0]
    assert first[1] != second[1]


def test_payload_encrypts_from_iterables_and_files(practice: tuple[str, PrivateKey]) -> None:
    public_b64, private_key = practice
    plaintext = pattern(2 * CHUNK + 777)
    pieces = [plaintext[i : i + 1000] for i in range(0, len(plaintext), 1000)]
    for source in (pieces, iter(pieces), io.BytesIO(plaintext), bytearray(plaintext)):
        wrapped, stream = crypto.encrypt_payload_stream(public_b64, source, env.PURPOSE_PHOTO)
        out = list(stream)
        assert len(out[0]) == HEADER
        assert [len(c) for c in out[1:]] == [CIPHER_CHUNK, CIPHER_CHUNK, 777 + 17]
        ciphertext = b"".join(out)
        assert crypto.decrypt_payload(private_key, wrapped, ciphertext, "photo") == plaintext


@pytest.mark.parametrize("seed", range(4))
def test_streaming_decrypt_accepts_arbitrarily_rechunked_input(
    practice: tuple[str, PrivateKey], seed: int
) -> None:
    public_b64, private_key = practice
    plaintext = pattern(3 * CHUNK + 4321)
    wrapped, ciphertext = crypto.encrypt_payload(public_b64, plaintext, env.PURPOSE_AUDIT_EXPORT)
    rng = random.Random(seed)
    sizes = [1, 7, 17, 24, 25, CIPHER_CHUNK - 1, CIPHER_CHUNK, CIPHER_CHUNK + 1, 100_000]
    pieces, at = [], 0
    while at < len(ciphertext):
        step = rng.choice(sizes)
        pieces.append(ciphertext[at : at + step])
        at += step
    out = crypto.decrypt_payload_stream(private_key, wrapped, iter(pieces), "audit.export")
    assert b"".join(out) == plaintext


def test_streaming_decrypt_from_a_file_yields_chunk_by_chunk(
    practice: tuple[str, PrivateKey],
) -> None:
    public_b64, private_key = practice
    plaintext = pattern(2 * CHUNK + 5)
    wrapped, ciphertext = crypto.encrypt_payload(public_b64, plaintext, env.PURPOSE_PHOTO)
    out = list(crypto.decrypt_payload_stream(private_key, wrapped, io.BytesIO(ciphertext), "photo"))
    assert [len(c) for c in out] == [CHUNK, CHUNK, 5]


def test_decryptor_accepts_an_empty_final_chunk_after_full_chunks(
    practice: tuple[str, PrivateKey],
) -> None:
    """A writer that does not know the length ends with an empty FINAL chunk."""
    from nacl import bindings as b

    private_key = practice[1]
    key = b.crypto_secretstream_xchacha20poly1305_keygen()
    state = b.crypto_secretstream_xchacha20poly1305_state()
    ad = b"photo"
    ciphertext = b.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    ciphertext += b.crypto_secretstream_xchacha20poly1305_push(state, pattern(CHUNK), ad, 0)
    ciphertext += b.crypto_secretstream_xchacha20poly1305_push(
        state, b"", ad, b.crypto_secretstream_xchacha20poly1305_TAG_FINAL
    )
    wrapped = b64(SealedBox(private_key.public_key).encrypt(key))
    assert crypto.decrypt_payload(private_key, wrapped, ciphertext, "photo") == pattern(CHUNK)


@pytest.fixture(scope="module")
def two_chunk_payload(practice: tuple[str, PrivateKey]) -> tuple[str, bytes]:
    return crypto.encrypt_payload(practice[0], pattern(CHUNK + 100), env.PURPOSE_TREATMENT_PLAN)


@pytest.mark.parametrize(
    "cut", [0, 10, HEADER, HEADER + 5, HEADER + CIPHER_CHUNK, HEADER + CIPHER_CHUNK + 16, -1]
)
def test_truncated_payload_is_refused(
    practice: tuple[str, PrivateKey], two_chunk_payload: tuple[str, bytes], cut: int
) -> None:
    wrapped, ciphertext = two_chunk_payload
    with pytest.raises(crypto.PayloadError):
        crypto.decrypt_payload(practice[1], wrapped, ciphertext[:cut], "treatment.plan")


def test_payload_cut_at_a_chunk_boundary_is_reported_as_truncated(
    practice: tuple[str, PrivateKey], two_chunk_payload: tuple[str, bytes]
) -> None:
    wrapped, ciphertext = two_chunk_payload
    with pytest.raises(crypto.PayloadError, match="without a final chunk"):
        crypto.decrypt_payload(
            practice[1], wrapped, ciphertext[: HEADER + CIPHER_CHUNK], "treatment.plan"
        )


@pytest.mark.parametrize("extra", [b"\x00", bytes(17), bytes(CIPHER_CHUNK)])
def test_trailing_data_after_the_final_chunk_is_refused(
    practice: tuple[str, PrivateKey], two_chunk_payload: tuple[str, bytes], extra: bytes
) -> None:
    wrapped, ciphertext = two_chunk_payload
    with pytest.raises(crypto.PayloadError):
        crypto.decrypt_payload(practice[1], wrapped, ciphertext + extra, "treatment.plan")


def test_trailing_data_after_a_full_final_chunk_is_named(
    practice: tuple[str, PrivateKey],
) -> None:
    public_b64, private_key = practice
    wrapped, ciphertext = crypto.encrypt_payload(public_b64, pattern(CHUNK), "photo")
    with pytest.raises(crypto.PayloadError, match="trailing data"):
        crypto.decrypt_payload(private_key, wrapped, ciphertext + bytes(40), "photo")


@pytest.mark.parametrize("position", [0, HEADER - 1, HEADER, HEADER + 1000, -1])
def test_tampered_payload_is_refused(
    practice: tuple[str, PrivateKey], two_chunk_payload: tuple[str, bytes], position: int
) -> None:
    wrapped, ciphertext = two_chunk_payload
    spoiled = bytearray(ciphertext)
    spoiled[position] ^= 0x01
    with pytest.raises(crypto.PayloadError):
        crypto.decrypt_payload(practice[1], wrapped, bytes(spoiled), "treatment.plan")


def test_payload_with_the_wrong_purpose_is_refused(
    practice: tuple[str, PrivateKey], two_chunk_payload: tuple[str, bytes]
) -> None:
    wrapped, ciphertext = two_chunk_payload
    with pytest.raises(crypto.PayloadError, match="wrong purpose"):
        crypto.decrypt_payload(practice[1], wrapped, ciphertext, env.PURPOSE_CONSENT_ANSWERS)


def test_unknown_purpose_is_refused(practice: tuple[str, PrivateKey]) -> None:
    with pytest.raises(ValueError, match="purpose"):
        crypto.encrypt_payload(practice[0], b"x", "photos")


def test_payload_for_another_practice_fails_at_the_call(
    two_chunk_payload: tuple[str, bytes],
) -> None:
    wrapped, ciphertext = two_chunk_payload
    stranger = PrivateKey.generate()
    with pytest.raises(crypto.PayloadError, match="wrappedKey"):
        crypto.decrypt_payload_stream(stranger, wrapped, ciphertext, "treatment.plan")


def test_wrapped_key_is_exactly_80_bytes() -> None:
    assert env.validate_wrapped_key(b64(bytes(80))) == bytes(80)
    for size in (79, 81, 32):
        with pytest.raises(env.EnvelopeError) as excinfo:
            env.validate_wrapped_key(b64(bytes(size)))
        assert excinfo.value.field == "wrappedKey"


def test_stream_payload_length_checks() -> None:
    assert env.validate_stream_payload(bytes(41), "photo", max_bytes=100) == bytes(41)
    assert env.validate_stream_payload(memoryview(bytes(100)), "photo", max_bytes=100)
    for data in (bytes(40), bytes(101), "x" * 50):
        with pytest.raises(env.EnvelopeError) as excinfo:
            env.validate_stream_payload(data, "photo", max_bytes=100)
        assert excinfo.value.field == "photo"
    assert not env.stream_header_ok(bytes(23))
    assert env.stream_header_ok(bytes(24))


def test_purposes_are_the_documented_ones() -> None:
    documented = {"consent.answers", "treatment.plan", "photo", "audit.export", "logo"}
    assert documented == env.PURPOSES


# --- lookupHash ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last", "first", "expected"),
    [
        ("Müller", "Anna", "müller|anna|1980-01-31"),
        ("  WEISS  ", "Anna", "weiss|anna|1980-01-31"),
        ("Weiß", "Anna", "weiss|anna|1980-01-31"),
        ("Mu\u0308ller", "Anna", "müller|anna|1980-01-31"),  # combining diaeresis
        (  # fullwidth letters
            "\uff2d\u00dc\uff2c\uff2c\uff25\uff32",
            "\uff21\uff2e\uff2e\uff21",
            "müller|anna|1980-01-31",
        ),
        ("von  der\tLeyen", "Anna\u00a0Lena", "von der leyen|anna lena|1980-01-31"),
        ("O'Neill\u2003-\u3000Smith", "\nAnna\r\n", "o'neill - smith|anna|1980-01-31"),
        ("ΣΟΦΊΑΣ", "Anna", "σοφίασ|anna|1980-01-31"),
    ],
)
def test_identity_normalisation(last: str, first: str, expected: str) -> None:
    assert crypto.normalise_identity(last, first, "1980-01-31") == expected


@pytest.mark.parametrize(
    ("last", "first", "dob"),
    [
        ("", "Anna", "1980-01-31"),
        (" \t\u00a0", "Anna", "1980-01-31"),
        ("Müller", "", "1980-01-31"),
        ("Müller|Anna", "Lena", "1980-01-31"),
        ("Müller", "Anna\uff5c", "1980-01-31"),  # fullwidth vertical line becomes '|'
        ("Müller", "Anna", "1981-02-29"),
        ("Müller", "Anna", "1980-13-01"),
        ("Müller", "Anna", "1980-1-31"),
        ("Müller", "Anna", "19800131"),
        ("Müller", "Anna", "31.01.1980"),
        ("Müller", "Anna", " 1980-01-31"),
        ("Müller", "Anna", "\uff11980-01-31"),  # fullwidth digit
        (None, "Anna", "1980-01-31"),
    ],
)
def test_identity_normalisation_refuses(last: object, first: str, dob: str) -> None:
    with pytest.raises(ValueError):
        crypto.normalise_identity(last, first, dob)


def test_lookup_hash_matches_for_equivalent_spellings_only() -> None:
    salt = b64(bytes(range(16)))
    first = crypto.lookup_hash(salt, "Weiß", "Anna Lena", "1984-02-29")
    assert env.validate_lookup_hash(first) == first
    assert crypto.lookup_hash(salt, " WEISS ", "anna\u00a0lena", "1984-02-29") == first
    assert crypto.lookup_hash(b64(bytes(16)), "Weiß", "Anna Lena", "1984-02-29") != first


def test_lookup_hash_needs_a_16_byte_salt() -> None:
    with pytest.raises(env.EnvelopeError) as excinfo:
        crypto.lookup_hash(b64(bytes(15)), "Weiß", "Anna", "1984-02-29")
    assert excinfo.value.field == "lookupSalt"


def test_lookup_parameters_are_fixed() -> None:
    assert (env.LOOKUP_OPSLIMIT, env.LOOKUP_MEMLIMIT) == (3, 67108864)


@pytest.mark.parametrize(
    "value", ["A" * 64, "a" * 63, "a" * 65, "g" * 64, "a" * 64 + "\n", None, b"a" * 64]
)
def test_malformed_lookup_hash_is_refused(value: object) -> None:
    with pytest.raises(env.EnvelopeError) as excinfo:
        env.validate_lookup_hash(value)
    assert excinfo.value.field == "lookupHash"


# --- vault password change proof -----------------------------------------------------------


def test_challenge_round_trip(practice: tuple[str, PrivateKey]) -> None:
    public_b64, private_key = practice
    challenge, sealed = env.seal_challenge(base64.b64decode(public_b64))
    assert len(challenge) == env.CHALLENGE_BYTES
    assert len(base64.b64decode(sealed)) == env.SEAL_OVERHEAD + env.CHALLENGE_BYTES
    response = crypto.open_challenge(private_key, sealed)
    assert env.challenge_response_ok(challenge, response)


def test_challenges_are_random(practice: tuple[str, PrivateKey]) -> None:
    public_key = base64.b64decode(practice[0])
    assert env.seal_challenge(public_key)[0] != env.seal_challenge(public_key)[0]


def test_wrong_or_malformed_challenge_response_is_refused(
    practice: tuple[str, PrivateKey],
) -> None:
    challenge, _ = env.seal_challenge(base64.b64decode(practice[0]))
    other = bytes(b ^ 1 for b in challenge)
    for response in (b64(other), b64(challenge[:31]), "not base64", None, challenge):
        assert not env.challenge_response_ok(challenge, response)


def test_challenge_for_another_practice_does_not_open(practice: tuple[str, PrivateKey]) -> None:
    other_public, _ = crypto.generate_practice_keys()
    _, sealed = env.seal_challenge(base64.b64decode(other_public))
    with pytest.raises(crypto.DecryptionError):
        crypto.open_challenge(practice[1], sealed)


def test_constants() -> None:
    assert env.CONTRACT_VERSION == 1
    assert env.CHUNK_BYTES == 65536
    assert env.STREAM_HEADER_BYTES == 24
    assert env.CHALLENGE_TTL_SECONDS == 300
