"""Bad input is answered 400 in the one error shape, names the field, and writes nothing."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable

import pytest

from appliance.client import crypto
from tests.support.api import (
    PASSWORD,
    VAULT_PASSWORD,
    assert_error,
    b64,
    call,
    founder,
    fresh_email,
    me,
    practice_body,
    problem_fields,
    register,
    row_counts,
)


@pytest.fixture(scope="module")
def keys_and_vault() -> tuple[str, dict]:
    """One valid key pair and vault for the module: the KDF is too slow to run per case."""
    keys = crypto.generate_practice_keys()
    return keys, crypto.make_vault_envelope(keys, VAULT_PASSWORD)


def assert_refused(result, field: str) -> None:
    assert_error(result, 400, "validation_failed")
    assert field in problem_fields(result), result.json["error"]["details"]
    assert all(set(p) == {"field", "problem"} for p in result.json["error"]["details"])


# --- register and login --------------------------------------------------------------------

REGISTER = {"email": "neu@praxis.example", "password": PASSWORD, "name": "Dr. Neu"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": None}, "email"),
        ({"password": None}, "password"),
        ({"name": None}, "name"),
        ({"email": 42}, "email"),
        ({"password": ["a", "list"]}, "password"),
        ({"name": True}, "name"),
        ({"email": "keine-adresse"}, "email"),
        ({"email": "a" * 250 + "@x.de"}, "email"),
        ({"name": "   "}, "name"),
        ({"name": "N" * 201}, "name"),
        ({"password": "p" * 257}, "password"),
        ({"role": "ADMIN"}, "(body)"),
        ({"practiceId": "00000000-0000-0000-0000-000000000001"}, "(body)"),
    ],
    ids=["no_email", "no_password", "no_name", "email_number", "password_list", "name_bool",
         "email_without_at", "email_oversized", "name_blank", "name_oversized",
         "password_oversized", "unknown_role", "unknown_practice"],
)
def test_register_refuses_bad_input(client, change, field):
    body = {**REGISTER, **change}
    body = {k: v for k, v in body.items() if v is not None}
    before = row_counts()
    assert_refused(call(client, "POST", "/api/auth/register", json=body), field)
    assert row_counts() == before


@pytest.mark.parametrize("body", [[], "text", 7, None])
def test_a_body_that_is_not_an_object_is_refused(client, body):
    before = row_counts()
    result = client.simulate_post("/api/auth/register", body=json.dumps(body),
                                  headers={"Content-Type": "application/json"})
    assert_refused(result, "(body)")
    assert row_counts() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "a@praxis.example"}, "password"),
        ({"password": PASSWORD}, "email"),
        ({"email": "a@praxis.example", "password": "p" * 257}, "password"),
        ({"email": "a@praxis.example", "password": PASSWORD, "remember": True}, "(body)"),
    ],
    ids=["no_password", "no_email", "password_oversized", "unknown_property"],
)
def test_login_refuses_bad_input_without_counting_a_failure(client, body, field):
    before = row_counts()
    assert_refused(call(client, "POST", "/api/auth/login", json=body), field)
    assert row_counts() == before


# --- founding a practice -------------------------------------------------------------------


def _set(key: str, value) -> Callable[[dict], None]:
    def change(body: dict) -> None:
        body[key] = value
    return change


def _vault(key: str, value) -> Callable[[dict], None]:
    def change(body: dict) -> None:
        body["encryptedPrivKey"][key] = value
    return change


def _drop(key: str, in_vault: bool = False) -> Callable[[dict], None]:
    def change(body: dict) -> None:
        del (body["encryptedPrivKey"] if in_vault else body)[key]
    return change


def _mixed_order_key() -> str:
    """A real public key plus the point of order 2: u becomes 1/u (mod p). X25519 accepts it;
    the contract refuses it (docs/crypto.md, what the server checks)."""
    prime = 2**255 - 19
    u = int.from_bytes(base64.b64decode(crypto.generate_practice_keys().public_key), "little")
    return b64(pow(u, prime - 2, prime).to_bytes(32, "little"))


MIXED_ORDER = _mixed_order_key()
_KEY = base64.b64decode(crypto.generate_practice_keys().public_key)
TOP_BIT = b64(_KEY[:31] + bytes([_KEY[31] | 0x80]))  # the same point, another spelling
PRACTICE_CASES: dict[str, tuple[Callable[[dict], None], str]] = {
    "no_public_key": (_drop("publicKey"), "publicKey"),
    "no_vault": (_drop("encryptedPrivKey"), "encryptedPrivKey"),
    "no_name": (_drop("name"), "name"),
    "no_contact_email": (_drop("contactEmail"), "contactEmail"),
    "vault_without_salt": (_drop("salt", in_vault=True), "encryptedPrivKey.salt"),
    "name_number": (_set("name", 5), "name"),
    "vault_string": (_set("encryptedPrivKey", "eyJ2IjoxfQ=="), "encryptedPrivKey"),
    "vault_list": (_set("encryptedPrivKey", []), "encryptedPrivKey"),
    "public_key_number": (_set("publicKey", 12345), "publicKey"),
    "opslimit_1": (_vault("opslimit", 1), "encryptedPrivKey.opslimit"),
    "opslimit_float": (_vault("opslimit", 2.0), "encryptedPrivKey.opslimit"),
    "opslimit_bool": (_vault("opslimit", True), "encryptedPrivKey.opslimit"),
    "opslimit_huge": (_vault("opslimit", 10**6), "encryptedPrivKey.opslimit"),
    "memlimit_small": (_vault("memlimit", 8192), "encryptedPrivKey.memlimit"),
    "memlimit_huge": (_vault("memlimit", 2**40), "encryptedPrivKey.memlimit"),
    "memlimit_text": (_vault("memlimit", "67108864"), "encryptedPrivKey.memlimit"),
    "version_1": (_vault("v", 1), "encryptedPrivKey.v"),
    "version_3": (_vault("v", 3), "encryptedPrivKey.v"),
    "opslimit_5": (_vault("opslimit", 5), "encryptedPrivKey.opslimit"),
    "memlimit_past_256_mib": (_vault("memlimit", 256 * 1024 * 1024 + 1), "encryptedPrivKey.memlimit"),
    "ciphertext_of_one_key": (_vault("ciphertext", b64(b"\x03" * 48)), "encryptedPrivKey.ciphertext"),
    "no_signing_key": (_drop("signingKey"), "signingKey"),
    "signing_key_all_zero": (_set("signingKey", b64(bytes(32))), "signingKey"),
    "signing_key_low_order": (_set("signingKey", b64(b"\x01" + bytes(31))), "signingKey"),
    "signing_key_not_a_point": (_set("signingKey", b64(b"\xff" * 32)), "signingKey"),
    "public_key_low_order": (_set("publicKey", b64(b"\x01" + bytes(31))), "publicKey"),
    "public_key_order_8": (_set("publicKey", "4Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuAA="), "publicKey"),
    "public_key_on_the_twist": (_set("publicKey", b64(b"\x02" + bytes(31))), "publicKey"),
    "public_key_mixed_order": (_set("publicKey", MIXED_ORDER), "publicKey"),
    "public_key_top_bit": (_set("publicKey", TOP_BIT), "publicKey"),
    "kdf_scrypt": (_vault("kdf", "scrypt"), "encryptedPrivKey.kdf"),
    "public_key_31_bytes": (_set("publicKey", b64(b"\x01" * 31)), "publicKey"),
    "public_key_33_bytes": (_set("publicKey", b64(b"\x01" * 33)), "publicKey"),
    "public_key_all_zero": (_set("publicKey", b64(bytes(32))), "publicKey"),
    "public_key_not_base64": (_set("publicKey", "!" * 44), "publicKey"),
    "public_key_urlsafe": (
        _set("publicKey", base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode()), "publicKey"),
    "public_key_unpadded": (_set("publicKey", b64(b"\x07" * 32).rstrip("=")), "publicKey"),
    "public_key_oversized": (_set("publicKey", b64(b"\x07" * 32) * 3), "publicKey"),
    "salt_15_bytes": (_vault("salt", b64(b"\x02" * 15)), "encryptedPrivKey.salt"),
    "nonce_not_base64": (_vault("nonce", "n" * 31 + "?"), "encryptedPrivKey.nonce"),
    "ciphertext_47_bytes": (_vault("ciphertext", b64(b"\x03" * 47)), "encryptedPrivKey.ciphertext"),
    "ciphertext_oversized": (
        _vault("ciphertext", b64(b"\x03" * 300_000)), "encryptedPrivKey.ciphertext"),
    "name_oversized": (_set("name", "P" * 201), "name"),
    "contact_email_oversized": (_set("contactEmail", "k" * 250 + "@x.de"), "contactEmail"),
    "city_oversized": (_set("city", "K" * 201), "city"),
    "country_lower_case": (_set("country", "de"), "country"),
    "unknown_property": (_set("lookupSalt", b64(bytes(16))), "(body)"),
    "unknown_vault_key": (_vault("hint", "Geburtstag"), "encryptedPrivKey.hint"),
}


def test_founding_a_practice_refuses_bad_input_and_writes_nothing(client, keys_and_vault, subtests):
    keys, vault = keys_and_vault
    account = register(client)
    valid = practice_body(keys, vault)
    before = row_counts()
    for case, (change, field) in PRACTICE_CASES.items():
        with subtests.test(case=case):
            body = copy.deepcopy(valid)
            change(body)
            assert_refused(call(client, "POST", "/api/practice", token=account.token, json=body), field)
            assert row_counts() == before
    with subtests.test(case="body_over_the_limit"):
        body = {**copy.deepcopy(valid), "street": "S" * 1_100_000}
        result = call(client, "POST", "/api/practice", token=account.token, json=body)
        assert_error(result, 413, "payload_too_large")
        assert row_counts() == before
    assert me(client, account.token).json["practiceId"] is None
    # The same caller with the valid body succeeds: the cases failed for their change only.
    assert call(client, "POST", "/api/practice", token=account.token, json=valid).status_code == 201


# --- editing a practice and replacing the vault --------------------------------------------

PATCH_CASES = {
    "empty": ({}, "(body)"),
    "name_number": ({"name": 7}, "name"),
    "name_blank": ({"name": " "}, "name"),
    "country_lower_case": ({"country": "at"}, "country"),
    "postal_code_oversized": ({"postalCode": "1" * 17}, "postalCode"),
    "public_key": ({"publicKey": b64(b"\x05" * 32)}, "(body)"),
    "vault": ({"encryptedPrivKey": {"v": 1}}, "(body)"),
    "lookup_salt": ({"lookupSalt": b64(bytes(16))}, "(body)"),
}


def test_editing_and_vault_replacement_refuse_bad_input(client, subtests):
    admin = founder(client)
    practice = call(client, "GET", "/api/practice", token=admin.token).json
    before = row_counts()
    for case, (body, field) in PATCH_CASES.items():
        with subtests.test(case=f"patch_{case}"):
            assert_refused(call(client, "PATCH", "/api/practice", token=admin.token, json=body), field)
            assert call(client, "GET", "/api/practice", token=admin.token).json == practice
            assert row_counts() == before

    issued = call(client, "POST", "/api/practice/vault/challenge", token=admin.token).json
    answer = crypto.open_challenge(admin.keys, issued["sealedChallenge"])
    valid = {"challengeId": issued["challengeId"], "challengeResponse": answer,
             "encryptedPrivKey": practice["encryptedPrivKey"]}
    weak = {**practice["encryptedPrivKey"], "opslimit": 1}
    vault_cases = {
        "no_challenge_id": ({k: v for k, v in valid.items() if k != "challengeId"}, "challengeId"),
        "challenge_id_not_uuid": ({**valid, "challengeId": "abc"}, "challengeId"),
        "response_oversized": ({**valid, "challengeResponse": "A" * 104}, "challengeResponse"),
        "weak_vault": ({**valid, "encryptedPrivKey": weak}, "encryptedPrivKey.opslimit"),
        "unknown_property": ({**valid, "publicKey": practice["publicKey"]}, "(body)"),
    }
    counted = row_counts()
    for case, (body, field) in vault_cases.items():
        with subtests.test(case=f"vault_{case}"):
            assert_refused(call(client, "PUT", "/api/practice/vault", token=admin.token, json=body), field)
            assert call(client, "GET", "/api/practice", token=admin.token).json == practice
            assert row_counts() == counted


def test_the_refusal_never_echoes_what_was_sent(client):
    secret = "Geheimes-Passwort-" + fresh_email()
    result = call(client, "POST", "/api/auth/register",
                  json={"email": 5, "password": secret, "name": secret * 20})
    assert_error(result, 400, "validation_failed")
    assert "Geheimes" not in result.text
