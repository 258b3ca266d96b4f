"""Founding a practice with its vault, reading and editing it, and changing the vault password."""

from __future__ import annotations

import base64

import pytest
from nacl.utils import random as random_bytes

from appliance.client import crypto
from tests.support.api import (
    VAULT_PASSWORD,
    assert_error,
    audit_entries,
    b64,
    call,
    founder,
    me,
    practice_body,
    register,
    row_counts,
)

NEW_VAULT_PASSWORD = "Neuer Tresor, 2027 #2"


def test_founding_a_practice_makes_the_caller_its_admin(client):
    account = register(client)
    keys = crypto.generate_practice_keys()
    envelope = crypto.make_vault_envelope(keys, VAULT_PASSWORD)
    result = call(client, "POST", "/api/practice", token=account.token,
                  json=practice_body(keys, envelope, name="  Praxis am Markt ", city="Köln"))
    assert result.status_code == 201, result.text
    practice = result.json
    assert practice["name"] == "Praxis am Markt" and practice["city"] == "Köln"
    assert (practice["publicKey"], practice["signingKey"]) == (keys.public_key, keys.signing_key)
    assert practice["encryptedPrivKey"] == envelope
    user = me(client, account.token).json
    assert (user["practiceId"], user["role"]) == (practice["id"], "ADMIN")
    (created,) = audit_entries("PRACTICE_CREATED")
    assert str(created.practice_id) == practice["id"] and str(created.user_id) == account.user_id

    second = crypto.generate_practice_keys()
    before = row_counts()
    again = call(client, "POST", "/api/practice", token=account.token,
                 json=practice_body(second, crypto.make_vault_envelope(second, "x" * 12)))
    assert_error(again, 409, "already_member")
    assert row_counts() == before
    assert me(client, account.token).json["practiceId"] == practice["id"]


def test_a_member_reads_what_unlocks_the_vault(client):
    admin = founder(client)
    result = call(client, "GET", "/api/practice", token=admin.token)
    assert result.status_code == 200, result.text
    practice = result.json
    assert practice["id"] == admin.practice["id"]
    assert len(base64.b64decode(practice["lookupSalt"], validate=True)) == 16
    assert b64(base64.b64decode(practice["lookupSalt"])) == practice["lookupSalt"]
    unlocked = crypto.unlock_vault(practice["encryptedPrivKey"], VAULT_PASSWORD,
                                   public_key=practice["publicKey"], signing_key=practice["signingKey"])
    assert unlocked == admin.keys
    with pytest.raises(crypto.VaultLocked):
        crypto.unlock_vault(practice["encryptedPrivKey"], VAULT_PASSWORD + "x")


def test_a_user_without_a_practice_gets_404(client):
    account = register(client)
    assert_error(call(client, "GET", "/api/practice", token=account.token), 404, "not_found")


def test_admin_edits_the_practice_details(client):
    admin = founder(client)
    result = call(client, "PATCH", "/api/practice", token=admin.token,
                  json={"name": " Praxis Berger & Partner ", "postalCode": "50667", "country": "AT"})
    assert result.status_code == 200, result.text
    assert result.json["name"] == "Praxis Berger & Partner"
    assert (result.json["postalCode"], result.json["country"]) == ("50667", "AT")
    assert call(client, "GET", "/api/practice", token=admin.token).json["name"] == "Praxis Berger & Partner"
    (entry,) = audit_entries("PRACTICE_SETTINGS_UPDATED")
    assert str(entry.practice_id) == admin.practice["id"]
    assert entry.metadata == {"fields": ["country", "name", "postalCode"]}


# --- vault password change -----------------------------------------------------------------


def challenge(client, token: str) -> dict:
    result = call(client, "POST", "/api/practice/vault/challenge", token=token)
    assert result.status_code == 200, result.text
    return result.json


def replace_vault(client, token: str, challenge_id: str, answer: str, envelope: dict):
    return call(client, "PUT", "/api/practice/vault", token=token,
                json={"challengeId": challenge_id, "challengeResponse": answer,
                      "encryptedPrivKey": envelope})


def stored_envelope(client, token: str) -> dict:
    return call(client, "GET", "/api/practice", token=token).json["encryptedPrivKey"]


def test_vault_password_change_with_proof_of_the_key(client):
    admin = founder(client)
    issued = challenge(client, admin.token)
    answer = crypto.open_challenge(admin.keys, issued["sealedChallenge"])
    new_envelope = crypto.make_vault_envelope(admin.keys, NEW_VAULT_PASSWORD)
    result = replace_vault(client, admin.token, issued["challengeId"], answer, new_envelope)
    assert result.status_code == 200, result.text

    envelope = stored_envelope(client, admin.token)
    assert envelope == new_envelope
    assert crypto.unlock_vault(envelope, NEW_VAULT_PASSWORD) == admin.keys
    with pytest.raises(crypto.VaultLocked):
        crypto.unlock_vault(envelope, VAULT_PASSWORD)
    assert len(audit_entries("VAULT_ENVELOPE_REPLACED")) == 1

    # A challenge answers once: replaying the same proof is refused.
    replay = replace_vault(client, admin.token, issued["challengeId"], answer,
                           crypto.make_vault_envelope(admin.keys, "noch ein Passwort"))
    assert_error(replay, 403, "vault_proof_failed")
    assert stored_envelope(client, admin.token) == new_envelope


def test_a_wrong_answer_fails_and_uses_up_the_challenge(client):
    admin = founder(client)
    old_envelope = stored_envelope(client, admin.token)
    issued = challenge(client, admin.token)
    new_envelope = crypto.make_vault_envelope(admin.keys, NEW_VAULT_PASSWORD)
    wrong = replace_vault(client, admin.token, issued["challengeId"], b64(random_bytes(32)), new_envelope)
    assert_error(wrong, 403, "vault_proof_failed")
    assert stored_envelope(client, admin.token) == old_envelope

    right = crypto.open_challenge(admin.keys, issued["sealedChallenge"])
    late = replace_vault(client, admin.token, issued["challengeId"], right, new_envelope)
    assert_error(late, 403, "vault_proof_failed")
    assert stored_envelope(client, admin.token) == old_envelope
    assert audit_entries("VAULT_ENVELOPE_REPLACED") == []


def test_an_expired_challenge_is_refused(client, clock):
    admin = founder(client)
    old_envelope = stored_envelope(client, admin.token)
    issued = challenge(client, admin.token)
    answer = crypto.open_challenge(admin.keys, issued["sealedChallenge"])
    clock.advance(minutes=6)
    result = replace_vault(client, admin.token, issued["challengeId"], answer,
                           crypto.make_vault_envelope(admin.keys, NEW_VAULT_PASSWORD))
    assert_error(result, 403, "vault_proof_failed")
    assert stored_envelope(client, admin.token) == old_envelope


def test_another_practices_challenge_does_not_count(client):
    first, second = founder(client), founder(client)
    issued = challenge(client, first.token)
    answer = crypto.open_challenge(first.keys, issued["sealedChallenge"])
    old_envelope = stored_envelope(client, second.token)
    # The second practice's admin replays a valid proof of the first practice's key.
    result = replace_vault(client, second.token, issued["challengeId"], answer,
                           crypto.make_vault_envelope(first.keys, NEW_VAULT_PASSWORD))
    assert_error(result, 403, "vault_proof_failed")
    assert stored_envelope(client, second.token) == old_envelope
