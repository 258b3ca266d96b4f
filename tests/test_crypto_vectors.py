"""The test vectors of docs/crypto.md, positive and negative, with the Python reference client;
tests/web/vectors.test.mjs checks the same blocks with the JavaScript module, so the document
that other clients implement against cannot drift from either."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from appliance import envelopes as env
from appliance.client import answers, crypto, lookup

DOC = Path(__file__).parents[1] / "docs" / "crypto.md"
_VECTOR_BLOCK = re.compile(r"^```json test-vector\n(.*?)^```$", re.MULTILINE | re.DOTALL)
KINDS = {"lookup_hash", "lookup_refused", "vault_unlock", "vault_refused", "sealed_field", "payload",
         "payload_refused", "base64_refused", "public_key", "public_key_refused", "signature", "link",
         "answers", "answers_refused"}


def load_vectors() -> list[dict]:
    return [json.loads(block) for block in _VECTOR_BLOCK.findall(DOC.read_text("utf-8"))]


VECTORS = load_vectors()
ANSWERS = next(v for v in VECTORS if v["kind"] == "answers")
#: The key pair behind every vector that opens something (docs/crypto.md, test vectors).
KEYS = crypto.PracticeKeys(PrivateKey(bytes(range(32))), SigningKey(bytes(range(32, 64))))


def test_document_holds_vectors_of_every_kind() -> None:
    assert {vector["kind"] for vector in VECTORS} == KINDS
    assert len(VECTORS) >= 60


def keys_of(vector: dict) -> crypto.PracticeKeys:
    keys = crypto.PracticeKeys(PrivateKey(base64.b64decode(vector["secretKey"])), KEYS.signing)
    assert keys.public_key == KEYS.public_key
    return keys


def check_lookup_hash(vector: dict) -> None:
    names = (vector["lastName"], vector["firstName"], vector["dateOfBirth"])
    assert lookup.normalise_identity(*names) == vector["normalised"]
    assert lookup.lookup_hash(vector["lookupSalt"], *names) == vector["lookupHash"]


def check_lookup_refused(vector: dict) -> None:
    with pytest.raises(ValueError):
        lookup.normalise_identity(vector["lastName"], vector["firstName"], vector["dateOfBirth"])


def check_vault_unlock(vector: dict) -> None:
    served = {"public_key": vector["publicKey"], "signing_key": vector["signingKey"]}
    keys = crypto.unlock_vault(vector["envelope"], vector["password"], **served)
    assert (keys.public_key, keys.signing_key) == (vector["publicKey"], vector["signingKey"])
    with pytest.raises(crypto.VaultLocked):
        crypto.unlock_vault(vector["envelope"], vector["password"] + " ")
    with pytest.raises(crypto.KeyMismatch):
        crypto.unlock_vault(vector["envelope"], vector["password"],
                            public_key=crypto.generate_practice_keys().public_key)


def check_vault_refused(vector: dict) -> None:
    with pytest.raises(env.EnvelopeError):
        env.validate_vault_envelope(vector["envelope"])
    with pytest.raises(env.EnvelopeError):  # before any KDF runs
        crypto.unlock_vault(vector["envelope"], "egal")


def check_sealed_field(vector: dict) -> None:
    keys = keys_of(vector)
    field, record = vector["field"], vector["record"]
    assert crypto.open_field(keys, field, record, vector["sealed"]) == vector["value"]
    for wrong in ((vector["otherField"], record), (field, vector["otherRecord"])):
        with pytest.raises(crypto.BindingMismatch):
            crypto.open_field(keys, *wrong, vector["sealed"])


def check_payload(vector: dict) -> None:
    keys = keys_of(vector)
    ciphertext = base64.b64decode(vector["ciphertext"])
    wrapped, purpose, record = vector["wrappedKey"], vector["purpose"], vector["record"]
    plaintext = crypto.decrypt_payload(keys, wrapped, ciphertext, purpose, record)
    assert len(plaintext) == vector["plaintextLength"]
    assert hashlib.sha256(plaintext).hexdigest() == vector["plaintextSha256"]
    pieces = (ciphertext[i : i + 1000] for i in range(0, len(ciphertext), 1000))
    assert b"".join(crypto.decrypt_payload_stream(keys, wrapped, pieces, purpose, record)) == plaintext
    others = [(purpose, vector["otherRecord"]), ("treatment.plan", record)]
    if "otherPurpose" in vector:
        others.append((vector["otherPurpose"], record))
    for wrong in others:
        with pytest.raises(crypto.PayloadError):
            crypto.decrypt_payload(keys, wrapped, ciphertext, *wrong)


def check_payload_refused(vector: dict) -> None:
    with pytest.raises(crypto.PayloadError):
        crypto.decrypt_payload(keys_of(vector), vector["wrappedKey"], base64.b64decode(vector["ciphertext"]),
                               vector["purpose"], vector["record"])


def check_base64_refused(vector: dict) -> None:
    with pytest.raises(env.EnvelopeError):
        env.b64decode_strict(vector["value"], "field")


def check_public_key(vector: dict) -> None:
    assert env.validate_public_key(vector["publicKey"])
    assert env.key_fingerprint(vector["publicKey"]) == vector["fingerprint"]


def check_public_key_refused(vector: dict) -> None:
    with pytest.raises(env.EnvelopeError):
        env.validate_public_key(vector["publicKey"])


def check_signature(vector: dict) -> None:
    kind, fields = vector["statementKind"], vector["fields"]
    assert env.statement(kind, fields).decode("utf-8") == vector["statement"]
    signing_key = base64.b64decode(vector["signingKey"])
    env.verify_statement(signing_key, kind, fields, vector["signature"])
    for name in fields:
        changed = {**fields, name: "0" if fields[name] is None else None}
        with pytest.raises(env.EnvelopeError):
            env.verify_statement(signing_key, kind, changed, vector["signature"])


def check_link(vector: dict) -> None:
    assert env.link_proof(vector["token"]) == vector["linkProof"]
    assert env.link_commitment(vector["token"]) == vector["linkCommitment"]
    assert env.commitment_of_proof(vector["linkProof"]) == vector["linkCommitment"]


def check_answers(vector: dict) -> None:
    keys, submit, record = keys_of(vector), vector["submit"], vector["record"]
    ciphertext = base64.b64decode(submit["encryptedAnswers"])
    plain = crypto.decrypt_payload(keys, submit["wrappedKey"], ciphertext, env.PURPOSE_CONSENT_ANSWERS,
                                   record)
    document = json.loads(plain)
    assert document == vector["document"]
    assert plain == answers.serialise(document)  # canonical JSON
    assert answers.check_document(document, vector["form"]) == document
    assert document["linkProof"] == env.link_proof(vector["token"])
    identity = {name: crypto.open_field(keys, answers.identity_field(name), record,
                                        submit["identity"][answers.SEALED_IDENTITY[name]])
                for name in document["identity"]}
    assert identity == document["identity"]
    assert submit["lookupHash"] == lookup.lookup_hash(
        "AAECAwQFBgcICQoLDA0ODw==", identity["lastName"], identity["firstName"], identity["dateOfBirth"])
    with pytest.raises(crypto.PayloadError):
        crypto.decrypt_payload(keys, submit["wrappedKey"], ciphertext, env.PURPOSE_CONSENT_ANSWERS,
                               vector["otherRecord"])


def check_answers_refused(vector: dict) -> None:
    document = {**copy.deepcopy(ANSWERS["document"]), **vector["change"]}
    with pytest.raises(answers.AnswersInvalid):
        answers.check_document(document, ANSWERS["form"])


CHECKS: dict[str, Callable[[dict], None]] = {
    "lookup_hash": check_lookup_hash,
    "lookup_refused": check_lookup_refused,
    "vault_unlock": check_vault_unlock,
    "vault_refused": check_vault_refused,
    "sealed_field": check_sealed_field,
    "payload": check_payload,
    "payload_refused": check_payload_refused,
    "base64_refused": check_base64_refused,
    "public_key": check_public_key,
    "public_key_refused": check_public_key_refused,
    "signature": check_signature,
    "link": check_link,
    "answers": check_answers,
    "answers_refused": check_answers_refused,
}


@pytest.mark.parametrize(
    "vector", VECTORS, ids=[f"{v.get('kind')}-{i}" for i, v in enumerate(VECTORS)]
)
def test_vector(vector: dict) -> None:
    assert vector.get("kind") in CHECKS, f"unknown vector kind {vector.get('kind')!r}"
    CHECKS[vector["kind"]](vector)
